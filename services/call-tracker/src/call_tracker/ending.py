"""The end of a call: Hangup, who hung up, the result and durations, call.ended."""

from __future__ import annotations

from aioami import Message
from cbcontracts import CallEnded, Result, StopReason

from .dialing import stop_ringing
from .emit import Ctx
from .legs import find_leg, hdr
from .model import LEG_RINGING, Call
from .topology import KIND_LOCAL

__all__ = ["finish", "on_hangup", "on_hangup_request", "result_of"]

_CAUSE_REASONS: dict[int, StopReason] = {17: "busy", 18: "no_answer", 19: "no_answer"}


def on_hangup_request(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, create=False)
    if found is None:
        return
    call, leg = found
    if leg.kind != KIND_LOCAL:
        call.hangup_by = "caller" if leg.uid == call.linkedid else "callee"


def on_hangup(ctx: Ctx, m: Message) -> None:
    found = find_leg(ctx, m, create=False)
    if found is None:
        return
    call, leg = found
    cause = int(hdr(m, "Cause") or 0)
    if leg.state == LEG_RINGING:
        stop_ringing(ctx, call, leg, _stop_reason(call, cause))
    if leg.uid == call.linkedid or not call.cause:
        call.cause = cause
    del call.legs[leg.uid]
    if not call.legs:
        finish(ctx, call)


def _stop_reason(call: Call, cause: int) -> StopReason:
    if cause == 26 or call.answer_at:
        return "answered_elsewhere"
    if cause == 17:
        call.busy = True
    return _CAUSE_REASONS.get(cause, "caller_gave_up")


def result_of(call: Call) -> Result:
    if call.answer_at:
        return "answered"
    if call.abandoned:
        return "abandoned"
    if call.busy:
        return "busy"
    if call.failed or (not call.rang and call.direction != "inbound"):
        return "failed"
    return "missed"


def finish(ctx: Ctx, call: Call, *, reconstructed: bool = False) -> None:
    """End ``call``: hide cards still ringing, send call.ended, forget the call."""
    for leg in list(call.legs.values()):
        if leg.state == LEG_RINGING:
            stop_ringing(ctx, call, leg, _stop_reason(call, 0))
    ctx.state.calls.pop(call.linkedid, None)
    ctx.touch(call)
    if not call.emitted:
        return  # never dialled anyone: a feature code, voicemail check, parked pickup leg
    end = ctx.at
    ring = 0
    if call.ring_at:
        ring = round(((call.answer_at or call.ring_end_at or end) - call.ring_at) / 1e6)
    talk = round((end - call.answer_at) / 1e6) if call.answer_at else 0
    ctx.emit(
        call,
        CallEnded,
        result=result_of(call),
        caller=call.caller,
        called=call.called,
        ring_seconds=max(0, ring),
        talk_seconds=max(0, talk),
        hangup_cause=call.cause,
        hangup_by=call.hangup_by,
        answered_by=call.answered_by,
        extension=call.operator,
        rang=tuple(call.rang),
        transferred_to=tuple(call.transfers),
        recording_file=call.recording,
        queue=call.queue,
        originate_id=call.originate_id,
        started_at=call.start_at,
        answered_at=call.answer_at,
        reconstructed=call.reconstructed or reconstructed,
        talked=tuple(call.talked),
    )
