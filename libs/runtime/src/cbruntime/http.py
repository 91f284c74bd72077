"""The health/metrics HTTP endpoint: ``GET /healthz``, ``/readyz``, ``/metrics``.

A tiny ASGI app served by uvicorn, started and stopped inside the service's TaskGroup::

    server = HealthServer(registry, healthy=lambda: ok, host="127.0.0.1", port=0)
    tg.create_task(server.serve(stop))   # returns when ``stop`` is set
    await server.wait_started(); server.url
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from .metrics import CONTENT_TYPE_LATEST, render
from .net import listen_socket

__all__ = ["App", "HealthServer", "Receive", "Send", "health_app"]

Check = Callable[[], bool]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger(__name__)


def _always() -> bool:
    return True


App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


def health_app(
    registry: CollectorRegistry,
    healthy: Check = _always,
    ready: Check = _always,
    extra: App | None = None,
) -> App:
    """The ASGI app: 200/503 from ``healthy()``/``ready()``, metrics from ``registry``; any
    other path goes to ``extra`` when given (a service's own small endpoints)."""

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if extra is not None and path not in ("/metrics", "/healthz", "/readyz"):
            await extra(scope, receive, send)
            return
        if method not in ("GET", "HEAD"):
            status, ctype, body = 405, b"text/plain", b"method not allowed\n"
        elif path == "/metrics":
            status, ctype, body = 200, CONTENT_TYPE_LATEST.encode(), render(registry)
        elif path in ("/healthz", "/readyz"):
            ok = (healthy if path == "/healthz" else ready)()
            status, ctype = (200 if ok else 503), b"text/plain"
            body = b"ok\n" if ok else b"unavailable\n"
        else:
            status, ctype, body = 404, b"text/plain", b"not found\n"
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    return app


class HealthServer:
    """Serves :func:`health_app` on ``host:port`` (port 0 = any free port)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        healthy: Check = _always,
        ready: Check = _always,
        host: str = "127.0.0.1",
        port: int = 0,
        extra: App | None = None,
    ) -> None:
        self._app = health_app(registry, healthy, ready, extra)
        self._host, self._port = host, port
        self._started = asyncio.Event()
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def wait_started(self) -> None:
        await self._started.wait()

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set. Does not touch signal handlers (uvicorn's would)."""
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        sock = listen_socket(self._host, self._port)
        self.port = sock.getsockname()[1]
        try:
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        try:
            self._started.set()
            log.info("http endpoint listening", extra={"url": self.url})
            await stop.wait()
        finally:
            server.should_exit = server.force_exit = True
            await asyncio.shield(server.shutdown(sockets=[sock]))
