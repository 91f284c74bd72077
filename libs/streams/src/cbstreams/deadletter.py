"""The dead-letter stream ``cb:dead``: entries a consumer gave up on, with why, for a human
(``callbridge crm-sync dead list``) to inspect and re-drive.

One dead entry: ``stream`` (where it came from), ``id`` (its id there), ``group`` (the
consumer group that failed), ``error`` (the reason, never a secret), ``attempts``, ``at``
(unix ms) and ``payload``: the original entry's fields, msgpack-encoded (a map bytes ->
bytes), so a re-drive appends exactly the original entry to its stream again.
"""

from __future__ import annotations

import builtins
import time
from typing import Any, cast

import msgspec
import redis.asyncio as aioredis

from .exceptions import MalformedEntry, redis_errors

__all__ = ["DEAD_FIELDS", "DeadEntry", "DeadLetters", "dead_key"]

F_STREAM, F_ID, F_GROUP, F_ERROR, F_ATTEMPTS, F_AT, F_PAYLOAD = (
    b"stream", b"id", b"group", b"error", b"attempts", b"at", b"payload",
)  # fmt: skip
DEAD_FIELDS = (F_STREAM, F_ID, F_GROUP, F_ERROR, F_ATTEMPTS, F_AT, F_PAYLOAD)

_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(dict[bytes, bytes])


def dead_key(prefix: str = "cb:") -> str:
    return f"{prefix}dead"


class DeadEntry(msgspec.Struct, frozen=True, kw_only=True):
    dead_id: str  # the id in the dead-letter stream
    stream: str
    id: str
    group: str
    error: str
    attempts: int
    at: int
    payload: dict[bytes, bytes]

    @classmethod
    def from_entry(cls, dead_id: bytes, f: dict[bytes, bytes]) -> DeadEntry:
        try:
            return cls(
                dead_id=dead_id.decode(), stream=f[F_STREAM].decode(), id=f[F_ID].decode(),
                group=f.get(F_GROUP, b"").decode(), error=f[F_ERROR].decode(errors="replace"),
                attempts=int(f[F_ATTEMPTS]), at=int(f[F_AT]), payload=_dec.decode(f[F_PAYLOAD]),
            )  # fmt: skip
        except (KeyError, ValueError, msgspec.DecodeError) as exc:
            raise MalformedEntry(f"bad dead-letter entry {dead_id!r}: {exc}") from None


class DeadLetters:
    """Write, list, re-drive and drop dead entries (one stream for every consumer)."""

    def __init__(self, redis: aioredis.Redis, key: str = "cb:dead") -> None:
        self._redis, self.key = redis, key

    async def add(
        self,
        stream: str,
        entry_id: bytes | str,
        fields: dict[bytes, bytes],
        error: str,
        attempts: int,
        group: str = "",
        pipe: Any = None,
    ) -> None:
        """XADD a dead entry (on ``pipe`` if given, e.g. with the XACK of the original)."""
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        entry = {
            F_STREAM: stream, F_ID: eid, F_GROUP: group, F_ERROR: error[:2000],
            F_ATTEMPTS: str(attempts), F_AT: str(int(time.time() * 1000)),
            F_PAYLOAD: _enc.encode(fields),
        }  # fmt: skip
        if pipe is not None:
            pipe.xadd(self.key, entry)
            return
        with redis_errors():
            await self._redis.xadd(self.key, entry)  # type: ignore[arg-type]

    async def list(self, count: int = 100, after: str = "-") -> list[DeadEntry]:
        start = after if after == "-" else f"({after}"
        with redis_errors():
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._redis.xrange(self.key, start, "+", count=count),
            )
        return [DeadEntry.from_entry(i, f) for i, f in rows]

    async def redrive(self, dead_id: str) -> bytes | None:
        """Append the dead entry's original fields to its stream again and delete the dead
        entry; the new entry id, or None if no such dead entry."""
        with redis_errors():
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._redis.xrange(self.key, dead_id, dead_id),
            )
            if not rows:
                return None
            dead = DeadEntry.from_entry(*rows[0])
            pipe = self._redis.pipeline(transaction=True)
            pipe.xadd(dead.stream, dead.payload)  # type: ignore[arg-type]
            pipe.xdel(self.key, dead_id)
            new_id, _ = await pipe.execute()
        return cast(bytes, new_id)

    async def select(
        self, *, reason: str = "", since_ms: int = 0, stream: str = "", page: int = 500
    ) -> builtins.list[DeadEntry]:
        """Every dead entry whose error contains ``reason`` (case-insensitive), dead at or
        after ``since_ms`` (unix ms), from ``stream`` ("" = any), oldest first."""
        out: builtins.list[DeadEntry] = []
        after, wanted = "-", reason.lower()
        start = f"{since_ms}-0" if since_ms else "-"  # dead ids are XADD times
        while True:
            rows = await self.list(page, after) if after != "-" else await self._from(start, page)
            for entry in rows:
                matches = wanted in entry.error.lower() and entry.at >= since_ms
                if matches and (not stream or entry.stream == stream):
                    out.append(entry)
            if len(rows) < page:
                return out
            after = rows[-1].dead_id

    async def _from(self, start: str, count: int) -> builtins.list[DeadEntry]:
        with redis_errors():
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._redis.xrange(self.key, start, "+", count=count),
            )
        return [DeadEntry.from_entry(i, f) for i, f in rows]

    async def drop(self, dead_id: str) -> bool:
        with redis_errors():
            return bool(await self._redis.xdel(self.key, dead_id))
