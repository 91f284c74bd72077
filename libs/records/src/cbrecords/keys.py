"""Key names of the call records (documented in docs/streams.md).

``{prefix}cdr:{pbx}:{call_id}`` holds a record; the indexes are sorted sets scored by start
time (µs) whose members are ``{pbx}:{call_id}``; ``{prefix}{pbx}:calls:live`` (with the hash
tag: ``cb:{main}:calls:live``) is the live-call view, a hash call_id -> JSON ``LiveCall``.
"""

from __future__ import annotations

from cbcontracts import CallRecord
from cbstreams import PbxKeys

__all__ = ["RecordKeys", "member"]


def member(pbx: str, call_id: str) -> str:
    """The index member (and record key suffix) of a call."""
    return f"{pbx}:{call_id}"


class RecordKeys:
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

    def live(self, pbx: str) -> str:
        return f"{PbxKeys(pbx, self.prefix).base}:calls:live"

    def indexes(self, record: CallRecord) -> list[str]:
        keys = [self.time(), self.result(record.result)]
        keys += [self.extension(e) for e in record.extensions]
        if record.external:
            keys.append(self.number(record.external))
        return keys
