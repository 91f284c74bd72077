"""Running the reducer offline: over a capture (``NAME.ami`` + ``NAME.times.jsonl``), over
wire bytes (e.g. rendered by amisim), or over any list of entries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from aioami import FrameSplitter
from cbcontracts import CallEvent

from .reducer import SYNC_EVENT, RawEntry, new_state, reduce
from .reducer.model import TrackerState
from .reducer.topology import Topology

__all__ = ["capture_entries", "replay", "wire_entries"]


def capture_entries(ami: Path) -> list[RawEntry]:
    """The frames of a recorded capture as entries, timed by its ``.times.jsonl``. Rows of
    an export (:mod:`call_tracker.export`) keep their stream entry id and µs receive time,
    and give back their sync entries; a recorded capture's frames are numbered 1-0, 2-0, …"""
    data = ami.read_bytes()
    times = ami.with_name(ami.name.removesuffix(".ami") + ".times.jsonl")
    entries: list[RawEntry] = []
    for line in times.read_text().splitlines():
        row = json.loads(line)
        if row.get("banner") is not None:
            continue
        entry_id = row.get("id") or f"{len(entries) + 1}-0"
        rx = row["rx"] if "rx" in row else int(row["t"] * 1_000_000)
        if row.get("event") == SYNC_EVENT.decode():
            entries.append(RawEntry(entry_id, b"", rx, SYNC_EVENT, row["snap"].encode()))
            continue
        raw = data[row["offset"] : row["offset"] + row["length"]].removesuffix(b"\r\n\r\n")
        entries.append(RawEntry(entry_id, raw, rx))
    return entries


def wire_entries(
    chunks: Iterable[bytes], *, start_us: int = 0, step_us: int = 1000
) -> Iterator[RawEntry]:
    """Entries for the frames in ``chunks`` (no banner), ``step_us`` apart."""
    splitter = FrameSplitter(expect_banner=False)
    n = 0
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            n += 1
            yield RawEntry(f"{n}-0", frame.removesuffix(b"\r\n\r\n"), start_us + n * step_us)


def replay(
    entries: Iterable[RawEntry], topology: Topology, state: TrackerState | None = None
) -> list[CallEvent]:
    """Every call event the entries produce, in order."""
    state = state or new_state(topology)
    out: list[CallEvent] = []
    for entry in entries:
        out += reduce(state, entry)[1]
    return out
