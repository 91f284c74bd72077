"""Shared by the replay tests: a stream loaded with a fixture or a capture, and the live
tracker (the service's own loop, leased) run over it until it caught up."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from call_tracker.fixtures import load_fixture
from call_tracker.handler import PbxTracker
from call_tracker.metrics import TrackerMetrics
from call_tracker.publisher import CallPublisher
from call_tracker.replay import capture_entries
from call_tracker.state import RawEntry
from call_tracker.store import TrackerStore
from call_tracker.topology import Topology
from call_tracker.window import publish_entries
from cbstreams import Lease, PbxKeys

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures"
# CI clones the repo next to shared/, exactly as in development (../shared).
CAPTURES = Path(__file__).resolve().parents[4].parent / "shared" / "captures"
TOPOLOGY = Topology(pbx="main")


def fixture_names() -> list[str]:
    return sorted(p.name.removesuffix(".jsonl") for p in FIXTURES.glob("*.jsonl"))


def capture_names() -> list[str]:
    return sorted(p.stem for p in CAPTURES.glob("*.ami"))


def entries_of(kind: str, name: str) -> list[RawEntry]:
    if kind == "capture":
        return capture_entries(CAPTURES / f"{name}.ami")
    return load_fixture(FIXTURES / f"{name}.jsonl")


async def live_run(
    redis: aioredis.Redis, prefix: str, entries: list[RawEntry], topology: Topology = TOPOLOGY
) -> list[str]:
    """Load ``entries`` into the PBX's stream and run the tracker over all of them."""
    ids = await publish_entries(redis, PbxKeys(topology.pbx, prefix).ami, entries)
    publisher = CallPublisher(f"{prefix}calls", prefix=prefix)
    store = TrackerStore(redis, topology, publisher, prefix=prefix)
    lease = Lease(redis, PbxKeys(topology.pbx, prefix).lease("tracker"), "t", ttl_ms=5000)
    tracker = PbxTracker(redis, store, lease, TrackerMetrics.create(), batch=500, block_ms=10,
                         prefix=prefix)  # fmt: skip
    assert await lease.acquire()
    state = await store.load()
    while await tracker.step(state):
        pass
    await lease.release()
    return ids
