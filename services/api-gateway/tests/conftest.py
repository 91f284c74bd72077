"""Fixtures: real Redis (the cbstreams plugin), the gateway's services and app, and keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from api_gateway.main import create_app
from api_gateway.services.keystore import Scope
from api_gateway.settings import GatewaySettings
from api_gateway.state import Services, open_services
from api_gateway.testing import settings_for

MakeKey = Callable[..., Awaitable[str]]


@pytest.fixture
def settings(redis_url: str, redis_prefix: str) -> GatewaySettings:
    return settings_for(redis_url, redis_prefix)


@pytest.fixture
async def services(settings: GatewaySettings, redis_client: object) -> AsyncIterator[Services]:
    # redis_client is requested so that this test's keys are deleted afterwards
    async with open_services(settings) as opened:
        yield opened


@pytest.fixture
def app(settings: GatewaySettings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c


@pytest.fixture
def make_key(services: Services) -> MakeKey:
    """``await make_key("calls:read", tenant="acme", extensions=("100",))`` -> a token."""

    async def make(
        *scopes: Scope, tenant: str = "acme", extensions: tuple[str, ...] = (), rate_limit: int = 0
    ) -> str:
        _, token = await services.keys.create(
            tenant, tuple(scopes), extensions=extensions, rate_limit=rate_limit
        )
        return token

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
