"""cbstreams.GroupReader, the one consumer-group reader: own pending entries before new ones,
retries with a not-before time, the delivery cap and dead letters, the reclaim of entries a
dead consumer left, acknowledgement in the same MULTI/EXEC as the effects, and Redis outages
(a private redis-server stopped and started again)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from cbstreams import (
    Batch,
    GroupReader,
    LeaseLost,
    ReaderSettings,
    RedisLink,
    StreamPublisher,
    connect,
    ensure_group,
)
from cbstreams.deadletter import DeadLetters
from cbstreams.localredis import RedisProcess

FAST = ReaderSettings(batch=10, block_ms=20, reclaim_idle_ms=200, reclaim_every_s=0.02,
                      max_deliveries=3, backoff_ms=30, backoff_max_ms=100)  # fmt: skip


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            value = check()
            if not isinstance(value, bool):
                value = await value
            if value:
                return
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def reading(
    reader: GroupReader, handler: Callable[[Batch], Awaitable[None]]
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(handler, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def put(redis: aioredis.Redis, key: str, *values: str) -> list[bytes]:
    return await StreamPublisher(redis, key).publish([(b"v", v) for v in values])


async def pending(redis: aioredis.Redis, key: str, group: str = "g") -> int:
    info: Any = await redis.xpending(key, group)
    return int(info["pending"])


def none_pending(redis: aioredis.Redis, key: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await pending(redis, key) == 0

    return check


async def dead_letters(redis: aioredis.Redis, key: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await redis.xlen(key))

    return check


async def test_own_pending_entries_come_before_new_ones_and_effects_commit_with_the_ack(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}s"
    await ensure_group(redis_client, key, "g")
    await put(redis_client, key, "old")
    await redis_client.xreadgroup("g", "c1", {key: ">"})  # c1 read it and crashed
    await put(redis_client, key, "new")
    seen: list[bytes] = []

    async def handle(batch: Batch) -> None:
        for _, data in batch.entries:
            seen.append(data[b"v"])
            batch.pipe.incr(f"{redis_prefix}effects")

    reader = GroupReader(redis_client, key, "g", "c1", settings=FAST)
    async with reading(reader, handle):
        await eventually(lambda: len(seen) == 2)
        await eventually(none_pending(redis_client, key))
    assert seen == [b"old", b"new"]
    assert await redis_client.get(f"{redis_prefix}effects") == b"2"
    assert await pending(redis_client, key) == 0


async def test_a_handler_that_loses_its_lease_commits_nothing_and_leaves_entries_pending(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}s"
    await put(redis_client, key, "a")

    async def handle(batch: Batch) -> None:
        batch.pipe.set(f"{redis_prefix}effect", "x")
        raise LeaseLost("gone")

    reader = GroupReader(redis_client, key, "g", "c1", settings=FAST)
    stop = asyncio.Event()
    try:
        await reader.run(handle, stop)
    except* LeaseLost:
        pass
    assert await redis_client.get(f"{redis_prefix}effect") is None
    assert await pending(redis_client, key) == 1


async def test_retries_wait_their_not_before_time_and_the_cap_dead_letters_with_the_error(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key, dead = f"{redis_prefix}s", f"{redis_prefix}dead"
    await put(redis_client, key, "poison", "fine")
    attempts: list[tuple[bytes, int]] = []

    async def handle(batch: Batch) -> None:
        for entry_id, data in batch.entries:
            attempts.append((data[b"v"], batch.attempts(entry_id)))
            if data[b"v"] == b"poison":
                batch.retry(entry_id, "CRM said 503")

    reader = GroupReader(redis_client, key, "g", "c1", settings=FAST,
                         dead=DeadLetters(redis_client, dead))  # fmt: skip
    async with reading(reader, handle):
        await eventually(await dead_letters(redis_client, dead))
    assert attempts == [(b"poison", 1), (b"fine", 1), (b"poison", 2), (b"poison", 3)]
    [entry] = await DeadLetters(redis_client, dead).list()
    assert entry.error == "gave up after 3 attempts: CRM said 503"
    assert entry.attempts == 3
    assert entry.payload == {b"v": b"poison"}
    assert await pending(redis_client, key) == 0
    assert await redis_client.hlen(reader.not_before) == 0
    assert reader.stats["dead"] == 1


async def test_entries_a_dead_consumer_left_pending_are_reclaimed_by_another(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}s"
    await ensure_group(redis_client, key, "g")
    await put(redis_client, key, "orphan")
    await redis_client.xreadgroup("g", "dead-one", {key: ">"})
    seen: list[bytes] = []

    async def handle(batch: Batch) -> None:
        seen.extend(data[b"v"] for _, data in batch.entries)

    reader = GroupReader(redis_client, key, "g", "alive", settings=FAST)
    async with reading(reader, handle):
        await eventually(lambda: seen == [b"orphan"])  # after reclaim_idle_ms
        await eventually(none_pending(redis_client, key))
    assert await pending(redis_client, key) == 0
    assert reader.stats["reclaimed"] == 1


@pytest.mark.parametrize("reclaim_idle_ms", [200, None])  # None: a single active reader
async def test_a_bug_in_the_handler_is_retried_not_lost(
    redis_client: aioredis.Redis, redis_prefix: str, reclaim_idle_ms: int | None
) -> None:
    key = f"{redis_prefix}s"
    await put(redis_client, key, "x")
    calls: list[int] = []

    async def handle(batch: Batch) -> None:
        calls.append(batch.attempts(batch.entries[0][0]))
        if len(calls) == 1:
            raise ValueError("a bug")

    settings = dataclasses.replace(FAST, reclaim_idle_ms=reclaim_idle_ms)
    reader = GroupReader(redis_client, key, "g", "c1", settings=settings)
    async with reading(reader, handle):
        await eventually(lambda: len(calls) == 2)
    assert calls == [1, 2]
    assert await pending(redis_client, key) == 0


async def test_a_redis_restart_is_waited_out_logged_once_and_nothing_is_lost_or_doubled(
    restartable_redis: RedisProcess,
) -> None:
    redis = connect(restartable_redis.url)
    seen: list[bytes] = []

    async def handle(batch: Batch) -> None:
        seen.extend(data[b"v"] for _, data in batch.entries)
        batch.pipe.incr("effects", len(batch.entries))

    reader = GroupReader(redis, "s", "g", "c1", settings=FAST)
    try:
        async with reading(reader, handle):
            await put(redis, "s", "1", "2")
            await eventually(lambda: len(seen) == 2)
            restartable_redis.stop()
            await eventually(lambda: not reader.link.up)
            await asyncio.to_thread(restartable_redis.start)
            await eventually(lambda: reader.link.up)
            mine = RedisLink("test")  # the test's own writes may meet a stale connection once
            await mine.retry(lambda: put(redis, "s", "3"))
            await eventually(lambda: len(seen) == 3)
            # Redis lost its data (no persistence, a new empty server): the group comes back
            await mine.retry(lambda: redis.delete("s", "effects"))
            await mine.retry(lambda: put(redis, "s", "4"))
            await eventually(lambda: len(seen) == 4)
        assert seen == [b"1", b"2", b"3", b"4"]
        assert reader.link.outages == 1
        assert await mine.retry(lambda: pending(redis, "s")) == 0
        assert await mine.retry(lambda: redis.get("effects")) == b"1"
    finally:
        await redis.aclose()


async def test_an_uncapped_retry_is_delivered_past_the_cap_and_never_dead_lettered(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key, dead = f"{redis_prefix}s", f"{redis_prefix}dead"
    await put(redis_client, key, "paused")
    attempts: list[int] = []

    async def handle(batch: Batch) -> None:
        for entry_id, _ in batch.entries:
            attempts.append(batch.attempts(entry_id))
            if len(attempts) < FAST.max_deliveries + 3:  # e.g. waiting for re-authorisation
                assert batch.retry(entry_id, "CRM credentials revoked", capped=False)

    reader = GroupReader(redis_client, key, "g", "c1", settings=FAST,
                         dead=DeadLetters(redis_client, dead))  # fmt: skip
    async with reading(reader, handle):
        await eventually(lambda: len(attempts) == FAST.max_deliveries + 3)
        await eventually(none_pending(redis_client, key))
    assert attempts == list(range(1, FAST.max_deliveries + 4))
    assert await redis_client.xlen(dead) == 0
