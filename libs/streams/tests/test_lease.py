"""Leases: one owner at a time; renew and release act only for the owner."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from cbstreams import Lease, PbxKeys


def _key(prefix: str) -> str:
    return PbxKeys("main", prefix=prefix).lease()


async def _value(redis: aioredis.Redis, prefix: str) -> str:
    """The lease's value without its nonce: ``<owner>#<generation>``."""
    raw = await redis.get(_key(prefix))
    return raw.decode().partition(".")[0] if isinstance(raw, bytes) else ""


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
    assert await _value(redis_client, redis_prefix) == "a#1"


async def test_release_only_deletes_our_own_lease(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = Lease(redis_client, _key(redis_prefix), "a")
    b = Lease(redis_client, _key(redis_prefix), "b")
    assert await a.acquire()
    assert not await b.release()
    assert await _value(redis_client, redis_prefix) == "a#1"
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
    assert await _value(redis_client, redis_prefix) == "a#1"


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


async def test_a_lapsed_owner_gets_a_grace_to_retake_before_a_standby_may(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """The 783/954-frame loss: the active replica's lease lapsed during a Redis outage and the
    standby (polling faster) took it. With a hand-over grace the old owner re-takes it with
    the same generation; a standby gets it (new generation) only after the grace."""
    key = _key(redis_prefix)
    a = Lease(redis_client, key, "a", ttl_ms=3000, handover_grace_ms=400)
    b = Lease(redis_client, key, "b", ttl_ms=3000, handover_grace_ms=400)
    assert await a.acquire()
    assert a.generation == 1
    await redis_client.delete(key)  # lapsed (outage longer than the TTL)
    assert not await b.acquire()  # within the grace: the old owner may still hold frames
    assert await a.renew()  # the old owner comes back first: same generation
    assert a.token.startswith("a#1.")
    assert not await b.acquire()
    await redis_client.delete(key)  # lapsed again, and the old owner is gone for good
    await asyncio.wait_for(b.wait_acquired(poll_s=0.05), timeout=5)
    assert b.token.startswith("b#2.")
    assert not await a.renew()  # fenced: a may not come back


async def test_a_released_lease_is_taken_at_once_with_a_new_generation(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = _key(redis_prefix)
    a = Lease(redis_client, key, "a", handover_grace_ms=60_000)
    b = Lease(redis_client, key, "b", handover_grace_ms=60_000)
    assert await a.acquire()
    assert await a.release()
    assert await b.acquire()
    assert b.generation == 2


async def test_a_lease_that_comes_back_as_a_new_generation_says_redis_lost_its_data(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    import pytest

    from cbstreams import LeaseLost

    key = _key(redis_prefix)
    a = Lease(redis_client, key, "a")
    assert await a.acquire()
    await redis_client.delete(key, f"{key}:holder")  # as if Redis lost its data
    await redis_client.set(f"{key}:gen", 7)
    with pytest.raises(LeaseLost, match="lost its data"):
        await a.renew()
    assert a.generation == 8  # ours again, a new generation: the owner rebuilds its state
    assert await a.renew()
