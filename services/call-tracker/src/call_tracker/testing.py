"""Test helpers (as aioami.testing / amisim.testing): raw entries into a PBX stream, call
events out of the calls stream, waiting for the tracker without sleeping."""

from __future__ import annotations

import asyncio
from typing import cast

import redis.asyncio as aioredis

from aioami import event_name
from cbcontracts import CallEvent, decode_event
from cbstreams import Lease, PbxKeys, StreamPublisher, fields

from .handler import PbxTracker
from .metrics import TrackerMetrics
from .publisher import F_DATA, CallPublisher
from .reducer import RawEntry
from .reducer.topology import Topology
from .store import TrackerStore
from .window import publish_entries

__all__ = ["call_events", "publish_raw", "stream_entries", "track_entries", "wait_checkpoint"]


async def publish_raw(redis: aioredis.Redis, stream: str, frames: list[bytes]) -> None:
    """XADD the frames as ami-ingest does (raw, ev, rx, sess), 1 ms apart in rx."""
    rx = 1_800_000_000_000_000
    publisher = StreamPublisher(redis, stream)
    for start in range(0, len(frames), 1000):
        await publisher.publish(
            [
                (
                    fields.F_RAW,
                    frame,
                    fields.F_EV,
                    event_name(frame),
                    fields.F_RX,
                    rx + (start + i) * 1000,
                    fields.F_SESS,
                    1,
                )
                for i, frame in enumerate(frames[start : start + 1000])
            ]
        )


async def stream_entries(redis: aioredis.Redis, stream: str) -> list[RawEntry]:
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(stream))
    return [
        RawEntry(
            i.decode(),
            f[fields.F_RAW],
            int(f[fields.F_RX]),
            f.get(fields.F_EV, b""),
            f.get(fields.F_SNAP, b""),
        )
        for i, f in rows
    ]


async def call_events(redis: aioredis.Redis, stream: str) -> list[CallEvent]:
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(stream))
    return [decode_event(f[F_DATA]) for _, f in rows]


async def wait_checkpoint(
    redis: aioredis.Redis, key: str, target: bytes, calls: str, timeout_s: float = 30.0
) -> None:
    """Until the tracker's checkpoint reaches ``target``: block on the calls stream between
    looks (no sleeps), under a deadline."""
    seen = b"0-0"
    async with asyncio.timeout(timeout_s):
        while await redis.get(key) != target:
            reply = await redis.xread({calls: seen}, count=1000, block=100)
            if reply:
                seen = cast(list[tuple[bytes, list[tuple[bytes, object]]]], reply)[0][1][-1][0]


async def track_entries(
    redis: aioredis.Redis,
    prefix: str,
    entries: list[RawEntry],
    topology: Topology,
    *,
    keep_ids: bool = False,
) -> list[str]:
    """Load ``entries`` into the PBX's raw stream (as ami-ingest would) and run the tracker's
    own loop (leased, committing) over the whole stream until it caught up; the entry ids."""
    ids = await publish_entries(redis, PbxKeys(topology.pbx, prefix).ami, entries,
                                keep_ids=keep_ids)  # fmt: skip
    publisher = CallPublisher(f"{prefix}calls", prefix=prefix)
    store = TrackerStore(redis, topology, publisher, prefix=prefix)
    lease = Lease(redis, PbxKeys(topology.pbx, prefix).lease("tracker"), "t", ttl_ms=600_000)
    tracker = PbxTracker(redis, store, lease, TrackerMetrics.create(), batch=2000, block_ms=10,
                         prefix=prefix)  # fmt: skip
    assert await lease.acquire(), "the tracker lease is free"  # noqa: S101
    state = await store.load()
    while await tracker.step(state):
        pass
    await lease.release()
    return ids
