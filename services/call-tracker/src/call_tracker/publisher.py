"""The only writer of call events (``cb:calls``) and call records (CDR + indexes).

Commands are queued on the caller's MULTI/EXEC pipeline so that they commit together with
the checkpoint. Records: ``{prefix}cdr:{pbx}:{call_id}`` (JSON, expires after the retention
window) and sorted sets scored by start time (µs): ``cdr:idx:time``, ``cdr:idx:ext:{ext}``,
``cdr:idx:num:{number}``, ``cdr:idx:result:{result}``; members are ``{pbx}:{call_id}``.
"""

from __future__ import annotations

from typing import Any

from cbcontracts import (
    CallEnded,
    CallEvent,
    CallRecord,
    encode_event,
    encode_record,
    record_from_ended,
)
from cbstreams import Trimmer
from cbstreams.publisher import queue_entries

__all__ = ["F_DATA", "CallPublisher", "CdrKeys"]

F_DATA = b"data"  #: the one field of a cb:calls entry: the JSON-encoded CallEvent


class CdrKeys:
    def __init__(self, prefix: str = "cb:") -> None:
        self.prefix = prefix

    def record(self, member: str) -> str:
        return f"{self.prefix}cdr:{member}"

    def time(self) -> str:
        return f"{self.prefix}cdr:idx:time"

    def extension(self, ext: str) -> str:
        return f"{self.prefix}cdr:idx:ext:{ext}"

    def number(self, number: str) -> str:
        return f"{self.prefix}cdr:idx:num:{number}"

    def result(self, result: str) -> str:
        return f"{self.prefix}cdr:idx:result:{result}"

    def indexes(self, record: CallRecord) -> list[str]:
        keys = [self.time(), self.result(record.result)]
        keys += [self.extension(e) for e in record.extensions]
        if record.external:
            keys.append(self.number(record.external))
        return keys


class CallPublisher:
    def __init__(
        self,
        stream: str,
        *,
        prefix: str = "cb:",
        retention_s: int = 90 * 86_400,
        maxlen: int | None = None,
        trimmer: Trimmer | None = None,
    ) -> None:
        self.stream = stream
        self.cdr = CdrKeys(prefix)
        self.retention_s = retention_s
        self.maxlen = maxlen
        #: Retention of the calls stream by age (``XTRIM MINID``, at most every few seconds).
        self.trimmer = trimmer or Trimmer(None)

    def add(self, pipe: Any, events: list[CallEvent]) -> None:
        """Queue XADDs for ``events`` and the records of the calls they end on ``pipe``."""
        entries = [(F_DATA, encode_event(event)) for event in events]
        queue_entries(pipe, self.stream, entries, self.trimmer, maxlen=self.maxlen)
        for event in events:
            if isinstance(event, CallEnded):
                self._add_record(pipe, record_from_ended(event))

    def _add_record(self, pipe: Any, record: CallRecord) -> None:
        member = f"{record.pbx}:{record.call_id}"
        pipe.set(self.cdr.record(member), encode_record(record), ex=self.retention_s)
        for key in self.cdr.indexes(record):
            pipe.zadd(key, {member: record.started_at})
            pipe.zremrangebyscore(key, "-inf", record.started_at - self.retention_s * 1_000_000)
