"""Call records (``calls:read``): the list with filters and cursor pagination, one call with
its timeline. What a caller sees is :mod:`..authz`'s decision: its tenant's PBXs, and for a
caller limited to extensions only the calls that involved them (others are 404)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from cbrecords import CdrQuery

from .. import authz
from ..deps import CallsReader, ServicesDep
from ..errors import not_found
from ..schemas import CallList, CallOut

router = APIRouter(prefix="/v1/calls", tags=["call records"])


@router.get("")
async def list_calls(
    who: CallsReader,
    services: ServicesDep,
    since: int | None = Query(None, ge=0, le=2**62, description="start time ≥ (unix µs)"),
    until: int | None = Query(None, ge=0, le=2**62, description="start time ≤ (unix µs)"),
    number: str | None = Query(None, max_length=32, description="the external number"),
    extension: str | None = Query(None, max_length=32),
    direction: Literal["inbound", "outbound", "internal"] | None = None,
    result: Literal["answered", "missed", "busy", "failed", "abandoned"] | None = None,
    pbx: str | None = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=200, pattern=r"^-?\d{1,20}:[^:]+:.+$"),
    callback: Literal["needed"] | None = Query(
        None, description="needed: only missed calls no one has called back yet"
    ),
) -> CallList:
    """Call records, newest first. Pass ``next_cursor`` back as ``cursor`` for the next page.
    Each carries ``callback_needed``: a missed inbound call that no one of the tenant has
    called back since (nor has the caller reached anyone since)."""
    keep = authz.record_filter(services, who, pbx, direction, missed_only=callback == "needed")
    if not keep.pbxs:
        return CallList(calls=[], next_cursor=None)
    query = CdrQuery(since=since, until=until, number=number, extension=extension,
                     result=result, limit=limit, cursor=cursor)  # fmt: skip
    records, next_cursor = await services.records.page(query, keep)
    marks = await services.records.callback_needed(records, keep)
    calls = [
        msgspec.to_builtins(r) | {"callback_needed": m} for r, m in zip(records, marks, strict=True)
    ]
    return CallList(calls=calls, next_cursor=next_cursor)


@router.get("/{call_id}")
async def get_call(
    who: CallsReader,
    services: ServicesDep,
    call_id: str = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$"),
    pbx: str | None = Query(None, max_length=64),
) -> CallOut:
    """One call: its record once it ended (else ``state: live``) and its timeline of events."""
    for name in authz.pbxs(services, who, pbx):
        record = await services.records.get(name, call_id)
        if record is not None:
            if not authz.readable_record(who, record):
                break
            events = await services.records.timeline(name, call_id, record.started_at)
            return CallOut(
                call_id=call_id,
                pbx=name,
                state="ended",
                record=msgspec.to_builtins(record),
                timeline=[msgspec.to_builtins(e) for e in events],
            )
        live = await services.records.live(name, call_id)
        if live is not None and (not who.restricted or authz.on_call_now(live, who.extensions)):
            return CallOut(call_id=call_id, pbx=name, state="live")
    raise not_found("no-such-call", "no call with this id")


class CallExplanation(BaseModel):
    call_id: str
    pbx: str
    state: Literal["live", "ended"]
    record: dict[str, Any] | None = None
    frames: list[dict[str, Any]] = Field(default_factory=list)
    crm: list[dict[str, Any]] = Field(default_factory=list)


@router.get("/{call_id}/explain")
async def explain_call(
    who: CallsReader,
    services: ServicesDep,
    call_id: str = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$"),
    pbx: str | None = Query(None, max_length=64),
) -> CallExplanation:
    """How one call was built and handled (``admin`` key, or a supervisor session — the
    page's history links to it): the raw frames of its channels, per
    frame the decisions it caused (the call events: ringing, answered by, transfer, the
    result and why), then crm-sync's trail — lookup result and reason, commands, the CRM's
    responses, failures, dead letters. ``callbridge calls explain`` adds the tracker's state
    changes per frame."""
    authz.may_explain(who)
    for name in authz.pbxs(services, who, pbx):
        exp = await services.records.explain(name, call_id)
        if exp is None:
            continue
        if not authz.readable_explanation(who, exp.record):
            break
        data = msgspec.to_builtins(exp)
        return CallExplanation(**data)
    raise not_found("no-such-call", "no call with this id")
