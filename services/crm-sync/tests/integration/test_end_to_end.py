"""crm-sync end to end: call events on cb:calls (encoded with cbcontracts) -> planner ->
cb:crm:commands -> executor -> the built-in CRM; cards on cb:crm:events while the phone
rings; redelivery exactly once; transient failures retried; permanent ones dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from cbcontracts.crm import CallSynced, CardData, CrmFailed
from cbcrm.adapter import CallLog
from cbcrm.builtin import BuiltinCrm
from cbcrm.exceptions import CrmPermanentError, CrmTransientError
from cbruntime import Secret
from cbstreams.deadletter import DeadLetters
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, ExecutorSettings, RecordingSettings
from crm_sync.testing import CallScript, crm_events, eventually, publish_calls

IVAN, UNKNOWN = "+79161234567", "+79990001122"


class FlakyCrm(BuiltinCrm):
    """The built-in CRM whose log_call fails with the queued errors first."""

    errors: list[Exception]

    async def log_call(self, call: CallLog, *, key: str) -> str:
        if self.errors:
            raise self.errors.pop(0)
        return await super().log_call(call, key=key)


@pytest.fixture
async def crm() -> AsyncIterator[FlakyCrm]:
    crm = await FlakyCrm.open(":memory:")
    crm.errors = []
    yield crm
    await crm.aclose()


@pytest.fixture
def settings(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, builtin=BuiltinSettings(path=":memory:"),
        executor=ExecutorSettings(backoff_ms=0, retry_every_s=0.01, max_attempts=3),
        recordings=RecordingSettings(base_url="https://cb.test", secret=Secret("rec")),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: CrmSyncSettings, crm: BuiltinCrm) -> AsyncIterator[CrmSyncService]:
    """The service (planner + executor) running in this test's task group."""
    svc = CrmSyncService(settings, adapter=crm)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(svc.run(stop))
        try:
            yield svc
        finally:
            stop.set()


def answered_call(call_id: str, phone: str = IVAN, **ended: Any) -> list[Any]:
    s = CallScript(call_id, phone)
    return [s.started(), s.ringing("100"), s.answered("100", 2.0),
            s.ended("answered", 62.0, answered_by="100", extension="100", rang=("100",),
                    talk_seconds=60, **ended)]  # fmt: skip


async def wait_calls(crm: BuiltinCrm, count: int) -> None:
    async def enough() -> bool:
        return len(await crm.calls()) >= count

    await eventually(enough)


async def test_a_known_callers_card_is_published_while_the_phone_rings(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        s = CallScript("1.1", "8 (916) 123-45-67")
        await publish_calls(redis_client, settings.calls_stream, [s.started(), s.ringing("101")])
        reply = await redis_client.xread({settings.events_stream: "0"}, count=1, block=10_000)
        assert reply, "no card before the call ended"
        [card] = await crm_events(redis_client, settings.events_stream)
        assert isinstance(card, CardData)
        assert (card.phone, card.known, card.target, card.reason_code) == (
            IVAN, True, "deal", "only_contact.single_open_deal")  # fmt: skip
        assert card.entity is not None
        assert card.entity.name == "Иван Кузнецов"
        assert card.deal is not None
        assert card.deal.name == "Поставка оборудования"
        assert card.responsible is not None
        assert card.responsible.extension == "100"
        assert await crm.calls() == []


async def test_a_finished_call_is_logged_once_with_a_signed_recording_link(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        call = answered_call("1.2", recording_file="1.2.wav", tenant="acme")
        await publish_calls(redis_client, settings.calls_stream, call)
        await wait_calls(crm, 1)
        [logged] = await crm.calls("3")
        assert (logged["call_id"], logged["user_id"], logged["duration_s"]) == ("1.2", "1", 60)
        assert logged["recording_url"].startswith("https://cb.test/v1/recordings/acme/1.2?expires=")

        async def synced() -> bool:
            return any(
                isinstance(e, CallSynced)
                for e in await crm_events(redis_client, settings.events_stream)
            )

        await eventually(synced)


async def test_a_redelivered_call_and_a_replanned_command_are_logged_exactly_once(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        events = answered_call("1.3", UNKNOWN)
        await publish_calls(redis_client, settings.calls_stream, events)
        await publish_calls(redis_client, settings.calls_stream, events)  # the tracker re-sent them
        marker = CallScript("1.4", IVAN)
        missed: list[Any] = [marker.started(), marker.ended("missed", 5, rang=("100",))]
        await publish_calls(redis_client, settings.calls_stream, missed)

        async def done() -> bool:
            if len(await crm.tasks()) != 1:  # (then the executor's group exists)
                return False
            pending: Any = await redis_client.xpending(
                settings.commands_stream, settings.executor_group
            )
            return bool(pending["pending"] == 0)

        await eventually(done)
        assert [c["call_id"] for c in await crm.calls()].count("1.3") == 1
        assert len((await crm.lookup(UNKNOWN)).entities) == 1
        assert (
            len(await redis_client.xrange(settings.commands_stream) or []) == 3
        )  # 1.3 planned twice


async def test_a_transferred_call_is_logged_for_each_operator(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        s = CallScript("1.5", IVAN)
        ended = s.ended("answered", 62.0, answered_by="100", extension="102", rang=("100",),
                        transferred_to=("102",))  # fmt: skip
        await publish_calls(redis_client, settings.calls_stream, [
            s.started(), s.ringing("100"), s.answered("100", 2.0),
            s.transferred("100", "102", 22.0), s.answered("102", 24.0), ended])  # fmt: skip
        await wait_calls(crm, 2)
        rows = await crm.calls("3")
        assert [(r["call_id"], r["user_id"], r["duration_s"]) for r in rows] == [
            ("1.5", "1", 20), ("1.5#2", "3", 38)]  # fmt: skip


async def test_a_transient_crm_failure_is_retried_until_it_succeeds(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        crm.errors = [CrmTransientError("503", status=503), CrmTransientError("timeout")]
        await publish_calls(redis_client, settings.calls_stream, answered_call("1.6"))
        await wait_calls(crm, 1)
        assert crm.errors == []
        assert await DeadLetters(redis_client, settings.dead_stream).list() == []


async def test_a_permanent_failure_is_dead_lettered_with_its_reason(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        crm.errors = [CrmPermanentError("422 bad phone", status=422)]
        await publish_calls(redis_client, settings.calls_stream, answered_call("1.7"))
        dead = DeadLetters(redis_client, settings.dead_stream)

        async def dead_lettered() -> bool:
            return len(await dead.list()) == 1

        await eventually(dead_lettered)
        [entry] = await dead.list()
        assert (entry.stream, entry.attempts) == (settings.commands_stream, 1)
        assert "422 bad phone" in entry.error
        assert "step log/0" in entry.error  # the reason names the step
        assert await crm.calls() == []

        async def failed_event() -> bool:
            return any(
                isinstance(e, CrmFailed)
                for e in await crm_events(redis_client, settings.events_stream)
            )

        await eventually(failed_event)
        await dead.redrive(entry.dead_id)  # the CRM is fixed: re-drive it
        await wait_calls(crm, 1)


async def test_a_crm_that_keeps_failing_is_dead_lettered_after_max_attempts(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    async with running(settings, crm):
        crm.errors = [CrmTransientError("503", status=503) for _ in range(10)]
        await publish_calls(redis_client, settings.calls_stream, answered_call("1.8"))
        dead = DeadLetters(redis_client, settings.dead_stream)

        async def dead_lettered() -> bool:
            return len(await dead.list()) == 1

        await eventually(dead_lettered)
        [entry] = await dead.list()
        assert entry.attempts == settings.executor.max_attempts
        assert "gave up after 3 attempts" in entry.error


async def test_a_call_the_pbx_handled_is_logged_without_a_missed_call_task(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    """Voicemail after the ring timeout (and a voice bot): the tracker's outcome names the
    PBX, its result is ``answered``; the caller is not owed a call-back. A missed call of the
    same caller, sent after them, gets the one task."""
    async with running(settings, crm):
        vm, bot, missed = CallScript("5.1", IVAN), CallScript("5.2", IVAN), CallScript("5.3", IVAN)
        await publish_calls(redis_client, settings.calls_stream, [
            vm.started(), vm.ringing("100"), vm.ringing_stopped("100", 20.0, "no_answer"),
            vm.ended("answered", 45.0, outcome="voicemail", pbx_app="VoiceMail", rang=("100",),
                     ring_seconds=20),
            bot.started(),
            bot.ended("answered", 30.0, outcome="bot", pbx_app="AGI"),
            missed.started(), missed.ended("missed", 5.0, outcome="missed", rang=("100",)),
        ])  # fmt: skip
        await wait_calls(crm, 3)

        async def one_task() -> bool:
            return len(await crm.tasks()) >= 1

        await eventually(one_task)
        logged = {c["call_id"]: c for c in await crm.calls()}
        assert set(logged) == {"5.1", "5.2", "5.3"}
        assert [c["result"] for c in (logged["5.1"], logged["5.2"])] == ["answered", "answered"]
        tasks = await crm.tasks()
        assert len(tasks) == 1, tasks


async def test_a_click_to_call_gets_its_card_once_the_number_is_known(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: FlakyCrm
) -> None:
    operator = CallScript("1.9", "", direction="internal")  # the operator's phone rings first
    first = operator.started(extension="100", originate_id="click-1")
    customer = CallScript("1.9", IVAN, direction="outbound")  # then the customer is dialled
    customer.seq = operator.seq
    async with running(settings, crm):
        await publish_calls(redis_client, settings.calls_stream,
                            [first, customer.answered("100", 4.0),
                             customer.answered("100", 4.5)])  # fmt: skip

        async def carded() -> bool:
            events = await crm_events(redis_client, settings.events_stream)
            return any(isinstance(e, CardData) and e.call_id == "1.9" for e in events)

        await eventually(carded)
        await publish_calls(redis_client, settings.calls_stream, [
            customer.ended("answered", 30.0, answered_by=IVAN, extension="100",
                           originate_id="click-1")])  # fmt: skip
        await wait_calls(crm, 1)
    cards = [e for e in await crm_events(redis_client, settings.events_stream)
             if isinstance(e, CardData) and e.call_id == "1.9"]  # fmt: skip
    assert len(cards) == 1  # once, not per event
    assert (cards[0].phone, cards[0].known) == (IVAN, True)
