"""Reading call records: one record, a page of them, the live-call view, and a call's
timeline of events from the calls stream (bounded scan)."""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from cbcontracts import CallEnded, CallEvent, CallRecord, decode_event, decode_record
from cbstreams.fields import F_DATA

from .keys import RecordKeys, member
from .live import LiveCall, decode_live
from .query import CdrQuery, Page, query_records

__all__ = ["RecordStore"]

_SCAN_CHUNK = 1000
_SCAN_MAX = 50_000


class RecordStore:
    def __init__(self, redis: aioredis.Redis, prefix: str = "cb:") -> None:
        self._redis = redis
        self.prefix = prefix
        self.keys = RecordKeys(prefix)

    async def get(self, pbx: str, call_id: str) -> CallRecord | None:
        raw = cast(bytes | None, await self._redis.get(self.keys.record(member(pbx, call_id))))
        return decode_record(raw) if raw else None

    async def query(self, query: CdrQuery) -> Page:
        return await query_records(self._redis, query, prefix=self.prefix)

    async def window(self, pbx: str | None, since: int, until: int) -> list[CallRecord]:
        """Every record (of ``pbx``; None: of every PBX) that started in [since, until] (µs),
        oldest first."""
        out: list[CallRecord] = []
        cursor: str | None = None
        while True:
            page = await self.query(
                CdrQuery(since=since, until=until, pbx=pbx, limit=500, cursor=cursor)
            )
            out += page.records
            if page.next_cursor is None or not page.records:
                break
            cursor = page.next_cursor
        return sorted(out, key=lambda r: (r.started_at, r.call_id))

    async def live(self, pbx: str, call_id: str) -> LiveCall | None:
        """The live-call view of a call in progress (None: not live)."""
        raw = cast(bytes | None, await self._redis.hget(self.keys.live(pbx), call_id))
        return decode_live(raw) if raw else None

    async def is_live(self, pbx: str, call_id: str) -> bool:
        return bool(await self._redis.hexists(self.keys.live(pbx), call_id))

    async def live_calls(self, pbx: str) -> list[LiveCall]:
        rows = cast(dict[bytes, bytes], await self._redis.hgetall(self.keys.live(pbx)))
        return [decode_live(v) for v in rows.values()]

    async def timeline(
        self, calls_stream: str, pbx: str, call_id: str, since_us: int
    ) -> list[CallEvent]:
        """The call's events from the calls stream, scanning forward from shortly before it
        started until its ``call.ended`` (bounded)."""
        start: str = f"{max(0, since_us // 1000 - 60_000)}-0"
        events: list[CallEvent] = []
        scanned = 0
        while scanned < _SCAN_MAX:
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._redis.xrange(calls_stream, min=start, count=_SCAN_CHUNK),
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
