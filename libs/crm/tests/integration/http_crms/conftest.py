"""Fixtures for the HTTP CRM adapters: fake servers on 127.0.0.1, adapters built on real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from cbcrm.amocrm import AmoClient, AmoCrmAdapter, AmoSettings
from cbcrm.bitrix24 import B24Adapter, B24Client, B24Settings, OperatingTracker
from cbcrm.fakes import FakeAmoCrm, FakeBitrix24, FakeMegaplan
from cbcrm.megaplan import MegaplanAdapter, MegaplanClient, MegaplanSettings
from cbcrm.remote import Limiter, Memo, RedisLimiter, RetryPolicy, TokenStore

FAST = RetryPolicy(attempts=5, base=0.01, cap=0.3, deadline=20.0)

MakeAmo = Callable[..., Awaitable[AmoCrmAdapter]]
MakeB24 = Callable[..., Awaitable[B24Adapter]]
MakeMegaplan = Callable[..., Awaitable[MegaplanAdapter]]


@pytest.fixture
async def amo() -> AsyncIterator[FakeAmoCrm]:
    async with FakeAmoCrm() as fake:
        yield fake


@pytest.fixture
async def make_amo(
    amo: FakeAmoCrm, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[MakeAmo]:
    """Builds adapters (replicas) on the fake; OAuth unless ``long_lived`` is given. Replicas
    share one Redis rate limiter (5 req/s, burst 1: at most 6 in any second, amoCRM allows 7)."""
    made: list[AmoCrmAdapter] = []
    shared = RedisLimiter(redis_client, f"{redis_prefix}amocrm:rate", rate=5, burst=1)

    async def make(
        *,
        long_lived: str = "",
        limiter: Limiter | None = None,
        retry: RetryPolicy = FAST,
        authorise: bool = True,
        **settings: object,
    ) -> AmoCrmAdapter:
        st = amo.state
        config = AmoSettings(
            base_url=amo.url,
            client_id=st.client_id,
            client_secret=st.client_secret,
            redirect_uri=st.redirect_uri,
            long_lived_token=long_lived,
            **settings,  # type: ignore[arg-type]
        )
        store = TokenStore(redis_client, f"{redis_prefix}amocrm:tokens")
        client = AmoClient(config, limiter=limiter or shared, tokens=store, retry=retry)
        if authorise and not long_lived and await store.load() is None:
            await client.exchange_code(st.issue_code())
        adapter = AmoCrmAdapter(client, Memo(redis_client, f"{redis_prefix}memo:"))
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
async def b24() -> AsyncIterator[FakeBitrix24]:
    async with FakeBitrix24() as fake:
        yield fake


@pytest.fixture
async def make_b24(
    b24: FakeBitrix24, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[MakeB24]:
    """Builds installed Bitrix24 adapters (replicas) sharing tokens and a Redis leaky bucket
    (1.8 req/s, 40 deep: below the portal's 2 req/s, 50 deep) and the per-method operating
    budget's figures, on the fake portal's clock (which tests advance)."""
    made: list[B24Adapter] = []
    shared = RedisLimiter(redis_client, f"{redis_prefix}b24:rate", rate=1.8, burst=40)

    async def make(*, retry: RetryPolicy = FAST, limiter: Limiter | None = None) -> B24Adapter:
        config = B24Settings(
            portal_url=b24.url,
            oauth_url=b24.url,
            client_id=b24.client_id,
            client_secret=b24.client_secret,
            application_token=b24.application_token,
        )
        store = TokenStore(redis_client, f"{redis_prefix}b24:tokens")
        budget = OperatingTracker(
            redis_client, f"{redis_prefix}b24:operating", clock=b24.operating.now
        )
        client = B24Client(
            config, limiter=limiter or shared, tokens=store, retry=retry, budget=budget
        )
        if await store.load() is None:
            await client.exchange_code(b24.issue_code())
        adapter = B24Adapter(client, Memo(redis_client, f"{redis_prefix}memo:"))
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
async def megaplan() -> AsyncIterator[FakeMegaplan]:
    async with FakeMegaplan() as fake:
        yield fake


@pytest.fixture
async def make_megaplan(
    megaplan: FakeMegaplan, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[MakeMegaplan]:
    made: list[MegaplanAdapter] = []
    shared = RedisLimiter(redis_client, f"{redis_prefix}megaplan:rate", rate=3, burst=3)

    async def make(*, retry: RetryPolicy = FAST) -> MegaplanAdapter:
        config = MegaplanSettings(
            base_url=megaplan.url, username=megaplan.username, password=megaplan.password
        )
        store = TokenStore(redis_client, f"{redis_prefix}megaplan:tokens")
        client = MegaplanClient(config, limiter=shared, tokens=store, retry=retry)
        adapter = MegaplanAdapter(client, Memo(redis_client, f"{redis_prefix}memo:"))
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()
