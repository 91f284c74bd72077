"""Click-to-call, hang-up and transfer of live calls (``calls:originate``)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response, status

from ..deps import Originator, ServicesDep, pbx_for
from ..errors import forbidden
from ..schemas import OriginateIn, OriginateOut, TransferIn
from ..services.keystore import ApiKey
from ..services.originate import CallControl, Originated
from ..state import Services

router = APIRouter(prefix="/v1/calls", tags=["call control"])
CallId = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")


async def originate_for(
    services: Services, key_tenant: str, allowed: ApiKey | None, body: OriginateIn, *, source: str
) -> Originated:
    """The one originate path (REST, Bitrix24, amoCRM): tenant PBX, allowed extensions,
    number policy, then the PBX. ``allowed`` is the key whose extension list applies."""
    pbx = pbx_for(services.settings, key_tenant, body.pbx)
    if allowed is not None and not allowed.allows_extension(body.extension):
        raise forbidden("extension-not-allowed", "this key may not call from this extension")
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
async def start_call(body: OriginateIn, key: Originator, services: ServicesDep) -> OriginateOut:
    """Click-to-call: the operator's extension rings first; when it answers, the PBX dials
    the client's number (the operator's phone shows it). 202 with the call id the call's
    events and record will carry; 504 if the PBX does not accept it in time."""
    done = await originate_for(services, key.tenant, key, body, source="api")
    return OriginateOut(
        call_id=done.call_id, pbx=done.pbx, extension=done.extension, number=done.number
    )


def _control(services: Services) -> CallControl:
    return services.calls


@router.delete("/{call_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def hang_up(
    key: Originator,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
) -> Response:
    """Hang up a live call (404 if the PBX has no call with this id)."""
    await _control(services).hangup(pbx_for(services.settings, key.tenant, pbx), call_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{call_id}/transfer", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
async def transfer(
    body: TransferIn, key: Originator, services: ServicesDep, call_id: str = CallId
) -> Response:
    """Send a live call to another extension: ``blind`` (BlindTransfer of the operator's
    channel, ``from_extension`` or the click-to-call operator) or ``redirect`` (AMI Redirect)."""
    if not key.allows_extension(body.to):
        raise forbidden("extension-not-allowed", "this key may not transfer to this extension")
    pbx = pbx_for(services.settings, key.tenant, body.pbx)
    await _control(services).transfer(
        pbx, call_id, body.to, mode=body.mode, from_extension=body.from_extension
    )
    return Response(status_code=status.HTTP_202_ACCEPTED)
