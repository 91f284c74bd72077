"""One consumer of one stream in a consumer group: own pending entries first (``0``), then
new ones (``>``); the caller acks after its side effects. Built on cbstreams.groups."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import redis.asyncio as aioredis

from cbstreams import Delivery, ensure_group, read_group
from cbstreams.exceptions import redis_errors

__all__ = ["GroupConsumer"]


class GroupConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        group: str,
        consumer: str,
        *,
        batch: int = 100,
        block_ms: int = 1000,
    ) -> None:
        self.redis, self.key, self.group, self.consumer = redis, key, group, consumer
        self.batch, self.block_ms = batch, block_ms

    async def pending(self) -> AsyncIterator[list[Delivery]]:
        """Create the group if needed; then this consumer's own unacked entries, in batches
        (what it read before a crash or restart)."""
        await ensure_group(self.redis, self.key, self.group)
        after: bytes = b"0"
        while batch := await read_group(
            self.redis, self.key, self.group, self.consumer,
            pending=True, after=after, count=self.batch,
        ):  # fmt: skip
            yield batch
            after = batch[-1][0]

    async def new(self, block_ms: int | None = None) -> list[Delivery]:
        """New entries, blocking up to ``block_ms``."""
        return await read_group(
            self.redis, self.key, self.group, self.consumer, pending=False,
            count=self.batch, block_ms=self.block_ms if block_ms is None else block_ms,
        )  # fmt: skip

    async def ack(self, ids: Sequence[bytes]) -> None:
        if ids:
            with redis_errors():
                await self.redis.xack(self.key, self.group, *ids)
