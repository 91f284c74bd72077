"""The lookup cache against real Redis: TTLs, negative caching, single flight in one process
and across replicas, invalidation (also racing a lookup in flight), errors not cached."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from cbcrm.adapter import Entity, Lookup
from cbcrm.exceptions import CrmTransientError
from cbcrm.lookup import LookupCache
from cbstreams import connect

PHONE = "+79161234567"
KNOWN = Lookup(phone=PHONE, entities=(Entity(kind="contact", id="c1", name="Ivan"),))


class CountingCrm:
    """A CRM lookup that counts its calls and can be held until released."""

    def __init__(self, answer: Lookup = KNOWN) -> None:
        self.answer = answer
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.error: Exception | None = None

    async def lookup(self, phone: str) -> Lookup:
        self.calls += 1
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.answer


async def eventually(cond: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll ``cond`` (a counter the code under test bumps) under a deadline."""
    async with asyncio.timeout(within):
        while not await cond():  # noqa: ASYNC110 - no event to wait on for a counter
            await asyncio.sleep(0.001)


def cache(redis: aioredis.Redis, crm: CountingCrm, prefix: str) -> LookupCache:
    return LookupCache(redis, crm.lookup, crm="builtin", prefix=prefix, lock_ms=5000)


async def test_a_burst_of_lookups_for_one_number_makes_one_crm_request(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    crm = CountingCrm()
    lookups = cache(redis_client, crm, redis_prefix)
    crm.gate.clear()
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(lookups.get(PHONE)) for _ in range(50)]
        await eventually(lambda: asyncio.sleep(0, lookups.misses == 50))
        crm.gate.set()
    assert all(t.result() == KNOWN for t in tasks)
    assert crm.calls == 1
    assert await lookups.get(PHONE) == KNOWN
    assert (crm.calls, lookups.hits) == (1, 1)


async def test_replicas_share_one_crm_request_through_the_redis_lock(
    redis_url: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    crm = CountingCrm()
    other = connect(redis_url)
    try:
        a, b = cache(redis_client, crm, redis_prefix), cache(other, crm, redis_prefix)
        crm.gate.clear()
        async with asyncio.TaskGroup() as tg:
            first = tg.create_task(a.get(PHONE))
            await eventually(lambda: asyncio.sleep(0, crm.calls == 1))
            second = tg.create_task(b.get(PHONE))
            await eventually(lambda: asyncio.sleep(0, b.misses == 1))
            crm.gate.set()
        assert first.result() == second.result() == KNOWN
        assert crm.calls == 1
    finally:
        await other.aclose()


async def test_known_numbers_live_longer_than_unknown_ones(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    known = cache(redis_client, CountingCrm(), redis_prefix)
    unknown = cache(redis_client, CountingCrm(Lookup(phone="+79990000000")), redis_prefix)
    await known.get(PHONE)
    await unknown.get("+79990000000")
    assert 250 < await redis_client.ttl(known.key(PHONE)) <= 300
    assert 0 < await redis_client.ttl(unknown.key("+79990000000")) <= 30


async def test_an_unknown_number_is_cached_too(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    crm = CountingCrm(Lookup(phone=PHONE))
    lookups = cache(redis_client, crm, redis_prefix)
    assert (await lookups.get(PHONE)).entities == ()
    assert (await lookups.get(PHONE)).entities == ()
    assert crm.calls == 1


async def test_invalidation_makes_the_next_lookup_ask_the_crm(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    crm = CountingCrm()
    lookups = cache(redis_client, crm, redis_prefix)
    await lookups.get(PHONE)
    await lookups.invalidate(PHONE)
    await lookups.get(PHONE)
    assert crm.calls == 2


async def test_an_answer_fetched_before_an_invalidation_is_not_cached_after_it(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    crm = CountingCrm()
    lookups = cache(redis_client, crm, redis_prefix)
    crm.gate.clear()
    async with asyncio.TaskGroup() as tg:
        stale = tg.create_task(lookups.get(PHONE))
        await eventually(lambda: asyncio.sleep(0, crm.calls == 1))
        await lookups.invalidate(PHONE)
        crm.gate.set()
    assert stale.result() == KNOWN
    assert await redis_client.get(lookups.key(PHONE)) is None


async def test_a_crm_error_reaches_every_waiter_and_is_not_cached(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    crm = CountingCrm()
    crm.error = CrmTransientError("503", status=503)
    lookups = cache(redis_client, crm, redis_prefix)
    crm.gate.clear()
    errors: list[Exception] = []

    async def one() -> None:
        try:
            await lookups.get(PHONE)
        except CrmTransientError as exc:
            errors.append(exc)

    async with asyncio.TaskGroup() as tg:
        for _ in range(3):
            tg.create_task(one())
        await eventually(lambda: asyncio.sleep(0, lookups.misses == 3))
        crm.gate.set()
    assert len(errors) == 3
    crm.error = None
    assert await lookups.get(PHONE) == KNOWN
    assert crm.calls == 2


@pytest.mark.parametrize("count", [1, 3])
async def test_invalidating_several_numbers_at_once(
    redis_client: aioredis.Redis, redis_prefix: str, count: int
) -> None:
    crm = CountingCrm()
    lookups = cache(redis_client, crm, redis_prefix)
    phones = [f"+7916123456{i}" for i in range(count)]
    for phone in phones:
        await lookups.get(phone)
    await lookups.invalidate(*phones)
    assert [await redis_client.exists(lookups.key(p)) for p in phones] == [0] * count
