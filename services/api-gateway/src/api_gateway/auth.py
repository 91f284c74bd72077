"""Who is calling: an API key (``Authorization: Bearer cbk_…`` or ``X-API-Key``) or an
operator session (``cbs_…``; browsers' WebSocket/EventSource pass it as ``?token=``).

401 for no, unknown, malformed or revoked credentials (one answer for all: nothing to learn
by probing); 403 for a valid key without the scope; 429 when over the key's rate limit.
Resources of another tenant are answered 404 by the routers, as if they did not exist.

An operator session (``Authorization: Bearer cbs_…``) acts on the REST endpoints as a key of
its tenant limited to its one extension, with the scopes an operator's page needs
(:data:`OPERATOR_SCOPES`): its calls, click-to-call from its phone, its recordings, its feed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.requests import HTTPConnection

from .errors import ApiError, forbidden, unauthenticated
from .services.keystore import ApiKey, Scope, hash_token
from .services.sessions import OperatorSession
from .state import Services

__all__ = [
    "OPERATOR_SCOPES",
    "authenticate_key",
    "bearer",
    "credential",
    "operator",
    "require",
    "session_or_key",
]

#: What an operator session may do on the REST endpoints (always for its extension only).
OPERATOR_SCOPES: tuple[Scope, ...] = (
    "calls:read",
    "calls:originate",
    "recordings:read",
    "events:read",
)

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


async def operator(conn: HTTPConnection, token: str | None) -> OperatorSession:
    """The operator session of ``token`` (401 if unknown or expired)."""
    session = await services_of(conn).sessions.get(token) if token else None
    if session is None:
        raise unauthenticated("the session is unknown or expired")
    return session


def operator_key(session: OperatorSession, token: str) -> ApiKey:
    """The session as a key: its tenant, its one extension, the operator scopes."""
    return ApiKey(
        id="s" + hash_token(token)[:15],
        tenant=session.tenant,
        name=f"operator {session.user}",
        scopes=OPERATOR_SCOPES,
        extensions=(session.extension,),
    )


def require(scope: Scope) -> Callable[[HTTPConnection], Awaitable[ApiKey]]:
    """A dependency: the caller's key, which must hold ``scope`` (``admin`` holds all); an
    operator session counts as a key limited to its extension (:func:`operator_key`)."""

    async def dependency(conn: HTTPConnection) -> ApiKey:
        token = credential(conn)
        if token and token.startswith("cbs_"):
            key = operator_key(await operator(conn, token), token)
            conn.state.key_id = key.id
        else:
            key = await authenticate_key(conn, token)
        return await check_scope_and_rate(conn, key, scope)

    return dependency


async def session_or_key(conn: HTTPConnection, scope: Scope) -> OperatorSession | ApiKey:
    """For feeds: an operator session token, else an API key with ``scope``."""
    token = credential(conn, query=True)
    if token and token.startswith("cbs_"):
        return await operator(conn, token)
    key = await authenticate_key(conn, token)
    return await check_scope_and_rate(conn, key, scope)
