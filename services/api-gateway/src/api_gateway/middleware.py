"""Request ids, access logs and request metrics, as one pure ASGI middleware (it never
buffers bodies, so streaming and WebSocket traffic pass straight through).

A sane incoming ``X-Request-ID`` is kept, otherwise a new one is made; it is echoed in the
response, put on ``request.state.request_id`` (problem bodies carry it) and in the log line.
The log line has the path only: query strings may carry session tokens and signatures.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from .metrics import GatewayMetrics

__all__ = ["BodyLimit", "RequestContext", "SecurityHeaders"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("api_gateway.access")
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _SANE.match(text):
                return text
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: App, metrics: Callable[[], GatewayMetrics | None]) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.accept"):
                status = message.get("status", 101)
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, rid, status, time.perf_counter() - started)

    def _record(self, scope: Scope, rid: str, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope.get("method", "WS")
        metrics = self._metrics()
        if metrics is not None:
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.latency.labels(route).observe(elapsed)
        log.info(
            "request",
            extra={
                "request_id": rid,
                "method": method,
                "path": scope.get("path", ""),
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "key_id": scope.get("state", {}).get("key_id"),
            },
        )


class BodyLimit:
    """Request bodies over ``limit`` bytes get 413 before any auth or handler runs: at once
    when ``Content-Length`` says so, else as soon as a chunked body passes the limit (the
    handler's read fails and the connection is closed). Nothing is buffered here."""

    def __init__(self, app: App, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _too_large(send, self.limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except _BodyTooLarge:
            if not started:
                await _too_large(send, self.limit)


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes HTTP exceptions through its body parsing, and
    the app's error handler answers it as a 413 problem."""

    def __init__(self) -> None:
        super().__init__(413, "Request body too large")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1").strip()
            return text
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = (
        b'{"type":"urn:callbridge:error:body-too-large","title":"Request body too large",'
        b'"status":413,"error_id":"body-too-large","detail":"at most %d bytes"}' % limit
    )
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/problem+json"), (b"connection", b"close"),
        (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` and ``Referrer-Policy`` on every answer; on the
    pages (``/ui``, ``/crm``, ``/docs``) a Content-Security-Policy: scripts, styles and
    connections from this origin only, and ``frame-ancestors`` limited to this origin and the
    configured CRM origins (the pages embed in the CRM, nowhere else)."""

    def __init__(self, app: App, *, embed_origins: list[str], media_origins: list[str]) -> None:
        self.app = app
        ancestors = " ".join(["'self'", *embed_origins])
        media = " ".join(["'self'", *media_origins])
        base = (f"default-src 'self'; object-src 'none'; base-uri 'none'; "
                f"form-action 'self'; frame-ancestors {ancestors}; media-src {media}; "
                "img-src 'self' data:")  # fmt: skip
        self._pages = (base + "; script-src 'self'; style-src 'self'").encode()
        self._bitrix24 = (base + "; script-src 'self' https://api.bitrix24.com; "
                          "style-src 'self'").encode()  # fmt: skip
        docs = base.replace(f"frame-ancestors {ancestors}", "frame-ancestors 'none'")
        self._docs = (docs + "; script-src 'self'; style-src 'self' 'unsafe-inline'").encode()

    def _policy(self, path: str) -> bytes | None:
        if path.startswith("/ui/crm/bitrix24"):
            return self._bitrix24
        if path == "/ui" or path.startswith(("/ui/", "/crm/")):
            return self._pages
        if path == "/docs" or path.startswith("/docs/"):
            return self._docs
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self._policy(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if policy is not None:
                    headers.append((b"content-security-policy", policy))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
