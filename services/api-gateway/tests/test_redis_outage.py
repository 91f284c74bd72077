"""A Redis outage is ordinary for the gateway's REST side: requests get a clean, retryable 503
``backend-unavailable`` (never a 500), ``/readyz`` and the ``gateway_redis_up`` metric say not
ready, and everything answers again once Redis is back. (The feeds: see test_feeds*.)"""

from __future__ import annotations

import httpx

from api_gateway.main import create_app
from api_gateway.state import open_services
from api_gateway.testing import settings_for
from cbstreams.localredis import RedisProcess

from .conftest import bearer


async def test_requests_during_an_outage_get_a_retryable_503_and_work_again_after(
    restartable_redis: RedisProcess,
) -> None:
    settings = settings_for(restartable_redis.url, "gw:")
    async with open_services(settings) as services:
        _, token = await services.keys.create("acme", ("calls:read",))
        transport = httpx.ASGITransport(app=create_app(settings, services))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            assert (await http.get("/v1/calls", headers=bearer(token))).status_code == 200
            restartable_redis.stop()
            during = await http.get("/v1/calls", headers=bearer(token))
            assert during.status_code == 503
            assert during.json()["error_id"] == "backend-unavailable"
            assert during.headers["retry-after"] == "2"
            assert (await http.get("/readyz")).status_code == 503
            assert b"gateway_redis_up 0.0" in (await http.get("/metrics")).content
            restartable_redis.start()
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/v1/calls", headers=bearer(token))).status_code == 200
            assert b"gateway_redis_up 1.0" in (await http.get("/metrics")).content
        assert services.link.outages == 1
