"""Pickup: another phone takes a ringing call (group or directed pickup)."""

from __future__ import annotations

from aioami import Message

from .dialing import answer, stop_ringing
from .emit import Ctx
from .legs import find_leg, hdr
from .model import LEG_RINGING

__all__ = ["on_pickup"]


def on_pickup(ctx: Ctx, m: Message) -> None:
    """Another phone picked up a ringing one: the ringing leg now belongs to the picker."""
    found = find_leg(ctx, m, "Target", create=False)
    picker = ctx.state.topology.classify(hdr(m, "Channel"))[1]
    if found is None or not picker:
        return
    call, leg = found
    if leg.state == LEG_RINGING:
        stop_ringing(ctx, call, leg, "answered_elsewhere")
    if picker not in call.rang:
        call.rang.append(picker)
    leg.ext = picker
    answer(ctx, call, leg)
