"""Routing data: number -> responsible user -> extension, cached, answered within a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cbcrm.adapter import Lookup
from cbcrm.builtin import BuiltinCrm
from cbcrm.lookup import LookupCache
from cbcrm.routing import Route, Router, UserDirectory


@pytest.fixture
async def crm() -> AsyncIterator[BuiltinCrm]:
    crm = await BuiltinCrm.open(":memory:")
    yield crm
    await crm.aclose()


def router(redis: aioredis.Redis, crm: BuiltinCrm, prefix: str) -> Router:
    lookups = LookupCache(redis, crm.lookup, crm="builtin", prefix=prefix)
    return Router(lookups, UserDirectory(redis, crm.users, crm="builtin", prefix=prefix))


@pytest.mark.parametrize(
    ("number", "extension", "reason"),
    [
        ("8 916 123-45-67", "100", "responsible"),  # Ivan's single open deal: user 1
        ("+79031112233", "101", "responsible"),
        ("+79265554433", "102", "responsible"),  # the oldest duplicate's manager
        ("+79857776655", "", "no_responsible"),
        ("+79990000000", "", "unknown_number"),
        ("junk", "", "bad_number"),
    ],
)
async def test_a_caller_is_routed_to_the_extension_of_the_responsible_manager(
    redis_client: aioredis.Redis, redis_prefix: str, crm: BuiltinCrm,
    number: str, extension: str, reason: str,
) -> None:  # fmt: skip
    route = await router(redis_client, crm, redis_prefix).route(number)
    assert (route.extension, route.reason) == (extension, reason)


async def test_a_slow_crm_gives_no_route_rather_than_a_late_one(
    redis_client: aioredis.Redis, redis_prefix: str, crm: BuiltinCrm
) -> None:
    never = asyncio.Event()

    async def stuck(phone: str) -> Lookup:
        await never.wait()
        raise AssertionError("unreachable")

    lookups = LookupCache(redis_client, stuck, crm="slow", prefix=redis_prefix)
    users = UserDirectory(redis_client, crm.users, crm="slow", prefix=redis_prefix)
    assert await Router(lookups, users).route("+79161234567", deadline_s=0.05) == Route(
        reason="timeout"
    )


async def test_routes_come_from_the_cache_once_looked_up(
    redis_client: aioredis.Redis, redis_prefix: str, crm: BuiltinCrm
) -> None:
    routes = router(redis_client, crm, redis_prefix)
    await routes.route("+79161234567")
    await crm.aclose()  # the CRM is gone: the cached answer still routes
    assert (await routes.route("+79161234567")).extension == "100"
