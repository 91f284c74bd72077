"""CRM actions from the operator's card: "create deal" (``POST /v1/crm/deals``), and the
built-in CRM's entity pages ("Open in CRM": ``/crm/entities/{id}``, read-only).

The gateway does not talk to the CRM: it puts a ``crm.create_deal`` command on crm-sync's
command stream (``crm.commands_stream``); crm-sync's executor creates the deal through the
adapter (once per idempotency key) and publishes the call's ``crm.card`` again, so the card
shows the new deal. The answer waits up to ``crm.wait_s`` for the executor: 201 with the
deal, else 202 (queued; the card will update when it is done).

Allowed for an operator session — for a call of its own extension only, on that call's
number — or an API key with ``crm:write`` without extension limits (any number or entity id),
and only for the tenant whose CRM this is (``crm.tenant``; :func:`..authz.crm_writer`).

With ``crm.builtin_path`` set (the embedded suite sets it), ``GET /crm/entities/{id}`` is the
page the built-in CRM's entity links open: a static shell (``web/entity.html``) that reads
``GET /v1/crm/entities/{id}`` with the operator's session, like the rest of the operator's
page (``calls:read``: an operator session or a key). The built-in CRM is the CRM tenant's:
its unrestricted keys read every entity, an operator only those of its own calls
(:func:`..authz.entity_readable`); anything else is 404.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path as FsPath
from typing import Any, cast

import msgspec
from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from cbcontracts.crm import CreateDeal, encode_command
from cbcrm.builtin import BuiltinCrm
from cbcrm.exceptions import CrmPermanentError
from cbstreams import StreamPublisher
from cbstreams.fields import F_DATA

from .. import authz
from ..deps import CallsReader, ServicesDep, pbx_for
from ..errors import ApiError, not_found
from ..state import Services

router = APIRouter(prefix="/v1/crm", tags=["crm"])
pages = APIRouter(include_in_schema=False)
ENTITY_PAGE = FsPath(__file__).parent.parent / "web" / "entity.html"

_ID = r"^[A-Za-z0-9._-]+$"


class DealIn(BaseModel):
    name: str = Field("", max_length=200, description='the deal\'s name; "" = "Deal from …"')
    call_id: str = Field("", max_length=128, pattern=r"^([A-Za-z0-9._-]+)?$",
                         description="the card's call (an operator session: required)")  # fmt: skip
    pbx: str | None = Field(None, max_length=64)
    phone: str = Field("", max_length=32, pattern=r"^\+?[0-9]*$",
                       description="the number whose effective entity gets the deal")  # fmt: skip
    entity_id: str = Field("", max_length=64, pattern=r"^([A-Za-z0-9._-]+)?$")
    entity_kind: str = Field("", pattern=r"^(contact|company)?$")
    request_id: str = Field("", max_length=64, pattern=r"^([A-Za-z0-9._-]+)?$",
                            description="idempotency: the same id creates one deal")  # fmt: skip


class DealOut(BaseModel):
    status: str  # created | queued
    key: str
    deal: dict[str, Any] | None = None
    entity: dict[str, Any] | None = None


@router.post("/deals", status_code=status.HTTP_201_CREATED)
async def create_deal(
    body: DealIn, request: Request, response: Response, services: ServicesDep
) -> DealOut:
    """Create a deal in the CRM for the card's caller (or a number / entity id): 201 with the
    deal once crm-sync made it, 202 if it is still queued after a few seconds."""
    who = await authz.authenticate(request)
    extension, user, tenant = "", "", who.tenant
    if who.session is not None:
        session = who.session
        extension, user = session.extension, session.user
        authz.crm_writer(services, who)
        if not body.call_id:
            raise ApiError(422, "call-required", "Call required", "name the card's call_id")
        pbx, phone = await authz.deal_call(services, who, body.call_id, body.pbx)
        entity_id, kind = body.entity_id, body.entity_kind
    else:
        await authz.check(request, who, "crm:write")
        authz.crm_writer(services, who)
        user = who.name
        pbx = pbx_for(services.settings, tenant, body.pbx)
        phone, entity_id, kind = body.phone.lstrip("+"), body.entity_id, body.entity_kind
        if not (phone or entity_id):
            raise ApiError(422, "phone-or-entity", "Phone or entity required",
                           "name a phone or an entity_id")  # fmt: skip
    request_id = body.request_id or uuid.uuid4().hex
    cmd_key = f"{tenant}/deal/{request_id}"
    cmd = CreateDeal(key=cmd_key, event_id=cmd_key, call_id=body.call_id, pbx=pbx,
                     tenant=tenant, name=body.name, phone=phone, entity_id=entity_id,
                     entity_kind=kind, extension=extension, user=user)  # fmt: skip
    redis = services.redis
    commands = StreamPublisher(redis, services.settings.crm.commands_stream)
    await commands.publish([(F_DATA, encode_command(cmd))])
    done = f"{services.settings.key_prefix}crm:done:{cmd_key}"
    deadline = time.monotonic() + services.settings.crm.wait_s
    while time.monotonic() < deadline:
        raw = cast(bytes | None, await redis.get(done))
        if raw is not None:
            result = msgspec.json.decode(raw)
            return DealOut(status="created", key=cmd_key, deal=result.get("deal"),
                           entity=result.get("entity"))  # fmt: skip
        await asyncio.sleep(0.05)
    response.status_code = status.HTTP_202_ACCEPTED
    return DealOut(status="queued", key=cmd_key)


class EntityPage(BaseModel):
    entity: dict[str, Any]
    deals: list[dict[str, Any]]
    calls: list[dict[str, Any]]  # the CRM's call log of the entity, newest first (at most 20)


def _builtin_path(services: Services) -> str:
    path = services.settings.crm.builtin_path
    if not path or not FsPath(path).exists():
        raise not_found("no-builtin-crm", "this gateway serves no built-in CRM")
    return path


@router.get("/entities/{entity_id}")
async def get_entity(
    who: CallsReader,
    services: ServicesDep,
    entity_id: str = Path(pattern=r"^[0-9]{1,12}$"),
) -> EntityPage:
    """The built-in CRM's contact or company: phones, deals, recent calls (read-only)."""
    missing = not_found("no-such-entity", "no entity with this id")
    if who.tenant != authz.crm_tenant(services):
        raise missing
    crm = await BuiltinCrm.open(_builtin_path(services), seed=False)
    try:
        entity = await crm.entity(entity_id)
        calls = await crm.calls(entity_id)
        users = {u.id: u.extension for u in await crm.users()}
        responsible = users.get(entity.responsible_user_id, "")
        if not await authz.entity_readable(services, who, entity, calls, responsible):
            raise missing
        deals = await crm.deals_of(entity_id)
    except CrmPermanentError:
        raise missing from None
    finally:
        await crm.aclose()
    keep = ("call_id", "direction", "phone", "started_at", "duration_s", "result", "extension",
            "note")  # fmt: skip
    return EntityPage(
        entity=msgspec.to_builtins(entity),
        deals=[msgspec.to_builtins(d) for d in deals],
        calls=[{k: c.get(k) for k in keep} for c in reversed(calls[-20:])],
    )


@pages.get("/crm/entities/{entity_id}")
async def entity_page(
    services: ServicesDep, entity_id: str = Path(pattern=r"^[0-9]{1,12}$")
) -> FileResponse:
    """The page "Open in CRM" opens for the built-in CRM (its data: the call above)."""
    _builtin_path(services)
    return FileResponse(ENTITY_PAGE, media_type="text/html")
