"""CRM actions from the operator's card: "create deal" (``POST /v1/crm/deals``).

The gateway does not talk to the CRM: it puts a ``crm.create_deal`` command on crm-sync's
command stream (``crm.commands_stream``); crm-sync's executor creates the deal through the
adapter (once per idempotency key) and publishes the call's ``crm.card`` again, so the card
shows the new deal. The answer waits up to ``crm.wait_s`` for the executor: 201 with the
deal, else 202 (queued; the card will update when it is done).

Allowed for an operator session — for a call of its own extension only, on that call's
number — or an API key with ``crm:write`` (any number or entity id of its tenant).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, cast

import msgspec
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from cbcontracts.crm import CreateDeal, encode_command
from cbstreams.fields import F_DATA

from ..auth import authenticate_key, check_scope_and_rate, credential, operator
from ..deps import ServicesDep, pbx_for
from ..errors import ApiError, forbidden, not_found
from ..state import Services

router = APIRouter(prefix="/v1/crm", tags=["crm"])

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


def _party(call: Any, ext: str) -> bool:
    seen = {call.operator, call.answered_by, call.last_answer, *call.rang, *call.ringing,
            *call.legs}  # fmt: skip
    return ext in seen


async def _own_call(services: Services, tenant: str, ext: str, body: DealIn) -> tuple[str, str]:
    """The operator's call ``body.call_id``: (its PBX, its outside number); 404 otherwise."""
    if not body.call_id:
        raise ApiError(422, "call-required", "Call required", "name the card's call_id")
    pbx = pbx_for(services.settings, tenant, body.pbx)
    record = await services.records.get(pbx, body.call_id)
    if record is not None and ext in record.extensions and record.external:
        return pbx, record.external
    live = await services.records.live(pbx, body.call_id)
    if live is not None and _party(live, ext) and live.external:
        return pbx, live.external
    raise not_found("no-such-call", "no call of this operator with this id")


@router.post("/deals", status_code=status.HTTP_201_CREATED)
async def create_deal(
    body: DealIn, request: Request, response: Response, services: ServicesDep
) -> DealOut:
    """Create a deal in the CRM for the card's caller (or a number / entity id): 201 with the
    deal once crm-sync made it, 202 if it is still queued after a few seconds."""
    token = credential(request)
    extension, user = "", ""
    if token and token.startswith("cbs_"):
        session = await operator(request, token)
        tenant, extension, user = session.tenant, session.extension, session.user
        pbx, phone = await _own_call(services, tenant, extension, body)
        entity_id, kind = body.entity_id, body.entity_kind
    else:
        key = await check_scope_and_rate(request, await authenticate_key(request, token),
                                         "crm:write")  # fmt: skip
        tenant, user = key.tenant, key.name
        pbx = pbx_for(services.settings, tenant, body.pbx)
        phone, entity_id, kind = body.phone.lstrip("+"), body.entity_id, body.entity_kind
        if key.extensions:
            raise forbidden("extension-key", "a key limited to extensions cannot write the CRM")
        if not (phone or entity_id):
            raise ApiError(422, "phone-or-entity", "Phone or entity required",
                           "name a phone or an entity_id")  # fmt: skip
    request_id = body.request_id or uuid.uuid4().hex
    cmd_key = f"{tenant}/deal/{request_id}"
    cmd = CreateDeal(key=cmd_key, event_id=cmd_key, call_id=body.call_id, pbx=pbx,
                     tenant=tenant, name=body.name, phone=phone, entity_id=entity_id,
                     entity_kind=kind, extension=extension, user=user)  # fmt: skip
    redis = services.redis
    await redis.xadd(services.settings.crm.commands_stream, {F_DATA: encode_command(cmd)})
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
