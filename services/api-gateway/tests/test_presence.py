"""Colleagues' line states through the gateway: ``GET /v1/presence`` and the presence feed
(a real uvicorn and WebSocket client), each principal seeing only what authz allows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from api_gateway.state import Services
from api_gateway.testing import serving
from cbcontracts.presence import PresenceState, encode_presence
from cbstreams import PbxKeys

from .conftest import MakeKey, bearer

T0 = 1_800_000_000_000


def state(ext: str, st: str, pbx: str = "main", **kw: Any) -> PresenceState:
    return PresenceState(pbx=pbx, extension=ext, state=st, since=T0, at=T0, **kw)  # type: ignore[arg-type]


async def publish(services: Services, *states: PresenceState) -> None:
    """What the presence service does: the change on the stream and in the view."""
    for p in states:
        keys = PbxKeys(p.pbx, services.settings.key_prefix)
        data = encode_presence(p)
        await services.redis.xadd(keys.presence, {b"data": data})
        await services.redis.hset(keys.presence_view, p.extension, data)


RINGING_100 = state("100", "ringing", remote="79161234567", remote_name="Client", call_id="c1",
                    direction="inbound")  # fmt: skip


async def test_the_view_per_principal(
    client: httpx.AsyncClient, services: Services, make_key: MakeKey
) -> None:
    await publish(services, RINGING_100, state("101", "idle"), state("900", "dnd", pbx="other"))

    full = await client.get("/v1/presence", headers=bearer(await make_key("events:read")))
    assert full.status_code == 200
    by_ext = {s["extension"]: s for s in full.json()["states"]}
    assert set(by_ext) == {"100", "101"}  # not the other tenant's PBX
    assert by_ext["100"]["remote"] == "79161234567"

    _, token = await services.sessions.issue("acme", "Boris", "101", 600, "")
    operator = (await client.get("/v1/presence", headers=bearer(token))).json()["states"]
    colleague = next(s for s in operator if s["extension"] == "100")
    assert colleague["state"] == "ringing"
    assert "remote" not in colleague  # a colleague's caller is not the operator's business
    assert "call_id" not in colleague

    limited = await make_key("events:read", extensions=("101",))
    only = (await client.get("/v1/presence", headers=bearer(limited))).json()["states"]
    assert [s["extension"] for s in only] == ["101"]

    other = await make_key("events:read", tenant="globex")
    theirs = (await client.get("/v1/presence", headers=bearer(other))).json()["states"]
    assert [s["extension"] for s in theirs] == ["900"]

    assert (await client.get("/v1/presence")).status_code == 401
    no_scope = await make_key("calls:read")
    assert (await client.get("/v1/presence", headers=bearer(no_scope))).status_code == 403


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


async def _next(ws: websockets.ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(10):
        return dict(json.loads(await ws.recv()))


async def test_the_feed_opens_with_a_snapshot_follows_changes_and_resumes(
    base: str, services: Services
) -> None:
    await publish(services, state("100", "idle"))
    _, token = await services.sessions.issue("acme", "Boris", "101", 600, "")
    url = base.replace("http://", "ws://") + f"/v1/feeds/presence?token={token}"
    async with websockets.connect(url, open_timeout=10) as ws:
        snap = await _next(ws)
        assert snap["type"] == "presence.snapshot"
        assert [(s["extension"], s["state"]) for s in snap["states"]] == [("100", "idle")]
        await publish(services, RINGING_100, state("900", "in_call", pbx="other"))
        change = await _next(ws)
        assert change["type"] == "presence.state"
        assert (change["state"]["extension"], change["state"]["state"]) == ("100", "ringing")
        assert "remote" not in change["state"]
        cursor = change["id"]
    await publish(services, state("101", "in_call", remote="79035550000", call_id="c2"))
    async with websockets.connect(f"{url}&since={cursor}", open_timeout=10) as ws:
        snap = await _next(ws)
        assert snap["type"] == "presence.snapshot"
        resumed = await _next(ws)  # what happened while away, not the other tenant's
        assert (resumed["state"]["extension"], resumed["state"]["state"]) == ("101", "in_call")
        assert resumed["state"]["remote"] == "79035550000"  # its own call: parties shown
