"""The resilient tail reader: plain ``XREAD`` of one or more streams from given ids, for
readers without a consumer group (feeds, the tracker's leased single reader, test tools).

A Redis outage never escapes :meth:`TailReader.read`: it is waited out (logged once by the
:class:`~cbstreams.outage.RedisLink`, jittered backoff), and reading resumes after the last
id returned — nothing skipped, nothing repeated. ``read`` returns ``[]`` when the block
timed out or ``stop`` was set during an outage.

    tail = TailReader(redis, {"cb:calls": since}, link=link)
    while not stop.is_set():
        for key, entry_id, fields in await tail.read(stop):
            ...
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from .exceptions import StreamUnavailable, redis_errors
from .outage import RedisLink

__all__ = ["TailEntry", "TailReader"]

TailEntry = tuple[str, bytes, dict[bytes, bytes]]
"""(stream key, entry id, fields)."""


class TailReader:
    def __init__(
        self,
        redis: aioredis.Redis,
        streams: dict[str, bytes | str],
        *,
        count: int = 100,
        block_ms: int | None = 1000,
        link: RedisLink | None = None,
    ) -> None:
        self.redis = redis
        #: The id after which each stream is read next (advanced by every read).
        self.last: dict[str, bytes | str] = dict(streams)
        self.count, self.block_ms = count, block_ms
        self.link = link or RedisLink("tail")

    async def read_once(self) -> list[TailEntry]:
        """One XREAD; raises StreamUnavailable."""
        with redis_errors():
            streams: Any = self.last
            reply: Any = await self.redis.xread(streams, count=self.count, block=self.block_ms)
        out: list[TailEntry] = []
        for key, rows in reply or []:
            name = key.decode() if isinstance(key, bytes) else key
            for entry_id, fields in rows:
                out.append((name, entry_id, fields or {}))
            if rows:
                self.last[name] = rows[-1][0]
        return out

    async def read(self, stop: asyncio.Event | None = None) -> list[TailEntry]:
        """The next entries, waiting out Redis outages; ``[]`` on timeout or ``stop``."""
        while stop is None or not stop.is_set():
            try:
                entries = await self.read_once()
            except StreamUnavailable as exc:
                await self.link.failed(exc, stop)
                continue
            self.link.ok()
            return entries
        return []
