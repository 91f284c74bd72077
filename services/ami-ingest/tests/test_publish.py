"""Every AMI frame reaches cb:{pbx}:ami byte for byte, in order, with a sync per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ami_ingest.testing import (
    SECRET,
    frames_of,
    read_until,
    running,
    settings_for,
    snap,
    syncs,
)
from amisim import Capture, Simulator
from cbstreams import PbxKeys


@pytest.mark.parametrize("chunks", [True, False], ids=["capture-chunks", "one-write"])
async def test_every_frame_of_a_replayed_capture_arrives_byte_for_byte_in_order(
    load: Callable[[str], Capture],
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    chunks: bool,
) -> None:
    capture = load("inbound_answered")
    want = capture.replayed_frames()
    key = PbxKeys("main", prefix=redis_prefix).ami
    async with (
        Simulator(secret=SECRET, replay=capture, replay_chunks=chunks) as sim,
        running(settings_for(redis_url, redis_prefix, sim)),
    ):
        entries = await read_until(
            redis_client, key, lambda e: len(frames_of(e)) >= len(want) and bool(syncs(e))
        )
    assert frames_of(entries) == want
    assert want[-1].startswith(b"Response: Goodbye")
    (sync,) = syncs(entries)
    assert sync[b"raw"] == b""
    assert sync[b"banner"].startswith(b"Asterisk Call Manager/")
    assert snap(sync)[-1]["Event"] == "CoreShowChannelsComplete"
    assert {d[b"sess"] for _, d in entries} == {sync[b"sess"]}
    rx = [int(d[b"rx"]) for _, d in entries]
    assert rx == sorted(rx)
    evs = [d[b"ev"] for _, d in entries if d[b"ev"] != b"callbridge.sync"]
    assert evs[0] == b"FullyBooted"
    assert all(
        raw.startswith(b"Event: " + ev) if ev else raw.startswith(b"Response: ")
        for raw, ev in zip(frames_of(entries), evs, strict=True)
    )


async def test_a_restart_mid_stream_starts_a_new_session_with_a_sync_and_no_duplicates(
    load: Callable[[str], Capture], redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    capture = load("attended_transfer_ami")
    want = capture.replayed_frames()
    key = PbxKeys("main", prefix=redis_prefix).ami
    async with Simulator(secret=SECRET, replay=capture, replay_chunks=True) as sim:
        settings = settings_for(redis_url, redis_prefix, sim)
        async with running(settings):
            first = await read_until(redis_client, key, lambda e: len(e) >= 30)
        # killed mid-stream; a new instance starts a new AMI session
        async with running(settings):
            entries = await read_until(
                redis_client, key, lambda e: bool(syncs(e)) and frames_of(e)[-1:] == want[-1:]
            )
    assert len(first) < len(want)
    one = entries[0][1][b"sess"]
    (two,) = {s[b"sess"] for s in syncs(entries)}
    assert int(two) > int(one)
    killed = frames_of(entries, one)
    assert killed == want[: len(killed)]  # a prefix: nothing twice, nothing out of order
    assert frames_of(entries, two) == want
    first_of_two = next(i for i, (_, d) in enumerate(entries) if d[b"sess"] == two)
    assert all(d[b"sess"] == one for _, d in entries[:first_of_two])


SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "captures"
REAL_CAPTURES = sorted(p.stem for p in SHARED.glob("*.ami")) if SHARED.is_dir() else []


@pytest.mark.skipif(not REAL_CAPTURES, reason=f"the recorded captures are not at {SHARED}")
@pytest.mark.parametrize("name", REAL_CAPTURES or ["none"])
async def test_every_recorded_capture_arrives_byte_for_byte_with_its_real_read_boundaries(
    name: str, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    capture = Capture.load(SHARED / f"{name}.ami")
    want = capture.replayed_frames()
    key = PbxKeys("main", prefix=redis_prefix).ami
    async with (
        Simulator(secret=SECRET, replay=capture, replay_chunks=True) as sim,
        running(settings_for(redis_url, redis_prefix, sim)),
    ):
        entries = await read_until(redis_client, key, lambda e: len(frames_of(e)) >= len(want))
    assert frames_of(entries) == want
