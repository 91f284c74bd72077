"""Dialling: a phone rings, stops ringing, answers (DialBegin, DialEnd, Newstate)."""

from __future__ import annotations

from aioami import Message
from cbcontracts import CallAnswered, CallRinging, CallRingingStopped, StopReason

from .emit import Ctx
from .legs import clean_number, find_leg, hdr, is_customer
from .model import LEG_DONE, LEG_NEW, LEG_RINGING, LEG_UP, Call, Leg
from .topology import KIND_OPERATOR, KIND_TRUNK
from .transfers import transfer

__all__ = ["answer", "on_dial_begin", "on_dial_end", "on_newstate", "ring", "stop_ringing"]

_STOP_REASONS: dict[str, StopReason] = {
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "failed",
    "CONGESTION": "failed",
}


def on_dial_begin(ctx: Ctx, m: Message) -> None:
    dest = find_leg(ctx, m, "Dest")
    if dest is None:
        return
    call, leg = dest
    src = find_leg(ctx, m) if "Channel" in m else None
    src_leg = src[1] if src is not None and src[0] is call else None
    consult = bool(call.answer_at) and src_leg is not None and not is_customer(call, src_leg)
    if leg.kind == KIND_TRUNK:
        _dial_external(ctx, call, leg, m, consult)
    elif leg.kind == KIND_OPERATOR:
        if src_leg is not None and not consult:
            _follow_redirect(ctx, call, leg)
        ring(ctx, call, leg, consult=consult)


def on_dial_end(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, "Dest")
    if found is None:
        return
    call, leg = found
    status = hdr(m, "DialStatus")
    if status == "ANSWER":
        if leg.state in (LEG_RINGING, LEG_NEW):
            answer(ctx, call, leg)
        return
    if leg.state != LEG_RINGING:
        return
    reason = _STOP_REASONS.get(status)
    if reason is None:
        reason = "answered_elsewhere" if call.answer_at else "caller_gave_up"
    if not call.answer_at:
        call.busy = call.busy or reason == "busy"
        call.failed = call.failed or reason == "failed"
    stop_ringing(ctx, call, leg, reason)


def on_newstate(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m)
    if found is None:
        return
    call, leg = found
    state = hdr(m, "ChannelState")
    adopted = call.reconstructed and leg.uid != call.linkedid and leg.kind == KIND_OPERATOR
    if state == "6" and (leg.state == LEG_RINGING or (adopted and leg.state == LEG_NEW)):
        answer(ctx, call, leg)
    elif state == "5" and adopted and leg.state == LEG_NEW:
        ring(ctx, call, leg)


def ring(ctx: Ctx, call: Call, leg: Leg, *, consult: bool = False) -> None:
    """``leg`` (an operator's phone) is being dialled: show the card once per extension."""
    if leg.state == LEG_RINGING:
        return
    leg.state = LEG_RINGING
    leg.consult = consult
    if not call.ring_at and not (call.originate and leg.uid == call.linkedid):
        call.ring_at = ctx.at
    ext = leg.ext
    if call.direction == "internal" and not call.emitted and not call.called:
        call.called = ext
    if ext not in call.rang:
        call.rang.append(ext)
    if ext in call.ringing:
        return
    call.ringing.append(ext)
    ctx.emit(call, CallRinging, extension=ext, channel=leg.chan, queue=call.queue)


def stop_ringing(ctx: Ctx, call: Call, leg: Leg, reason: StopReason) -> None:
    """``leg`` stopped ringing without being answered; hide the card if no other leg of the
    same extension still rings."""
    if leg.state != LEG_RINGING:
        return
    leg.state = LEG_DONE
    call.ring_end_at = ctx.at
    ext = leg.ext
    if not ext or ext not in call.ringing:
        return
    if any(o is not leg and o.state == LEG_RINGING and o.ext == ext for o in call.legs.values()):
        return
    call.ringing.remove(ext)
    ctx.emit(call, CallRingingStopped, extension=ext, reason=reason, channel=leg.chan)


def answer(ctx: Ctx, call: Call, leg: Leg) -> None:
    """A dialled party answered."""
    leg.state = LEG_UP
    if leg.kind == KIND_TRUNK:
        if not call.answer_at:
            call.answer_at, call.answered_by = ctx.at, call.external
        ctx.emit(call, CallAnswered, answered_by=call.external, extension=call.operator)
        return
    if leg.kind != KIND_OPERATOR:
        return
    ext = leg.ext
    if ext in call.ringing:
        call.ringing.remove(ext)
    if ext and ext not in call.talked:
        call.talked.append(ext)
    if not (call.originate and leg.uid == call.linkedid):
        if not call.answer_at:
            call.answer_at, call.answered_by = ctx.at, ext
        call.last_answer = ext
        if not leg.consult:
            call.operator = ext
    ctx.emit(call, CallAnswered, answered_by=ext, extension=ext, channel=leg.chan)


def _dial_external(ctx: Ctx, call: Call, leg: Leg, m: Message, consult: bool) -> None:
    dial = hdr(m, "DialString").partition("@")[0]
    number = dial if dial.isdigit() else clean_number(hdr(m, "DestCallerIDNum"))
    if call.direction != "inbound":
        call.direction = "outbound"
        call.external = call.external or number
        call.called = call.called or number
    leg.state = LEG_RINGING
    leg.consult = consult
    if not call.ring_at:
        call.ring_at = ctx.at
    if number and number not in call.rang:
        call.rang.append(number)
    ctx.start(call)


def _follow_redirect(ctx: Ctx, call: Call, leg: Leg) -> None:
    """The customer is dialled to another extension after the call was answered, with no
    transfer event (an AMI Redirect): the call follows to the new extension."""
    if not call.answer_at or not call.operator or call.operator == leg.ext:
        return
    if any(o.ext == call.operator and o.state == LEG_UP for o in call.legs.values()):
        return
    transfer(ctx, call, "redirect", call.operator, leg.ext)
