"""Recordings over a real uvicorn: HTTP Range (206, Content-Range), content types, no path
out of the root (.. or symlinks), signed links usable without a key until they expire."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from api_gateway.settings import GatewaySettings, RecordingSettings
from api_gateway.testing import publish_events, serving
from cbcontracts import CallEnded
from cbruntime import Secret

from .conftest import MakeKey, bearer

AUDIO = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def settings(settings: GatewaySettings, tmp_path: Path) -> GatewaySettings:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "a.mp3").write_bytes(AUDIO)
    (tmp_path / "secret.wav").write_bytes(b"outside the root")
    (root / "link.wav").symlink_to(tmp_path / "secret.wav")
    recordings = RecordingSettings(root=str(root), link_secret=Secret("s" * 32), link_ttl_s=600)
    return replace(settings, recordings=recordings)


async def _call(redis: aioredis.Redis, settings: GatewaySettings, call_id: str, file: str) -> None:
    common: dict[str, Any] = {"call_id": call_id, "pbx": "main", "seq": 1, "at": 2, "started_at": 1}
    ended = CallEnded(event_id=f"main/{call_id}", result="answered", recording_file=file, **common)
    await publish_events(redis, settings, [ended])


async def test_a_range_request_gets_206_with_the_right_bytes_and_headers(
    app: FastAPI, settings: GatewaySettings, make_key: MakeKey, redis_client: aioredis.Redis
) -> None:
    await _call(redis_client, settings, "c1", "a.mp3")
    auth = bearer(await make_key("recordings:read"))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
        whole = await client.get("/v1/calls/c1/recording", headers=auth)
        part = await client.get(
            "/v1/calls/c1/recording", headers={**auth, "Range": "bytes=100-199"}
        )
        tail = await client.get("/v1/calls/c1/recording", headers={**auth, "Range": "bytes=-10"})
        beyond = await client.get(
            "/v1/calls/c1/recording", headers={**auth, "Range": "bytes=99999-"}
        )
    assert whole.status_code == 200
    assert whole.content == AUDIO
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    assert part.status_code == 206
    assert part.content == AUDIO[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(AUDIO)}"
    assert tail.content == AUDIO[-10:]
    assert beyond.status_code == 416


@pytest.mark.parametrize("name", ["../secret.wav", "link.wav", "/etc/passwd"])
async def test_no_recording_path_escapes_the_root(
    client: httpx.AsyncClient,
    settings: GatewaySettings,
    make_key: MakeKey,
    redis_client: aioredis.Redis,
    name: str,
) -> None:
    await _call(redis_client, settings, "c2", name)
    answer = await client.get(
        "/v1/calls/c2/recording", headers=bearer(await make_key("recordings:read"))
    )
    assert answer.status_code == 404
    assert b"outside" not in answer.content


async def test_a_signed_link_works_without_a_key_and_a_forged_one_does_not(
    client: httpx.AsyncClient,
    settings: GatewaySettings,
    make_key: MakeKey,
    redis_client: aioredis.Redis,
) -> None:
    await _call(redis_client, settings, "c3", "a.mp3")
    made = await client.post(
        "/v1/calls/c3/recording/link", headers=bearer(await make_key("recordings:read"))
    )
    assert made.status_code == 200
    url = httpx.URL(made.json()["url"])
    fetched = await client.get(url.raw_path.decode())
    assert fetched.status_code == 200
    assert fetched.content == AUDIO
    sig = url.params["sig"]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    forged = await client.get(url.raw_path.decode().replace(sig, flipped))
    expired = await client.get(f"/v1/recordings/acme/c3?expires=1&sig={sig}")
    assert forged.status_code == 401
    assert expired.status_code == 401
