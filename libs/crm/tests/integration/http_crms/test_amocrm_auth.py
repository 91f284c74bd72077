"""amoCRM auth through the fake: OAuth refresh with single-use refresh tokens shared by
replicas through Redis, long-lived tokens, and secrets kept out of reprs, errors and logs."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from cbcrm.exceptions import CrmAuthError
from cbcrm.fakes import FakeAmoCrm
from cbcrm.remote import TokenStore

from .conftest import MakeAmo


def refresh_grants(amo: FakeAmoCrm) -> int:
    return sum(
        1
        for r in amo.requests
        if r.path == "/oauth2/access_token"
        and (r.json() or {}).get("grant_type") == "refresh_token"
    )


async def test_an_expired_access_token_is_refreshed_once_and_the_request_repeated(
    amo: FakeAmoCrm, make_amo: MakeAmo, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo()
    store = TokenStore(redis_client, f"{redis_prefix}amocrm:tokens")
    before = await store.load()
    assert before is not None
    amo.state.expire_access_tokens()

    found = await adapter.lookup("+79161234567")

    after = await store.load()
    assert after is not None
    assert len(found.entities) == 1
    assert refresh_grants(amo) == 1
    assert after.access_token != before.access_token
    assert before.refresh_token not in amo.state.refresh  # rotated: the old one is spent
    assert [r.status for r in amo.requests if r.path == "/api/v4/contacts"] == [401, 200]


async def test_two_replicas_refreshing_at_once_make_one_refresh_and_both_use_the_new_token(
    amo: FakeAmoCrm, make_amo: MakeAmo, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    first, second = await make_amo(), await make_amo()
    await asyncio.gather(first.lookup("+79161234567"), second.lookup("+79161234567"))
    amo.state.expire_access_tokens()

    results = await asyncio.gather(first.lookup("+79161234567"), second.lookup("+79161234567"))

    stored = await TokenStore(redis_client, f"{redis_prefix}amocrm:tokens").load()
    assert stored is not None
    assert refresh_grants(amo) == 1
    assert all(len(r.entities) == 1 for r in results)
    last_two = [r for r in amo.requests if r.path == "/api/v4/contacts" and r.status == 200][-2:]
    assert len(last_two) == 2
    assert stored.access_token in amo.state.access


async def test_a_refused_refresh_token_is_an_auth_error(amo: FakeAmoCrm, make_amo: MakeAmo) -> None:
    adapter = await make_amo()
    amo.state.expire_access_tokens()
    amo.state.refresh.clear()  # e.g. revoked, or spent by a process outside callbridge

    with pytest.raises(CrmAuthError, match="refused"):
        await adapter.lookup("+79161234567")


async def test_a_long_lived_token_is_used_as_a_bearer_token_without_any_oauth_request(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo(long_lived=amo.state.issue_long_lived())

    found = await adapter.lookup("+79161234567")

    assert len(found.entities) == 1
    assert amo.record_count("/oauth2/access_token") == 0


async def test_an_expired_long_lived_token_is_an_auth_error_not_a_refresh(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    adapter = await make_amo(long_lived="no-longer-valid")

    with pytest.raises(CrmAuthError):
        await adapter.lookup("+79161234567")
    assert amo.record_count("/oauth2/access_token") == 0


async def test_tokens_and_secrets_never_appear_in_reprs_errors_or_logs(
    amo: FakeAmoCrm,
    make_amo: MakeAmo,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = await make_amo()
    amo.state.expire_access_tokens()
    await adapter.lookup("+79161234567")  # a refresh, logged at DEBUG by httpx/httpcore
    tokens = await TokenStore(redis_client, f"{redis_prefix}amocrm:tokens").load()
    assert tokens is not None
    amo.state.refresh.clear()
    amo.state.expire_access_tokens()
    with pytest.raises(CrmAuthError) as refused:
        await adapter.lookup("+79161234567")

    secrets = [tokens.access_token, tokens.refresh_token, amo.state.client_secret]
    seen = [
        repr(adapter),
        repr(adapter._client),
        repr(adapter._client.settings),
        repr(tokens),
        str(tokens),
        str(refused.value),
        repr(refused.value),
        caplog.text,
    ]
    assert not [s for s in secrets for text in seen if s in text]
