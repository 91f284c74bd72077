"""Missed calls not yet called back, decided from the call records alone.

A missed inbound call (missed, abandoned in a queue, busy) from an outside number needs a call
back until a later call with that number is answered on one of the PBXs given (the tenant's):
an outbound call to it, by any operator, or an inbound call from it. Live calls do not count
until they end (the record is the proof the conversation happened)."""

from __future__ import annotations

from collections.abc import Iterable

from cbcontracts import CallRecord

from .query import CdrQuery
from .store import RecordStore

__all__ = ["MISSED_RESULTS", "called_back", "may_need_callback", "spellings"]

#: Results of an inbound call that left the caller without an operator.
MISSED_RESULTS = frozenset({"missed", "abandoned", "busy"})
_LOOK = 20  # later answered calls of the number read to find one on the PBXs given


def may_need_callback(record: CallRecord) -> bool:
    """A missed inbound call from an outside number (whether it was called back since is
    :func:`called_back`'s question)."""
    return (
        record.direction == "inbound" and record.result in MISSED_RESULTS and bool(record.external)
    )


async def called_back(store: RecordStore, record: CallRecord, pbxs: Iterable[str]) -> bool:
    """A call with ``record.external`` started after ``record`` and was answered on one of
    ``pbxs`` (an outbound call back, or the caller reached someone later)."""
    owned = frozenset(pbxs)
    for number in spellings(record.external):
        query = CdrQuery(number=number, result="answered", since=record.started_at + 1,
                         limit=_LOOK)  # fmt: skip
        page = await store.query(query)
        if any(r.pbx in owned and r.call_id != record.call_id for r in page.records):
            return True
    return False


def spellings(number: str) -> tuple[str, ...]:
    """The ways one outside number is recorded: as the trunk gave it (``79161234567``) and
    as the gateway dialled it (E.164, ``+79161234567``)."""
    bare = number.lstrip("+")
    return (bare, f"+{bare}")
