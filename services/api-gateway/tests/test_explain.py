"""Explaining a call end to end: frames through the real tracker, crm-sync on the built-in
CRM, then ``GET /v1/calls/{id}/explain`` (an admin key or a supervisor session) and the
library with the reducer's per-frame decisions (what ``callbridge calls explain`` prints)
name each decision."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis.asyncio as aioredis

from api_gateway.settings import GatewaySettings
from api_gateway.state import Services
from call_tracker.explain import frame_decider
from call_tracker.fixtures import load_fixture
from call_tracker.reducer.topology import Topology
from call_tracker.testing import track_entries
from cbcontracts.crm import CallSynced, decode_crm_event
from cbcrm.builtin import BuiltinCrm
from cbrecords import CrmStreams, RecordStore, explain_call
from cbruntime import Secret
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, ExecutorSettings, RecordingSettings

from .conftest import MakeKey

FIXTURES = Path(__file__).resolve().parents[2] / "call-tracker/tests/unit/fixtures"
TOPOLOGY = Topology(pbx="main")
_Reply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


@pytest.fixture
async def crm() -> AsyncIterator[BuiltinCrm]:
    crm = await BuiltinCrm.open(":memory:")
    yield crm
    await crm.aclose()


def crm_settings(redis_url: str, p: str) -> CrmSyncSettings:
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, builtin=BuiltinSettings(path=":memory:"),
        executor=ExecutorSettings(backoff_ms=0, retry_every_s=0.01, max_attempts=3),
        recordings=RecordingSettings(base_url="https://cb.test", secret=Secret("rec")),
    )  # fmt: skip


async def handled_call(
    redis: aioredis.Redis, redis_url: str, prefix: str, crm: BuiltinCrm, fixture: str
) -> str:
    """The fixture's frames (moved to ten minutes ago) through the tracker, its calls through
    crm-sync until the call is synced; the call's id."""
    entries = load_fixture(FIXTURES / f"{fixture}.jsonl")
    shift = int((time.time() - 600) * 1_000_000) - entries[0].rx
    await track_entries(redis, prefix, [e._replace(rx=e.rx + shift) for e in entries], TOPOLOGY)
    [record] = await RecordStore(redis, prefix).window("main", 0, 2**62)
    svc = CrmSyncService(crm_settings(redis_url, prefix), adapter=crm)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(svc.run(stop))
        try:
            seen, synced = "0-0", False
            async with asyncio.timeout(20):
                while not synced:  # block on the events stream until crm-sync logged the call
                    reply = cast(_Reply, await redis.xread({f"{prefix}crm:events": seen},
                                                           block=200))  # fmt: skip
                    for entry_id, f in reply[0][1] if reply else []:
                        seen = entry_id.decode()
                        synced = synced or isinstance(decode_crm_event(f[b"data"]), CallSynced)
        finally:
            stop.set()
    return record.call_id


async def test_explain_of_a_transfer_names_each_decision_over_http_admin_or_supervisor(
    redis_client: aioredis.Redis, redis_url: str, redis_prefix: str, crm: BuiltinCrm,
    client: httpx.AsyncClient, make_key: MakeKey, settings: GatewaySettings, services: Services,
) -> None:  # fmt: skip
    call_id = await handled_call(redis_client, redis_url, redis_prefix, crm,
                                 "blind_transfer_ami")  # fmt: skip
    reader = await make_key("calls:read")
    denied = await client.get(f"/v1/calls/{call_id}/explain",
                              headers={"Authorization": f"Bearer {reader}"})  # fmt: skip
    assert denied.status_code == 403
    admin = await make_key("admin")
    got = await client.get(f"/v1/calls/{call_id}/explain",
                           headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    assert got.status_code == 200, got.text
    body = got.json()
    decisions = [d for f in body["frames"] for d in f.get("decisions", [])]
    text = "\n".join(decisions)
    assert "call started: inbound" in text
    assert "ringing: extension 100" in text
    assert "answered by 100" in text
    assert "transfer (blind) from 100 to 102" in text
    assert "answered by 102" in text
    assert "ended: result answered" in text
    kinds = [s["kind"] for s in body["crm"]]
    assert {"lookup", "command", "response", "synced"} <= set(kinds)
    assert body["record"]["call_id"] == call_id
    other = await make_key("admin", tenant="globex")
    foreign = await client.get(f"/v1/calls/{call_id}/explain",
                               headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    assert foreign.status_code == 404, "another tenant's admin does not see the call"
    p = redis_prefix
    exp = await explain_call(
        redis_client, "main", call_id, prefix=p, calls_stream=f"{p}calls",
        crm=CrmStreams(commands=f"{p}crm:commands", events=f"{p}crm:events", dead=f"{p}dead"),
        decisions=frame_decider(TOPOLOGY),
    )  # fmt: skip
    reducer = "\n".join(d for f in exp.frames for d in f.decisions)
    assert "transfers += 102" in reducer
    assert "(extension 102): answered" in reducer
    missing = await client.get("/v1/calls/no.such/explain",
                               headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    assert missing.status_code == 404
    # A supervisor session explains its tenant's calls (the page's history links to it); an
    # ordinary operator may not, another tenant's supervisor sees nothing.
    sessions = services.sessions
    boss = (await sessions.issue("acme", "Boss", "105", 600, "", supervisor=True))[1]
    seen = await client.get(f"/v1/calls/{call_id}/explain",
                            headers={"Authorization": f"Bearer {boss}"})  # fmt: skip
    assert seen.status_code == 200, seen.text
    assert seen.json()["call_id"] == call_id
    operator = (await sessions.issue("acme", "Anna", "100", 600, ""))[1]
    refused = await client.get(f"/v1/calls/{call_id}/explain",
                               headers={"Authorization": f"Bearer {operator}"})  # fmt: skip
    assert refused.status_code == 403
    stranger = (await sessions.issue("globex", "Gleb", "100", 600, "", supervisor=True))[1]
    hidden = await client.get(f"/v1/calls/{call_id}/explain",
                              headers={"Authorization": f"Bearer {stranger}"})  # fmt: skip
    assert hidden.status_code == 404


async def test_explain_with_the_reducer_names_the_state_changes_of_a_queue_call(
    redis_client: aioredis.Redis, redis_url: str, redis_prefix: str, crm: BuiltinCrm
) -> None:
    call_id = await handled_call(redis_client, redis_url, redis_prefix, crm, "inbound_queue")
    p = redis_prefix
    exp = await explain_call(
        redis_client, "main", call_id, prefix=p, calls_stream=f"{p}calls",
        crm=CrmStreams(commands=f"{p}crm:commands", events=f"{p}crm:events", dead=f"{p}dead"),
        decisions=frame_decider(TOPOLOGY),
    )  # fmt: skip
    text = "\n".join(d for f in exp.frames for d in f.decisions)
    assert f"call {call_id} created: inbound" in text
    assert "leg created: PJSIP/trunk" in text
    assert "queue: '' -> 'support'" in text
    assert "PJSIP/101-00000001 (extension 101): ringing" in text
    assert "PJSIP/100-00000002 (extension 100): answered" in text
    assert "answered_by: '' -> '100'" in text
    assert "ringing stopped: extension 101 (answered_elsewhere)" in text
    assert "ended: result answered — answered by 100 after 3 s of ringing" in text
    assert f"call {call_id} finished" in text
    lookup = next(s for s in exp.crm if s.kind == "lookup")
    assert lookup.what.startswith("lookup +")
    assert "candidate" in lookup.what
