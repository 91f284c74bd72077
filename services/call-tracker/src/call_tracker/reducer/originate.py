"""Click-to-call: an AMI Originate's response names the call it started."""

from __future__ import annotations

from aioami import Message

from .emit import Ctx
from .legs import clean_number, hdr

__all__ = ["on_originate_response"]


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
