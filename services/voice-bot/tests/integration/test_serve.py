"""``serve()`` as deployed: FastAGI, AudioSocket and the HTTP endpoint (probes, prompts) up
together; on stop, readiness turns false while calls drain, then all of it stops."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from voice_bot.main import serve
from voice_bot.settings import VoiceBotSettings

pytestmark = pytest.mark.timeout(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def get(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def test_serve_starts_everything_and_stops(redis_url: str, tmp_path: Path) -> None:
    http, agi, audio = free_port(), free_port(), free_port()
    s = VoiceBotSettings(
        redis_url=redis_url, port=agi, audiosocket_port=audio, metrics_port=http,
        sounds_dir=tmp_path / "sounds", crm="none",
    )  # fmt: skip
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(s, stop, ready=ready))
    async with asyncio.timeout(20):
        await ready.wait()
    assert await get(http, "/readyz") == 200
    assert await get(http, "/prompts/" + "0" * 64 + ".wav") == 404  # not cached
    assert await get(http, "/prompts/../../etc/passwd") == 404
    for port in (agi, audio):
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.close()
    stop.set()
    async with asyncio.timeout(20):
        await task
