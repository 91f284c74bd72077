"""Leases: one owner at a time; renew and release act only for the owner."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from cbstreams import Lease, PbxKeys


def _key(prefix: str) -> str:
    return PbxKeys("main", prefix=prefix).lease()


async def test_only_one_owner_acquires_and_renews(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = Lease(redis_client, _key(redis_prefix), "a", ttl_ms=3000)
    b = Lease(redis_client, _key(redis_prefix), "b", ttl_ms=3000)
    assert await a.acquire()
    assert a.held
    assert not await b.acquire()
    assert not b.held
    assert await a.acquire()  # already ours: extended
    assert await a.renew()
    assert not await b.renew()
    assert await redis_client.get(_key(redis_prefix)) == b"a"


async def test_release_only_deletes_our_own_lease(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = Lease(redis_client, _key(redis_prefix), "a")
    b = Lease(redis_client, _key(redis_prefix), "b")
    assert await a.acquire()
    assert not await b.release()
    assert await redis_client.get(_key(redis_prefix)) == b"a"
    assert await a.release()
    assert not a.held
    assert await redis_client.get(_key(redis_prefix)) is None
    assert await b.acquire()


async def test_another_owner_takes_over_after_expiry_and_the_old_one_learns_it(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = Lease(redis_client, _key(redis_prefix), "a", ttl_ms=100)
    b = Lease(redis_client, _key(redis_prefix), "b", ttl_ms=3000)
    assert await a.acquire()
    await asyncio.wait_for(b.wait_acquired(poll_s=0.01), timeout=5)
    assert not await a.renew()
    assert not a.held
    assert b.held


async def test_renew_retakes_a_lease_that_vanished(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = Lease(redis_client, _key(redis_prefix), "a")
    assert await a.acquire()
    await redis_client.delete(_key(redis_prefix))  # e.g. Redis restarted without data
    assert await a.renew()
    assert await redis_client.get(_key(redis_prefix)) == b"a"


async def test_held_turns_false_one_ttl_after_the_last_successful_renew_was_sent(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    now = [time.monotonic()]
    a = Lease(redis_client, _key(redis_prefix), "a", ttl_ms=3000, clock=lambda: now[0])
    assert await a.acquire()
    now[0] += 2.9
    assert a.held
    now[0] += 0.2
    assert not a.held
