"""Routing data for the dialplan: after crm-sync handled a call from a known number, the
gateway's ``GET /v1/route`` (the real app over httpx's ASGI transport, same Redis and prefix)
answers that contact's responsible manager's extension, for every spelling of the number."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import redis.asyncio as aioredis

from api_gateway.main import create_app
from api_gateway.settings import RouteSettings
from api_gateway.state import open_services
from api_gateway.testing import settings_for
from cbcrm.builtin import BuiltinCrm
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings
from crm_sync.testing import CallScript, eventually, publish_calls


@pytest.fixture
async def crm() -> AsyncIterator[BuiltinCrm]:
    crm = await BuiltinCrm.open(":memory:")
    yield crm
    await crm.aclose()


async def test_the_gateway_routes_a_known_caller_to_the_responsible_managers_extension(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis, crm: BuiltinCrm
) -> None:
    p = redis_prefix
    settings = CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events",
        dead_stream=f"{p}dead", block_ms=20, builtin=BuiltinSettings(path=":memory:"),
    )  # fmt: skip
    s = CallScript("6.1", "8 (916) 123-45-67")  # Иван Кузнецов: Анна Смирнова's (ext 100)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(CrmSyncService(settings, adapter=crm).run(stop))
        await publish_calls(redis_client, settings.calls_stream,
                            [s.started(tenant="acme"), s.ringing("101")])  # fmt: skip

        async def routed() -> bool:
            return await redis_client.exists(f"{p}route:acme:79161234567") == 1

        await eventually(routed)
        stop.set()
    ttl = await redis_client.ttl(f"{p}route:acme:89161234567")
    assert 0 < ttl <= settings.route_ttl_s

    gw = replace(settings_for(redis_url, p), route=RouteSettings(fallback="600",
                 allow={"127.0.0.0/8": "acme"}))  # fmt: skip
    async with open_services(gw) as services:
        transport = httpx.ASGITransport(app=create_app(gw, services), client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            answers = [
                (await client.get("/v1/route", params={"number": n, "did": "74951234567"})).text
                for n in ("+79161234567", "89161234567", "9161234567", "79990001122")
            ]
    assert answers == ["100", "100", "100", "600"]  # an unknown caller: the fallback
