"""Call records, owned here: key names, the writer the call-tracker commits through, the
queries (filters, cursor pagination), the live-call view (a contract), record diffs, and
which missed calls no one has called back yet."""

from __future__ import annotations

from .callback import MISSED_RESULTS, called_back, may_need_callback
from .diff import FieldDiff, diff_records
from .explain import (
    CrmStep,
    CrmStreams,
    Explanation,
    FrameStep,
    describe_event,
    explain_call,
    related_frames,
)
from .keys import RecordKeys, member
from .live import LiveCall, decode_live, encode_live
from .query import CdrQuery, Page, query_records
from .store import RecordStore
from .writer import RecordWriter

__all__ = [
    "MISSED_RESULTS",
    "CdrQuery",
    "CrmStep",
    "CrmStreams",
    "Explanation",
    "FieldDiff",
    "FrameStep",
    "LiveCall",
    "Page",
    "RecordKeys",
    "RecordStore",
    "RecordWriter",
    "called_back",
    "decode_live",
    "describe_event",
    "diff_records",
    "encode_live",
    "explain_call",
    "may_need_callback",
    "member",
    "query_records",
    "related_frames",
]
