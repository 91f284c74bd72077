"""Consumer-group helpers: create a group, read own pending entries then new ones, claim."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from .exceptions import redis_errors

__all__ = ["Delivery", "claim_all", "ensure_group", "read_group"]

Delivery = tuple[bytes, dict[bytes, bytes]]
"""One delivered entry: its id and its fields."""


async def ensure_group(redis: aioredis.Redis, key: str, group: str, start: str = "0") -> bool:
    """Create ``group`` on ``key`` (and the stream). False if it already existed."""
    with redis_errors():
        try:
            await redis.xgroup_create(key, group, id=start, mkstream=True)
        except ResponseError as exc:
            if str(exc).startswith("BUSYGROUP"):
                return False
            raise
    return True


async def read_group(
    redis: aioredis.Redis,
    key: str,
    group: str,
    consumer: str,
    *,
    pending: bool,
    after: bytes | str = b"0",
    count: int = 100,
    block_ms: int | None = None,
) -> list[Delivery]:
    """Own pending entries after id ``after`` (``pending=True``) or new ones (``>``, may
    block). A pending entry already trimmed away comes back with empty fields."""
    with redis_errors():
        reply: Any = await redis.xreadgroup(
            group,
            consumer,
            {key: after if pending else ">"},
            count=count,
            block=None if pending else block_ms,
        )
    if not reply:
        return []
    _, entries = reply[0]
    return [(eid, data or {}) for eid, data in entries]


async def claim_all(
    redis: aioredis.Redis, key: str, group: str, consumer: str, min_idle_ms: int = 0
) -> int:
    """XAUTOCLAIM every pending entry idle ``min_idle_ms`` into ``consumer``; how many."""
    claimed, start = 0, "0-0"
    with redis_errors():
        while True:
            reply: Any = await redis.xautoclaim(key, group, consumer, min_idle_ms, start, count=100)
            start, entries = reply[0], reply[1]
            claimed += len(entries)
            if start in (b"0-0", "0-0"):
                return claimed
