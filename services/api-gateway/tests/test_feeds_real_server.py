"""Operator isolation over the real server path: the gateway on a real uvicorn (127.0.0.1,
port 0), a real WebSocket client (``websockets``) holding ext 100's operator session. It
receives 100's card and never 101's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from api_gateway.main import create_app
from api_gateway.settings import GatewaySettings
from api_gateway.state import Services
from api_gateway.testing import publish_events, serving
from cbcontracts import CallEnded, CallEvent, CallRinging, CallRingingStopped

from .conftest import bearer

T0 = 1_800_000_000_000_000


def _event(kind: type[CallEvent], call: str, seq: int, **kw: Any) -> CallEvent:
    return kind(
        event_id=f"main/{call}/{seq}",
        call_id=call,
        pbx="main",
        seq=seq,
        at=T0 + seq,
        direction="inbound",
        external="79161234567",
        **kw,
    )


async def _messages(ws: websockets.ClientConnection, call: str) -> list[dict[str, Any]]:
    """Messages until the one hiding ``call``'s card (the caller's timeout bounds it)."""
    got: list[dict[str, Any]] = []
    while not got or (got[-1]["type"], got[-1]["call_id"]) != ("card.hide", call):
        got.append(json.loads(await ws.recv()))
    return got


async def test_ext_100s_websocket_on_a_real_server_gets_100s_card_and_never_101s(
    settings: GatewaySettings, services: Services
) -> None:
    _, admin = await services.keys.create("acme", ("admin",))
    async with (
        serving(create_app(settings, services)) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        issued = await http.post(
            "/v1/sessions", json={"user": "u100", "extension": "100"}, headers=bearer(admin)
        )
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        url = base.replace("http://", "ws://") + f"/v1/feeds/events?token={token}"
        # the handshake is over when connect returns: the feed reads every entry after it
        async with websockets.connect(url, open_timeout=10, close_timeout=2) as ws:
            events = [
                _event(CallRinging, "for-101", 1, extension="101"),
                _event(CallRinging, "for-100", 1, extension="100"),
                _event(CallRingingStopped, "for-101", 2, extension="101", reason="answered"),
                _event(CallEnded, "for-101", 3, result="answered", started_at=T0),
                _event(CallEnded, "for-100", 2, result="missed", started_at=T0),
                # after 100's card is hidden: one more 101 card, then a marker call for 100
                _event(CallRinging, "late-101", 1, extension="101"),
                _event(CallRinging, "marker", 1, extension="100"),
                _event(CallEnded, "late-101", 2, result="missed", started_at=T0),
                _event(CallEnded, "marker", 2, result="missed", started_at=T0),
            ]
            await publish_events(services.redis, settings, events)
            async with asyncio.timeout(15):
                got = await _messages(ws, "marker")
    cards = [(m["type"], m["call_id"]) for m in got if m["type"].startswith("card.")]
    assert cards == [
        ("card.show", "for-100"),
        ("card.hide", "for-100"),
        ("card.show", "marker"),
        ("card.hide", "marker"),
    ]
    assert all(m["call_id"] not in ("for-101", "late-101") for m in got)
    shown = next(m for m in got if m["type"] == "card.show")
    assert shown["extension"] == "100"
    assert shown["external"] == "79161234567"
    assert shown["id"]  # the resume cursor
