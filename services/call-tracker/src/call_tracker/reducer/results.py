"""The end of a call: Hangup, who hung up, the outcome and durations, call.ended.

Outcome rules (``outcome_of``), first match:
- a person answered (an extension, a queue member, an external forward) -> ``answered``;
- the PBX answered the caller and an application handled it after the last ring (or nobody
  rang): ``voicemail``, ``bot`` (AGI) or ``ivr`` (``pbxapps``) — never ``missed``;
- the caller left a queue -> ``abandoned``;
- every callee that rang was busy -> ``busy``; every one busy or unavailable -> ``failed``;
- a click-to-call whose client was never dialled (the operator rejected or did not answer),
  or an outgoing call that rang nobody -> ``failed``;
- otherwise ``missed`` (some callees may have been busy: a ring group just went unanswered).
The coarse ``result`` is the outcome's (``cbcontracts.OUTCOME_RESULT``).
"""

from __future__ import annotations

from aioami import Message
from cbcontracts import OUTCOME_RESULT, CallEnded, StopReason

from .dialing import stop_ringing
from .emit import Ctx
from .legs import find_leg, hdr
from .model import LEG_RINGING, Call
from .topology import KIND_LOCAL
from .transfers import flush_blind

__all__ = ["finish", "on_hangup", "on_hangup_request", "outcome_of"]

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
    return _CAUSE_REASONS.get(cause, "caller_gave_up")


def outcome_of(call: Call) -> str:
    """The call's outcome (``cbcontracts.OUTCOMES``); see the module's rules."""
    if call.answer_at:
        return "answered"
    after_ring = not call.n_rung or call.pbx_app_at >= call.ring_end_at
    if call.pbx_kind and call.pbx_up_at and after_ring:
        return call.pbx_kind
    if call.abandoned:
        return "abandoned"
    if call.n_rung and call.n_busy == call.n_rung:
        return "busy"
    if call.n_rung and call.n_failed and call.n_busy + call.n_failed == call.n_rung:
        return "failed"
    if call.originate and not call.n_rung:
        return "failed"
    if not call.rang and call.direction != "inbound":
        return "failed"
    return "missed"


def finish(ctx: Ctx, call: Call, *, reconstructed: bool = False) -> None:
    """End ``call``: hide cards still ringing, send call.ended, forget the call."""
    flush_blind(ctx, call)
    for leg in list(call.legs.values()):
        if leg.state == LEG_RINGING:
            stop_ringing(ctx, call, leg, _stop_reason(call, 0))
    ctx.state.calls.pop(call.linkedid, None)
    for stub in call.merged:
        ctx.state.calls.pop(stub, None)
        if ctx.state.dirty is not None:
            ctx.state.dirty.add(stub)
    ctx.touch(call)
    if not call.emitted:
        return  # never dialled anyone: a feature code, voicemail check, parked pickup leg
    end = ctx.at
    ring = 0
    if call.ring_at:
        ring = round(((call.answer_at or call.ring_end_at or end) - call.ring_at) / 1e6)
    outcome = outcome_of(call)
    talk = round((end - call.answer_at) / 1e6) if call.answer_at else 0
    if outcome == call.pbx_kind and outcome != "answered":  # the PBX talked: since it took over
        talk = round((end - max(call.pbx_up_at, call.pbx_from)) / 1e6)
    ctx.emit(
        call,
        CallEnded,
        result=OUTCOME_RESULT[outcome],
        outcome=outcome,
        pbx_app=call.pbx_app if outcome == call.pbx_kind else "",
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
