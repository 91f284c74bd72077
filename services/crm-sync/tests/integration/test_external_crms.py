"""crm-sync end to end against the fake amoCRM and the fake Bitrix24 (real HTTP on 127.0.0.1):
the adapter is built from the settings (``adapter = "amocrm" | "bitrix24"``: OAuth code
exchanged once, tokens, rate limiter and idempotency records in Redis), call events go in on
``cb:calls``, and the fake records what the CRM received."""

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
from crm_sync.settings import CrmSyncSettings, ExecutorSettings, RecordingSettings
from crm_sync.testing import CallScript, crm_events, eventually, publish_calls

IVAN = "+79161234567"


def limits(rate: float, burst: int) -> RemoteLimits:
    return RemoteLimits(rate=rate, burst=burst, retry_base_s=0.01, retry_cap_s=0.2,
                        retry_deadline_s=5.0)  # fmt: skip


@pytest.fixture
def base(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, executor=ExecutorSettings(backoff_ms=0, retry_every_s=0.01, max_attempts=3),
        recordings=RecordingSettings(base_url="https://cb.test", secret=Secret("rec")),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: CrmSyncSettings) -> AsyncIterator[None]:
    """The service, building its own adapter from the settings."""
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(CrmSyncService(settings).run(stop))
        try:
            yield
        finally:
            stop.set()


async def synced(redis: aioredis.Redis, settings: CrmSyncSettings, count: int) -> None:
    async def enough() -> bool:
        events = await crm_events(redis, settings.events_stream)
        return sum(isinstance(e, CallSynced) for e in events) >= count

    await eventually(enough, within=20)


def answered(call_id: str, operator: str, **ended: Any) -> list[Any]:
    s = CallScript(call_id, "8 (916) 123-45-67")
    return [s.started(), s.ringing(operator), s.answered(operator, 2.0),
            s.ended("answered", 62.0, answered_by=operator, extension=operator,
                    rang=(operator,), talk_seconds=60, **ended)]  # fmt: skip


def missed(call_id: str, rang: str) -> list[Any]:
    s = CallScript(call_id, IVAN)
    return [s.started(), s.ringing(rang), s.ended("missed", 20.0, rang=(rang,))]


async def test_amocrm_logs_an_answered_and_a_missed_call_once_each_for_the_right_user(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeAmoCrm() as amo:
        st = amo.state
        anna, boris = st.add_user("Anna", admin=True), st.add_user("Boris")
        st.add_contact("Ivan", [IVAN], responsible=anna)
        settings = dataclasses.replace(base, adapter="amocrm", amocrm=AmoSyncSettings(
            base_url=amo.url, client_id=st.client_id, client_secret=Secret(st.client_secret),
            redirect_uri=st.redirect_uri, auth_code=Secret(st.issue_code()),
            extensions={str(anna): "100", str(boris): "101"},
            limits=limits(5, 1)))  # fmt: skip
        async with running(settings):
            talk = answered("2.1", "101", recording_file="2.1.wav", tenant="acme")
            await publish_calls(redis_client, settings.calls_stream, talk)
            await publish_calls(redis_client, settings.calls_stream, talk)  # redelivered
            await publish_calls(redis_client, settings.calls_stream, missed("2.2", "100"))
            await synced(redis_client, settings, 2)

            async def logged() -> bool:
                return len(st.calls) >= 2 and len(st.tasks) >= 1

            await eventually(logged, within=20)
        calls = {c["uniq"]: c for c in st.calls}
        assert sorted(c["uniq"] for c in st.calls) == ["2.1", "2.2"]
        assert (calls["2.1"]["responsible_user_id"], calls["2.1"]["call_status"]) == (boris, 4)
        assert calls["2.1"]["duration"] == 60
        assert calls["2.1"]["link"].startswith("https://cb.test/v1/recordings/acme/2.1?expires=")
        assert (calls["2.2"]["responsible_user_id"], calls["2.2"]["call_status"]) == (anna, 6)
        assert [t["responsible_user_id"] for t in st.tasks] == [anna]
        assert amo.record_count("/oauth2/access_token") == 1


async def test_bitrix24_card_follows_the_ring_group_then_the_call_is_finished_with_its_record(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeBitrix24() as b24:
        st = b24.state
        anna, boris = st.add_user("Anna", "100"), st.add_user("Boris", "101")
        st.add_entity("contacts", "Ivan", [IVAN], responsible=anna)
        settings = dataclasses.replace(base, adapter="bitrix24", bitrix24=B24SyncSettings(
            portal_url=b24.url, oauth_url=b24.url, client_id=b24.client_id,
            client_secret=Secret(b24.client_secret), auth_code=Secret(b24.issue_code()),
            application_token=Secret(b24.application_token),
            limits=limits(1.8, 40)), rules=RulesConfig(default_user_id=str(anna)))  # fmt: skip
        s = CallScript("3.1", IVAN)

        async def card(shown: set[int]) -> None:
            async def check() -> bool:
                calls = [c for c in st.calls.values() if c.get("EXTERNAL_CALL_ID") == "3.1"]
                return len(calls) == 1 and calls[0]["shown_to"] == shown

            await eventually(check, within=20)

        async with running(settings):
            await publish_calls(redis_client, settings.calls_stream, [s.started()])
            await publish_calls(redis_client, settings.calls_stream,
                                [s.ringing("100", 0.5), s.ringing("101", 0.5)])  # fmt: skip
            await card({anna, boris})  # the ring group: both phones ring
            answer: list[Any] = [s.answered("101", 3.0), s.ringing_stopped("100", 3.0)]
            await publish_calls(redis_client, settings.calls_stream, answer)
            await card({boris})  # Boris answered: Anna's card hides
            ended = s.ended("answered", 63.0, answered_by="101", extension="101",
                            rang=("100", "101"), talk_seconds=60,
                            recording_file="3.1.wav", tenant="acme")  # fmt: skip
            await publish_calls(redis_client, settings.calls_stream, [ended])
            await publish_calls(redis_client, settings.calls_stream, missed("3.2", "100"))
            await synced(redis_client, settings, 2)
        finished = {r["EXTERNAL_CALL_ID"]: r for r in st.finished}
        assert sorted(finished) == ["3.1", "3.2"]  # each once
        assert len([c for c in st.calls.values() if c.get("EXTERNAL_CALL_ID") == "3.1"]) == 1
        talk, lost = finished["3.1"], finished["3.2"]
        assert (talk["PORTAL_USER_ID"], talk["CALL_FAILED_CODE"], talk["CALL_DURATION"]) == (
            str(boris), "200", "60")  # fmt: skip
        assert (lost["PORTAL_USER_ID"], lost["CALL_FAILED_CODE"]) == (str(anna), "304")
        [record] = st.calls[talk["CALL_ID"]]["records"]
        assert record.startswith("https://cb.test/v1/recordings/acme/3.1?expires=")
        assert st.calls[talk["CALL_ID"]]["shown_to"] == set()


async def test_amocrm_unsorted_mode_one_entry_per_new_caller_with_one_call_event_each_call(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    from cbcrm.rules import ActionPatch, RulesConfig

    did, new = "+74951234567", "+79995550011"
    unsorted = ActionPatch(unsorted=True)
    async with FakeAmoCrm() as amo:
        st = amo.state
        anna = st.add_user("Anna", admin=True)
        settings = dataclasses.replace(base, adapter="amocrm", amocrm=AmoSyncSettings(
            base_url=amo.url, client_id=st.client_id, client_secret=Secret(st.client_secret),
            redirect_uri=st.redirect_uri, auth_code=Secret(st.issue_code()),
            extensions={str(anna): "100"}, limits=limits(5, 1)),
            rules=RulesConfig(did={did: {"inbound_unknown": unsorted,
                                         "missed_unknown": unsorted}}))  # fmt: skip
        first, second = CallScript("8.1", new), CallScript("8.2", new)
        events = [
            first.started(), first.ringing("100"), first.answered("100", 2.0),
            first.ended("answered", 32.4, answered_by="100", extension="100", rang=("100",),
                        did=did, recording_file="8.1.wav"),
            second.started(), second.ringing("100"),
            second.ended("missed", 12.0, rang=("100",), did=did),
        ]  # fmt: skip
        async with running(settings):
            await publish_calls(redis_client, settings.calls_stream, events)
            await synced(redis_client, settings, 2)
        [entry] = st.unsorted  # one entry for the new caller, not one per call
        meta = entry["metadata"]
        # the calls ran concurrently: whichever came first made the entry with its call
        head, other = (meta["uniq"], "8.2" if meta["uniq"] == "8.1" else "8.1")
        assert (meta["from"], meta["phone"], meta["is_call_event_needed"]) == (new, did, True)
        assert meta["duration"] == {"8.1": 30, "8.2": 0}[head]
        assert ("link" in meta) == (head == "8.1")
        # each call once: the entry's call event, and a note on the entry's lead (the answered
        # call, whose rule makes a deal) or contact (the missed one) for the other
        assert [c["uniq"] for c in st.calls] == [head]
        [note] = [n for n in st.notes if n["params"]["uniq"] == other]
        kind = "leads" if other == "8.1" else "contacts"
        assert (note["entity"], note["note_type"]) == (kind, "call_in")
        assert note["entity_id"] == entry["_ids"][kind][0]["id"]
        assert st.contacts == {}  # nothing visible besides the entry
        assert st.leads == {}
