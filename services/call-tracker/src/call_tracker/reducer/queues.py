"""Queues (app_queue): the caller joins, members ring (AgentCalled), one connects, the caller
abandons."""

from __future__ import annotations

from aioami import Message

from .dialing import answer, ring, stop_ringing
from .emit import Ctx
from .legs import find_leg, hdr
from .model import LEG_UP
from .topology import KIND_LOCAL, KIND_OPERATOR

__all__ = [
    "on_agent_called",
    "on_agent_connect",
    "on_agent_ring_no_answer",
    "on_queue_abandon",
    "on_queue_join",
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
