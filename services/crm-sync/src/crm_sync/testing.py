"""Test helpers: call events into ``cb:calls`` as the tracker writes them, CRM events out,
polling under a deadline (never a bare sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis

from cbcontracts import (
    CallAnswered,
    CallEnded,
    CallEventBase,
    CallRinging,
    CallRingingStopped,
    CallStarted,
    CallTransferred,
    encode_event,
)
from cbcontracts.crm import CrmEvent, decode_crm_event
from cbstreams import StreamPublisher
from cbstreams.fields import F_DATA

__all__ = ["CallScript", "crm_events", "eventually", "publish_calls"]

T0 = 1_800_000_000_000_000  # µs


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until true, under a deadline."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the conditions are in Redis / SQLite
            await asyncio.sleep(0.005)


async def publish_calls(
    redis: aioredis.Redis, stream: str, events: Sequence[CallEventBase]
) -> None:
    await StreamPublisher(redis, stream).publish([(F_DATA, encode_event(e)) for e in events])


async def crm_events(redis: aioredis.Redis, stream: str) -> list[CrmEvent]:
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(stream))
    return [decode_crm_event(f[F_DATA]) for _, f in rows]


class CallScript:
    """Builds the events of one call with consistent ids, seq and times (``at`` in s after
    the start)."""

    def __init__(self, call_id: str, external: str, direction: str = "inbound", pbx: str = "main"):
        self.call_id, self.external, self.direction, self.pbx = call_id, external, direction, pbx
        self.seq = 0

    def _base(self, at_s: float) -> dict[str, Any]:
        self.seq += 1
        return {"event_id": f"{self.pbx}/{self.call_id}-{self.seq}/0", "call_id": self.call_id,
                "pbx": self.pbx, "seq": self.seq, "at": T0 + int(at_s * 1_000_000),
                "direction": self.direction, "external": self.external}  # fmt: skip

    def started(self, extension: str = "", **kw: Any) -> CallStarted:
        return CallStarted(**self._base(0), extension=extension, **kw)

    def ringing(self, extension: str, at: float = 0.5) -> CallRinging:
        return CallRinging(**self._base(at), extension=extension)

    def ringing_stopped(
        self, extension: str, at: float, reason: str = "answered_elsewhere"
    ) -> CallRingingStopped:
        return CallRingingStopped(**self._base(at), extension=extension, reason=reason)  # type: ignore[arg-type]

    def answered(self, extension: str, at: float) -> CallAnswered:
        return CallAnswered(**self._base(at), answered_by=extension, extension=extension)

    def transferred(self, frm: str, to: str, at: float, kind: str = "blind") -> CallTransferred:
        return CallTransferred(**self._base(at), kind=kind, from_extension=frm, to_extension=to)  # type: ignore[arg-type]

    def ended(self, result: str, at: float, **kw: Any) -> CallEnded:
        return CallEnded(**self._base(at), result=result, started_at=T0, **kw)  # type: ignore[arg-type]
