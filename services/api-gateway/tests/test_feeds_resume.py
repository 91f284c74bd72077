"""Feeds that resume truthfully, over a real uvicorn and a real WebSocket client
(``websockets``): an operator's feed resumed after a gateway restart starts from a snapshot of
the cards open now (a card whose call ended meanwhile is not in it; a card still open is hidden
when its call ends); a gap marker after an XDEL resumes after the client's cursor; a cursor
beyond Redis's 64-bit ids is refused, not a dropped connection; Redis going away refuses
handshakes cleanly (REST answers 503) and closes open feeds with 1013 so that clients
resume; a gateway started before Redis is alive but not ready, and serves feeds once Redis
is up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api_gateway.main import create_app
from api_gateway.settings import GatewaySettings
from api_gateway.state import Services, open_services
from api_gateway.testing import publish_events, publish_live, serving, settings_for
from cbcontracts import CallEnded, CallEvent, CallRinging
from cbrecords import LiveCall, RecordKeys
from cbstreams.localredis import RedisProcess

from .conftest import bearer

T0 = 1_800_000_000_000_000
Message = dict[str, Any]


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


def _ringing(call: str) -> CallEvent:
    return _event(CallRinging, call, 1, extension="100")


def _ended(call: str) -> CallEvent:
    return _event(CallEnded, call, 2, result="missed", started_at=T0, rang=("100",))


async def _live(redis: aioredis.Redis, settings: GatewaySettings, *calls: str) -> None:
    """The call-tracker's live calls of PBX ``main`` (it commits them with the events)."""
    await redis.delete(RecordKeys(settings.key_prefix).live("main"))
    now_us = int(time.time() * 1e6)
    live = [
        LiveCall(
            call_id=call,
            pbx="main",
            direction="inbound",
            started_at=now_us,
            external="79161234567",
            extensions=("100",),
            ringing=("100",),
        )
        for call in calls
    ]
    await publish_live(redis, settings, live)


async def _session(base: str, services: Services) -> str:
    _, admin = await services.keys.create("acme", ("admin",))
    async with httpx.AsyncClient(base_url=base) as http:
        issued = await http.post(
            "/v1/sessions", json={"user": "u100", "extension": "100"}, headers=bearer(admin)
        )
    assert issued.status_code == 201, issued.text
    return cast(str, issued.json()["token"])


def _ws(base: str, query: str) -> str:
    return base.replace("http://", "ws://") + f"/v1/feeds/events?{query}"


async def _until(ws: websockets.ClientConnection, kind: str, call: str) -> list[Message]:
    got: list[Message] = []
    async with asyncio.timeout(15):
        while not got or (got[-1]["type"], got[-1].get("call_id")) != (kind, call):
            got.append(json.loads(await ws.recv()))
    return got


@contextlib.asynccontextmanager
async def _gateway(settings: GatewaySettings) -> AsyncIterator[tuple[str, Services]]:
    """One gateway process's life: its services and its uvicorn."""
    async with (
        open_services(settings) as services,
        serving(create_app(settings, services)) as base,
    ):
        yield base, services


async def test_a_card_shown_before_a_gateway_restart_closes_when_its_call_ends_meanwhile(
    settings: GatewaySettings, redis_client: aioredis.Redis
) -> None:
    async with _gateway(settings) as (base, services):
        token = await _session(base, services)
        async with websockets.connect(_ws(base, f"token={token}"), open_timeout=10) as ws:
            await publish_events(redis_client, settings, [_ringing("gone"), _ringing("stays")])
            await _live(redis_client, settings, "gone", "stays")
            before = await _until(ws, "card.show", "stays")
    assert [m["call_id"] for m in before if m["type"] == "card.show"] == ["gone", "stays"]
    cursor = before[-1]["id"]
    # while no gateway runs: "gone" ends (the tracker drops it from its live calls)
    await publish_events(redis_client, settings, [_ended("gone")])
    await _live(redis_client, settings, "stays")
    async with (
        _gateway(settings) as (base, _),
        websockets.connect(_ws(base, f"token={token}&since={cursor}"), open_timeout=10) as ws,
    ):
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 15))
        await publish_events(redis_client, settings, [_ended("stays")])
        await _live(redis_client, settings)
        after = await _until(ws, "call.ended", "stays")
    assert snapshot["type"] == "snapshot"
    assert [(c["call_id"], c["answered"]) for c in snapshot["cards"]] == [("stays", False)]
    assert snapshot["cards"][0]["external"] == "79161234567"
    # the card still open is hidden and ended; no card is shown twice
    assert [(m["type"], m.get("call_id")) for m in after] == [
        ("card.hide", "stays"),
        ("call.ended", "stays"),
    ]


async def test_after_an_xdel_the_gap_marker_resumes_after_the_clients_cursor(
    settings: GatewaySettings, services: Services, redis_client: aioredis.Redis
) -> None:
    _, key = await services.keys.create("acme", ("events:read",))
    ids = await publish_events(
        redis_client, settings, [_ringing("a"), _ringing("b"), _ringing("c")]
    )
    await redis_client.xdel(settings.feeds.calls_stream, ids[1])
    since = f"{ids[0]}_0-0"
    async with (
        serving(create_app(settings, services)) as base,
        websockets.connect(
            _ws(base, f"since={since}"), additional_headers=bearer(key), open_timeout=10
        ) as ws,
    ):
        gap = json.loads(await asyncio.wait_for(ws.recv(), 15))
        nxt = json.loads(await asyncio.wait_for(ws.recv(), 15))
    assert gap["type"] == "gap"
    assert (gap["after"], gap["resume_from"]) == (ids[0], ids[2])
    assert nxt["event"]["call_id"] == "c"


async def test_a_cursor_beyond_64_bit_ids_is_refused_and_the_gateway_keeps_serving(
    settings: GatewaySettings, services: Services
) -> None:
    _, key = await services.keys.create("acme", ("events:read",))
    huge = f"{2**64}-0_0-0"
    async with serving(create_app(settings, services)) as base:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(
                _ws(base, f"since={huge}"), additional_headers=bearer(key), open_timeout=10
            ):
                pass
        assert refused.value.response.status_code == 403  # uvicorn's answer to a close
        async with httpx.AsyncClient(base_url=base) as http:
            sse = await http.get(f"/v1/feeds/events?since={huge}", headers=bearer(key))
        assert sse.status_code == 422
        assert sse.json()["error_id"] == "invalid-cursor"
        ok = f"{2**64 - 1}-{2**64 - 1}_0-0"
        async with websockets.connect(
            _ws(base, f"since={ok}"), additional_headers=bearer(key), open_timeout=10
        ) as ws:
            await ws.ping()


async def test_while_redis_is_away_handshakes_are_refused_and_open_feeds_close_to_resume(
    tmp_path: Path, redis_prefix: str
) -> None:
    with RedisProcess(tmp_path / "redis") as server:
        settings = settings_for(server.url, redis_prefix)
        async with open_services(settings) as services:
            _, key = await services.keys.create("acme", ("events:read",))
            async with serving(create_app(settings, services)) as base:
                url = _ws(base, "")
                async with websockets.connect(
                    url, additional_headers=bearer(key), open_timeout=10
                ) as ws:
                    await asyncio.to_thread(server.stop)
                    with pytest.raises(ConnectionClosed) as closed:
                        await asyncio.wait_for(ws.recv(), 15)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1013
                with pytest.raises(InvalidStatus) as refused:
                    async with websockets.connect(
                        url, additional_headers=bearer(key), open_timeout=10
                    ):
                        pass
                assert refused.value.response.status_code == 403  # a refusal, not a 500
                async with httpx.AsyncClient(base_url=base) as http:
                    sse = await http.get("/v1/feeds/events", headers=bearer(key))
                    rest = await http.get("/v1/calls", headers=bearer(key))
                assert sse.status_code == 503
                assert sse.json()["error_id"] == "backend-unavailable"
                assert rest.status_code == 503  # REST too: a clear answer, not a 500
                assert rest.json()["error_id"] == "backend-unavailable"
                await asyncio.to_thread(server.start)
                # back: the same key (AOF kept it) opens a feed that delivers
                async with websockets.connect(
                    url, additional_headers=bearer(key), open_timeout=10
                ) as ws:
                    await publish_events(services.redis, settings, [_ringing("back")])
                    got = json.loads(await asyncio.wait_for(ws.recv(), 15))
                assert got["event"]["call_id"] == "back"


async def test_a_gateway_started_before_redis_refuses_feeds_until_redis_is_up(
    tmp_path: Path, redis_prefix: str
) -> None:
    server = RedisProcess(tmp_path / "redis")  # not started yet
    settings = settings_for(server.url, redis_prefix)
    try:
        async with (
            open_services(settings) as services,
            serving(create_app(settings, services)) as base,
            httpx.AsyncClient(base_url=base) as http,
        ):
            assert (await http.get("/healthz")).status_code == 200  # alive, not ready
            assert (await http.get("/readyz")).status_code == 503
            url = _ws(base, "token=cbs_whatever")
            with pytest.raises(InvalidStatus):
                async with websockets.connect(url, open_timeout=10):
                    pass
            refused = await http.get(
                "/v1/feeds/events", headers=bearer("cbk_" + "0" * 16 + "_" + "x" * 43)
            )
            assert refused.status_code == 503
            await asyncio.to_thread(server.start)
            assert (await http.get("/readyz")).status_code == 200
            _, key = await services.keys.create("acme", ("events:read",))
            async with websockets.connect(
                _ws(base, ""), additional_headers=bearer(key), open_timeout=10
            ) as ws:
                await publish_events(services.redis, settings, [_ringing("first")])
                got = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert got["event"]["call_id"] == "first"
    finally:
        server.kill()
