"""Feeds: an operator's WebSocket gets only its extension's cards (the server decides);
an integrator's SSE resumes exactly after the last id it saw, or says there is a gap."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI, WebSocketDisconnect

from api_gateway.main import create_app
from api_gateway.settings import GatewaySettings
from api_gateway.testing import publish_events, serving, settings_for
from cbcontracts import (
    CallEnded,
    CallEvent,
    CallRinging,
    CallRingingStopped,
    CallStarted,
    CallTransferred,
)
from cbcontracts.crm import CardData, encode_crm_event

from .conftest import MakeKey, bearer

with warnings.catch_warnings():  # starlette 1.x would like httpx2; httpx is the chosen client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = 1_800_000_000_000_000


def ev(what: str, call: str, seq: int, pbx: str = "main", **kw: Any) -> CallEvent:
    common: dict[str, Any] = {
        "event_id": f"{pbx}/{call}/{seq}",
        "call_id": call,
        "pbx": pbx,
        "seq": seq,
        "at": T0 + seq,
        "direction": "inbound",
        "external": "79161234567",
    }
    if what == "started":
        return CallStarted(**common, **kw)
    if what == "ringing":
        return CallRinging(**common, **kw)
    if what == "stopped":
        return CallRingingStopped(**common, **kw)
    if what == "transferred":
        return CallTransferred(**common, **kw)
    return CallEnded(**common, result="answered", started_at=T0, **kw)


def test_ext_100s_websocket_receives_100s_card_and_never_101s(
    redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(redis_url, redis_prefix)
    app = create_app(settings)
    with TestClient(app) as tc:
        assert tc.portal is not None
        services = app.state.services
        _, admin = tc.portal.call(services.keys.create, "acme", ("admin",))
        tokens = {}
        for ext in ("100", "101"):
            issued = tc.post(
                "/v1/sessions", json={"user": f"u{ext}", "extension": ext}, headers=bearer(admin)
            )
            assert issued.status_code == 201
            tokens[ext] = issued.json()["token"]
        with (
            tc.websocket_connect(f"/v1/feeds/events?token={tokens['100']}") as ws100,
            tc.websocket_connect(f"/v1/feeds/events?token={tokens['101']}") as ws101,
        ):
            publish = [
                ev("ringing", "A", 1, extension="101"),
                ev("ringing", "B", 1, extension="100"),
                ev("ringing", "C", 1, pbx="other", extension="100"),  # another tenant's PBX
                ev("stopped", "A", 2, extension="101", reason="caller_gave_up"),
                ev("transferred", "B", 2, kind="blind", from_extension="100", to_extension="101"),
                ev("ended", "A", 3),
                ev("ended", "B", 3),
            ]
            tc.portal.call(publish_events, services.redis, settings, publish)
            got100 = [ws100.receive_json() for _ in range(3)]
            got101 = [ws101.receive_json() for _ in range(6)]
    assert [(m["type"], m["call_id"]) for m in got100] == [
        ("card.show", "B"),
        ("card.hide", "B"),
        ("call.ended", "B"),  # a call it was shown: its record is there now
    ]
    assert got100[1]["reason"] == "transferred"
    assert [(m["type"], m["call_id"]) for m in got101] == [
        ("card.show", "A"),
        ("card.hide", "A"),
        ("card.show", "B"),
        ("call.ended", "A"),
        ("card.hide", "B"),
        ("call.ended", "B"),
    ]
    assert got101[2]["external"] == "79161234567"  # the card follows the transfer


def test_crm_card_data_reaches_only_the_operator_whose_card_is_shown(
    redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(redis_url, redis_prefix)
    app = create_app(settings)
    with TestClient(app) as tc:
        assert tc.portal is not None
        services = app.state.services
        _, admin = tc.portal.call(services.keys.create, "acme", ("admin",))
        issued = tc.post(
            "/v1/sessions", json={"user": "u", "extension": "100"}, headers=bearer(admin)
        )
        with tc.websocket_connect(f"/v1/feeds/events?token={issued.json()['token']}") as ws:
            tc.portal.call(
                publish_events, services.redis, settings, [ev("ringing", "B", 1, extension="100")]
            )
            for call in ("A", "B"):  # A's card is 101's business: never sent to 100
                card = CardData(
                    event_id=f"{call}/card",
                    call_id=call,
                    pbx="main",
                    at=1,
                    phone="+79161234567",
                    known=True,
                )
                tc.portal.call(
                    services.redis.xadd,
                    settings.feeds.crm_stream,
                    {b"data": encode_crm_event(card)},
                )
            tc.portal.call(publish_events, services.redis, settings, [ev("ended", "B", 2)])
            got = [ws.receive_json() for _ in range(3)]
    assert [(m["type"], m["call_id"]) for m in got] == [
        ("card.show", "B"),
        ("card.data", "B"),
        ("card.hide", "B"),
    ]
    assert got[1]["data"]["known"] is True


def test_a_websocket_without_a_valid_token_is_refused(redis_url: str, redis_prefix: str) -> None:
    app = create_app(settings_for(redis_url, redis_prefix))
    with TestClient(app) as tc:
        for url in (
            "/v1/feeds/events",
            "/v1/feeds/events?token=cbs_forged",
            "/v1/feeds/ami/main?token=cbs_x",
        ):
            with pytest.raises(WebSocketDisconnect) as refused, tc.websocket_connect(url):
                pass
            assert refused.value.code == 4401


async def _sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            data.append(line[6:])
        elif not line and data:
            yield json.loads("".join(data))
            data = []


async def _read(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], until_call: str
) -> list[dict[str, Any]]:
    """SSE messages until one about ``until_call`` arrives (under a deadline)."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(15), client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        async for message in _sse(response):
            got.append(message)
            if message.get("event", {}).get("call_id") == until_call:
                return got
    raise AssertionError("stream ended")


async def test_a_reconnecting_client_receives_exactly_what_it_missed_or_a_gap_marker(
    app: FastAPI, settings: GatewaySettings, make_key: MakeKey, redis_client: aioredis.Redis
) -> None:
    auth = bearer(await make_key("events:read"))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
        async with asyncio.TaskGroup() as tg:
            first = tg.create_task(_read(client, "/v1/feeds/events", auth, "first"))
            await _until_connected(redis_client, settings)
            await publish_events(
                redis_client, settings, [ev("ringing", "first", 1, extension="100")]
            )
        last_id = first.result()[-1]["id"]
        missed = [
            ev("ringing", "m1", 1, extension="100"),
            ev("ringing", "x", 1, pbx="other", extension="100"),
            ev("ended", "m1", 2),
            ev("ended", "marker", 1),
        ]
        await publish_events(redis_client, settings, missed)
        resumed = await _read(
            client, "/v1/feeds/events", {**auth, "Last-Event-ID": last_id}, "marker"
        )
        assert [(m["type"], m["event"]["call_id"]) for m in resumed] == [
            ("call.ringing", "m1"),
            ("call.ended", "m1"),
            ("call.ended", "marker"),
        ]
        tail = cast(list[Any], await redis_client.xrevrange(settings.feeds.calls_stream, count=1))
        newest = cast(bytes, tail[0][0])
        await redis_client.xtrim(settings.feeds.calls_stream, minid=newest, approximate=False)
        await publish_events(redis_client, settings, [ev("ended", "after-trim", 1)])
        gapped = await _read(client, f"/v1/feeds/events?since={last_id}", auth, "after-trim")
    assert gapped[0]["type"] == "gap"
    assert gapped[0]["stream"] == "calls"
    assert gapped[0]["resume_from"] == newest.decode()
    assert [m["event"]["call_id"] for m in gapped[1:]] == ["marker", "after-trim"]


async def _until_connected(redis: aioredis.Redis, settings: GatewaySettings) -> None:
    """Until the SSE reader is blocked on the calls stream (CLIENT LIST shows an XREAD)."""
    async with asyncio.timeout(10):
        while not any(c.get("cmd") == "xread" for c in await redis.client_list()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
