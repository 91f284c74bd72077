"""Dialling: a phone rings, stops ringing, answers (DialBegin, DialEnd, Newstate).

Rules:
- A DialBegin without a calling channel whose destination is the call's first channel is an
  AMI Originate (click-to-call), whatever the channel's state: chan_sip creates every phone's
  inbound channel Down, so the state says nothing.
- The operator legs a click-to-call rings before its operator answered are the operator's own
  (``Leg.own``): they show the card, but their answer is not the call's answer and they are
  not callees (an operator who rejects gives a failed call, not a busy one).
- Asterisk's own call-back of a transferer (an attended transfer whose target did not answer)
  is also a dial without a caller; it is told from an Originate by the phone being the last
  transferer of a live call whose external number the dial shows, and rings in that call.
- A party dialled by a Local channel's inner half (``;2``: ring groups, follow-me, queue
  members, FreePBX wrappers) has answered the call only once the Local's outer half (``;1``)
  is up: a forward whose callee picked up but never accepted (confirm-call) is not an answer.
- A Local member that refuses before ringing any phone (DND as busy, an unavailable device)
  counts as a busy / failed callee: a ring group whose members are all on DND is busy.
- An external number dialled during an inbound call is a forward: it is named from the
  DialString (``N@trunk``, ``trunk/N``), never from the caller ID the channel inherited.
"""

from __future__ import annotations

from aioami import Message
from cbcontracts import CallAnswered, CallRinging, CallRingingStopped, StopReason

from .emit import Ctx
from .legs import (
    clean_number,
    dialled_number,
    find_leg,
    hdr,
    is_customer,
    is_own,
    local_pair,
    move_leg,
)
from .model import LEG_DONE, LEG_NEW, LEG_RINGING, LEG_UP, Call, Leg
from .topology import KIND_LOCAL, KIND_OPERATOR, KIND_TRUNK
from .transfers import flush_blind, transfer

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
    if src is None and leg.uid == call.linkedid and not call.originate:
        back = _called_back(ctx, call, leg, clean_number(hdr(m, "DestConnectedLineNum")))
        if back is None:
            _originated(call)
        else:  # Asterisk calls a transferer back: a ring of the transferred call
            move_leg(ctx, call, leg, back)
            ring(ctx, back, leg)
            return
    if src_leg is not None and src_leg.kind == KIND_LOCAL and src_leg.chan.endswith(";2"):
        leg.via = local_pair(src_leg.chan)
        if leg.via not in call.relayed:
            call.relayed.append(leg.via)
    consult = bool(call.answer_at) and src_leg is not None and not is_customer(call, src_leg)
    if src_leg is not None and is_customer(call, src_leg):
        flush_blind(ctx, call)  # the transferee dials the blind transfer's target
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
    src = find_leg(ctx, m) if status == "ANSWER" and "Channel" in m else None
    if src is not None and src[0] is not call:
        move_leg(ctx, call, leg, src[0])  # connected to another call's caller (a pickup)
        if not call.legs and not call.merged_into:
            from .results import finish  # here: results imports this module

            finish(ctx, call)  # an announced call left without channels ends now
        call = src[0]
    if status == "ANSWER":
        if leg.state in (LEG_RINGING, LEG_NEW):
            answer(ctx, call, leg)
        return
    if leg.kind == KIND_LOCAL:
        _local_refused(call, leg, _STOP_REASONS.get(status))
        return
    if leg.state != LEG_RINGING:
        return
    reason = _STOP_REASONS.get(status)
    if reason is None:
        reason = "answered_elsewhere" if call.answer_at else "caller_gave_up"
    stop_ringing(ctx, call, leg, reason)


def on_newstate(ctx: Ctx, m: Message) -> None:
    # a state change never starts a call: after a call ended, its caller's channel going Up
    # (voicemail, IVR) must not bring it back as a second call
    found = find_leg(ctx, m, new_call=False)
    if found is None:
        return
    call, leg = found
    state = hdr(m, "ChannelState")
    if state == "6" and leg.kind == KIND_LOCAL:
        _local_up(ctx, call, leg)
        return
    adopted = call.reconstructed and leg.uid != call.linkedid and leg.kind == KIND_OPERATOR
    if state == "6" and (leg.state == LEG_RINGING or (adopted and leg.state == LEG_NEW)):
        answer(ctx, call, leg)
    elif state == "6" and leg.uid == call.linkedid and not call.answer_at:
        if not call.pbx_up_at and not is_own(call, leg):
            call.pbx_up_at = ctx.at  # the PBX answered the caller (IVR, voicemail, queue…)
    elif state == "5" and adopted and leg.state == LEG_NEW:
        ring(ctx, call, leg)


def ring(ctx: Ctx, call: Call, leg: Leg, *, consult: bool = False) -> None:
    """``leg`` (an operator's phone) is being dialled: show the card once per extension."""
    if leg.state == LEG_RINGING:
        return
    leg.state = LEG_RINGING
    leg.consult = consult
    if call.originate and not call.originate_up and leg.ext == call.operator:
        leg.own = True
    if not is_own(call, leg):
        call.n_rung += 1
        if not call.ring_at:
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
    same extension still rings. Busy and failed callees are counted for the result."""
    if leg.state != LEG_RINGING:
        return
    leg.state = LEG_DONE
    leg.pending = False
    if not is_own(call, leg):
        call.ring_end_at = ctx.at
        if not call.answer_at and reason == "busy":
            call.n_busy += 1
        elif not call.answer_at and reason == "failed":
            call.n_failed += 1
    ext = leg.ext
    if not ext or ext not in call.ringing:
        return
    if any(o is not leg and o.state == LEG_RINGING and o.ext == ext for o in call.legs.values()):
        return
    call.ringing.remove(ext)
    ctx.emit(call, CallRingingStopped, extension=ext, reason=reason, channel=leg.chan)


def answer(ctx: Ctx, call: Call, leg: Leg) -> None:
    """A dialled party answered (behind a Local channel: once its outer half is up)."""
    if leg.via and not _outer_up(call, leg.via):
        leg.pending = True
        return
    leg.pending = False
    leg.state = LEG_UP
    if leg.kind == KIND_TRUNK:
        number = leg.ext or call.external
        if not call.answer_at:
            call.answer_at, call.answered_by = ctx.at, number
        ctx.emit(call, CallAnswered, answered_by=number, extension=call.operator)
        return
    if leg.kind != KIND_OPERATOR:
        return
    ext = leg.ext
    if ext in call.ringing:
        call.ringing.remove(ext)
    if ext and ext not in call.talked:
        call.talked.append(ext)
    if is_own(call, leg):
        call.originate_up = True
    else:
        if not call.answer_at:
            call.answer_at, call.answered_by = ctx.at, ext
        call.last_answer = ext
        if not leg.consult:
            call.operator = ext
    ctx.emit(call, CallAnswered, answered_by=ext, extension=ext, channel=leg.chan)


def _local_refused(call: Call, leg: Leg, reason: StopReason | None) -> None:
    """A Local member refused before ringing any phone (DND = busy in FreePBX-like dialplans,
    an unavailable device): a callee that was busy / failed without ringing."""
    pair = local_pair(leg.chan)
    if reason not in ("busy", "failed") or not leg.chan.endswith(";1") or call.answer_at:
        return
    if pair in call.relayed or leg.uid == call.linkedid:
        return
    call.relayed.append(pair)  # counted once
    call.n_rung += 1
    if reason == "busy":
        call.n_busy += 1
    else:
        call.n_failed += 1


def _called_back(ctx: Ctx, call: Call, leg: Leg, connected: str) -> Call | None:
    """The live call whose transferer Asterisk is calling back (an attended transfer whose
    target did not answer, ``atxfercallbackretries``): a dial without a caller, like an
    Originate, to the last transferer's phone, showing that call's external number."""
    if call.emitted or leg.kind != KIND_OPERATOR or not connected:
        return None
    for other in ctx.state.calls.values():
        ours = other.transfers and other.xfer_from == leg.ext and other.external == connected
        if ours and other is not call and not other.merged_into:
            return other
    return None


def _originated(call: Call) -> None:
    """An AMI Originate dials the call's first channel: a click-to-call from its operator."""
    call.originate = True
    call.direction = "outbound"
    call.called = ""  # the client's number comes with OriginateResponse / the trunk dial


def _local_up(ctx: Ctx, call: Call, leg: Leg) -> None:
    """A Local channel is up: its outer half answering confirms the party behind it."""
    leg.state = LEG_UP
    if leg.uid == call.linkedid and call.originate:
        call.originate_up = True
    pair = local_pair(leg.chan)
    if not leg.chan.endswith(";1") or not pair:
        return
    for other in list(call.legs.values()):
        if other.via == pair and other.pending:
            answer(ctx, call, other)


def _outer_up(call: Call, pair: str) -> bool:
    """Whether the Local pair's outer half is up (unknown: taken as up)."""
    outer = pair + ";1"
    for leg in call.legs.values():
        if leg.chan == outer:
            return leg.state == LEG_UP
    return True


def _dial_external(ctx: Ctx, call: Call, leg: Leg, m: Message, consult: bool) -> None:
    number = dialled_number(hdr(m, "DialString")) or dialled_number(hdr(m, "DestExten"))
    if not number and call.direction != "inbound":
        number = clean_number(hdr(m, "DestCallerIDNum"))
    if call.direction != "inbound":
        call.direction = "outbound"
        call.external = call.external or number
        call.called = call.called or number
    leg.ext = number
    leg.state = LEG_RINGING
    leg.consult = consult
    call.n_rung += 1
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
