"""Operators' sign-in: an admin issues a one-time link (``POST /v1/sessions/links``); the
operator's page exchanges its code for a session (``POST /v1/sessions/exchange``, no other
credential: the code is one); ``GET /v1/me`` names the session's user and extension;
``DELETE /v1/me`` signs out. Admins list (``GET /v1/sessions``) and revoke
(``DELETE /v1/sessions/{id}``) sessions; revoking the admin key that issued sessions and
links revokes them too. The page itself is served under ``/ui/``."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response, status

from .. import authz
from ..deps import Admin, ServicesDep
from ..schemas import (
    Operator,
    SessionCreate,
    SessionOut,
    SessionView,
    SignInExchange,
    SignInLink,
)
from ..services.sessions import SignIn

router = APIRouter(tags=["operators"])


@router.post("/v1/sessions/links", status_code=status.HTTP_201_CREATED)
async def create_signin_link(
    body: SessionCreate, admin: Admin, services: ServicesDep
) -> SignInLink:
    """A one-time sign-in link for an operator (one user, one extension). Opening it signs
    the browser in with a session of ``ttl_s`` (default ``feeds.session_ttl_s``); the link
    works once and expires after ``feeds.signin_ttl_s``."""
    authz.may_issue_for(admin, (body.extension,))
    settings = services.settings
    signin = SignIn(
        tenant=admin.tenant,
        user=body.user,
        extension=body.extension,
        session_ttl_s=body.ttl_s or settings.feeds.session_ttl_s,
        issued_by=admin.id,
        supervisor=body.supervisor,
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
    session, token = await authz.redeem(services, body.code)
    return SessionOut.of(session, token)


@router.get("/v1/sessions")
async def list_sessions(admin: Admin, services: ServicesDep) -> list[SessionView]:
    """The live operator sessions this admin manages (never tokens)."""
    sessions = await services.sessions.list(admin.tenant)
    return [SessionView.of(s) for s in sessions if admin.allows_extension(s.extension)]


@router.delete("/v1/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response)  # fmt: skip
async def revoke_session(
    admin: Admin,
    services: ServicesDep,
    session_id: str = Path(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$"),
) -> Response:
    """End an operator session (its ``session_id``): it never authenticates again."""
    session = authz.manageable_session(admin, await services.sessions.by_id(session_id))
    await services.sessions.revoke(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/me")
async def me(request: Request) -> Operator:
    """Who this operator session is (``Authorization: Bearer cbs_…``)."""
    who = await authz.operator_session(request, authz.credential(request))
    assert who.session is not None  # noqa: S101 - a session principal
    session = who.session
    return Operator(user=session.user, extension=session.extension, tenant=session.tenant,
                    expires_at=session.expires_at, supervisor=session.supervisor)  # fmt: skip


@router.delete("/v1/me", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def sign_out(request: Request, services: ServicesDep) -> Response:
    """End this operator session."""
    who = await authz.operator_session(request, authz.credential(request))
    assert who.session is not None  # noqa: S101 - a session principal
    await services.sessions.revoke(who.session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
