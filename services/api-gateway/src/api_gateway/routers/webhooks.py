"""CRM webhooks in, both ending in the same originate path as ``POST /v1/calls``.

* ``POST /v1/webhooks/bitrix24/{tenant}`` — ``ONEXTERNALCALLSTART`` (click-to-call in a
  Bitrix24 card), form-encoded, verified by ``auth[application_token]``.
* ``POST /v1/webhooks/amocrm/{tenant}/call`` — the amoCRM widget's click-to-call: an
  ``X-Auth-Token`` one-time JWT (HS256, integration secret; ``user_id`` -> extension by
  ``amocrm_users``), or an API key of that tenant with ``calls:originate``.
* ``POST /v1/webhooks/amocrm/{tenant}/session`` — the amoCRM widget's caller cards: the same
  one-time JWT gives an operator session for the user's extension.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field, ValidationError

from .. import authz
from ..authz import services_of
from ..errors import ApiError, unauthenticated
from ..routers.originate import originate_for
from ..schemas import OriginateIn, OriginateOut, SessionOut
from ..services.webhooks import ReplayGuard, bitrix_form, token_matches, verify_amocrm_jwt
from ..settings import TenantSettings
from ..state import Services

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Tenant = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
_FORM = {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}


@router.post(
    "/bitrix24/{tenant}",
    status_code=status.HTTP_200_OK,
    openapi_extra={"requestBody": {"content": _FORM, "required": True}},
)
async def bitrix24_event(request: Request, tenant: str = Tenant) -> dict[str, Any]:
    """Bitrix24 ``ONEXTERNALCALLSTART``: originate from the user's extension to the number."""
    services = services_of(request)
    form = bitrix_form(await request.body())
    config = services.settings.tenants.get(tenant)
    given = form.get("auth[application_token]", "")
    if config is None or not token_matches(config.bitrix24_application_token, given):
        raise unauthenticated("application_token does not match")
    if form.get("event", "").upper() != "ONEXTERNALCALLSTART":
        return {"ignored": form.get("event", "")[:64]}
    user = form.get("data[USER_ID]", "")
    extension = config.bitrix24_users.get(user) or form.get("data[EXTENSION]", "")
    number = form.get("data[PHONE_NUMBER_INTERNATIONAL]") or form.get("data[PHONE_NUMBER]", "")
    call_id = form.get("data[CALL_ID]", "")
    if not extension or not number or not call_id or len(call_id) > 128:
        raise ApiError(422, "invalid-request", "Invalid request", "no extension, number or CALL_ID")
    body = _originate_in(extension, number)
    if not await _guard(services).first(f"b24:{tenant}:{call_id}", 86_400):
        return {"ignored": "replay"}
    done = await originate_for(services, tenant, None, body, source="bitrix24")
    return {"call_id": done.call_id, "bitrix24_call_id": call_id}


def _originate_in(extension: str, number: str) -> OriginateIn:
    """The CRM's fields as an originate request; 422 naming the fields, never their values."""
    try:
        return OriginateIn(extension=extension, number=number)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise ApiError(422, "invalid-request", "Invalid request",
                       f"invalid {', '.join(fields)}") from None  # fmt: skip


def _guard(services: Services) -> ReplayGuard:
    return ReplayGuard(services.redis, services.settings.key_prefix)


async def _amocrm_claims(services: Services, config: TenantSettings, tenant: str,
                         jwt: str) -> dict[str, Any]:  # fmt: skip
    """The claims of a fresh widget token of this tenant's amoCRM account; 401 for a forged,
    expired, replayed or other account's token."""
    claims = verify_amocrm_jwt(config.amocrm_secret, jwt)
    if claims is None:
        raise unauthenticated("X-Auth-Token is invalid or expired")
    account = config.amocrm_account_id
    if account and str(claims.get("account_id", "")) != account:
        raise unauthenticated("X-Auth-Token is of another amoCRM account")
    ttl = max(60, int(float(claims["exp"]) - time.time()) + 60)
    if not await _guard(services).first(f"amo:{tenant}:{ReplayGuard.token_id(claims, jwt)}", ttl):
        raise unauthenticated("X-Auth-Token was used already")
    return claims


class AmoCall(BaseModel):
    number: str = Field(min_length=1, max_length=32)
    extension: Annotated[str | None, Field(max_length=32, description="API key only")] = None


@router.post("/amocrm/{tenant}/call", status_code=status.HTTP_202_ACCEPTED)
async def amocrm_call(body: AmoCall, request: Request, tenant: str = Tenant) -> OriginateOut:
    """The amoCRM widget's click-to-call."""
    services = services_of(request)
    config = services.settings.tenants.get(tenant)
    if config is None:
        raise unauthenticated()
    jwt = request.headers.get("x-auth-token")
    key = None
    if jwt:
        claims = await _amocrm_claims(services, config, tenant, jwt)
        extension = config.amocrm_users.get(str(claims.get("user_id", "")))
        if not extension:
            raise ApiError(403, "extension-not-allowed", "Forbidden", "this user has no extension")
    else:
        key = await authz.require("calls:originate", keys_only=True)(request)
        authz.own_tenant(key, tenant)
        if not body.extension:
            raise ApiError(422, "invalid-request", "Invalid request", "extension is required")
        extension = body.extension
    call = _originate_in(extension, body.number)
    done = await originate_for(services, tenant, key, call, source="amocrm")
    return OriginateOut(
        call_id=done.call_id, pbx=done.pbx, extension=done.extension, number=done.number
    )


@router.post("/amocrm/{tenant}/session")
async def amocrm_session(request: Request, tenant: str = Tenant) -> SessionOut:
    """The amoCRM widget's operator session (its caller cards): ``X-Auth-Token`` names the
    amoCRM user; ``amocrm_users`` gives the extension the session is bound to."""
    services = services_of(request)
    config = services.settings.tenants.get(tenant)
    jwt = request.headers.get("x-auth-token", "")
    if config is None:
        raise unauthenticated("X-Auth-Token is invalid or expired")
    claims = await _amocrm_claims(services, config, tenant, jwt)
    user = str(claims.get("user_id", ""))
    extension = config.amocrm_users.get(user)
    if not extension:
        raise ApiError(403, "extension-not-allowed", "Forbidden", "this user has no extension")
    ttl = services.settings.feeds.session_ttl_s
    session, token = await services.sessions.issue(tenant, f"amocrm:{user}", extension, ttl, "")
    return SessionOut.of(session, token)
