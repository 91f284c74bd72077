"""The tracker against real Redis: events and records committed with the checkpoint, a
second tracker fenced off, records queried with filters and cursors."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
import redis.asyncio as aioredis

import amisim
from aioami import FrameSplitter
from call_tracker.handler import PbxTracker
from call_tracker.metrics import TrackerMetrics
from call_tracker.publisher import CallPublisher
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from call_tracker.store import TrackerStore
from call_tracker.testing import call_events, publish_raw, stream_entries, wait_checkpoint
from cbcontracts import CallEnded
from cbrecords import CdrQuery, query_records
from cbstreams import Lease, LeaseLost, PbxKeys

TOPOLOGY = Topology(pbx="main")


def rendered_frames(n_events: int, seed: int) -> list[bytes]:
    splitter = FrameSplitter(expect_banner=False)
    return [
        frame.removesuffix(b"\r\n\r\n")
        for chunk in amisim.render_events(n_events, seed=seed)
        for frame in splitter.feed(chunk)
    ]


async def _last_id(redis: aioredis.Redis, stream: str) -> bytes:
    rows = cast(list[tuple[bytes, object]], await redis.xrevrange(stream, count=1))
    return rows[0][0]


def _tracker(redis: aioredis.Redis, prefix: str, owner: str = "a") -> PbxTracker:
    publisher = CallPublisher(f"{prefix}calls", prefix=prefix)
    store = TrackerStore(redis, TOPOLOGY, publisher, prefix=prefix)
    lease = Lease(redis, PbxKeys("main", prefix).lease("tracker"), owner, ttl_ms=5000)
    return PbxTracker(redis, store, lease, TrackerMetrics.create(), batch=300, block_ms=50,
                      prefix=prefix)  # fmt: skip


async def _drain(tracker: PbxTracker) -> None:
    assert await tracker.lease.acquire()
    state = await tracker.store.load()
    while await tracker.step(state):
        pass


async def test_the_tracker_emits_exactly_what_the_pure_reducer_gives(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ami = PbxKeys("main", redis_prefix).ami
    await publish_raw(redis_client, ami, rendered_frames(6000, seed=3))
    tracker = _tracker(redis_client, redis_prefix)
    await _drain(tracker)
    expected = replay(await stream_entries(redis_client, ami), TOPOLOGY)
    assert await call_events(redis_client, f"{redis_prefix}calls") == expected
    checkpoint = await redis_client.get(tracker.store.checkpoint_key)
    assert checkpoint == await _last_id(redis_client, ami)


async def test_a_restarted_tracker_resumes_from_its_commit_without_doubles(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ami = PbxKeys("main", redis_prefix).ami
    frames = rendered_frames(4000, seed=4)
    await publish_raw(redis_client, ami, frames[:1700])
    await _drain(_tracker(redis_client, redis_prefix))
    await publish_raw(redis_client, ami, frames[1700:])
    await _drain(_tracker(redis_client, redis_prefix))
    expected = replay(await stream_entries(redis_client, ami), TOPOLOGY)
    assert await call_events(redis_client, f"{redis_prefix}calls") == expected


async def test_a_tracker_whose_checkpoint_moved_under_it_stops_instead_of_doubling(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ami = PbxKeys("main", redis_prefix).ami
    await publish_raw(redis_client, ami, rendered_frames(2000, seed=5))
    first, second = _tracker(redis_client, redis_prefix), _tracker(redis_client, redis_prefix)
    assert await first.lease.acquire()
    stale = await first.store.load()
    await _drain(second)
    with pytest.raises(LeaseLost):
        await first.step(stale)


async def test_records_are_queried_by_filters_newest_first_with_a_cursor(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ami = PbxKeys("main", redis_prefix).ami
    await publish_raw(redis_client, ami, rendered_frames(8000, seed=6))
    await _drain(_tracker(redis_client, redis_prefix))
    ended = [e for e in await call_events(redis_client, f"{redis_prefix}calls")
             if isinstance(e, CallEnded)]  # fmt: skip
    pages, cursor = [], None
    while True:
        page = await query_records(redis_client, CdrQuery(limit=7, cursor=cursor),
                                   prefix=redis_prefix)  # fmt: skip
        pages += page.records
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(r.call_id for r in pages) == sorted(e.call_id for e in ended)
    assert [r.started_at for r in pages] == sorted((r.started_at for r in pages), reverse=True)
    missed = await query_records(redis_client, CdrQuery(result="missed", limit=500),
                                 prefix=redis_prefix)  # fmt: skip
    assert {r.call_id for r in missed.records} == {e.call_id for e in ended if e.result == "missed"}
    some = next(e for e in ended if e.answered_by and e.answered_by.isdigit() and
                len(e.answered_by) == 3)  # fmt: skip
    by_ext = await query_records(redis_client, CdrQuery(extension=some.answered_by, limit=500),
                                 prefix=redis_prefix)  # fmt: skip
    assert some.call_id in {r.call_id for r in by_ext.records}


async def test_the_service_loop_hands_over_when_stopped(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ami = PbxKeys("main", redis_prefix).ami
    await publish_raw(redis_client, ami, rendered_frames(1500, seed=8))
    tracker = _tracker(redis_client, redis_prefix)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(tracker.run(stop))
        last = await _last_id(redis_client, ami)
        await wait_checkpoint(
            redis_client, tracker.store.checkpoint_key, last, f"{redis_prefix}calls"
        )
        stop.set()
    assert await redis_client.get(PbxKeys("main", redis_prefix).lease("tracker")) is None
