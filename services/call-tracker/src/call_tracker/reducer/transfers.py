"""Transfers (blind, attended, AMI Redirect), hold, pickup."""

from __future__ import annotations

from aioami import Message
from cbcontracts import CallHeld, CallResumed, CallTransferred, TransferKind

from .emit import Ctx
from .legs import clean_number, hdr
from .model import LEG_NEW, LEG_RINGING, Call

__all__ = [
    "flush_blind",
    "on_attended_transfer",
    "on_blind_transfer",
    "on_hold",
    "on_parked_call",
    "on_unhold",
    "transfer",
]


def transfer(ctx: Ctx, call: Call, kind: TransferKind, from_ext: str, to_ext: str) -> None:
    """The call moves from ``from_ext`` to ``to_ext``; the original caller stays."""
    call.operator = to_ext
    call.transfers.append(to_ext)
    call.xfer_from = from_ext  # the last transferer (Asterisk may call it back)
    ctx.emit(
        call,
        CallTransferred,
        kind=kind,
        from_extension=from_ext,
        to_extension=to_ext,
        caller=call.caller,
    )


def _call(ctx: Ctx, m: Message, *linkedid_headers: str) -> Call | None:
    for header in linkedid_headers:
        call = ctx.state.calls.get(hdr(m, header))
        if call is not None:
            ctx.touch(call)
            return call
    return None


def _ext(ctx: Ctx, channel: str | None) -> str:
    return ctx.state.topology.classify(channel or "")[1]


def on_blind_transfer(ctx: Ctx, m: Message) -> None:
    """A blind transfer (AMI, ``##``, REFER) is announced when the transferee dials its target
    (or the call ends): a blind transfer to a parking lot is a park, not a transfer."""
    call = _call(ctx, m, "TransfereeLinkedid", "TransfererLinkedid")
    if call is None or m.get("Result", "Success") != "Success":
        return
    flush_blind(ctx, call)
    call.xfer_pending = True
    call.xfer_from = _ext(ctx, hdr(m, "TransfererChannel")) or call.operator
    call.xfer_to = hdr(m, "Extension")


def flush_blind(ctx: Ctx, call: Call) -> None:
    """Announce the pending blind transfer of ``call``, if any."""
    if call.xfer_pending:
        call.xfer_pending = False
        transfer(ctx, call, "blind", call.xfer_from, call.xfer_to)


def on_parked_call(ctx: Ctx, m: Message) -> None:
    """The call went to a parking lot: the blind transfer that took it there is no transfer."""
    call = _call(ctx, m, "ParkeeLinkedid")
    if call is not None:
        call.xfer_pending = False
        call.parked = True


def on_attended_transfer(ctx: Ctx, m: Message) -> None:
    """Attended transfer. From a phone (REFER with Replaces, or ``*2``) the operator's
    consultation is a call of its own: it ends here (its own call.ended), its target's channel
    joins the transferred call (still ringing for a "blonde" transfer completed before the
    target answered) and the consultation call becomes a stub pointing there, so it is never
    reconstructed later. AMI Atxfer consults through Local channels of the same call."""
    call = _call(ctx, m, "TransfereeLinkedid", "OrigTransfererLinkedid")
    if m.get("Result", "Success") != "Success":
        return
    consult = ctx.state.calls.get(hdr(m, "SecondTransfererLinkedid"))
    if call is None:
        if consult is not None and not consult.merged_into:
            from .results import finish  # here: results imports dialing, which imports this

            finish(ctx, consult)  # attached mid-call: at least the consultation is over
        return
    from_ext = _ext(ctx, hdr(m, "OrigTransfererChannel")) or call.operator
    if consult is not None and consult is not call and not consult.merged_into:
        to_ext = _end_consultation(ctx, call, consult, m)
    else:
        to_ext = call.last_answer if call.last_answer != from_ext else ""
    if not to_ext:
        to_ext = clean_number(hdr(m, "TransferTargetCallerIDNum")) or clean_number(
            hdr(m, "SecondTransfererConnectedLineNum")
        )
    transfer(ctx, call, "attended", from_ext, to_ext)


def _end_consultation(ctx: Ctx, call: Call, consult: Call, m: Message) -> str:
    """Move the consultation's target into ``call``, end the consultation; the target's ext."""
    from .dialing import ring, stop_ringing  # here: dialing imports this module
    from .results import finish

    target = consult.legs.get(hdr(m, "TransferTargetUniqueid"))
    if target is None:
        second = hdr(m, "SecondTransfererUniqueid")
        others = [leg for uid, leg in consult.legs.items() if uid != second and leg.ext]
        target = others[0] if others else None
    if target is None:
        finish(ctx, consult)
        return consult.last_answer
    ringing = target.state == LEG_RINGING
    if ringing:
        stop_ringing(ctx, consult, target, "answered_elsewhere")
    consult.legs.pop(target.uid, None)
    finish(ctx, consult)
    stub = ctx.state.calls[consult.linkedid] = Call(
        consult.linkedid, consult.start_at, merged_into=call.linkedid
    )
    call.merged.append(stub.linkedid)
    call.legs[target.uid] = target
    target.consult = False
    if ringing:
        target.state = LEG_NEW
        ring(ctx, call, target)
    else:
        call.last_answer = target.ext
        if target.ext and target.ext not in call.talked:  # answered in the consultation
            call.talked.append(target.ext)
    return target.ext


def on_hold(ctx: Ctx, m: Message) -> None:
    call = _call(ctx, m, "Linkedid")
    if call is None or call.held:
        return
    call.held = True
    ext = _ext(ctx, hdr(m, "Channel")) if hdr(m, "Event") == "Hold" else call.operator
    ctx.emit(call, CallHeld, extension=ext or call.operator)


def on_unhold(ctx: Ctx, m: Message) -> None:
    call = _call(ctx, m, "Linkedid")
    if call is None or not call.held:
        return
    call.held = False
    ctx.emit(call, CallResumed, extension=call.operator)
