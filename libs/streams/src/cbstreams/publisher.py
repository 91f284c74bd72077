"""Pipelined XADD of entry batches, with retention by age.

One batch = one round-trip: ``pipeline(transaction=False)`` of raw ``XADD key * f v …``
commands (``execute_command`` skips redis-py's per-call argument handling). Retention is an
``XTRIM key MINID ~ <now - retention>`` appended to a batch at most every ``trim_every_s``,
which costs nothing measurable; trimming on every XADD costs ~8 % (docs/streams.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis

from .exceptions import redis_errors

__all__ = ["Entry", "StreamPublisher", "Trimmer"]

Entry = Sequence[bytes | str | int]
"""A flat field/value sequence: ``(b"raw", frame, b"ev", b"Hangup", …)``."""


class Trimmer:
    """Decides when a stream is due for ``XTRIM MINID ~`` and with which id."""

    def __init__(
        self,
        retention_ms: int | None,
        every_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        *,
        exact: bool = False,
    ) -> None:
        self.retention_ms = retention_ms
        self.every_s = every_s
        #: ``~`` (whole radix-tree nodes, cheap) unless exact trimming is asked for.
        self.op = "=" if exact else "~"
        self._clock = clock
        self._next = 0.0

    def due(self) -> str | None:
        """The MINID to trim to if a trim is due now (then not again for ``every_s``)."""
        if self.retention_ms is None:
            return None
        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self.every_s
        return str(max(0, int(now * 1000) - self.retention_ms))


class StreamPublisher:
    """Appends batches of entries to one stream, in order, one round-trip per batch."""

    def __init__(self, redis: aioredis.Redis, key: str, trimmer: Trimmer | None = None) -> None:
        self._redis = redis
        self.key = key
        self._trimmer = trimmer or Trimmer(None)

    async def publish(self, entries: Sequence[Entry]) -> list[bytes]:
        """XADD every entry in order; returns their ids. Raises StreamUnavailable."""
        if not entries:
            return []
        pipe = self._redis.pipeline(transaction=False)
        key = self.key
        for entry in entries:
            pipe.execute_command("XADD", key, "*", *entry)
        minid = self._trimmer.due()
        if minid is not None:
            pipe.execute_command("XTRIM", key, "MINID", self._trimmer.op, minid)
        with redis_errors():
            replies = await pipe.execute()
        return list(replies[: len(entries)])

    async def trim(self, minid: str) -> int:
        """``XTRIM key MINID ~ minid`` now; the number of entries removed."""
        with redis_errors():
            removed = await self._redis.execute_command("XTRIM", self.key, "MINID", "~", minid)  # type: ignore[no-untyped-call]
        return int(removed)
