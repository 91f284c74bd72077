"""Exactly-once effects: the tracker process SIGKILLed several times while it works gives
exactly the call events and records of a clean run."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import cast

import redis.asyncio as aioredis

import amisim
from aioami import FrameSplitter
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from call_tracker.testing import call_events, publish_raw, stream_entries, wait_checkpoint
from cbcontracts import CallEnded, CallStarted, decode_record
from cbrecords import RecordKeys
from cbstreams import PbxKeys

KILLS = 5


def _frames() -> list[bytes]:
    splitter = FrameSplitter(expect_banner=False)
    return [
        f.removesuffix(b"\r\n\r\n")
        for chunk in amisim.render_events(40_000, seed=11)
        for f in splitter.feed(chunk)
    ]


def _config(tmp_path: Path, redis_url: str, prefix: str) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(
        f'redis_url = "{redis_url}"\nkey_prefix = "{prefix}"\ncalls_stream = "{prefix}calls"\n'
        'instance = "crash-test"\nbatch = 40\nblock_ms = 100\nlease_ttl_ms = 400\n'
        'lease_renew_s = 0.1\nstandby_poll_s = 0.05\nlog_json = false\nlog_level = "WARNING"\n'
        '[pbx.main]\ntrunks = ["trunk"]\n'
    )
    return path


def _start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "call_tracker", str(config)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _wait_progress(redis: aioredis.Redis, key: str, beyond: bytes | None) -> bytes:
    """Until the checkpoint moves past ``beyond``: polled under a deadline."""
    async with asyncio.timeout(30):
        while True:
            value = cast(bytes | None, await redis.get(key))
            if value is not None and value != beyond:
                return value
            await redis.ping()


async def test_sigkilled_trackers_give_exactly_the_events_and_records_of_a_clean_run(
    redis_client: aioredis.Redis, redis_prefix: str, redis_url: str, tmp_path: Path
) -> None:
    keys = PbxKeys("main", redis_prefix)
    await publish_raw(redis_client, keys.ami, _frames())
    entries = await stream_entries(redis_client, keys.ami)
    expected = replay(entries, Topology(pbx="main"))
    assert sum(isinstance(e, CallStarted) for e in expected) >= 200
    checkpoint_key = f"{keys.base}:tracker:checkpoint"
    config = _config(tmp_path, redis_url, redis_prefix)
    rng = random.Random(7)
    seen: bytes | None = None
    for _ in range(KILLS):
        proc = _start(config)
        try:
            seen = await _wait_progress(redis_client, checkpoint_key, seen)
            for _ in range(rng.randint(0, 30)):
                seen = await _wait_progress(redis_client, checkpoint_key, seen)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    proc = _start(config)
    try:
        last = entries[-1].id.encode()
        await wait_checkpoint(redis_client, checkpoint_key, last, f"{redis_prefix}calls", 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert await call_events(redis_client, f"{redis_prefix}calls") == expected
    cdr = RecordKeys(redis_prefix)
    ended = [e for e in expected if isinstance(e, CallEnded)]
    blobs = await redis_client.mget([cdr.record(f"main:{e.call_id}") for e in ended])
    assert seen != entries[-1].id.encode()  # the kills all happened before the end
    assert [decode_record(cast(bytes, b)).event_id for b in blobs] == [e.event_id for e in ended]
    assert await redis_client.zcard(cdr.time()) == len(ended)
