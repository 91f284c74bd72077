"""Missed calls not yet called back (``callback_needed``, ``?callback=needed``) and the
supervisor's team view (``GET /v1/team``), over HTTP against real Redis."""

from __future__ import annotations

import time
from typing import Any

import httpx
import redis.asyncio as aioredis

from api_gateway.settings import GatewaySettings
from api_gateway.testing import publish_events, publish_live
from cbcontracts import CallEnded
from cbrecords import LiveCall

from .conftest import MakeKey, bearer

NOW = int(time.time() * 1e6)
CALLER = "79031112233"
_seq = iter(range(1, 10_000))


def ended(
    call_id: str,
    at: int,
    *,
    pbx: str = "main",
    direction: str = "inbound",
    result: str = "missed",
    rang: tuple[str, ...] = ("100", "101"),
    talked: tuple[str, ...] = (),
    number: str = CALLER,
    talk: int = 0,
) -> CallEnded:
    answered = talked[0] if talked else ""
    return CallEnded(event_id=f"{pbx}/{call_id}/0", seq=next(_seq), at=at + 5_000_000,
                     call_id=call_id, pbx=pbx, direction=direction,  # type: ignore[arg-type]
                     external=number, result=result,  # type: ignore[arg-type]
                     started_at=at, rang=rang, answered_by=answered, extension=answered,
                     talked=talked, talk_seconds=talk)  # fmt: skip


async def _session(client: httpx.AsyncClient, admin: str, ext: str, **extra: Any) -> str:
    answer = await client.post("/v1/sessions", json={"user": f"u{ext}", "extension": ext, **extra},
                               headers=bearer(admin))  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json()["supervisor"] is bool(extra.get("supervisor"))
    token: str = answer.json()["token"]
    return token


async def _calls(client: httpx.AsyncClient, token: str, **query: str) -> list[dict[str, Any]]:
    answer = await client.get("/v1/calls", params=query, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    calls: list[dict[str, Any]] = answer.json()["calls"]
    return calls


async def test_a_missed_call_is_marked_until_a_colleague_calls_back(
    client: httpx.AsyncClient, make_key: MakeKey, redis_client: aioredis.Redis,
    settings: GatewaySettings,
) -> None:  # fmt: skip
    admin = await make_key("admin")
    anna, boris = await _session(client, admin, "100"), await _session(client, admin, "101")
    await publish_events(redis_client, settings, [
        ended("m1", NOW - 60_000_000),
        ended("other", NOW - 50_000_000, number="74950000000", result="answered",
              talked=("100",), rang=("100",)),
    ])  # fmt: skip
    calls = await _calls(client, anna)
    assert {c["call_id"]: c["callback_needed"] for c in calls} == {"m1": True, "other": False}
    assert [c["call_id"] for c in await _calls(client, anna, callback="needed")] == ["m1"]
    # another tenant's answered call to the number clears nothing
    await publish_events(redis_client, settings, [
        ended("g1", NOW - 40_000_000, pbx="other", direction="outbound", result="answered",
              talked=("100",), rang=("100",)),
    ])  # fmt: skip
    assert [c["call_id"] for c in await _calls(client, boris, callback="needed")] == ["m1"]
    # an unanswered call back by Boris does not clear it either; an answered one does
    await publish_events(redis_client, settings, [
        ended("b1", NOW - 30_000_000, direction="outbound", result="missed", rang=("101",)),
        ended("b2", NOW - 20_000_000, direction="outbound", result="answered",
              talked=("101",), rang=("101",)),
    ])  # fmt: skip
    assert await _calls(client, anna, callback="needed") == []
    marks = {c["call_id"]: c["callback_needed"] for c in await _calls(client, anna)}
    assert marks == {"m1": False, "other": False}  # Boris's calls are not Anna's to read


async def test_a_later_answered_call_from_the_caller_clears_the_mark(
    client: httpx.AsyncClient, make_key: MakeKey, redis_client: aioredis.Redis,
    settings: GatewaySettings,
) -> None:  # fmt: skip
    anna = await _session(client, await make_key("admin"), "100")
    await publish_events(redis_client, settings, [
        ended("m1", NOW - 60_000_000), ended("m2", NOW - 50_000_000, result="abandoned"),
    ])  # fmt: skip
    assert [c["call_id"] for c in await _calls(client, anna, callback="needed")] == ["m2", "m1"]
    await publish_events(redis_client, settings, [
        ended("in", NOW - 55_000_000, result="answered", talked=("102",), rang=("102",)),
    ])  # fmt: skip
    # answered between the two: clears the first only
    assert [c["call_id"] for c in await _calls(client, anna, callback="needed")] == ["m2"]


async def test_the_team_view_is_for_supervisors_of_the_tenant_only(
    client: httpx.AsyncClient, make_key: MakeKey, redis_client: aioredis.Redis,
    settings: GatewaySettings,
) -> None:  # fmt: skip
    admin = await make_key("admin")
    boss = await _session(client, admin, "199", supervisor=True)
    await publish_events(redis_client, settings, [
        ended("m1", NOW - 60_000_000),
        ended("a1", NOW - 50_000_000, number="74950000000", result="answered",
              talked=("100",), rang=("100",), talk=42),
        ended("a2", NOW - 40_000_000, number="74950000001", result="answered",
              talked=("100", "101"), rang=("100",), talk=10),
    ])  # fmt: skip
    await publish_live(redis_client, settings, [
        LiveCall(call_id="q1", pbx="main", direction="inbound", started_at=NOW, external="7900",
                 queue="sales", ringing=("100",)),
        LiveCall(call_id="t1", pbx="main", direction="inbound", started_at=NOW, external="7901",
                 queue="sales", answered_by="101", answered_at=NOW, talking=("101",)),
        LiveCall(call_id="x1", pbx="other", direction="inbound", started_at=NOW, external="7902"),
    ])  # fmt: skip
    answer = await client.get("/v1/team", params={"since": NOW - 3600_000_000},
                              headers=bearer(boss))  # fmt: skip
    assert answer.status_code == 200, answer.text
    team = answer.json()
    assert [c["call_id"] for c in team["waiting"]] == ["q1"]
    assert [c["call_id"] for c in team["live"]] == ["t1"]
    assert [c["call_id"] for c in team["callbacks"]] == ["m1"]
    assert team["operators"] == [
        {"extension": "100", "answered": 2, "missed": 1, "talk_seconds": 52},
        {"extension": "101", "answered": 1, "missed": 1, "talk_seconds": 10},
    ]
    me = await client.get("/v1/me", headers=bearer(boss))
    assert me.json()["supervisor"] is True

    # an ordinary operator, and a key limited to extensions: refused
    anna = await _session(client, admin, "100")
    refused = await client.get("/v1/team", headers=bearer(anna))
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("not-a-supervisor") or "supervisor" in refused.text
    limited = await make_key("calls:read", extensions=("100",))
    assert (await client.get("/v1/team", headers=bearer(limited))).status_code == 403
    assert (await client.get("/v1/me", headers=bearer(anna))).json()["supervisor"] is False

    # another tenant's supervisor sees nothing of acme
    globex = await _session(client, await make_key("admin", tenant="globex"), "100",
                            supervisor=True)  # fmt: skip
    other = await client.get("/v1/team", params={"since": NOW - 3600_000_000},
                             headers=bearer(globex))  # fmt: skip
    assert other.status_code == 200, other.text
    seen = other.json()
    assert [c["call_id"] for c in seen["live"]] == ["x1"]
    assert seen["waiting"] == []
    assert seen["callbacks"] == []
    assert seen["operators"] == []
    for secret in ("q1", "t1", "m1", CALLER, "sales"):
        assert secret not in other.text


async def test_a_supervisor_link_signs_in_a_supervisor(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin = await make_key("admin")
    boss = {"user": "Boss", "extension": "199", "supervisor": True}
    link = await client.post("/v1/sessions/links", headers=bearer(admin), json=boss)
    code = link.json()["code"]
    session = await client.post("/v1/sessions/exchange", json={"code": code})
    assert session.json()["supervisor"] is True
    token = session.json()["token"]
    assert (await client.get("/v1/team", headers=bearer(token))).status_code == 200
    listed = await client.get("/v1/sessions", headers=bearer(admin))
    assert [s["supervisor"] for s in listed.json()] == [True]


async def test_a_call_back_dialled_in_e164_clears_the_mark(
    client: httpx.AsyncClient,
    make_key: MakeKey,
    redis_client: aioredis.Redis,
    settings: GatewaySettings,
) -> None:
    anna = await _session(client, await make_key("admin"), "100")
    await publish_events(redis_client, settings, [ended("m1", NOW - 60_000_000)])
    assert [c["call_id"] for c in await _calls(client, anna, callback="needed")] == ["m1"]
    # click-to-call dials +7…, the trunk gave 7…: the same number
    back = ended("b1", NOW - 30_000_000, direction="outbound", result="answered",
                 talked=("101",), rang=("101",), number=f"+{CALLER}")  # fmt: skip
    await publish_events(redis_client, settings, [back])
    assert await _calls(client, anna, callback="needed") == []
