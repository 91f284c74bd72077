"""Routing for the dialplan: who should take this caller? ``text/plain`` (the extension, or
the fallback) unless ``Accept: application/json``.

Auth: the PBX's source address in ``route.allow`` (CIDR -> tenant; the peer address, never
``X-Forwarded-For`` unless the proxy is in ``trusted_proxies``), or a key with ``calls:read``.
Within ``route.deadline_ms`` — the key check and rate limit included — the answer comes from
the cache, else the fallback; if Redis is down or stalls the answer is the fallback too (for
an allow-listed PBX and for a key that cannot be checked in time), so a call is never stuck
in the dialplan waiting for us.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from .. import authz
from ..authz import services_of
from ..errors import ApiError, unauthenticated
from ..services.routing import RouteAnswer
from ..state import Services

router = APIRouter(tags=["routing"])


Networks = tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]


@functools.cache
def _networks(allow: tuple[tuple[str, str], ...]) -> Networks:
    """``route.allow`` parsed once (not on every lookup of the dialplan's hot path)."""
    return tuple((ipaddress.ip_network(cidr, strict=False), tenant) for cidr, tenant in allow)


def _allowed_tenant(services: Services, host: str | None) -> str | None:
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    allow = _networks(tuple(services.settings.route.allow.items()))
    return next((tenant for network, tenant in allow if address in network), None)


async def _tenant(request: Request, services: Services) -> str | None:
    """The caller's tenant; None when the key store is unreachable (answer the fallback)."""
    tenant = _allowed_tenant(services, request.client.host if request.client else None)
    if tenant is not None:
        return tenant
    if not authz.credential(request):
        raise unauthenticated("an allow-listed source address or a key with calls:read")
    try:
        who = await authz.require("calls:read", keys_only=True)(request)
    except ApiError:
        raise
    except Exception:  # the key store is unreachable: the dialplan gets the fallback
        return None
    authz.may_route(who)
    return who.tenant


@router.get(
    "/v1/route",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}, "application/json": {}}}},
)
async def route_call(
    request: Request,
    number: str = Query(max_length=32, description="the caller's number (CALLERID(num))"),
    did: str = Query("", max_length=32, description="the number dialled (the DID)"),
) -> Response:
    """The responsible manager's extension for ``number`` (or the configured fallback)."""
    services = services_of(request)
    try:
        async with asyncio.timeout(services.settings.route.deadline_ms / 1000):
            tenant = await _tenant(request, services)
            if tenant is None:
                answer = RouteAnswer(services.routes.fallback, "fallback", "auth-store-down")
            else:
                answer = await services.routes.answer(tenant, number, did)
    except TimeoutError:
        answer = RouteAnswer(services.routes.fallback, "fallback", "deadline")
    if answer.source == "fallback":
        services.metrics.route_fallbacks.labels(answer.reason).inc()
    if "application/json" in request.headers.get("accept", ""):
        body = {"extension": answer.extension, "source": answer.source, "reason": answer.reason}
        return JSONResponse(body)
    return PlainTextResponse(answer.extension)
