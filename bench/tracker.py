"""call-tracker benchmark: the pure reducer, the whole service with Redis, memory per call.

Usage: ``uv run python bench/tracker.py [--events N] [--service-events N] [--live N]``.
The stream is amisim's realistic mix (captured call scenarios, ~50 % VarSet noise).
Prints ``name=value`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc

import amisim
from aioami import FrameSplitter, event_name
from call_tracker.handler import PbxTracker
from call_tracker.metrics import TrackerMetrics
from call_tracker.publisher import CallPublisher
from call_tracker.reducer import RawEntry, new_state, reduce
from call_tracker.reducer.topology import Topology
from call_tracker.store import TrackerStore
from call_tracker.testing import publish_raw
from cbstreams import Lease, PbxKeys, connect
from cbstreams.localredis import local_redis_server

TOPOLOGY = Topology(pbx="bench")


def frames(n_events: int, seed: int) -> list[bytes]:
    splitter = FrameSplitter(expect_banner=False)
    return [
        f.removesuffix(b"\r\n\r\n")
        for chunk in amisim.render_events(n_events, seed=seed)
        for f in splitter.feed(chunk)
    ]


def entries_of(raw: list[bytes]) -> list[RawEntry]:
    return [RawEntry(f"{i + 1}-0", f, 1_800_000_000_000_000 + i * 1000) for i, f in enumerate(raw)]


def reducer_rate(n_events: int) -> float:
    entries = entries_of(frames(n_events, seed=1))
    varsets = sum(event_name(e.raw) == b"VarSet" for e in entries)
    print(f"tracker_reducer_varset_share={varsets / len(entries):.2f}")
    state = new_state(TOPOLOGY)
    started = time.perf_counter()
    for entry in entries:
        reduce(state, entry)
    return len(entries) / (time.perf_counter() - started)


def bytes_per_live_call(n_calls: int) -> tuple[int, float]:
    """Reduce every frame of ``n_calls``+ calls except their Hangups: all stay live."""
    raw = [f for f in frames(n_calls * 92, seed=2) if event_name(f) != b"Hangup"]
    entries = entries_of(raw)
    gc.collect()
    tracemalloc.start()
    state = new_state(TOPOLOGY)
    for entry in entries:
        reduce(state, entry)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return len(state.calls), used / len(state.calls)


async def service_rate(n_events: int) -> float:
    with local_redis_server() as url:
        redis = connect(url)
        keys = PbxKeys("bench")
        await publish_raw(redis, keys.ami, frames(n_events, seed=3))
        store = TrackerStore(redis, TOPOLOGY, CallPublisher("cb:calls"))
        lease = Lease(redis, keys.lease("tracker"), "bench", ttl_ms=60_000)
        tracker = PbxTracker(redis, store, lease, TrackerMetrics.create(), batch=2000, block_ms=10)
        if not await lease.acquire():
            raise SystemExit("bench lease is taken")
        state = await store.load()
        started = time.perf_counter()
        applied = 0
        while step := await tracker.step(state):
            applied += step
        elapsed = time.perf_counter() - started
        await redis.aclose()
        return applied / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--service-events", type=int, default=300_000)
    parser.add_argument("--live", type=int, default=10_000)
    args = parser.parse_args()
    print(f"tracker_reducer_events_per_s={reducer_rate(args.events):.0f}")
    print(f"tracker_service_events_per_s={asyncio.run(service_rate(args.service_events)):.0f}")
    live, per_call = bytes_per_live_call(args.live)
    print(f"tracker_live_calls_measured={live}")
    print(f"tracker_bytes_per_live_call={per_call:.0f}")


if __name__ == "__main__":
    main()
