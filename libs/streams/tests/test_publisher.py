"""The publisher appends batches in order, byte-exact, and trims by age."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from cbstreams import PbxKeys, StreamPublisher, Trimmer


async def _xrange(r: aioredis.Redis, key: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    got: Any = await r.xrange(key)
    return [(eid, data) for eid, data in got]


def _frames(n: int, tag: bytes) -> list[list[bytes | int]]:
    return [
        [b"raw", b"Event: E%d\r\nX: " % i + tag + b"\xff\x00", b"ev", b"E%d" % i, b"rx", i]
        for i in range(n)
    ]


async def test_batches_land_in_order_byte_for_byte(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = PbxKeys("main", prefix=redis_prefix).ami
    pub = StreamPublisher(redis_client, key)
    batches = [_frames(300, b"a"), _frames(1, b"b"), [], _frames(50, b"c")]
    ids = [await pub.publish(batch) for batch in batches]
    assert [len(i) for i in ids] == [300, 1, 0, 50]
    got = await _xrange(redis_client, key)
    expected = [entry for batch in batches for entry in batch]
    assert len(got) == len(expected)
    for (_, data), entry in zip(got, expected, strict=True):
        assert data[b"raw"] == entry[1]
        assert data[b"ev"] == entry[3]
        assert int(data[b"rx"]) == entry[5]
    assert [eid for eid, _ in got] == [eid for batch in ids for eid in batch]


async def test_exact_trim_by_age_drops_only_entries_older_than_the_window(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}s"
    for i in range(1, 21):  # entries from 1970: far older than any window
        await redis_client.xadd(key, {b"raw": b"old"}, id=f"{i}-0")
    pub = StreamPublisher(redis_client, key, Trimmer(60_000, exact=True))
    new_ids = await pub.publish(_frames(5, b"new"))
    assert [eid for eid, _ in await _xrange(redis_client, key)] == new_ids


def test_trim_is_due_at_most_once_per_interval() -> None:
    now = [1_000_000.0]
    trimmer = Trimmer(60_000, every_s=10, clock=lambda: now[0])
    assert trimmer.due() == str(1_000_000_000 - 60_000)
    now[0] += 9.9
    assert trimmer.due() is None
    now[0] += 0.1
    assert trimmer.due() == str(int(now[0] * 1000) - 60_000)
    assert Trimmer(None).due() is None


async def test_approximate_trim_removes_whole_nodes_of_old_entries(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}s"
    pipe = redis_client.pipeline(transaction=False)
    for i in range(1, 301):
        pipe.xadd(key, {b"raw": b"old"}, id=f"{i}-0")
    await pipe.execute()
    pub = StreamPublisher(redis_client, key, Trimmer(60_000))
    await pub.publish(_frames(5, b"new"))
    assert await redis_client.xlen(key) <= 100 + 5
