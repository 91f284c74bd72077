"""Pipelined XADD of entry batches, with retention by age.

One batch = one round-trip: ``pipeline(transaction=False)`` of raw ``XADD key * f v …``
commands (``execute_command`` skips redis-py's per-call argument handling). Retention is an
``XTRIM key MINID ~ <now - retention>`` appended to a batch at most every ``trim_every_s``,
which costs nothing measurable; trimming on every XADD costs ~8 % (docs/streams.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis

from .exceptions import LeaseLost, redis_errors

__all__ = ["Entry", "StreamPublisher", "Trimmer", "queue_entries"]

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


def queue_entries(
    pipe: Any,
    key: str,
    entries: Sequence[Entry],
    trimmer: Trimmer | None = None,
    *,
    maxlen: int | None = None,
    ids: Sequence[str] | None = None,
) -> None:
    """Queue ``XADD key * …`` of ``entries`` (and ``XTRIM MINID`` when ``trimmer`` says it is
    due) on the caller's pipeline or MULTI/EXEC, e.g. with a checkpoint or the XACKs of what
    caused them. ``maxlen``: also cap the stream at about that many entries. ``ids``: each
    entry's own id (``ms-*`` or ``ms-seq``, e.g. loading an exported capture) instead of ``*``."""
    cap: tuple[str | int, ...] = ("MAXLEN", "~", maxlen) if maxlen is not None else ()
    for n, entry in enumerate(entries):
        pipe.execute_command("XADD", key, *cap, "*" if ids is None else ids[n], *entry)
    if entries and trimmer is not None and (minid := trimmer.due()) is not None:
        pipe.execute_command("XTRIM", key, "MINID", trimmer.op, minid)


# KEYS: lease, stream. ARGV: token, minid ('' = no trim), then per entry: n, n fields/values
_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local ids, i = {}, 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  ids[#ids + 1] = redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
if ARGV[2] ~= '' then redis.call('XTRIM', KEYS[2], 'MINID', '~', ARGV[2]) end
return ids
"""


class StreamPublisher:
    """Appends batches of entries to one stream, in order, one round-trip per batch."""

    def __init__(self, redis: aioredis.Redis, key: str, trimmer: Trimmer | None = None) -> None:
        self._redis = redis
        self.key = key
        self._trimmer = trimmer or Trimmer(None)
        self._fenced = redis.register_script(_FENCED)

    async def publish_fenced(
        self, entries: Sequence[Entry], lease_key: str, token: str
    ) -> list[bytes]:
        """XADD every entry in order, atomically, only if the lease ``lease_key`` still holds
        ``token`` (our generation): raises LeaseLost otherwise, and nothing is written.
        Raises StreamUnavailable. All or nothing: after a lost reply either every entry
        landed or none did."""
        if not entries:
            return []
        args: list[bytes | str | int] = [token, self._trimmer.due() or ""]
        for entry in entries:
            args.append(len(entry))
            args.extend(entry)
        with redis_errors():
            ids = await self._fenced(keys=[lease_key, self.key], args=args)
        if ids is None:
            raise LeaseLost(f"lease {lease_key} is no longer {token}: not published")
        return list(ids)

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

    def queue(self, pipe: Any, entries: Sequence[Entry], *, maxlen: int | None = None) -> None:
        """Queue the XADDs of ``entries`` (and an XTRIM when due) on the caller's pipeline, e.g.
        the MULTI/EXEC that also acknowledges what caused them (cbstreams.GroupReader)."""
        queue_entries(pipe, self.key, entries, self._trimmer, maxlen=maxlen)

    async def trim(self, minid: str) -> int:
        """``XTRIM key MINID ~ minid`` now; the number of entries removed."""
        with redis_errors():
            removed = await self._redis.execute_command("XTRIM", self.key, "MINID", "~", minid)  # type: ignore[no-untyped-call]
        return int(removed)
