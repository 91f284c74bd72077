"""Replaying a window of ``cb:{pbx}:ami`` through the current reducer ("what this version
would do") into a scratch key prefix, and comparing the calls it gives with the stored
records.

The live stream is only read (XRANGE); everything the replay writes — checkpoint, live calls,
call events, records — goes through the tracker's own commit (:class:`TrackerStore`) under
``{prefix}replay:{random}:`` and is deleted afterwards (unless kept). A window is a time
span, a span of entry ids, or one call (the span of its stored record). The calls compared
are those that *started* in the window: reading goes on past its end until they have ended
(at most ``tail_s``); calls first seen mid-call (begun before the window) are left out.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis

from aioami import event_name
from cbcontracts import CallEvent, CallRecord
from cbrecords import FieldDiff, RecordStore, diff_records
from cbstreams import PbxKeys, fields
from cbstreams.publisher import queue_entries

from .publisher import CallPublisher
from .reducer import RawEntry, reduce
from .reducer.model import TrackerState, entry_key
from .reducer.topology import Topology
from .store import TrackerStore

__all__ = [
    "Reducer",
    "ReplayResult",
    "Window",
    "entry_from_fields",
    "publish_entries",
    "read_entries",
    "replay_window",
]

Reducer = Callable[[TrackerState, RawEntry], tuple[TrackerState, list[CallEvent]]]
_Rows = list[tuple[bytes, dict[bytes, bytes]]]
_MAX_US = 2**62


def entry_from_fields(entry_id: bytes, f: dict[bytes, bytes]) -> RawEntry:
    """A stream entry of ``cb:{pbx}:ami`` as the reducer takes it (the tracker loop and the
    replays read entries through this one function)."""
    return RawEntry(
        entry_id.decode(),
        f.get(fields.F_RAW, b""),
        int(f.get(fields.F_RX, b"0")),
        f.get(fields.F_EV, b""),
        f.get(fields.F_SNAP, b""),
    )


async def publish_entries(
    redis: aioredis.Redis,
    stream: str,
    entries: list[RawEntry],
    *,
    sess: int = 1,
    keep_ids: bool = False,
) -> list[str]:
    """XADD ``entries`` as ami-ingest does (raw, ev, rx, sess; sync entries with their
    snapshot, each starting a new ``sess``), ids ``{rx ms}-*`` so that stream time is receive
    time (kept increasing), or the entries' own ids (``keep_ids``: an exported capture).
    Loads fixtures and captures into a stream; returns the ids."""
    ids: list[str] = []
    last_ms = 0
    for start in range(0, len(entries), 1000):
        rows: list[list[bytes | str]] = []
        own: list[str] = []
        for entry in entries[start : start + 1000]:
            if entry.ev == fields.SYNC_EVENT:
                sess += 1
            last_ms = max(last_ms, entry.rx // 1000)
            values: list[bytes | str] = [
                fields.F_RAW, entry.raw, fields.F_EV, entry.ev or event_name(entry.raw),
                fields.F_RX, str(entry.rx), fields.F_SESS, str(sess),
            ]  # fmt: skip
            if entry.ev == fields.SYNC_EVENT:
                values += [
                    fields.F_SNAP,
                    entry.snap,
                    fields.F_BANNER,
                    b"Asterisk Call Manager/11.0.0",
                ]
            rows.append(values)
            own.append(entry.id if keep_ids else f"{last_ms}-*")
        async with redis.pipeline(transaction=False) as pipe:
            queue_entries(pipe, stream, rows, ids=own)
            ids += [i.decode() for i in await pipe.execute()]
    return ids


@dataclass(frozen=True, kw_only=True)
class Window:
    """Which calls: started in [``since``, ``until``] (unix µs), or between the entry ids
    ``start_id`` and ``end_id``, or the one call ``call_id``."""

    since: int | None = None
    until: int | None = None
    start_id: str | None = None
    end_id: str | None = None
    call_id: str | None = None


@dataclass
class ReplayResult:
    stored: list[CallRecord]
    replayed: list[CallRecord]
    diffs: list[FieldDiff]
    entries: int = 0
    since: int = 0
    until: int = 0
    #: calls left out: begun before the window (replay saw them mid-call) or still open
    #: at the end of the replay
    partial: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)
    scratch: str = ""


async def read_entries(
    redis: aioredis.Redis, stream: str, start: str, end: str = "+", *, count: int = 5000
) -> _Rows:
    rows = await redis.xrange(stream, min=start, max=end, count=count)
    return cast(_Rows, rows)


async def _span(store: RecordStore, pbx: str, window: Window) -> tuple[int, int]:
    if window.call_id is not None:
        record = await store.get(pbx, window.call_id)
        if record is None:
            raise LookupError(f"no record of call {window.call_id} on {pbx}")
        return record.started_at, record.started_at
    since = window.since if window.since is not None else 0
    until = window.until if window.until is not None else _MAX_US
    if window.start_id is not None:
        since = max(since, entry_key(window.start_id)[0] * 1000)
    if window.end_id is not None:
        ms = entry_key(window.end_id)[0]
        until = min(until, ms * 1000 + 999)
    return since, until


async def replay_window(
    redis: aioredis.Redis,
    topology: Topology,
    window: Window,
    *,
    prefix: str = "cb:",
    reducer: Reducer = reduce,
    batch: int = 5000,
    tail_s: int = 3600,
    lead_ms: int = 5000,
    keep: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay ``window`` of the PBX's stream into a scratch prefix and diff the calls.
    ``progress`` is called with the stream time reached (ms) after each batch."""
    pbx = topology.pbx
    stored_store = RecordStore(redis, prefix)
    since, until = await _span(stored_store, pbx, window)
    scratch = f"{prefix}replay:{secrets.token_hex(6)}:"
    store = TrackerStore(redis, topology, CallPublisher(f"{scratch}calls", prefix=scratch),
                         prefix=scratch)  # fmt: skip
    state = await store.load()
    stream = PbxKeys(pbx, prefix).ami
    # ids are Redis's clock, rx the ingest host's: start a little early (calls begun in the
    # lead-in are not compared; they only make the state what the live tracker had)
    cursor = window.start_id or f"{max(0, since // 1000 - lead_ms)}-0"
    end_ms = until // 1000 if until < _MAX_US else None
    tail_ms = tail_s * 1000
    entries = 0
    pending: set[str] | None = None  # past the end: the window's calls not yet ended
    # the next batch is read while this one is reduced and committed (Redis works meanwhile)
    reading: asyncio.Task[_Rows] | None = asyncio.create_task(
        read_entries(redis, stream, cursor, count=batch)
    )
    try:
        while reading is not None:
            rows = await reading
            reading = None
            if not rows:
                break
            if len(rows) == batch:
                cursor = "(" + rows[-1][0].decode()
                reading = asyncio.create_task(read_entries(redis, stream, cursor, count=batch))
            events: list[CallEvent] = []
            for entry_id, f in rows:
                if end_ms is not None and entry_key(entry_id.decode())[0] > end_ms:
                    if pending is None:
                        pending = {k for k, c in state.calls.items() if since <= c.start_at}
                    pending &= state.calls.keys()
                    if not pending or entry_key(entry_id.decode())[0] > end_ms + tail_ms:
                        if reading is not None:
                            reading.cancel()
                        reading = None
                        break
                events += reducer(state, entry_from_fields(entry_id, f))[1]
                entries += 1
            await store.commit(state, events)
            if progress is not None:
                progress(state.last[0])
        replayed_store = RecordStore(redis, scratch)
        stored = await stored_store.window(pbx, since, until)
        replayed = await replayed_store.window(pbx, since, until)
    finally:
        if reading is not None:
            reading.cancel()
        if not keep:
            await _drop(redis, scratch)
    open_ids = {c.linkedid for c in state.calls.values() if since <= c.start_at <= until}
    if window.call_id is not None:
        stored = [r for r in stored if r.call_id == window.call_id]
        replayed = [r for r in replayed if r.call_id == window.call_id]
    stored_ids = {r.call_id for r in stored}
    partial = [r.call_id for r in replayed if r.reconstructed and r.call_id not in stored_ids]
    replayed = [r for r in replayed if r.call_id not in partial]
    still_open = sorted(r.call_id for r in stored if r.call_id in open_ids)
    stored = [r for r in stored if r.call_id not in open_ids]
    return ReplayResult(
        stored=stored,
        replayed=replayed,
        diffs=diff_records(stored, replayed, ignore=frozenset()),
        entries=entries,
        since=since,
        until=until,
        partial=sorted(partial),
        open=still_open,
        scratch=scratch if keep else "",
    )


async def _drop(redis: aioredis.Redis, scratch: str) -> None:
    """Delete every key under the scratch prefix (only those: the pattern is anchored)."""
    pattern = scratch.replace("[", "\\[").replace("]", "\\]").replace("*", "\\*") + "*"
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=pattern, count=1000):
        batch.append(cast(bytes, key))
        if len(batch) >= 500:
            await redis.unlink(*batch)
            batch.clear()
    if batch:
        await redis.unlink(*batch)
