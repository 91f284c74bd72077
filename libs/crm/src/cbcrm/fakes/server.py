"""What every fake CRM shares: a plain ASGI app served by uvicorn on 127.0.0.1 in this
process, a record of every request received (with its arrival time), and injected faults.

    async with FakeAmoCrm() as fake:          # listening; fake.url
        fake.faults.fail(3, status=500)        # the next 3 requests get 500
        await fake.stop(); await fake.start()  # a real outage: connection refused, same port

No background task of ours: uvicorn's ``startup`` only opens the listening socket, and its
per-connection tasks belong to asyncio's server, which ``shutdown`` closes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn

from cbruntime import listen_socket

from .faults import Faults

__all__ = ["FakeServer", "Recorded", "Reply", "Request"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    query_string: str = ""  # raw (Megaplan puts one JSON object there)

    def arg(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.query if k == name), default)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, data: Any, content_type: str = "application/json") -> Reply:
        return cls(status, json.dumps(data, ensure_ascii=False).encode(), content_type)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the fake saw it: ``at`` is ``time.monotonic()`` on arrival."""

    at: float
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(eq=False)
class FakeServer:
    """Subclasses implement :meth:`handle` and the CRM's own fault bodies."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _sock: socket.socket | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def fault_reply(self, status: int) -> Reply:
        """The body the CRM sends with an injected ``status`` (500, 503, 429...)."""
        return Reply(status, b"")

    def limit_reply(self, now: float, request: Request) -> Reply | None:
        """The CRM's own rate limiting: a reply to refuse ``request`` with, or None."""
        return None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        config = uvicorn.Config(
            self._asgi, interface="asgi3", lifespan="off", log_config=None, access_log=False
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        sock = listen_socket(self.host, self.port)
        try:
            self.port = sock.getsockname()[1]
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        self._server, self._sock = server, sock

    async def stop(self) -> None:
        """Close the socket and every connection: clients see connection refused/reset."""
        server, sock, self._server, self._sock = self._server, self._sock, None, None
        if server is not None and sock is not None:
            server.should_exit = server.force_exit = True
            await server.shutdown(sockets=[sock])
            sock.close()

    def record_count(self, path: str, status: int | None = None) -> int:
        return sum(1 for r in self.requests if r.path == path and status in (None, r.status))

    async def _dispatch(self, request: Request) -> Reply:
        now = time.monotonic()
        injected = self.faults.next_status()
        if injected is not None:
            return self.fault_reply(injected)
        return self.limit_reply(now, request) or await self.handle(request)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = time.monotonic()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=urllib.parse.parse_qsl(scope["query_string"].decode(), keep_blank_values=True),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
            query_string=scope["query_string"].decode(),
        )
        delay = self.faults.next_delay(request.path)
        reply = await self._dispatch(request)
        if delay:
            await asyncio.sleep(delay)  # applied already; the reply comes late
        self.requests.append(
            Recorded(arrived, request.method, request.path, request.query, body, reply.status)
        )
        headers = [(b"content-type", reply.content_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
