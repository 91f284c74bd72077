"""Liveness, readiness (Redis answers PING) and Prometheus metrics. No auth: they say
nothing about calls; keep them off the public listener if that matters."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from cbruntime import render
from cbruntime.metrics import CONTENT_TYPE_LATEST

from ..deps import ServicesDep
from ..errors import ApiError

router = APIRouter(tags=["health"])


@router.get("/healthz", response_class=Response)
async def healthz() -> Response:
    return Response("ok\n", media_type="text/plain")


@router.get("/readyz", response_class=Response)
async def readyz(services: ServicesDep) -> Response:
    try:
        async with asyncio.timeout(1.0):
            await services.redis.ping()
    except Exception as exc:
        services.link.down(exc)
        await services.redis.connection_pool.disconnect(inuse_connections=False)
        raise ApiError(503, "not-ready", "Not ready", "Redis does not answer") from None
    services.link.ok()
    return Response("ok\n", media_type="text/plain")


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    return Response(render(services.registry), media_type=CONTENT_TYPE_LATEST)
