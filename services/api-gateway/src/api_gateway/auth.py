"""Who is calling: an API key (``Authorization: Bearer cbk_…`` or ``X-API-Key``) or an
operator session (``cbs_…``; browsers' WebSocket/EventSource pass it as ``?token=``).

401 for no, unknown, malformed or revoked credentials (one answer for all: nothing to learn
by probing); 403 for a valid key without the scope; 429 when over the key's rate limit.
Resources of another tenant are answered 404 by the routers, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.requests import HTTPConnection

from .errors import ApiError, forbidden, unauthenticated
from .services.keystore import ApiKey, Scope
from .services.sessions import OperatorSession
from .state import Services

__all__ = ["authenticate_key", "bearer", "credential", "require", "session_or_key"]

bearer = HTTPBearer(auto_error=False, description="an API key `cbk_…`")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")


def credential(conn: HTTPConnection, *, query: bool = False) -> str | None:
    auth = conn.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if key := conn.headers.get("x-api-key"):
        return key.strip()
    return conn.query_params.get("token") if query else None


def services_of(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


async def authenticate_key(conn: HTTPConnection, token: str | None) -> ApiKey:
    if not token:
        raise unauthenticated()
    key = await services_of(conn).keys.verify(token)
    if key is None:
        raise unauthenticated("the API key is unknown or revoked")
    conn.state.key_id = key.id
    return key


async def check_scope_and_rate(conn: HTTPConnection, key: ApiKey, scope: Scope) -> ApiKey:
    if scope not in key.scopes and "admin" not in key.scopes:
        raise forbidden("insufficient-scope", f"this key lacks the scope {scope}")
    services = services_of(conn)
    limit = key.rate_limit or services.settings.default_rate_limit
    retry = await services.limiter.hit(key.id, limit)
    if retry is not None:
        raise ApiError(
            429,
            "rate-limited",
            "Too many requests",
            f"limit {limit} requests per minute",
            headers={"Retry-After": str(int(retry))},
        )
    return key


def require(scope: Scope) -> Callable[[HTTPConnection], Awaitable[ApiKey]]:
    """A dependency: the caller's key, which must hold ``scope`` (``admin`` holds all)."""

    async def dependency(conn: HTTPConnection) -> ApiKey:
        key = await authenticate_key(conn, credential(conn))
        return await check_scope_and_rate(conn, key, scope)

    return dependency


async def session_or_key(conn: HTTPConnection, scope: Scope) -> OperatorSession | ApiKey:
    """For feeds: an operator session token, else an API key with ``scope``."""
    token = credential(conn, query=True)
    if token and token.startswith("cbs_"):
        session = await services_of(conn).sessions.get(token)
        if session is None:
            raise unauthenticated("the session is unknown or expired")
        return session
    key = await authenticate_key(conn, token)
    return await check_scope_and_rate(conn, key, scope)
