"""A 300-call burst into Bitrix24 (the fake with the portal's real bucket: 2/s, 50 deep;
crm-sync's limiter 1.8/s, 40): every call's card pops for its ringing operator before the call
ends, none after; every caller's card data is published before the call ends; each call is
finished once. Calls come from 10 known numbers and 5 new ones (whose contact is created at
the first ring, so the call record is bound to it)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from cbcontracts.crm import CallSynced, CardData, decode_crm_event
from cbcrm.fakes import FakeBitrix24
from cbcrm.rules import RulesConfig
from cbruntime import Secret
from crm_sync.main import CrmSyncService
from crm_sync.remote_settings import B24SyncSettings, RemoteLimits
from crm_sync.settings import CrmSyncSettings, ExecutorSettings
from crm_sync.testing import CallScript, crm_events, eventually, publish_calls

CALLS, WAVES, TALK_S = 300, 3, 10.0
KNOWN = [f"+7916{n:07d}" for n in range(10)]
NEW = [f"+7999{n:07d}" for n in range(5)]


@pytest.fixture
def base(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="r0", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, executor=ExecutorSettings(workers=64, backoff_ms=200, retry_every_s=0.05),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def replicas(settings: CrmSyncSettings, n: int = 2) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        for i in range(n):
            tg.create_task(
                CrmSyncService(dataclasses.replace(settings, instance=f"r{i}")).run(stop)
            )
        try:
            yield
        finally:
            stop.set()


@pytest.mark.timeout(90)
async def test_a_300_call_burst_pops_every_card_before_its_call_ends_and_none_after(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeBitrix24() as b24:
        st = b24.state
        users = [st.add_user(f"Operator {n}", str(100 + n)) for n in range(5)]
        for n, phone in enumerate(KNOWN):  # known clients, each with an open deal
            cid = st.add_entity("contacts", f"Client {n}", [phone], responsible=users[n % 5])
            st.deals[cid + 1000] = {"ID": str(cid + 1000), "TITLE": f"Deal {n}",
                                    "CONTACT_ID": str(cid), "CLOSED": "N"}  # fmt: skip
        settings = dataclasses.replace(base, adapter="bitrix24", bitrix24=B24SyncSettings(
            portal_url=b24.url, oauth_url=b24.url, client_id=b24.client_id,
            client_secret=Secret(b24.client_secret), auth_code=Secret(b24.issue_code()),
            application_token=Secret(b24.application_token),
            limits=RemoteLimits(rate=1.8, burst=40, retry_base_s=0.2, retry_deadline_s=20)),
            rules=RulesConfig(default_user_id=str(users[0])))  # fmt: skip
        scripts = [CallScript(f"b.{i}", (KNOWN + NEW)[i % 15]) for i in range(CALLS)]
        ended_at: dict[str, float] = {}
        async with replicas(settings):
            # the numbers were seen before (their lookups cached), as in a working day
            warm: list[Any] = [
                CallScript(f"w.{i}", phone).started() for i, phone in enumerate(KNOWN + NEW)
            ]
            await publish_calls(redis_client, settings.calls_stream, warm)

            async def cached() -> bool:
                found = await crm_events(redis_client, settings.events_stream)
                return sum(isinstance(e, CardData) for e in found) == len(warm)

            await eventually(cached, within=20)
            started: list[tuple[float, CallScript]] = []
            per_wave = CALLS // WAVES
            for w in range(WAVES):  # 100 calls a second ring
                wave = scripts[w * per_wave : (w + 1) * per_wave]
                events: list[Any] = []
                for i, s in enumerate(wave):
                    events += [s.started(), s.ringing(str(100 + i % 5), 0.1)]
                await publish_calls(redis_client, settings.calls_stream, events)
                started += [(time.monotonic(), s) for s in wave]
                await asyncio.sleep(1.0)  # the next wave of the burst, a second later
            for at, s in started:  # each call ends TALK_S after it started
                await asyncio.sleep(max(0.0, at + TALK_S - time.monotonic()))
                n = int(s.call_id.split(".")[1])
                ext = str(100 + n % 5)
                end: list[Any] = [
                    s.answered(ext, 1.0),
                    s.ended(
                        "answered",
                        TALK_S,
                        answered_by=ext,
                        extension=ext,
                        rang=(ext,),
                        talk_seconds=5,
                    ),
                ]
                if n % 30 == 0:  # some are missed
                    end = [s.ended("missed", TALK_S, rang=(ext,))]
                ended_at[s.call_id] = time.time()
                await publish_calls(redis_client, settings.calls_stream, end)

            async def drained() -> bool:
                return len(st.finished) >= CALLS

            await eventually(drained, within=45)
        by_external = {c["EXTERNAL_CALL_ID"]: c for c in st.calls.values()}
        assert len(by_external) == len(st.calls) == CALLS  # one registration per call
        late = [cid for cid, c in by_external.items()
                if not c.get("shows") or c["shows"][0][0] >= ended_at[cid]]  # fmt: skip
        assert late == []  # every card popped before its call ended
        assert [c for c in st.calls.values() if c.get("late")] == []  # nothing after the end
        finished = [r["EXTERNAL_CALL_ID"] for r in st.finished]
        assert sorted(finished) == sorted(s.call_id for s in scripts)  # each once
        # every call's record is bound to its caller's contact (new callers' made at ring)
        assert len(st.activities) == CALLS
        assert len(st.contacts) == len(KNOWN) + len(NEW)
        assert not [r for r in b24.requests if r.status == 503]  # within the portal's bucket
        rows = cast(list[tuple[bytes, dict[bytes, bytes]]],
                    await redis_client.xrange(settings.events_stream))  # fmt: skip
        card_ms = {c.call_id: int(i.split(b"-")[0]) for i, f in rows
                   if isinstance(c := decode_crm_event(f[b"data"]), CardData)}  # fmt: skip
        # every caller's card data was out before the call ended (the bench has the figure)
        assert [c for c, at in ended_at.items() if card_ms[c] >= at * 1000] == []
        events = await crm_events(redis_client, settings.events_stream)
        cards = {e.call_id for e in events if isinstance(e, CardData)} - {
            f"w.{i}" for i in range(15)
        }
        assert cards == {s.call_id for s in scripts}
        assert len({e.call_id for e in events if isinstance(e, CallSynced)}) == CALLS
