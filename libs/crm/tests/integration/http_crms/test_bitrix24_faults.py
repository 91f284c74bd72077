"""Bitrix24 auth and faults through the fake portal: expired_token refresh shared by replicas,
QUERY_LIMIT_EXCEEDED storms, 500s, an outage, lost replies, forged events, secrets."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from cbcrm.adapter import CallLog
from cbcrm.exceptions import CrmAuthError, CrmTransientError
from cbcrm.fakes import FakeBitrix24, max_leaky_level
from cbcrm.remote import RetryPolicy, TokenStore

from .conftest import MakeB24


def refresh_grants(b24: FakeBitrix24) -> int:
    return sum(
        1
        for r in b24.requests
        if r.path == "/oauth/token/" and b"grant_type=refresh_token" in r.body
    )


def anna_call(b24: FakeBitrix24, call_id: str) -> CallLog:
    anna = next(iter(b24.state.users)) if b24.state.users else b24.state.add_user("Anna", "101")
    return CallLog(
        call_id=call_id,
        direction="inbound",
        phone="+79161234567",
        started_at=1,
        duration_s=5,
        user_id=str(anna),
    )


async def test_two_replicas_meeting_expired_token_refresh_once_and_both_use_the_new_token(
    b24: FakeBitrix24, make_b24: MakeB24, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    first, second = await make_b24(), await make_b24()
    old = await TokenStore(redis_client, f"{redis_prefix}b24:tokens").load()
    assert old is not None
    b24.expire_access_tokens()

    await asyncio.gather(first.lookup("+79161234567"), second.lookup("+79161234567"))

    new = await TokenStore(redis_client, f"{redis_prefix}b24:tokens").load()
    assert new is not None
    assert refresh_grants(b24) == 1
    assert new.access_token != old.access_token
    assert old.refresh_token not in b24.refresh
    assert new.endpoint == f"{b24.url}/rest/"
    assert [r.status for r in b24.requests if r.path.startswith("/rest/")][-2:] == [200, 200]


async def test_a_query_limit_storm_is_retried_and_the_bucket_never_overflows(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    adapter = await make_b24(retry=RetryPolicy(attempts=10, base=0.01, cap=0.2))
    b24.faults.fail(5, status=503)

    await adapter.log_call(anna_call(b24, "q1"), key="q1")

    assert b24.record_count("/rest/batch.json", status=503) == 5
    assert len(b24.state.finished) == 1
    assert (
        max_leaky_level([r.at for r in b24.requests if r.path.startswith("/rest/")], rate=2.0) <= 50
    )


async def test_500s_are_retried_and_then_surface_as_transient(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    adapter = await make_b24(retry=RetryPolicy(attempts=3, base=0.01, cap=0.05))
    b24.faults.fail(2, status=500)
    await adapter.log_call(anna_call(b24, "f1"), key="f1")
    b24.faults.fail(100, status=500)

    with pytest.raises(CrmTransientError) as failed:
        await adapter.log_call(anna_call(b24, "f2"), key="f2")

    assert failed.value.status == 500
    assert [r["EXTERNAL_CALL_ID"] for r in b24.state.finished] == ["f1"]


async def test_an_outage_is_transient_and_after_recovery_the_call_is_logged_once(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    adapter = await make_b24(retry=RetryPolicy(attempts=2, base=0.01, cap=0.05))
    first = anna_call(b24, "o1")
    await b24.stop()
    with pytest.raises(CrmTransientError, match="unreachable"):
        await adapter.log_call(first, key="o1")
    await b24.start()

    await adapter.log_call(first, key="o1")
    await adapter.log_call(first, key="o1")

    assert [r["EXTERNAL_CALL_ID"] for r in b24.state.finished] == ["o1"]


async def test_a_finish_repeated_after_a_lost_reply_is_not_logged_twice(
    b24: FakeBitrix24, make_b24: MakeB24, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    adapter = await make_b24()
    await adapter.log_call(anna_call(b24, "l1"), key="l1")
    await redis_client.delete(
        f"{redis_prefix}memo:b24:log:l1"
    )  # as if we crashed before recording it

    await adapter.log_call(anna_call(b24, "l1"), key="l1")

    assert len(b24.state.finished) == 1


async def test_an_event_with_a_wrong_application_token_is_refused(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    adapter = await make_b24()
    forged = b24.state.click_to_call(b24.state.add_user("Anna", "101"), "+79161234567", "guessed")

    with pytest.raises(CrmAuthError):
        adapter.external_call_start(forged)


async def test_bitrix24_secrets_never_appear_in_reprs_errors_or_logs(
    b24: FakeBitrix24,
    make_b24: MakeB24,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = await make_b24()
    b24.expire_access_tokens()
    await adapter.lookup("+79161234567")
    tokens = await TokenStore(redis_client, f"{redis_prefix}b24:tokens").load()
    assert tokens is not None
    b24.expire_access_tokens()
    b24.refresh.clear()
    with pytest.raises(CrmAuthError) as refused:
        await adapter.lookup("+79161234567")

    secrets = [tokens.access_token, tokens.refresh_token, b24.client_secret, b24.application_token]
    seen = [
        repr(adapter),
        repr(adapter._client),
        repr(adapter._client.settings),
        str(refused.value),
        caplog.text,
    ]
    assert not [s for s in secrets for text in seen if s in text]
