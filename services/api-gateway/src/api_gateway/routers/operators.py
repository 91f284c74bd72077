"""Operators' sign-in: an admin issues a one-time link (``POST /v1/sessions/links``); the
operator's page exchanges its code for a session (``POST /v1/sessions/exchange``, no other
credential: the code is one); ``GET /v1/me`` names the session's user and extension;
``DELETE /v1/me`` signs out. The page itself is served under ``/ui/``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from ..auth import credential, operator
from ..deps import Admin, ServicesDep
from ..errors import forbidden, unauthenticated
from ..schemas import Operator, SessionCreate, SessionOut, SignInExchange, SignInLink
from ..services.sessions import SignIn

router = APIRouter(tags=["operators"])


@router.post("/v1/sessions/links", status_code=status.HTTP_201_CREATED)
async def create_signin_link(
    body: SessionCreate, admin: Admin, services: ServicesDep
) -> SignInLink:
    """A one-time sign-in link for an operator (one user, one extension). Opening it signs
    the browser in with a session of ``ttl_s`` (default ``feeds.session_ttl_s``); the link
    works once and expires after ``feeds.signin_ttl_s``."""
    if not admin.allows_extension(body.extension):
        raise forbidden("extension-not-allowed", "this key may not issue sessions for it")
    settings = services.settings
    signin = SignIn(
        tenant=admin.tenant,
        user=body.user,
        extension=body.extension,
        session_ttl_s=body.ttl_s or settings.feeds.session_ttl_s,
        issued_by=admin.id,
    )
    code, expires_at = await services.sessions.issue_code(signin, settings.feeds.signin_ttl_s)
    return SignInLink(
        url=f"{settings.public_url.rstrip('/')}/ui/#code={code}",
        code=code,
        user=body.user,
        extension=body.extension,
        expires_at=expires_at,
    )


@router.post("/v1/sessions/exchange")
async def exchange_signin_code(body: SignInExchange, services: ServicesDep) -> SessionOut:
    """The operator session a one-time code names; the code never works again."""
    found = await services.sessions.redeem(body.code)
    if found is None:
        raise unauthenticated("the sign-in link is unknown, used or expired")
    session, token = found
    return SessionOut(
        token=token, user=session.user, extension=session.extension, expires_at=session.expires_at
    )


@router.get("/v1/me")
async def me(request: Request) -> Operator:
    """Who this operator session is (``Authorization: Bearer cbs_…``)."""
    session = await operator(request, credential(request))
    return Operator(
        user=session.user,
        extension=session.extension,
        tenant=session.tenant,
        expires_at=session.expires_at,
    )


@router.delete("/v1/me", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def sign_out(request: Request, services: ServicesDep) -> Response:
    """End this operator session."""
    token = credential(request)
    await operator(request, token)
    assert token is not None  # noqa: S101 - operator() checked it
    await services.sessions.end(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
