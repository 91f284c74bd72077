"""Colleagues' line states (docs/presence.md): ``GET /v1/presence``, the current view, with
``events:read`` — an operator session or a key. What each principal sees is
:func:`..authz.presence_filter`; the live changes are the presence feed (``routers.feeds``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .. import authz
from ..deps import EventsReader, ServicesDep
from ..services.presence import presence_view

router = APIRouter(tags=["presence"])


@router.get("/v1/presence")
async def current_presence(who: EventsReader, services: ServicesDep) -> dict[str, Any]:
    """The line state of every extension the caller may see (``idle``, ``ringing``,
    ``in_call``, ``on_hold``, ``dnd``, ``away``, ``unavailable``, ``unknown``)."""
    keep = authz.presence_filter(services, who)
    states = await presence_view(services.redis, services.settings.key_prefix, keep)
    return {"states": states}
