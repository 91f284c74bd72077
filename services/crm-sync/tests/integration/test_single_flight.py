"""No duplicate entities: concurrent calls from one new number, on two replicas, make one
contact and one deal (amoCRM and Bitrix24 fakes over HTTP); CRM replies slower than the client
timeout (the request applied, the reply lost) make no duplicate either."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from cbcontracts.crm import CallSynced
from cbcrm.fakes import FakeAmoCrm, FakeBitrix24
from cbcrm.rules import RulesConfig
from cbruntime import Secret
from crm_sync.main import CrmSyncService
from crm_sync.remote_settings import AmoSyncSettings, B24SyncSettings, RemoteLimits
from crm_sync.settings import CrmSyncSettings, ExecutorSettings
from crm_sync.testing import CallScript, crm_events, eventually, publish_calls

NEW = ["+79990001101", "+79990001102"]


def limits(rate: float, burst: int, timeout_s: float = 10.0) -> RemoteLimits:
    return RemoteLimits(rate=rate, burst=burst, timeout_s=timeout_s, retry_base_s=0.01,
                        retry_cap_s=0.2, retry_deadline_s=5.0)  # fmt: skip


@pytest.fixture
def base(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="r1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, executor=ExecutorSettings(backoff_ms=50, retry_every_s=0.02, max_attempts=20),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def replicas(settings: CrmSyncSettings, n: int = 2) -> AsyncIterator[None]:
    """``n`` replicas of the service on one Redis (one planner, executors on each)."""
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        for i in range(n):
            svc = CrmSyncService(dataclasses.replace(settings, instance=f"r{i}"))
            tg.create_task(svc.run(stop))
        try:
            yield
        finally:
            stop.set()


def calls_from(phone: str, first: int, count: int, operator: str = "100") -> list[Any]:
    """``count`` calls from ``phone`` at once: answered ones, then a missed one."""
    events: list[Any] = []
    for n in range(first, first + count):
        s = CallScript(f"7.{n}", phone)
        if n % 3 == 2:
            events += [s.started(), s.ringing(operator), s.ended("missed", 15.0, rang=(operator,))]
        else:
            events += [s.started(), s.ringing(operator), s.answered(operator, 2.0),
                       s.ended("answered", 32.0, answered_by=operator, extension=operator,
                               rang=(operator,), talk_seconds=30)]  # fmt: skip
    return events


async def synced(redis: aioredis.Redis, settings: CrmSyncSettings, count: int) -> None:
    async def enough() -> bool:
        events = await crm_events(redis, settings.events_stream)
        return len({e.call_id for e in events if isinstance(e, CallSynced)}) >= count

    await eventually(enough, within=40)


def amo_settings(amo: FakeAmoCrm, base: CrmSyncSettings, user: int, **kw: Any) -> CrmSyncSettings:
    st = amo.state
    return dataclasses.replace(base, adapter="amocrm", amocrm=AmoSyncSettings(
        base_url=amo.url, client_id=st.client_id, client_secret=Secret(st.client_secret),
        redirect_uri=st.redirect_uri, auth_code=Secret(st.issue_code()),
        extensions={str(user): "100"}, limits=limits(50, 10, **kw)))  # fmt: skip


def amo_per_number(amo: FakeAmoCrm) -> dict[str, tuple[int, int]]:
    """E.164 -> (contacts, leads) in the fake amoCRM."""
    out: dict[str, tuple[int, int]] = {}
    for phone in NEW:
        contacts = [c for c in amo.state.contacts.values() if phone[-10:] in str(c)]
        leads = {lead["id"] for c in contacts for lead in c["_embedded"]["leads"]}
        out[phone] = (len(contacts), len(leads))
    return out


async def test_concurrent_calls_from_one_new_number_make_one_contact_and_one_deal_amocrm(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeAmoCrm(rate=0) as amo:
        anna = amo.state.add_user("Anna", admin=True)
        settings = amo_settings(amo, base, anna)
        async with replicas(settings):
            events = calls_from(NEW[0], 0, 6) + calls_from(NEW[1], 6, 6)
            await publish_calls(redis_client, settings.calls_stream, events)
            await synced(redis_client, settings, 12)
        assert amo_per_number(amo) == {NEW[0]: (1, 1), NEW[1]: (1, 1)}
        uniqs = [c["uniq"] for c in amo.state.calls]
        assert sorted(uniqs) == sorted(f"7.{n}" for n in range(12))  # each call once


async def test_replies_slower_than_the_client_timeout_make_no_duplicates_amocrm(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeAmoCrm(rate=0) as amo:
        anna = amo.state.add_user("Anna", admin=True)
        amo.state.repeated_uniq_refused = False  # undocumented either way: not relied on
        settings = amo_settings(amo, base, anna, timeout_s=0.3)
        async with replicas(settings):

            async def authorised() -> bool:
                return amo.record_count("/oauth2/access_token", 200) == 1

            await eventually(authorised)
            # applied, answered after the client gave up: contacts, deals, calls
            amo.faults.slow(2, 0.6, "/api/v4/contacts")
            amo.faults.slow(2, 0.6, "/api/v4/leads")
            amo.faults.slow(2, 0.6, "/api/v4/calls")
            events = calls_from(NEW[0], 0, 4) + calls_from(NEW[1], 4, 4)
            await publish_calls(redis_client, settings.calls_stream, events)
            await synced(redis_client, settings, 8)
        assert amo_per_number(amo) == {NEW[0]: (1, 1), NEW[1]: (1, 1)}
        uniqs = [c["uniq"] for c in amo.state.calls]
        assert sorted(uniqs) == sorted(f"7.{n}" for n in range(8))  # each call once
        assert amo.faults.slow_pending == 0  # every slow reply happened


async def test_concurrent_calls_from_one_new_number_make_one_contact_and_one_deal_bitrix24(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeBitrix24() as b24:
        st = b24.state
        anna = st.add_user("Anna", "100")
        settings = dataclasses.replace(base, adapter="bitrix24", bitrix24=B24SyncSettings(
            portal_url=b24.url, oauth_url=b24.url, client_id=b24.client_id,
            client_secret=Secret(b24.client_secret), auth_code=Secret(b24.issue_code()),
            application_token=Secret(b24.application_token),
            limits=limits(1.8, 40)), rules=RulesConfig(default_user_id=str(anna)))  # fmt: skip
        async with replicas(settings):
            events = calls_from(NEW[0], 0, 6) + calls_from(NEW[1], 6, 6)
            await publish_calls(redis_client, settings.calls_stream, events)
            await synced(redis_client, settings, 12)
        for phone in NEW:
            contacts = [i for i, c in st.contacts.items() if phone in str(c)]
            assert len(contacts) == 1, phone
            deals = [d for d in st.deals.values() if str(d.get("CONTACT_ID")) == str(contacts[0])]
            assert len(deals) == 1, (phone, st.deals)
        assert sorted(r["EXTERNAL_CALL_ID"] for r in st.finished) == sorted(
            f"7.{n}" for n in range(12))  # fmt: skip
