"""Shared by the replay tests: a stream loaded with a fixture or a capture, and the live
tracker (the service's own loop, leased) run over it until it caught up."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from call_tracker.fixtures import load_fixture
from call_tracker.reducer import RawEntry
from call_tracker.reducer.topology import Topology
from call_tracker.replay import capture_entries
from call_tracker.testing import track_entries

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
    return await track_entries(redis, prefix, entries, topology)
