"""Export: a call (its frames, related channels and the sync entries around it) to a capture
file, read back and replayed, gives the same record byte for byte; redacted, a call of the
same structure with none of the original numbers in the files."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from call_tracker.export import export_capture
from call_tracker.redact import Redactor
from call_tracker.reducer import RawEntry
from call_tracker.replay import capture_entries
from call_tracker.window import Window, publish_entries, replay_window
from cbcontracts import CallRecord, encode_record
from cbrecords import RecordStore
from cbstreams import PbxKeys

from .support import CAPTURES, TOPOLOGY, entries_of, live_run

BASE = 1_800_000_000_000_000  # where the fixtures' clocks start (µs)


def _shifted(entries: list[RawEntry], hours: int) -> list[RawEntry]:
    """``entries`` moved to start ``hours`` after BASE."""
    by = BASE + hours * 3_600_000_000 - entries[0].rx
    return [e._replace(rx=e.rx + by) for e in entries]


async def _records(redis: aioredis.Redis, prefix: str) -> list[CallRecord]:
    return await RecordStore(redis, prefix).window("main", 0, 2**62)


async def _stream_with(
    redis: aioredis.Redis, prefix: str, kind: str, name: str
) -> tuple[CallRecord, list[CallRecord]]:
    """Three calls in a row, the middle one from ``name``; returns it and all records."""
    entries = [*_shifted(entries_of("fixture", "inbound_answered"), 0),
               *_shifted(entries_of(kind, name), 1),
               *_shifted(entries_of("fixture", "sync_outage"), 2)]  # fmt: skip
    await live_run(redis, prefix, entries)
    records = await _records(redis, prefix)
    middle = [r for r in records if r.started_at >= _shifted(entries_of(kind, name), 1)[0].rx]
    return middle[0], records


CASES = [("fixture", "blind_transfer_ami"), ("fixture", "sync_outage"),
         ("fixture", "inbound_queue")]  # fmt: skip
if (CAPTURES / "attended_transfer_ami.ami").exists():
    CASES.append(("capture", "attended_transfer_ami"))


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}:{n}" for k, n in CASES])
async def test_an_exported_call_replays_to_the_same_record_byte_for_byte(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path, kind: str, name: str
) -> None:
    call, _ = await _stream_with(redis_client, redis_prefix, kind, name)
    result = await export_capture(
        redis_client, "main", tmp_path / "bug", prefix=redis_prefix, call_id=call.call_id
    )
    assert result.frames > 0
    entries = capture_entries(result.ami)
    again = f"{redis_prefix}again:"
    await publish_entries(redis_client, PbxKeys("main", again).ami, entries, keep_ids=True)
    await live_run(redis_client, again, [])  # the tracker over the imported stream
    replayed = {r.call_id: r for r in await _records(redis_client, again)}
    assert encode_record(replayed[call.call_id]) == encode_record(call)
    # and the stream replay of the imported window agrees with its live run
    check = await replay_window(redis_client, TOPOLOGY, Window(), prefix=again)
    assert check.diffs == []


async def test_a_redacted_export_keeps_the_structure_and_no_original_number(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    call, _ = await _stream_with(redis_client, redis_prefix, "fixture", "blind_transfer_ami")
    result = await export_capture(redis_client, "main", tmp_path / "bug", prefix=redis_prefix,
                                  call_id=call.call_id, redact=Redactor())  # fmt: skip
    files = b"".join(p.read_bytes() for p in (result.ami, result.times, result.chunks))
    originals = {call.caller, call.called, call.external, call.did} - {""}
    assert originals
    for number in originals:
        assert len(number) < 5 or number.encode() not in files, number
    again = f"{redis_prefix}again:"
    entries = capture_entries(result.ami)
    await publish_entries(redis_client, PbxKeys("main", again).ami, entries, keep_ids=True)
    await live_run(redis_client, again, [])
    got = next(r for r in await _records(redis_client, again) if r.call_id == call.call_id)
    same = ("direction", "result", "rang", "answered_by", "extension", "transferred_to",
            "ring_seconds", "talk_seconds", "hangup_by", "started_at", "ended_at")  # fmt: skip
    assert {f: getattr(got, f) for f in same} == {f: getattr(call, f) for f in same}
    assert got.external != call.external
    assert len(got.external) == len(call.external)
