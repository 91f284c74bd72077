"""Transfers (blind, attended, AMI Redirect), hold, pickup."""

from __future__ import annotations

from aioami import Message
from cbcontracts import CallHeld, CallResumed, CallTransferred, TransferKind

from .emit import Ctx
from .legs import hdr
from .model import Call

__all__ = [
    "on_attended_transfer",
    "on_blind_transfer",
    "on_hold",
    "on_unhold",
    "transfer",
]


def transfer(ctx: Ctx, call: Call, kind: TransferKind, from_ext: str, to_ext: str) -> None:
    """The call moves from ``from_ext`` to ``to_ext``; the original caller stays."""
    call.operator = to_ext
    call.transfers.append(to_ext)
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
    call = _call(ctx, m, "TransfereeLinkedid", "TransfererLinkedid")
    if call is None or m.get("Result", "Success") != "Success":
        return
    from_ext = _ext(ctx, hdr(m, "TransfererChannel")) or call.operator
    transfer(ctx, call, "blind", from_ext, hdr(m, "Extension"))


def on_attended_transfer(ctx: Ctx, m: Message) -> None:
    call = _call(ctx, m, "TransfereeLinkedid", "OrigTransfererLinkedid")
    if call is None or m.get("Result", "Success") != "Success":
        return
    from_ext = _ext(ctx, hdr(m, "OrigTransfererChannel")) or call.operator
    to_ext = call.last_answer if call.last_answer != from_ext else ""
    if not to_ext:
        to_ext = hdr(m, "SecondTransfererConnectedLineNum")
    transfer(ctx, call, "attended", from_ext, to_ext)


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
