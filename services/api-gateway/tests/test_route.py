"""Routing for the dialplan: the cached responsible extension as text/plain (JSON on
request), within the deadline, else the fallback — also when Redis is down."""

from __future__ import annotations

from dataclasses import replace

import httpx
import redis.asyncio as aioredis

from api_gateway.main import create_app
from api_gateway.services.routing import RedisRouteCache
from api_gateway.settings import GatewaySettings, RouteSettings
from api_gateway.state import open_services

from .conftest import MakeKey, bearer


async def test_a_cached_number_answers_its_managers_extension_as_text_or_json(
    client: httpx.AsyncClient, make_key: MakeKey, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    await RedisRouteCache(redis_client, redis_prefix).put("acme", "+7 916 123-45-67", "104")
    auth = bearer(await make_key("calls:read"))
    text = await client.get(
        "/v1/route", params={"number": "79161234567", "did": "74950000000"}, headers=auth
    )
    data = await client.get(
        "/v1/route",
        params={"number": "79161234567"},
        headers={**auth, "Accept": "application/json"},
    )
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "104"
    assert data.json() == {"extension": "104", "source": "cache", "reason": ""}


async def test_an_allow_listed_pbx_needs_no_key_and_an_unknown_number_gets_the_fallback(
    settings: GatewaySettings, redis_client: aioredis.Redis
) -> None:
    routed = replace(settings, route=RouteSettings(fallback="600", allow={"127.0.0.0/8": "acme"}))
    async with open_services(routed) as services:
        transport = httpx.ASGITransport(
            app=create_app(routed, services), client=("127.0.0.1", 5000)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            answer = await client.get("/v1/route", params={"number": "79990000000"})
            outsider = httpx.ASGITransport(
                app=create_app(routed, services), client=("10.1.2.3", 5000)
            )
            async with httpx.AsyncClient(transport=outsider, base_url="http://gw") as other:
                refused = await other.get("/v1/route", params={"number": "79990000000"})
    assert answer.status_code == 200
    assert answer.text == "600"
    assert refused.status_code == 401


async def test_with_redis_down_the_pbx_still_gets_the_fallback_in_time(
    settings: GatewaySettings,
) -> None:
    down = replace(
        settings,
        redis_url="redis://127.0.0.1:1/0",
        route=RouteSettings(fallback="600", deadline_ms=200, allow={"127.0.0.0/8": "acme"}),
    )
    async with open_services(down) as services:
        app = create_app(down, services)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            answer = await client.get("/v1/route", params={"number": "79161234567"})
    assert answer.status_code == 200
    assert answer.text == "600"
