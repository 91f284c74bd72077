"""Click-to-call, hang-up and transfer of live calls (``calls:originate``). Which live calls a
caller may touch is :func:`..authz.live_call`'s decision (unknown and not-yours are both 404)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response, status

from .. import authz
from ..authz import Principal
from ..deps import Originator, ServicesDep, pbx_for
from ..schemas import OriginateIn, OriginateOut, TransferIn
from ..services.originate import Originated
from ..state import Services

router = APIRouter(prefix="/v1/calls", tags=["call control"])
CallId = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")


async def originate_for(
    services: Services, tenant: str, allowed: Principal | None, body: OriginateIn, *, source: str
) -> Originated:
    """The one originate path (REST, Bitrix24, amoCRM): tenant PBX, allowed extensions,
    number policy, then the PBX. ``allowed`` is the principal whose extension list applies."""
    pbx = pbx_for(services.settings, tenant, body.pbx)
    if allowed is not None:
        authz.may_call_from(allowed, body.extension)
    outcome = "error"
    try:
        done = await services.calls.originate(
            pbx, body.extension, body.number, variables={"CB_SOURCE": source}
        )
        outcome = "queued"
        return done
    finally:
        services.metrics.originates.labels(pbx, outcome).inc()


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_call(body: OriginateIn, who: Originator, services: ServicesDep) -> OriginateOut:
    """Click-to-call: the operator's extension rings first; when it answers, the PBX dials
    the client's number (the operator's phone shows it). 202 with the call id the call's
    events and record will carry; 504 if the PBX does not accept it in time."""
    done = await originate_for(services, who.tenant, who, body, source="api")
    return OriginateOut(
        call_id=done.call_id, pbx=done.pbx, extension=done.extension, number=done.number
    )


@router.delete("/{call_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def hang_up(
    who: Originator,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
) -> Response:
    """Hang up a live call the caller is on (404 for unknown and not-yours alike)."""
    name = await authz.live_call(services, who, call_id, pbx)
    await services.calls.hangup(name, call_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{call_id}/transfer", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
async def transfer(
    body: TransferIn, who: Originator, services: ServicesDep, call_id: str = CallId
) -> Response:
    """Send a live call the caller is on to another extension: ``blind`` (BlindTransfer of
    the operator's channel, ``from_extension`` or the click-to-call operator) or ``redirect``
    (AMI Redirect)."""
    source = authz.transfer_ends(who, body.to, body.from_extension)
    name = await authz.live_call(services, who, call_id, body.pbx)
    await services.calls.transfer(name, call_id, body.to, mode=body.mode, from_extension=source)
    return Response(status_code=status.HTTP_202_ACCEPTED)
