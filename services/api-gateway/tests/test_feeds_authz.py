"""The feeds' column of the authorisation matrix, on a real uvicorn with a real WebSocket
client: principals refused at the handshake (close 4000 + status), principals accepted then
filtered (they never receive the owner's call — ext 100 on acme — neither its call events nor
its CRM card), raw AMI for unrestricted admin keys only, and at most
``feeds.max_per_principal`` feeds per key or session.

"Never receives" is observed, not waited for: after the owner's events, each principal's own
marker event is published; the feed delivers in stream order, so once the marker arrives
everything before it has been decided."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api_gateway.main import create_app
from api_gateway.services.keystore import SCOPES, Scope, hash_token
from api_gateway.settings import GatewaySettings
from api_gateway.state import Services
from api_gateway.testing import publish_events, serving
from cbcontracts import CallEvent, CallRinging, CallStarted
from cbcontracts.crm import CardData, encode_crm_event
from cbstreams import PbxKeys

T0 = 1_800_000_000_000_000
OWNER_CALL, OWNER_NUMBER = "owner-call", "79161234567"
EVERYTHING: tuple[Scope, ...] = tuple(SCOPES)  # type: ignore[arg-type]


def _event(kind: type[CallEvent], call: str, pbx: str, number: str, **kw: Any) -> CallEvent:
    return kind(
        event_id=f"{pbx}/{call}/{kind.__name__}",
        call_id=call,
        pbx=pbx,
        seq=1,
        at=T0,
        direction="inbound",
        external=number,
        **kw,
    )


@pytest.fixture
def settings(settings: GatewaySettings) -> GatewaySettings:
    return replace(settings, feeds=replace(settings.feeds, max_per_principal=3))


@pytest.fixture
async def base(settings: GatewaySettings, services: Services) -> AsyncIterator[str]:
    app: FastAPI = create_app(settings, services)
    async with serving(app) as url:
        yield url


def _ws(base: str, path: str, token: str | None) -> str:
    query = f"?token={token}" if token else ""
    return base.replace("http://", "ws://") + path + query


async def _refused(url: str) -> bool:
    """The WebSocket handshake is refused (uvicorn answers a close before accept with an
    HTTP 403; the SSE twin of each feed tells the exact status)."""
    try:
        async with websockets.connect(url, open_timeout=10) as ws:
            await asyncio.wait_for(ws.recv(), 10)
    except InvalidStatus:
        return True
    except ConnectionClosed:
        return True
    return False


async def _owner_events(services: Services, settings: GatewaySettings) -> None:
    await publish_events(
        services.redis,
        settings,
        [
            _event(CallStarted, OWNER_CALL, "main", OWNER_NUMBER),
            _event(CallRinging, OWNER_CALL, "main", OWNER_NUMBER, extension="100"),
        ],
    )
    card = CardData(
        event_id=f"{OWNER_CALL}/card",
        call_id=OWNER_CALL,
        pbx="main",
        at=T0,
        phone="+" + OWNER_NUMBER,
        tenant="acme",
    )
    await services.redis.xadd(settings.feeds.crm_stream, {b"data": encode_crm_event(card)})


async def _until_marker(ws: websockets.ClientConnection, marker: str) -> list[str]:
    got: list[str] = []
    async with asyncio.timeout(15):
        while marker not in (got[-1] if got else ""):
            got.append(str(await ws.recv()))
    return got


async def _token(services: Services, principal: str) -> tuple[str, str, str]:
    """(token, marker pbx, marker extension): a call this principal does see."""
    keys, sessions = services.keys, services.sessions
    if principal == "other tenant":
        return (await keys.create("globex", EVERYTHING))[1], "other", "100"
    if principal == "key limited to another extension":
        return (await keys.create("acme", EVERYTHING, extensions=("102",)))[1], "main", "102"
    return (await sessions.issue("acme", "Борис", "101", 600, ""))[1], "main", "101"


@pytest.mark.parametrize(
    "principal",
    ["other tenant", "key limited to another extension", "operator session of another extension"],
)
async def test_an_accepted_principal_never_sees_the_owners_call(
    base: str, services: Services, settings: GatewaySettings, principal: str
) -> None:
    token, pbx, ext = await _token(services, principal)
    async with websockets.connect(_ws(base, "/v1/feeds/events", token), open_timeout=10) as ws:
        await _owner_events(services, settings)
        marker = f"marker-{ext}"
        await publish_events(
            services.redis,
            settings,
            [_event(CallRinging, marker, pbx, "79035550000", extension=ext)],
        )
        got = await _until_marker(ws, marker)
    assert not any(OWNER_CALL in m or OWNER_NUMBER in m for m in got), got


async def test_a_key_limited_to_an_extension_gets_the_crm_card_of_its_calls_only(
    base: str, services: Services, settings: GatewaySettings
) -> None:
    _, token = await services.keys.create("acme", ("events:read",), extensions=("102",))
    async with websockets.connect(_ws(base, "/v1/feeds/events", token), open_timeout=10) as ws:
        await publish_events(
            services.redis,
            settings,
            [_event(CallRinging, "mine", "main", "79035550000", extension="102")],
        )
        for call in (OWNER_CALL, "mine"):
            card = CardData(
                event_id=f"{call}/card",
                call_id=call,
                pbx="main",
                at=T0,
                phone="+79035550000",
                tenant="acme",
            )
            await services.redis.xadd(settings.feeds.crm_stream, {b"data": encode_crm_event(card)})
        got = [json.loads(m) for m in await _until_marker(ws, '"crm.card"')]
    assert [(m["type"], m["event"]["call_id"]) for m in got] == [
        ("call.ringing", "mine"),
        ("crm.card", "mine"),
    ]


@pytest.mark.parametrize(
    ("principal", "path", "code"),
    [
        ("none", "/v1/feeds/events", 4401),
        ("garbage", "/v1/feeds/events", 4401),
        ("revoked", "/v1/feeds/events", 4401),
        ("key without scope", "/v1/feeds/events", 4403),
        ("session of a revoked issuer", "/v1/feeds/events", 4401),
        ("none", "/v1/feeds/ami/main", 4401),
        ("other tenant", "/v1/feeds/ami/main", 4404),
        ("key without scope", "/v1/feeds/ami/main", 4403),
        ("key limited to another extension", "/v1/feeds/ami/main", 4403),
        ("operator session of another extension", "/v1/feeds/ami/main", 4403),
        ("session of a revoked issuer", "/v1/feeds/ami/main", 4401),
    ],
)
async def test_a_refused_principal_is_closed_at_the_handshake(
    base: str, services: Services, principal: str, path: str, code: int
) -> None:
    keys = services.keys
    token: str | None = None
    if principal == "garbage":
        token = "cbs_" + "x" * 43
    elif principal == "revoked":
        key, token = await keys.create("acme", EVERYTHING)
        await keys.revoke(key.id)
    elif principal == "key without scope":
        lacking = ("calls:read",) if path.endswith("events") else ("events:read", "calls:read")
        token = (await keys.create("acme", lacking))[1]  # type: ignore[arg-type]
    elif principal == "session of a revoked issuer":
        issuer, _ = await keys.create("acme", ("admin",))
        token = (await services.sessions.issue("acme", "Анна", "100", 600, issuer.id))[1]
        await keys.revoke(issuer.id)
    elif principal != "none":
        token = (await _token(services, principal))[0]
    assert await _refused(_ws(base, path, token))
    async with httpx.AsyncClient(base_url=base) as http:  # the SSE twin says why
        params = {"token": token} if token else {}
        answer = await http.get(path, params=params)
    assert answer.status_code == code - 4000, answer.text
    assert OWNER_NUMBER not in answer.text


async def test_an_unrestricted_admin_key_follows_raw_ami(base: str, services: Services) -> None:
    _, token = await services.keys.create("acme", ("admin",))
    async with websockets.connect(_ws(base, "/v1/feeds/ami/main", token), open_timeout=10) as ws:
        stream = PbxKeys("main", services.settings.key_prefix).ami
        await services.redis.xadd(stream, {b"ev": b"Newchannel", b"raw": b"Event: Newchannel"})
        got = await _until_marker(ws, "Newchannel")
    assert json.loads(got[-1])["ev"] == "Newchannel"


async def test_one_principal_holds_at_most_its_cap_of_feeds(
    base: str, services: Services, settings: GatewaySettings
) -> None:
    _, token = await services.sessions.issue("acme", "Анна", "100", 600, "")
    url = _ws(base, "/v1/feeds/events", token)
    cap = settings.feeds.max_per_principal
    open_ = [await websockets.connect(url, open_timeout=10) for _ in range(cap)]
    try:
        assert await _refused(url)
        async with httpx.AsyncClient(base_url=base) as http:
            over = await http.get("/v1/feeds/events", params={"token": token})
        assert over.status_code == 429, over.text
        other = (await services.sessions.issue("acme", "Борис", "101", 600, ""))[1]
        async with websockets.connect(_ws(base, "/v1/feeds/events", other), open_timeout=10):
            pass  # another principal is not affected
    finally:
        for ws in open_:
            await ws.close()
    # closed feeds give their slots back (the server notices each close)
    who = "s" + hash_token(token)[:15]
    async with asyncio.timeout(10):
        while services.feed_slots.count(who):  # noqa: ASYNC110 - polled under a deadline
            await asyncio.sleep(0.01)
    async with websockets.connect(url, open_timeout=10) as ws:
        pong = await ws.ping()
        await asyncio.wait_for(pong, 10)  # accepted: a slot was free again
