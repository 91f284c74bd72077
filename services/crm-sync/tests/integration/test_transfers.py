"""Transfers through crm-sync into the built-in CRM: one entry per operator who talked, with
exact (rounded) durations and the transfer chain; a target that only rang is no entry.
The times mirror the real Asterisk captures (blind_transfer_ami, attended_transfer_ami)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from cbcontracts import decode_event
from cbcrm.builtin import BuiltinCrm
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, ExecutorSettings
from crm_sync.testing import CallScript, eventually, publish_calls

IVAN = "+79161234567"


@pytest.fixture
async def crm() -> AsyncIterator[BuiltinCrm]:
    crm = await BuiltinCrm.open(":memory:")
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
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: CrmSyncSettings, crm: BuiltinCrm) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(CrmSyncService(settings, adapter=crm).run(stop))
        try:
            yield
        finally:
            stop.set()


async def logged(crm: BuiltinCrm, count: int, call_id: str) -> list[tuple[Any, ...]]:
    async def enough() -> bool:
        return len([r for r in await crm.calls() if r["call_id"].startswith(call_id)]) >= count

    await eventually(enough)
    rows = [r for r in await crm.calls() if r["call_id"].startswith(call_id)]
    return sorted((r["call_id"], r["extension"], r["duration_s"], r["note"]) for r in rows)


async def test_transfers_give_one_entry_per_talking_leg_with_rounded_durations(
    redis_client: aioredis.Redis, settings: CrmSyncSettings, crm: BuiltinCrm
) -> None:
    blind = CallScript("9.1", IVAN)  # 100 talks 3.3 s; 101 rings 1.6 s, talks 4.7 s
    attended = CallScript("9.2", IVAN)  # 100 consults 101 (which answers), then hands over
    redirect = CallScript("9.3", IVAN)  # redirected to 102, which never answers
    events = [
        blind.started(), blind.ringing("100"), blind.answered("100", 2.3),
        blind.transferred("100", "101", 5.6, "blind"), blind.ringing("101", 5.7),
        blind.answered("101", 7.2),
        blind.ended("answered", 11.9, answered_by="100", extension="101", rang=("100", "101"),
                    transferred_to=("101",)),
        attended.started(), attended.ringing("100"), attended.answered("100", 2.0),
        attended.ringing("101", 8.0), attended.answered("101", 10.0),
        attended.transferred("100", "101", 14.4, "attended"),
        attended.ended("answered", 22.0, answered_by="100", extension="101",
                       rang=("100", "101"), transferred_to=("101",)),
        redirect.started(), redirect.ringing("100"), redirect.answered("100", 2.0),
        redirect.transferred("100", "102", 6.0, "redirect"), redirect.ringing("102", 6.1),
        redirect.ended("answered", 20.0, answered_by="100", extension="102",
                       rang=("100", "102"), transferred_to=("102",)),
    ]  # fmt: skip
    async with running(settings, crm):
        await publish_calls(redis_client, settings.calls_stream, events)
        assert await logged(crm, 2, "9.1") == [
            ("9.1", "100", 3, "only_contact.single_open_deal; transferred to 101"),
            ("9.1#2", "101", 5, "only_contact.single_open_deal; transferred from 100"),
        ]
        assert await logged(crm, 2, "9.2") == [
            ("9.2", "100", 12, "only_contact.single_open_deal; transferred to 101"),
            ("9.2#2", "101", 8, "only_contact.single_open_deal; transferred from 100"),
        ]
        assert await logged(crm, 1, "9.3") == [
            ("9.3", "100", 4, "only_contact.single_open_deal; transferred to 102"),
        ]
    # the target that only rang got nothing, and nothing was logged twice
    assert len([r for r in await crm.calls() if r["call_id"].startswith("9.")]) == 5


TRACKER_FIXTURES = (
    Path(__file__).resolve().parents[3] / "call-tracker" / "tests" / "unit" / "fixtures"
)


@pytest.mark.parametrize(
    ("fixture", "legs"),
    [
        ("blind_transfer_ami", [("100", 3, "to 102"), ("102", 5, "from 100")]),
        ("attended_transfer_ami", [("100", 12, "to 101"), ("101", 8, "from 100")]),
        ("redirect_transfer", [("100", 3, "to 101"), ("101", 5, "from 100")]),
    ],
)  # fmt: skip
async def test_the_trackers_own_events_of_each_transfer_give_one_entry_per_conversation(
    redis_client: aioredis.Redis,
    settings: CrmSyncSettings,
    crm: BuiltinCrm,
    fixture: str,
    legs: list[tuple[str, int, str]],
) -> None:
    """The call events call-tracker writes for the transfers captured on Asterisk 22 (its
    golden fixtures): 100 talks 3 s and the target 5 s after 2 s of ringing (blind,
    redirect); the consulted target talks from the hand-over (attended)."""
    raw = json.loads((TRACKER_FIXTURES / f"{fixture}.expected.json").read_text())
    events = [decode_event(json.dumps(e)) for e in raw]
    call_id = events[0].call_id
    async with running(settings, crm):
        await publish_calls(redis_client, settings.calls_stream, events)
        rows = await logged(crm, len(legs), call_id)
    got = [(ext, duration, note.split("transferred ")[-1]) for _, ext, duration, note in rows]
    assert got == legs
