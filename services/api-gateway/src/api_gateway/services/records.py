"""Call records, live calls and timelines, read through the records library (``cbrecords``).

The CDR query has no tenant or direction filter: a tenant's PBXs and the direction are
applied here, page after page, so that each page still holds up to ``limit`` records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import redis.asyncio as aioredis

from cbcontracts import CallEvent, CallRecord
from cbrecords import (
    CdrQuery,
    CrmStreams,
    Explanation,
    LiveCall,
    RecordStore,
    called_back,
    explain_call,
    may_need_callback,
)

__all__ = ["CallRecords", "OperatorDay", "RecordFilter"]


@dataclass(frozen=True, kw_only=True)
class RecordFilter:
    pbxs: frozenset[str]
    extensions: frozenset[str] = frozenset()  # a restricted key sees only these
    direction: str | None = None
    #: Whose answered calls clear a missed call's mark: the tenant's PBXs, whoever called.
    callback_pbxs: frozenset[str] = frozenset()
    #: Only missed inbound calls (those not called back are kept by ``CallRecords.page``).
    missed_only: bool = False

    def __call__(self, record: CallRecord) -> bool:
        return (
            record.pbx in self.pbxs
            and (self.direction is None or record.direction == self.direction)
            and (not self.extensions or bool(self.extensions & set(record.extensions)))
            and (not self.missed_only or may_need_callback(record))
        )


@dataclass
class OperatorDay:
    """One extension's calls in a window: answered (took part), missed (rang on an inbound
    call no one answered), talk time of the answered ones (the whole call's)."""

    extension: str
    answered: int = 0
    missed: int = 0
    talk_seconds: int = 0


class CallRecords:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        calls_stream: str,
        crm: CrmStreams | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.store = RecordStore(redis, prefix)
        self._stream = calls_stream
        self._crm = crm or CrmStreams(
            commands=f"{prefix}crm:commands", events=f"{prefix}crm:events", dead=f"{prefix}dead"
        )

    async def page(
        self, query: CdrQuery, keep: RecordFilter
    ) -> tuple[list[CallRecord], str | None]:
        if len(keep.pbxs) == 1:
            query = replace(query, pbx=next(iter(keep.pbxs)))
        out: list[CallRecord] = []
        cursor = query.cursor
        for _ in range(20):  # bounded: a sparse filter answers a short page with a cursor
            page = await self.store.query(replace(query, cursor=cursor))
            for record in page.records:
                if keep(record):
                    out.append(record)
            cursor = page.next_cursor
            if len(out) >= query.limit or cursor is None:
                break
        if keep.missed_only:
            out = [r for r in out if not await self.called_back(r, keep)]
        return out[: query.limit], cursor

    async def called_back(self, record: CallRecord, keep: RecordFilter) -> bool:
        return await called_back(self.store, record, keep.callback_pbxs or keep.pbxs)

    async def callback_needed(self, records: list[CallRecord], keep: RecordFilter) -> list[bool]:
        """Per record: a missed call not yet called back (see ``cbrecords.callback``)."""
        return [may_need_callback(r) and not await self.called_back(r, keep) for r in records]

    async def operator_days(
        self, pbxs: frozenset[str], since: int, until: int
    ) -> list[OperatorDay]:
        """Per extension, the counts of the calls of ``pbxs`` that started in [since, until]
        (a day's records: the supervisor's "today")."""
        days: dict[str, OperatorDay] = {}
        for pbx in sorted(pbxs):
            for record in await self.store.window(pbx, since, until):
                if record.result == "answered":
                    for ext in record.participants:
                        day = days.setdefault(ext, OperatorDay(ext))
                        day.answered += 1
                        day.talk_seconds += record.talk_seconds
                elif record.direction == "inbound":
                    for ext in record.extensions:
                        days.setdefault(ext, OperatorDay(ext)).missed += 1
        return sorted(days.values(), key=lambda d: d.extension)

    async def get(self, pbx: str, call_id: str) -> CallRecord | None:
        return await self.store.get(pbx, call_id)

    async def is_live(self, pbx: str, call_id: str) -> bool:
        return await self.store.is_live(pbx, call_id)

    async def live(self, pbx: str, call_id: str) -> LiveCall | None:
        """The live-call view of a call in progress (None: not live)."""
        return await self.store.live(pbx, call_id)

    async def live_calls(self, pbx: str) -> list[LiveCall]:
        """Every call in progress on ``pbx`` (the live-call view)."""
        return await self.store.live_calls(pbx)

    async def timeline(self, pbx: str, call_id: str, since_us: int) -> list[CallEvent]:
        """The call's events from ``cb:calls`` (bounded scan from shortly before it started)."""
        return await self.store.timeline(self._stream, pbx, call_id, since_us)

    async def explain(self, pbx: str, call_id: str) -> Explanation | None:
        """Frames, per-frame decisions (the call events each frame caused) and crm-sync's
        trail of one call (None: no such call)."""
        try:
            return await explain_call(self._redis, pbx, call_id, prefix=self._prefix,
                                      calls_stream=self._stream, crm=self._crm)  # fmt: skip
        except LookupError:
            return None
