"""Presence in the embedded suite (``callbridge run``): the real presence service subscribes
to the simulator's SIP presence server; a simulated call moves the operator's line on
``cb:{pbx}:presence`` (ringing with the caller → in_call → idle) and ``GET /v1/presence``
shows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import httpx
import pytest

from api_gateway.services.sessions import SessionStore
from callbridge_cli.stack import PBX, Stack, StackConfig, embedded_stack
from cbcontracts.presence import decode_presence
from cbstreams import PbxKeys


@pytest.fixture
async def stack(redis_url: str, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    config = StackConfig(
        redis_url=redis_url, prefix=redis_prefix, recordings=tmp_path / "rec", rate=0, speed=4.0
    )
    async with embedded_stack(config) as running:
        yield running


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_a_simulated_call_moves_the_line_on_the_stream_and_the_api(stack: Stack) -> None:
    redis = stack.services.redis
    keys = PbxKeys(PBX, stack.config.prefix)
    raw = cast(dict[bytes, bytes], await redis.hgetall(keys.presence_view))
    view = {k.decode(): decode_presence(v) for k, v in raw.items()}
    assert {e: p.state for e, p in view.items()} == {"100": "idle", "101": "idle", "102": "idle"}
    start = (await redis.xinfo_stream(keys.presence))["last-generated-id"]

    call = stack.sim.start_call(
        "inbound_answered", phone="79161234567", ext1="101", pause_before="HangupRequest"
    )
    await call.paused.wait()

    async def seen() -> list[tuple[str, str, str]]:
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await redis.xrange(keys.presence, min=f"({start.decode()}"),
        )
        got = [decode_presence(f[b"data"]) for _, f in entries]
        return [(p.extension, p.state, p.remote) for p in got]

    async def talking() -> bool:
        return ("101", "in_call", "79161234567") in await seen()

    await until(talking)
    _, token = await SessionStore(redis, stack.config.prefix).issue(
        stack.config.tenant, "Анна", "100", 600, "test"
    )
    async with httpx.AsyncClient(base_url=stack.url) as http:
        resp = await http.get("/v1/presence", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    states = {s["extension"]: s["state"] for s in resp.json()["states"]}
    assert states == {"100": "idle", "101": "in_call", "102": "idle"}

    call.resume()
    await call.wait()

    async def idle_again() -> bool:
        return (await seen())[-1][:2] == ("101", "idle")

    await until(idle_again)
    line = [(e, s) for e, s, _ in await seen()]
    assert line == [("101", "ringing"), ("101", "in_call"), ("101", "idle")]
    assert (await seen())[0][2] == "79161234567"  # ringing names the caller
