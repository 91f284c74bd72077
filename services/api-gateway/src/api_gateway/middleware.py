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

from .metrics import GatewayMetrics

__all__ = ["RequestContext"]

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
