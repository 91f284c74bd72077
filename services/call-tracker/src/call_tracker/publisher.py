"""The only writer of call events (``cb:calls``); the records of the calls that end go
through the records library (``cbrecords.RecordWriter``).

Commands are queued on the caller's MULTI/EXEC pipeline so that they commit together with
the checkpoint.
"""

from __future__ import annotations

from typing import Any

from cbcontracts import CallEnded, CallEvent, encode_event, record_from_ended
from cbrecords import RecordWriter
from cbstreams import Trimmer
from cbstreams.fields import F_DATA
from cbstreams.publisher import queue_entries

__all__ = ["F_DATA", "CallPublisher"]


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
        self.records = RecordWriter(prefix, retention_s=retention_s)
        self.maxlen = maxlen
        #: Retention of the calls stream by age (``XTRIM MINID``, at most every few seconds).
        self.trimmer = trimmer or Trimmer(None)

    def add(self, pipe: Any, events: list[CallEvent]) -> None:
        """Queue XADDs for ``events`` and the records of the calls they end on ``pipe``."""
        entries = [(F_DATA, encode_event(event)) for event in events]
        queue_entries(pipe, self.stream, entries, self.trimmer, maxlen=self.maxlen)
        for event in events:
            if isinstance(event, CallEnded):
                self.records.add_record(pipe, record_from_ended(event))
