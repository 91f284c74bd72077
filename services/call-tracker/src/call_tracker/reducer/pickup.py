"""Pickup: another phone takes a ringing call (``*8`` group pickup, directed pickup, an
INVITE with Replaces to a ringing phone — Asterisk reports all three as ``Pickup``).

The picker's channel started a call of its own (dialling ``*8``); Asterisk bridges it to the
caller and later gives it the caller's Linkedid. The picker's leg moves into the picked call
(answered by the picker); its own call becomes a stub pointing there (``Call.merged_into``),
so events still naming the old Linkedid find the leg and no phantom call is left behind.
The ringing phone's card is hidden; it is not counted as a callee that failed.
"""

from __future__ import annotations

from aioami import Message

from .dialing import answer, stop_ringing
from .emit import Ctx
from .legs import find_leg, hdr, move_leg
from .model import LEG_RINGING, LEG_UP, Call, Leg
from .topology import KIND_OPERATOR

__all__ = ["on_pickup", "on_unparked_call"]


def on_pickup(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, "Target", create=False)
    kind, picker = ctx.state.topology.classify(hdr(m, "Channel"))
    if found is None or not picker:
        return
    call, target = found
    stop_ringing(ctx, call, target, "answered_elsewhere")
    _take(ctx, call, m, kind, picker)


def on_unparked_call(ctx: Ctx, m: Message) -> None:
    """A parked call retrieved: it goes to the retriever, as a pickup (no transfer, and the
    retriever did not ring)."""
    found = find_leg(ctx, m, "Parkee", create=False)
    kind, retriever = ctx.state.topology.classify(hdr(m, "RetrieverChannel"))
    if found is None or not retriever:
        return
    call = found[0]
    call.parked = False
    headers = {k.removeprefix("Retriever"): v for k, v in m.items() if k.startswith("Retriever")}
    _take(ctx, call, Message(headers), kind, retriever)


def _take(ctx: Ctx, call: Call, m: Message, kind: int, ext: str) -> None:
    """``ext``'s channel (named by ``m``'s Channel/Uniqueid/Linkedid) takes ``call``."""
    leg = _move_picker(ctx, call, m, kind, ext)
    leg.state = LEG_RINGING  # not counted as a ring: answer() only needs it answerable
    answer(ctx, call, leg)
    leg.state = LEG_UP


def _move_picker(ctx: Ctx, call: Call, m: Message, kind: int, picker: str) -> Leg:
    """The picker's leg, moved into ``call`` (its own call, if any, becomes a stub)."""
    uid, lid = hdr(m, "Uniqueid"), hdr(m, "Linkedid")
    own = ctx.state.calls.get(lid)
    leg = own.legs.get(uid) if own is not None and own is not call else None
    if own is not None and leg is not None:
        move_leg(ctx, own, leg, call)
    else:
        leg = call.legs[uid] = Leg(uid, hdr(m, "Channel"), kind, picker)
    leg.kind, leg.ext = KIND_OPERATOR, picker
    return leg
