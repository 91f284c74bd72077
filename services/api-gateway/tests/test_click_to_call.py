"""Click-to-call end to end: gateway -> cb:{pbx}:actions -> the real ami-ingest -> the AMI
simulator. The operator's leg is dialled first, the client's after the operator answers."""

from __future__ import annotations

import time

import httpx
import redis.asyncio as aioredis

from ami_ingest.testing import SECRET, read_until, running, settings_for, syncs
from amisim import Simulator
from cbstreams import PbxKeys

from .conftest import MakeKey, bearer


def _headers(entry: dict[bytes, bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in entry.get(b"raw", b"").decode().split("\r\n"):
        name, _, value = line.partition(": ")
        out.setdefault(name, value)
    return out


async def test_click_to_call_rings_the_operator_first_and_dials_the_client_after_answer(
    client: httpx.AsyncClient,
    make_key: MakeKey,
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
) -> None:
    keys = PbxKeys("main", redis_prefix)
    token = await make_key("calls:originate")
    async with (
        Simulator(secret=SECRET, speed=0) as sim,
        running(settings_for(redis_url, redis_prefix, sim)),
    ):
        await read_until(redis_client, keys.ami, lambda e: bool(syncs(e)))
        answer = await client.post(
            "/v1/calls",
            json={"extension": "101", "number": "+7 916 123-45-67"},
            headers=bearer(token),
        )
        assert answer.status_code == 202, answer.text
        call_id = answer.json()["call_id"]

        def ended(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> bool:
            return any(
                _headers(d).get("Event") == "Hangup" and _headers(d).get("Linkedid") == call_id
                for _, d in entries
            )

        entries = await read_until(redis_client, keys.ami, ended)
    originate = next(a for a in sim.received_actions if a["Action"] == "Originate")
    assert originate["Channel"] == "PJSIP/101"
    assert originate["Exten"] == "+79161234567"
    assert originate["Priority"] == "1"
    assert originate["CallerID"] == '"+79161234567" <+79161234567>'
    assert originate["Async"] == "true"
    assert originate["ChannelId"] == call_id
    assert f"CB_CALL_ID={call_id}" in originate.getall("Variable")
    frames = [
        _headers(d)
        for _, d in entries
        if _headers(d).get("Linkedid", _headers(d).get("Uniqueid")) == call_id
        or _headers(d).get("Event") == "OriginateResponse"
    ]
    events = [f.get("Event", "") for f in frames]
    operator_up = next(
        i
        for i, f in enumerate(frames)
        if f.get("Event") == "Newstate"
        and f.get("Channel", "").startswith("PJSIP/101")
        and f.get("ChannelStateDesc") == "Up"
    )
    answered = events.index("OriginateResponse")
    client_dialled = next(
        i
        for i, f in enumerate(frames)
        if f.get("Event") == "DialBegin"
        and "79161234567" in f.get("DestChannel", "") + f.get("DialString", "")
    )
    assert events[0] == "Newchannel"
    assert frames[0]["Channel"].startswith("PJSIP/101")
    assert operator_up < client_dialled
    assert answered < client_dialled


async def test_a_denied_prefix_is_refused_with_a_clear_problem_and_never_reaches_the_pbx(
    client: httpx.AsyncClient, make_key: MakeKey, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    token = await make_key("calls:originate")
    answer = await client.post(
        "/v1/calls", json={"extension": "100", "number": "+882 1234 5678"}, headers=bearer(token)
    )
    assert answer.status_code == 403
    body = answer.json()
    assert body["error_id"] == "number-denied"
    assert body["denied_prefix"] == "882"
    assert "deny-list" in body["detail"]
    assert await redis_client.xlen(PbxKeys("main", redis_prefix).actions) == 0


async def test_an_invalid_number_or_extension_is_422(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    token = await make_key("calls:originate")
    bad_number = await client.post(
        "/v1/calls", json={"extension": "100", "number": "12ab"}, headers=bearer(token)
    )
    bad_ext = await client.post(
        "/v1/calls", json={"extension": "1/00&x", "number": "79161234567"}, headers=bearer(token)
    )
    assert bad_number.json()["error_id"] == "invalid-number"
    assert bad_ext.json()["error_id"] == "invalid-extension"


async def test_a_key_limited_to_some_extensions_cannot_call_from_another(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    token = await make_key("calls:originate", extensions=("100",))
    answer = await client.post(
        "/v1/calls", json={"extension": "101", "number": "79161234567"}, headers=bearer(token)
    )
    assert answer.status_code == 403
    assert answer.json()["error_id"] == "extension-not-allowed"


async def test_without_an_answer_from_the_pbx_in_time_the_call_is_504_not_a_hang(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    token = await make_key("calls:originate")
    started = time.monotonic()
    answer = await client.post(
        "/v1/calls", json={"extension": "100", "number": "79161234567"}, headers=bearer(token)
    )
    assert answer.status_code == 504
    assert answer.json()["error_id"] == "pbx-timeout"
    assert time.monotonic() - started < 6
