"""Re-drive after a CRM outage: calls whose commands were dead-lettered are planned again
through the planner with the same keys and logged once; a call already in the CRM is
reported as such and not logged again; a second re-drive changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from cbcontracts import CallEnded, CallEvent, encode_event, record_from_ended
from cbcrm.adapter import CallLog
from cbcrm.builtin import BuiltinCrm
from cbcrm.exceptions import CrmTransientError
from cbrecords import RecordWriter
from cbruntime import Secret
from cbstreams.deadletter import DeadLetters
from cbstreams.fields import F_DATA
from crm_sync.main import CrmSyncService, build_sync
from crm_sync.redrive import redrive_calls
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, ExecutorSettings, RecordingSettings
from crm_sync.testing import T0, CallScript, eventually


class DownCrm(BuiltinCrm):
    """The built-in CRM, unreachable while ``down``."""

    down: bool

    async def log_call(self, call: CallLog, *, key: str) -> str:
        if self.down:
            raise CrmTransientError("503 Service Unavailable", status=503)
        return await super().log_call(call, key=key)


@pytest.fixture
async def crm() -> AsyncIterator[DownCrm]:
    crm = await DownCrm.open(":memory:")
    crm.down = False
    yield crm
    await crm.aclose()


@pytest.fixture
def settings(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, builtin=BuiltinSettings(path=":memory:"),
        executor=ExecutorSettings(backoff_ms=0, retry_every_s=0.01, max_attempts=2),
        recordings=RecordingSettings(base_url="https://cb.test", secret=Secret("rec")),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: CrmSyncSettings, crm: BuiltinCrm) -> AsyncIterator[None]:
    svc = CrmSyncService(settings, adapter=crm)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(svc.run(stop))
        try:
            yield
        finally:
            stop.set()


def call(call_id: str, phone: str, shift: int) -> list[CallEvent]:
    """An answered call, ten minutes ago (the tracker's stream time is now)."""
    s = CallScript(call_id, phone)
    events: list[Any] = [s.started(), s.ringing("100"), s.answered("100", 2.0)]
    events.append(s.ended("answered", 30.0, answered_by="100", extension="100", rang=("100",),
                          talk_seconds=28, answered_at=T0 + 2_000_000))  # fmt: skip
    out: list[CallEvent] = []
    for e in events:
        e = msgspec.structs.replace(e, at=e.at - shift)
        if isinstance(e, CallEnded):
            e = msgspec.structs.replace(e, started_at=e.started_at - shift,
                                        answered_at=e.answered_at - shift)  # fmt: skip
        out.append(e)
    return out


async def publish(
    redis: aioredis.Redis, settings: CrmSyncSettings, events: list[CallEvent]
) -> None:
    """As the tracker commits them: the events and the record of the call that ended."""
    writer = RecordWriter(settings.key_prefix)
    async with redis.pipeline(transaction=True) as pipe:
        for event in events:
            pipe.xadd(settings.calls_stream, {F_DATA: encode_event(event)})
            if isinstance(event, CallEnded):
                writer.add_record(pipe, record_from_ended(event))
        await pipe.execute()


async def test_redrive_after_an_outage_logs_each_missing_call_once_and_nothing_twice(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: DownCrm
) -> None:
    shift = T0 - int((time.time() - 600) * 1_000_000)
    dead = DeadLetters(redis_client, settings.dead_stream)
    async with running(settings, crm):
        crm.down = True
        await publish(redis_client, settings, call("9.1", "+79161234567", shift))
        await publish(redis_client, settings, call("9.2", "+79990001122", shift))

        async def both_dead() -> bool:
            return len(await dead.list()) == 2

        await eventually(both_dead)
        crm.down = False
        await publish(redis_client, settings, call("9.3", "+79031112233", shift))

        async def third_logged() -> bool:
            return len(await crm.calls()) == 1

        await eventually(third_logged)
    assert [c["call_id"] for c in await crm.calls()] == ["9.3"]

    async def redrive() -> dict[str, str]:
        svc = CrmSyncService(settings, adapter=crm)
        try:
            publisher = svc.publisher()
            planner = svc.planner(build_sync(svc.redis, crm, settings), publisher)
            calls = [("main", c) for c in ("9.1", "9.2", "9.3")]
            done = await redrive_calls(svc.redis, planner, publisher, calls,
                                       prefix=settings.key_prefix,
                                       calls_stream=settings.calls_stream,
                                       dead_stream=settings.dead_stream)  # fmt: skip
        finally:
            await svc.redis.aclose()
        return {r.call_id: r.outcome for r in done}

    assert await redrive() == {"9.1": "replanned", "9.2": "replanned", "9.3": "already_in_crm"}
    assert await dead.list() == []  # the dead copies of the re-planned commands are gone
    async with running(settings, crm):

        async def all_logged() -> bool:
            return len(await crm.calls()) == 3

        await eventually(all_logged)
    assert sorted(c["call_id"] for c in await crm.calls()) == ["9.1", "9.2", "9.3"]
    assert await redrive() == dict.fromkeys(("9.1", "9.2", "9.3"), "already_in_crm")
    async with running(settings, crm):
        # nothing new to do: the commands stream is drained, the CRM unchanged
        async def drained() -> bool:
            pending: Any = await redis_client.xpending(settings.commands_stream,
                                                       settings.executor_group)  # fmt: skip
            return int(pending["pending"]) == 0

        await eventually(drained)
    assert sorted(c["call_id"] for c in await crm.calls()) == ["9.1", "9.2", "9.3"]
