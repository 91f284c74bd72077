"""Writing call records: commands queued on the caller's MULTI/EXEC pipeline, so that the
call-tracker commits them with its checkpoint. The only writer of the record keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cbcontracts import CallRecord, encode_record

from .keys import RecordKeys, member
from .live import LiveCall, encode_live

__all__ = ["RecordWriter"]


class RecordWriter:
    def __init__(self, prefix: str = "cb:", *, retention_s: int = 90 * 86_400) -> None:
        self.keys = RecordKeys(prefix)
        self.retention_s = retention_s

    def add_record(self, pipe: Any, record: CallRecord) -> None:
        """The record (expiring after the retention window) and its indexes."""
        m = member(record.pbx, record.call_id)
        pipe.set(self.keys.record(m), encode_record(record), ex=self.retention_s)
        oldest = record.started_at - self.retention_s * 1_000_000
        for key in self.keys.indexes(record):
            pipe.zadd(key, {m: record.started_at})
            pipe.zremrangebyscore(key, "-inf", oldest)

    def set_live(self, pipe: Any, pbx: str, calls: Mapping[str, LiveCall]) -> None:
        if calls:
            pipe.hset(self.keys.live(pbx), mapping={k: encode_live(v) for k, v in calls.items()})

    def drop_live(self, pipe: Any, pbx: str, call_ids: Iterable[str]) -> None:
        ids = list(call_ids)
        if ids:
            pipe.hdel(self.keys.live(pbx), *ids)
