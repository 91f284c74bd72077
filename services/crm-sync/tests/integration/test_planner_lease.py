"""Only the replica holding the planner lease plans; when it dies, the lease lapses and a
standby takes over (claiming what the dead one read but did not ack). Executors run on both."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from cbcrm.builtin import BuiltinCrm
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, ExecutorSettings
from crm_sync.testing import CallScript, eventually, publish_calls

IVAN = "+79161234567"


@pytest.fixture
def settings(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="a", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, builtin=BuiltinSettings(path=":memory:"),
        executor=ExecutorSettings(backoff_ms=0, retry_every_s=0.01),
        planner_lease_ttl_ms=400, planner_lease_renew_s=0.1, planner_standby_poll_s=0.05,
    )  # fmt: skip


@pytest.fixture
async def crm() -> AsyncIterator[BuiltinCrm]:
    crm = await BuiltinCrm.open(":memory:")
    yield crm
    await crm.aclose()


def call(call_id: str) -> list[Any]:
    s = CallScript(call_id, IVAN)
    return [s.started(), s.ringing("100"), s.answered("100", 2.0),
            s.ended("answered", 32.0, answered_by="100", extension="100", rang=("100",),
                    talk_seconds=30)]  # fmt: skip


async def logged(crm: BuiltinCrm, call_id: str) -> None:
    async def check() -> bool:
        return any(c["call_id"] == call_id for c in await crm.calls())

    await eventually(check)


async def test_one_planner_is_active_and_a_standby_takes_over_when_its_lease_lapses(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: BuiltinCrm
) -> None:
    lease = f"{settings.key_prefix}crm:lease:planner"

    async def holder(name: str) -> None:
        async def check() -> bool:
            value = await redis_client.get(lease)  # the holder's token: <instance>#<generation>
            return isinstance(value, bytes) and value.startswith(f"{name}#".encode())

        await eventually(check)

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(CrmSyncService(settings, adapter=crm).run(stop_a))
    try:
        await holder("a")
        b_settings = dataclasses.replace(settings, instance="b")
        async with asyncio.TaskGroup() as tg:
            tg.create_task(CrmSyncService(b_settings, adapter=crm).run(stop_b))
            await publish_calls(redis_client, settings.calls_stream, call("5.1"))
            await logged(crm, "5.1")
            consumers: Any = await redis_client.xinfo_consumers(
                settings.calls_stream, settings.planner_group
            )
            assert [c["name"] for c in consumers] == [b"a"]  # b stood by: it never read

            a.cancel()  # a dies without releasing its lease
            with contextlib.suppress(asyncio.CancelledError):
                await a
            await holder("b")  # the lease lapsed; b took it
            await publish_calls(redis_client, settings.calls_stream, call("5.2"))
            await logged(crm, "5.2")
            stop_b.set()
    finally:
        stop_a.set()
        a.cancel()
    assert sorted(c["call_id"] for c in await crm.calls()) == ["5.1", "5.2"]
    assert await redis_client.get(lease) is None  # b released it on stop
