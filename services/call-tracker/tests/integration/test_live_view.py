"""The live-call view (``cbrecords.LiveCall``) is kept by the tracker's commit: present with
who rang and answered while the call lasts, gone in the commit that writes its record."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from call_tracker.fixtures import load_fixture
from call_tracker.reducer.topology import Topology
from call_tracker.testing import track_entries
from cbrecords import RecordStore

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures"


async def test_the_live_view_follows_the_call_and_goes_with_its_end(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    entries = load_fixture(FIXTURES / "inbound_group.jsonl")
    first_hangup = next(i for i, e in enumerate(entries) if e.raw.startswith(b"Event: Hangup\r"))
    topology = Topology(pbx="main")
    await track_entries(redis_client, redis_prefix, entries[:first_hangup], topology)
    store = RecordStore(redis_client, redis_prefix)
    [live] = await store.live_calls("main")
    assert live.direction == "inbound"
    assert live.answered_by in {"100", "101"}
    assert live.answered_at > live.started_at
    assert set(live.extensions) == {"100", "101"}
    assert live.talking == (live.answered_by,)
    assert live.external
    assert await store.get("main", live.call_id) is None
    await track_entries(redis_client, redis_prefix, entries[first_hangup:], topology)
    assert await store.live_calls("main") == []
    record = await store.get("main", live.call_id)
    assert record is not None
    assert record.answered_by == live.answered_by
    assert record.started_at == live.started_at
