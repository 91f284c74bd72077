"""Input bounds (issue 12 rows 9 and 11).

* Request bodies over ``max_body_bytes`` are refused (413) before auth and before the body is
  read: four unauthenticated 150 MB POSTs, declared or chunked, on a real uvicorn leave the
  process's resident memory within 64 MB of where it was (before the fix it grew by ~1 GB).
* ``/v1/route`` answers within its deadline even when Redis stalls: the key check and the
  rate limit are inside the deadline, so a stalled Redis gives the fallback, not a hung call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from api_gateway.main import create_app
from api_gateway.settings import GatewaySettings, RouteSettings
from api_gateway.state import Services, open_services
from api_gateway.testing import serving

from .conftest import bearer

MB = 1024 * 1024
OFFERED = 150 * MB
RSS_BOUND = 64 * MB


def _rss() -> int:
    with open("/proc/self/status") as status:
        line = next(s for s in status if s.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


async def _offer(base: str, path: str, *, chunked: bool) -> int:
    """POST up to ``OFFERED`` bytes until the server answers; its status."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {OFFERED}"
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"{length}\r\n\r\n".encode()
    )
    status = asyncio.ensure_future(reader.readline())
    chunk = b"x" * (256 * 1024)
    sent = 0
    try:
        while sent < OFFERED and not status.done():
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
            sent += len(chunk)
    except ConnectionError:
        pass  # the server answered and closed
    line = await asyncio.wait_for(status, 10)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return int(line.split()[1])


async def test_oversized_bodies_are_refused_before_auth_and_memory_stays_bounded(
    settings: GatewaySettings, services: Services
) -> None:
    async with serving(create_app(settings, services)) as base:
        before = _rss()
        statuses = [
            await _offer(base, "/v1/keys", chunked=False),
            await _offer(base, "/v1/webhooks/bitrix24/acme", chunked=False),
            await _offer(base, "/v1/keys", chunked=True),
            await _offer(base, "/v1/webhooks/bitrix24/acme", chunked=True),
        ]
        grown = _rss() - before
        async with httpx.AsyncClient(base_url=base) as http:  # still serving, small bodies fine
            small = await http.post("/v1/keys", json={"scopes": ["calls:read"]})
    assert statuses == [413, 413, 413, 413]
    assert grown < RSS_BOUND, f"grew by {grown // MB} MB"
    assert small.status_code == 401


class StallingProxy:
    """A TCP proxy in front of the test's Redis that can stop forwarding (a stalled Redis:
    connected, silent)."""

    def __init__(self, redis_url: str) -> None:
        self._target = urlsplit(redis_url)
        self.stalled = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._target.scheme == "unix":
            return await asyncio.open_unix_connection(self._target.path)
        return await asyncio.open_connection(self._target.hostname, self._target.port or 6379)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                if self.stalled.is_set():
                    continue  # swallowed: the caller waits for an answer that never comes
                dst.write(data)
                await dst.drain()
        dst.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._connect()
        self._writers += [writer, up_writer]
        for task in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            self._tasks.add(asyncio.ensure_future(task))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for writer in self._writers:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            await server.wait_closed()


async def test_route_answers_the_fallback_within_its_deadline_when_redis_stalls(
    settings: GatewaySettings, redis_url: str, redis_client: object
) -> None:
    proxy = StallingProxy(redis_url)
    async with proxy.running() as url:
        stalling = replace(
            settings, redis_url=url, route=RouteSettings(fallback="600", deadline_ms=150)
        )
        async with open_services(stalling) as services:
            _, token = await services.keys.create("acme", ("calls:read",))
            transport = httpx.ASGITransport(app=create_app(stalling, services))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                proxy.stalled.set()
                async with asyncio.timeout(5):  # a hang fails here, not after 10 s or never
                    answer = await client.get(
                        "/v1/route",
                        params={"number": "79161234567"},
                        headers={**bearer(token), "Accept": "application/json"},
                    )
            assert answer.status_code == 200, answer.text
            assert json.loads(answer.text) == {
                "extension": "600",
                "source": "fallback",
                "reason": "deadline",
            }
            proxy.stalled.clear()
