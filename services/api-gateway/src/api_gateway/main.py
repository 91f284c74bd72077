"""Wiring: ``create_app(settings, services)`` builds the FastAPI app; ``serve`` runs it with
uvicorn until the stop event. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from cbruntime import listen_socket

from .errors import install_error_handler
from .metrics import GatewayMetrics
from .middleware import BodyLimit, RequestContext, SecurityHeaders
from .routers.calls import router as calls_router
from .routers.crm import pages as crm_pages
from .routers.crm import router as crm_router
from .routers.feeds import router as feeds_router
from .routers.health import router as health_router
from .routers.keys import router as keys_router
from .routers.operators import router as operators_router
from .routers.originate import router as originate_router
from .routers.presence import router as presence_router
from .routers.recordings import router as recordings_router
from .routers.route import router as route_router
from .routers.team import router as team_router
from .routers.webhooks import router as webhooks_router
from .server import make_server
from .settings import GatewaySettings
from .state import Services, open_services

__all__ = ["WEB", "create_app", "serve"]

#: The operator's page and the CRM widgets' shared modules (plain ES modules, no build).
WEB = Path(__file__).parent / "web"

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings, services: Services | None = None) -> FastAPI:
    """The app. With ``services`` the caller owns them; without, the app's lifespan opens
    them (one Redis client, one httpx client) and closes them on shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        async with open_services(settings) as own:
            app.state.services = own
            yield

    app = FastAPI(
        title="callbridge api-gateway",
        version="1.0.0",
        description="REST, feeds, routing and webhooks of callbridge. Errors are "
        "application/problem+json with a stable `error_id`.",
        lifespan=lifespan,
        docs_url=None,  # served below from the swagger-ui-bundle-v2 package, never from a CDN
        redoc_url=None,
    )
    if services is not None:
        app.state.services = services
    install_error_handler(app)
    for router in (
        route_router,  # first: the dialplan's hot path (routes are matched in order)
        keys_router,
        operators_router,
        originate_router,
        calls_router,
        recordings_router,
        crm_router,
        crm_pages,
        feeds_router,
        presence_router,
        team_router,
        webhooks_router,
        health_router,
    ):
        app.include_router(router)

    def metrics() -> GatewayMetrics | None:
        found: Services | None = getattr(app.state, "services", None)
        return found.metrics if found else None

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.post("/ui/crm/bitrix24.html", include_in_schema=False)
    async def bitrix24_page() -> FileResponse:
        """Bitrix24 opens an application's page with a POST (its auth in the form)."""
        return FileResponse(WEB / "crm" / "bitrix24.html", media_type="text/html")

    _api_docs(app)
    # The page is public; every data call it makes is authorized by the operator session.
    app.mount("/ui", StaticFiles(directory=WEB, html=True), name="ui")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Auth-Token", "X-API-Key"],
        )
    public = urlsplit(settings.public_url)
    app.add_middleware(
        SecurityHeaders,
        embed_origins=[*settings.embed_origins, *settings.cors_origins],
        media_origins=[f"{public.scheme}://{public.netloc}"] if public.netloc else [],
    )
    app.add_middleware(RequestContext, metrics=metrics)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # outermost: before all
    return app


_DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callbridge api-gateway</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
_DOCS_INIT = (
    'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", '
    "validatorUrl: null, deepLinking: true});\n"
)


def _api_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle-v2`` package, on this origin, under a
    CSP that allows nothing from elsewhere (the operator's session lives in this origin's
    storage: no third-party script may run here)."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_DOCS_INIT, media_type="text/javascript")

    assets = StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)
    app.mount("/docs/assets", assets, name="docs-assets")


async def serve(
    settings: GatewaySettings, stop: asyncio.Event, started: asyncio.Event | None = None
) -> None:
    """Serve on ``settings.host:port`` (port 0 = any) until ``stop`` is set."""
    server = make_server(create_app(settings), trusted_proxies=settings.trusted_proxies)
    sock = listen_socket(settings.host, settings.port)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.01)
        # What exists now (modules, app, routes, clients) lives as long as the process: keep
        # it out of the collector's full passes, which otherwise stall every request (a
        # gen-2 pass over ~90k objects took 64 ms: bench/gateway.py's route p99).
        gc.collect()
        gc.freeze()
        port = sock.getsockname()[1]
        log.info("api-gateway listening", extra={"url": f"http://{settings.host}:{port}"})
        if started is not None:
            started.set()
        await stop.wait()
        server.should_exit = True
