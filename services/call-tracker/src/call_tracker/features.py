"""Queues (app_queue), click-to-call (OriginateResponse), pickup, the recording file."""

from __future__ import annotations

from aioami import Message

from .dialing import answer, ring, stop_ringing
from .emit import Ctx
from .legs import clean_number, find_leg, hdr
from .model import LEG_RINGING, LEG_UP
from .topology import KIND_LOCAL, KIND_OPERATOR

__all__ = [
    "on_agent_called",
    "on_agent_connect",
    "on_agent_ring_no_answer",
    "on_originate_response",
    "on_pickup",
    "on_queue_abandon",
    "on_queue_join",
    "on_varset",
]


def on_queue_join(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m)
    if found is not None:
        found[0].queue = hdr(m, "Queue")


def on_queue_abandon(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, create=False)
    if found is not None:
        found[0].abandoned = True


def on_agent_called(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, "Dest")
    if found is None:
        return
    call, leg = found
    call.queue = call.queue or hdr(m, "Queue")
    if leg.kind == KIND_LOCAL:
        leg.ext = leg.ext or ctx.state.topology.classify(hdr(m, "Interface"))[1]
        if not leg.ext:
            return
    elif leg.kind != KIND_OPERATOR:
        return
    ring(ctx, call, leg)


def on_agent_connect(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, "Dest")
    if found is not None and found[1].state != LEG_UP and found[1].kind == KIND_OPERATOR:
        answer(ctx, *found)


def on_agent_ring_no_answer(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, "Dest", create=False)
    if found is not None:
        stop_ringing(ctx, found[0], found[1], "no_answer")


def on_originate_response(ctx: Ctx, m: Message) -> None:
    """Correlates a click-to-call with the Originate that asked for it (ActionID)."""
    call = ctx.state.calls.get(hdr(m, "Uniqueid"))
    if call is None:
        return
    ctx.touch(call)
    call.originate = True
    call.originate_id = hdr(m, "ActionID")
    number = clean_number(hdr(m, "Exten"))
    if number and not call.called:
        call.called = number


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


def on_varset(ctx: Ctx, m: Message) -> None:
    if hdr(m, "Variable") != "MIXMONITOR_FILENAME":
        return
    found = find_leg(ctx, m, create=False)
    if found is not None and not found[0].recording:
        found[0].recording = hdr(m, "Value")
