"""Changes out to Redis: the stream ``{prefix}{pbx}:presence`` and the view hash
``{prefix}{pbx}:presence:view`` (extension -> its latest state).

Changes are queued per extension, latest wins: while Redis is away the queue holds at most
one entry per watched extension, and when Redis returns the current state of each is
written (the view is exact; the stream skips the intermediate states it missed). An
outage is logged once, shown on /readyz and in ``presence_redis_up``.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from cbcontracts.presence import PresenceState, encode_presence
from cbsip import Backoff
from cbstreams import PbxKeys, StreamPublisher, StreamUnavailable, Trimmer
from cbstreams.exceptions import redis_errors

from .metrics import PresenceMetrics

__all__ = ["PresencePublisher"]

log = logging.getLogger(__name__)


class PresencePublisher:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        retention_s: int,
        metrics: PresenceMetrics,
    ) -> None:
        self.redis, self.prefix, self.metrics = redis, prefix, metrics
        self.retention_ms = retention_s * 1000
        self._streams: dict[str, StreamPublisher] = {}
        self._pending: dict[tuple[str, str], PresenceState] = {}
        self._wake = asyncio.Event()
        self.redis_up = True

    def submit(self, change: PresenceState) -> None:
        self._pending[(change.pbx, change.extension)] = change
        self._wake.set()

    def _stream(self, pbx: str) -> StreamPublisher:
        if pbx not in self._streams:
            keys = PbxKeys(pbx, self.prefix)
            self._streams[pbx] = StreamPublisher(
                self.redis, keys.presence, Trimmer(self.retention_ms)
            )
        return self._streams[pbx]

    async def _write(self, batch: list[PresenceState]) -> None:
        by_pbx: dict[str, list[PresenceState]] = {}
        for c in batch:
            by_pbx.setdefault(c.pbx, []).append(c)
        for pbx, changes in by_pbx.items():
            encoded = [encode_presence(c) for c in changes]
            await self._stream(pbx).publish([(b"data", data) for data in encoded])
            view = {c.extension: data for c, data in zip(changes, encoded, strict=True)}
            with redis_errors():
                await self.redis.hset(PbxKeys(pbx, self.prefix).presence_view, mapping=view)  # type: ignore[arg-type]
            self.metrics.changes.labels(pbx).inc(len(changes))

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(0.2, 10.0)
        while not stop.is_set():
            if not self._pending:
                self._wake.clear()
                waiter = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                continue
            batch = list(self._pending.values())
            self._pending.clear()
            try:
                await self._write(batch)
            except StreamUnavailable as exc:
                for c in batch:  # put back what is not newer in the queue
                    self._pending.setdefault((c.pbx, c.extension), c)
                if self.redis_up:
                    log.warning("presence changes wait for Redis: %s", exc)
                self.redis_up = False
                self.metrics.redis_up.set(0)
                await asyncio.sleep(backoff.next())
                continue
            if not self.redis_up:
                log.info("Redis is back: presence changes published again")
            self.redis_up = True
            self.metrics.redis_up.set(1)
            backoff.reset()
