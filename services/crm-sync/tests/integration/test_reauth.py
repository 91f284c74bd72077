"""Dead credentials (amoCRM revoked the refresh token): one alert, the circuit opens (no
request to amoCRM, calls kept pending, none dead-lettered), and ``callbridge crm-sync auth
amocrm --code`` on the running system brings every waiting call in; a new ``auth_code`` in
the config replaces stored tokens at start."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner

from callbridge_cli.main import cli
from cbcontracts.crm import CrmFailed
from cbcrm.fakes import FakeAmoCrm
from cbruntime import Secret
from cbstreams.deadletter import DeadLetters
from crm_sync.adapters import open_adapter
from crm_sync.main import CrmSyncService
from crm_sync.remote_settings import AmoSyncSettings, RemoteLimits
from crm_sync.settings import CrmSyncSettings, ExecutorSettings
from crm_sync.testing import CallScript, crm_events, eventually, publish_calls

IVAN = "+79161234567"


@pytest.fixture
def base(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20,
        executor=ExecutorSettings(backoff_ms=10, backoff_max_ms=50, retry_every_s=0.02,
                                  max_attempts=2),
    )  # fmt: skip


def amo_settings(amo: FakeAmoCrm, base: CrmSyncSettings, code: str) -> CrmSyncSettings:
    st = amo.state
    return dataclasses.replace(base, adapter="amocrm", amocrm=AmoSyncSettings(
        base_url=amo.url, client_id=st.client_id, client_secret=Secret(st.client_secret),
        redirect_uri=st.redirect_uri, auth_code=Secret(code),
        limits=RemoteLimits(rate=50, burst=5, retry_base_s=0.01, retry_deadline_s=2)))  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: CrmSyncSettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(CrmSyncService(settings).run(stop))
        try:
            yield
        finally:
            stop.set()


def answered(call_id: str) -> list[Any]:
    s = CallScript(call_id, IVAN)
    return [s.started(), s.ringing("100"), s.answered("100", 2.0),
            s.ended("answered", 32.0, answered_by="100", extension="100",
                    rang=("100",))]  # fmt: skip


def env(settings: CrmSyncSettings) -> dict[str, str]:
    a = settings.amocrm
    assert a.client_secret is not None
    return {"CB_REDIS_URL": settings.redis_url, "CB_KEY_PREFIX": settings.key_prefix,
            "CB_AMOCRM__BASE_URL": a.base_url, "CB_AMOCRM__CLIENT_ID": a.client_id,
            "CB_AMOCRM__CLIENT_SECRET": a.client_secret.reveal(),
            "CB_AMOCRM__REDIRECT_URI": a.redirect_uri}  # fmt: skip


async def test_dead_credentials_pause_calls_with_one_alert_until_the_cli_reauthorises(
    redis_client: aioredis.Redis, base: CrmSyncSettings, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeAmoCrm() as amo:
        st = amo.state
        st.add_user("Anna", admin=True)
        st.add_contact("Ivan", [IVAN])
        settings = amo_settings(amo, base, st.issue_code())
        async with running(settings):
            await publish_calls(redis_client, settings.calls_stream, answered("r.1"))

            async def logged(n: int) -> bool:
                return len(st.calls) >= n

            await eventually(lambda: logged(1))
            st.refresh.clear()  # the refresh token revoked, the access token expired
            st.expire_access_tokens()
            with caplog.at_level(logging.ERROR, logger="crm_sync.auth"):
                await publish_calls(redis_client, settings.calls_stream,
                                    answered("r.2") + answered("r.3"))  # fmt: skip

                async def alerted() -> bool:
                    events = await crm_events(redis_client, settings.events_stream)
                    return any(isinstance(e, CrmFailed) and e.command == "auth" for e in events)

                await eventually(alerted)
                # calls handled concurrently: one already sent when the circuit opened lands
                # after the alert (its 401 and refresh); requests from then on are the test
                await asyncio.sleep(0.2)
                before = len(amo.requests)
                await asyncio.sleep(0.5)  # let the waiting calls be retried a few times
                assert len(amo.requests) == before  # the circuit is open: amoCRM left alone
            runner = CliRunner()
            result = await asyncio.to_thread(
                runner.invoke, cli, ["crm-sync", "auth", "amocrm", "--code", st.issue_code()],
                env=env(settings),
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            await eventually(lambda: logged(3), within=20)
        assert sorted(c["uniq"] for c in st.calls) == ["r.1", "r.2", "r.3"]
        assert await DeadLetters(redis_client, settings.dead_stream).list() == []
        alerts = [r for r in caplog.records if "credentials refused" in r.getMessage()]
        assert len(alerts) == 1  # one alert, not one per call
        events = await crm_events(redis_client, settings.events_stream)
        assert sum(isinstance(e, CrmFailed) and e.command == "auth" for e in events) == 1


async def test_a_new_auth_code_in_the_config_replaces_stored_tokens_at_start(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeAmoCrm() as amo:
        st = amo.state
        st.add_user("Anna", admin=True)
        first = amo_settings(amo, base, st.issue_code())
        await (await open_adapter(first, redis_client)).aclose()
        await (await open_adapter(first, redis_client)).aclose()  # same code: not again
        assert amo.record_count("/oauth2/access_token") == 1
        st.refresh.clear()
        st.expire_access_tokens()  # the stored tokens are dead now
        second = amo_settings(amo, base, st.issue_code())
        adapter = await open_adapter(second, redis_client)
        try:
            assert [u.name for u in await adapter.users()] == ["Anna"]
        finally:
            await adapter.aclose()
        assert amo.record_count("/oauth2/access_token", 200) == 2
