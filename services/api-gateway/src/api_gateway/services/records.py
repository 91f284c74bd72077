"""Call records and timelines, read through the call-tracker's CDR library
(``call_tracker.cdr.query_records``) and the ``cb:calls`` stream.

The CDR query has no tenant or direction filter: a tenant's PBXs and the direction are
applied here, page after page, so that each page still holds up to ``limit`` records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import redis.asyncio as aioredis

from call_tracker.cdr import CdrQuery, query_records
from call_tracker.model import Call, decode_call
from call_tracker.publisher import F_DATA, CdrKeys
from cbcontracts import CallEnded, CallEvent, CallRecord, decode_event, decode_record
from cbstreams import PbxKeys

__all__ = ["CallRecords", "RecordFilter"]

_SCAN_CHUNK = 1000
_SCAN_MAX = 50_000


@dataclass(frozen=True, kw_only=True)
class RecordFilter:
    pbxs: frozenset[str]
    extensions: frozenset[str] = frozenset()  # a restricted key sees only these
    direction: str | None = None

    def __call__(self, record: CallRecord) -> bool:
        return (
            record.pbx in self.pbxs
            and (self.direction is None or record.direction == self.direction)
            and (not self.extensions or bool(self.extensions & set(record.extensions)))
        )


class CallRecords:
    def __init__(self, redis: aioredis.Redis, prefix: str, calls_stream: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._cdr = CdrKeys(prefix)
        self._stream = calls_stream

    async def page(
        self, query: CdrQuery, keep: RecordFilter
    ) -> tuple[list[CallRecord], str | None]:
        if len(keep.pbxs) == 1:
            query = replace(query, pbx=next(iter(keep.pbxs)))
        out: list[CallRecord] = []
        cursor = query.cursor
        for _ in range(20):  # bounded: a sparse filter answers a short page with a cursor
            page = await query_records(
                self._redis, replace(query, cursor=cursor), prefix=self._prefix
            )
            for record in page.records:
                if keep(record):
                    out.append(record)
            cursor = page.next_cursor
            if len(out) >= query.limit or cursor is None:
                break
        return out[: query.limit], cursor

    async def get(self, pbx: str, call_id: str) -> CallRecord | None:
        raw = cast(bytes | None, await self._redis.get(self._cdr.record(f"{pbx}:{call_id}")))
        return decode_record(raw) if raw else None

    def live_key(self, pbx: str) -> str:
        """The call-tracker's hash of a PBX's calls in progress (Linkedid → its state)."""
        return f"{PbxKeys(pbx, self._prefix).base}:tracker:calls"

    async def is_live(self, pbx: str, call_id: str) -> bool:
        return bool(await self._redis.hexists(self.live_key(pbx), call_id))

    async def live(self, pbx: str, call_id: str) -> Call | None:
        """The call-tracker's state of a call in progress (None: not live)."""
        raw = cast(bytes | None, await self._redis.hget(self.live_key(pbx), call_id))
        return decode_call(raw) if raw else None

    async def timeline(self, pbx: str, call_id: str, since_us: int) -> list[CallEvent]:
        """The call's events from ``cb:calls``, scanning forward from shortly before it
        started until its ``call.ended`` (bounded)."""
        start: str = f"{max(0, since_us // 1000 - 60_000)}-0"
        events: list[CallEvent] = []
        scanned = 0
        while scanned < _SCAN_MAX:
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._redis.xrange(self._stream, min=start, count=_SCAN_CHUNK),
            )
            for _, fields in rows:
                event = decode_event(fields[F_DATA])
                if event.call_id == call_id and event.pbx == pbx:
                    events.append(event)
                    if isinstance(event, CallEnded):
                        return events
            if len(rows) < _SCAN_CHUNK:
                break
            scanned += len(rows)
            start = "(" + rows[-1][0].decode()
        return events
