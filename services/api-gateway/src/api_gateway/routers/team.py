"""The supervisor's view of the team (``GET /v1/team``): the calls in progress, the callers
waiting in queues (queue calls no one has answered yet, from the live-call view), the missed
calls no one has called back, and per operator the counts of the day. Who may see it is
:func:`..authz.team_view`: a supervisor session or a key without extension limits."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cbrecords import CdrQuery

from .. import authz
from ..deps import CallsReader, ServicesDep

router = APIRouter(prefix="/v1/team", tags=["team"])


class OperatorCounts(BaseModel):
    extension: str
    answered: int
    missed: int
    talk_seconds: int


class Team(BaseModel):
    since: int = Field(description="the counts' window starts here (unix µs)")
    live: list[dict[str, Any]] = Field(description="calls in progress, not waiting in a queue")
    waiting: list[dict[str, Any]] = Field(description="queue calls not answered yet")
    callbacks: list[dict[str, Any]] = Field(description="missed calls not called back")
    operators: list[OperatorCounts]


def _midnight_us() -> int:
    now = datetime.now().astimezone()
    return int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()) * 1_000_000


@router.get("")
async def team(
    who: CallsReader,
    services: ServicesDep,
    since: int | None = Query(
        None,
        ge=0,
        le=2**62,
        description="counts from (unix µs); default: today's midnight on the gateway's clock",
    ),
    limit: int = Query(50, ge=1, le=200, description="at most this many missed calls"),
) -> Team:
    """The team now (a supervisor session or a key without extension limits; 403 else)."""
    keep = authz.team_view(services, who)
    start = _midnight_us() if since is None else since
    live: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for pbx in sorted(keep.pbxs):
        for call in await services.records.live_calls(pbx):
            data = msgspec.to_builtins(call)
            (waiting if call.queue and not call.answered_at else live).append(data)
    live.sort(key=lambda c: c["started_at"])
    waiting.sort(key=lambda c: c["started_at"])
    missed, _ = await services.records.page(CdrQuery(limit=limit), keep)
    days = await services.records.operator_days(keep.pbxs, start, int(time.time() * 1e6))
    return Team(since=start, live=live, waiting=waiting,
                callbacks=[msgspec.to_builtins(r) | {"callback_needed": True} for r in missed],
                operators=[OperatorCounts(**vars(d)) for d in days])  # fmt: skip
