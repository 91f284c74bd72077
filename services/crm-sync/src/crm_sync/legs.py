"""Who talked when: the answers and transfers of a call, kept per call in Redis by the
planner and turned into operator legs — conversations — when the call ends.

A leg is one operator talking to the outside party:

* ``call.answered`` starts a leg for the answering operator when nobody is talking yet (the
  first answer, or the target of a blind transfer / AMI redirect answering after ringing).
  An answer while another operator talks is a consultation (attended transfer): not a leg.
* ``call.transferred`` ends the current leg at the transfer. An attended transfer's target is
  already on the line (it answered the consultation), so its leg starts at the transfer; a
  blind transfer's or redirect's target only rings: its leg starts when it answers, so
  ringing that never connects is no leg.
* ``call.ended`` ends the open leg.

Durations are whole seconds rounded to the nearest (not truncated). Each leg names the
operator it came from and the one it went to (the transfer chain).

Hash ``{prefix}crm:legs:{pbx}:{call id}``: field = the event's ``seq`` (zero-padded, so the
fields sort in call order whatever order they were written in), value ``a|ext|at µs`` for an
answer, ``t|kind|from|to|at µs`` for a transfer (``ext|at µs``: an answer, as older
planners wrote it). Idempotent under redelivery (same field, same value). Expires after a day.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from cbcontracts import CallEnded
from cbcontracts.crm import Leg

__all__ = ["LegBook", "legs_of"]


def _rounded_s(us: int) -> int:
    return max(0, (us + 500_000) // 1_000_000)


class LegBook:
    def __init__(self, redis: aioredis.Redis, prefix: str = "cb:", ttl_s: int = 86_400) -> None:
        self._redis, self._base, self.ttl_s = redis, f"{prefix}crm:legs:", ttl_s

    def key(self, pbx: str, call_id: str) -> str:
        return f"{self._base}{pbx}:{call_id}"

    async def answered(self, pbx: str, call_id: str, seq: int, extension: str, at_us: int) -> None:
        """An operator answered (a leg if nobody else is talking: decided at the end)."""
        if extension:
            await self._put(pbx, call_id, seq, f"a|{extension}|{at_us}")

    async def transferred(
        self, pbx: str, call_id: str, seq: int, kind: str, src: str, dst: str, at_us: int
    ) -> None:
        """The call moved from ``src`` to ``dst`` (``kind``: blind, attended, redirect)."""
        await self._put(pbx, call_id, seq, f"t|{kind}|{src}|{dst}|{at_us}")

    async def _put(self, pbx: str, call_id: str, seq: int, value: str) -> None:
        key = self.key(pbx, call_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(key, f"{seq:010d}", value)
        pipe.expire(key, self.ttl_s)
        await pipe.execute()

    def ended_key(self, pbx: str, call_id: str) -> str:
        return f"{self._base}ended:{pbx}:{call_id}"

    async def mark_ended(self, pbx: str, call_id: str) -> None:
        """The call is over: its card commands still queued are stale (never sent now)."""
        await self._redis.set(self.ended_key(pbx, call_id), b"1", ex=self.ttl_s)

    async def is_ended(self, pbx: str, call_id: str) -> bool:
        return bool(await self._redis.exists(self.ended_key(pbx, call_id)))

    def _pending_key(self, pbx: str, call_id: str) -> str:
        return f"{self._base}nocard:{pbx}:{call_id}"

    async def card_pending(self, pbx: str, call_id: str) -> None:
        """The call started without an outside number (click-to-call dials the operator
        first): its card is due when an event names the number."""
        await self._redis.set(self._pending_key(pbx, call_id), b"1", ex=3600)

    async def card_due(self, pbx: str, call_id: str) -> bool:
        """True once for a call whose card is still pending."""
        return bool(await self._redis.delete(self._pending_key(pbx, call_id)))

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
        records = [v.decode().split("|") for _, v in sorted(raw.items())]
        if not records and ended.result == "answered":
            operator = ended.extension or ended.answered_by
            first = ended.answered_at or ended.started_at
            records = [["a", operator, str(first)]] if operator else []
        return legs_of(records, ended.at)


def legs_of(records: list[list[str]], end_us: int) -> tuple[Leg, ...]:
    """Legs from a call's answer/transfer records in call order (see the module doc)."""
    done: list[Leg] = []
    open_: tuple[str, int, str] | None = None  # (extension, start µs, came from)

    def close(at: int, to: str = "") -> None:
        nonlocal open_
        if open_ is not None:
            ext, start, came_from = open_
            done.append(Leg(extension=ext, started_at=start // 1_000_000,
                            duration_s=_rounded_s(at - start), transferred_from=came_from,
                            transferred_to=to))  # fmt: skip
        open_ = None

    came_from = ""
    for record in records:
        if len(record) == 2:  # an older planner's answer record
            record = ["a", *record]
        if record[0] == "a" and len(record) == 3:
            ext, at = record[1], int(record[2])
            if open_ is None and ext:
                open_ = (ext, at, came_from)
                came_from = ""
        elif record[0] == "t" and len(record) == 5:
            kind, src, dst, at = record[1], record[2], record[3], int(record[4])
            talking = open_[0] if open_ is not None else src
            close(at, dst)
            came_from = talking
            if kind == "attended" and dst:  # the target is on the line already
                open_ = (dst, at, came_from)
                came_from = ""
    close(end_us)
    return tuple(done)
