"""Who talked when: answer and transfer times kept per call in Redis by the planner, turned
into operator legs when the call ends (a transfer logs the call for each operator).

Hash ``{prefix}crm:legs:{pbx}:{call id}``: field = the event's ``seq`` (zero-padded, so the
fields sort in call order whatever order they were written in), value ``extension|at µs``.
Idempotent under redelivery (same field, same value). Expires after a day.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from cbcontracts import CallEnded
from cbcontracts.crm import Leg

__all__ = ["LegBook"]


class LegBook:
    def __init__(self, redis: aioredis.Redis, prefix: str = "cb:", ttl_s: int = 86_400) -> None:
        self._redis, self._base, self.ttl_s = redis, f"{prefix}crm:legs:", ttl_s

    def key(self, pbx: str, call_id: str) -> str:
        return f"{self._base}{pbx}:{call_id}"

    async def start(self, pbx: str, call_id: str, seq: int, extension: str, at_us: int) -> None:
        """An operator starts talking (answer, or the target of a transfer)."""
        if not extension:
            return
        key = self.key(pbx, call_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(key, f"{seq:010d}", f"{extension}|{at_us}")
        pipe.expire(key, self.ttl_s)
        await pipe.execute()

    async def read(self, calls: list[tuple[str, str]]) -> list[dict[bytes, bytes]]:
        """The records of ``calls`` ((pbx, call id) pairs) in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for pbx, call_id in calls:
            pipe.hgetall(self.key(pbx, call_id))
        return cast(list[dict[bytes, bytes]], await pipe.execute()) if calls else []

    async def finish(
        self, ended: CallEnded, raw: dict[bytes, bytes] | None = None
    ) -> tuple[Leg, ...]:
        """The legs of a finished call, oldest first (``raw``: its record, if read already);
        the record is kept (deleted by expiry, so a redelivered call.ended gives the same
        legs)."""
        if raw is None:
            [raw] = await self.read([(ended.pbx, ended.call_id)])
        starts = [v.decode().split("|") for _, v in sorted(raw.items())]
        if not starts and ended.result == "answered":
            operator = ended.extension or ended.answered_by
            first = ended.answered_at or ended.started_at
            starts = [[operator, str(first)]] if operator else []
        legs = []
        for i, (ext, at) in enumerate(starts):
            end = int(starts[i + 1][1]) if i + 1 < len(starts) else ended.at
            legs.append(Leg(extension=ext, started_at=int(at) // 1_000_000,
                            duration_s=max(0, (end - int(at)) // 1_000_000)))  # fmt: skip
        return tuple(legs)
