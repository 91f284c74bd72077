"""Click-to-call: an AMI Originate's response names the call it started."""

from __future__ import annotations

from aioami import Message

from .emit import Ctx
from .legs import clean_number, hdr
from .model import Call

__all__ = ["on_originate_response"]


def on_originate_response(ctx: Ctx, m: Message) -> None:
    """Correlates a click-to-call with the Originate that asked for it (ActionID). A failed
    Originate names no Uniqueid: its call is the live click-to-call on that channel."""
    call = ctx.state.calls.get(hdr(m, "Uniqueid")) or _failed_originate(ctx, hdr(m, "Channel"))
    if call is None:
        return
    ctx.touch(call)
    call.originate = True
    call.originate_id = hdr(m, "ActionID")
    number = clean_number(hdr(m, "Exten"))
    if number and not call.called:
        call.called = number


def _failed_originate(ctx: Ctx, channel: str) -> Call | None:
    """The uncorrelated click-to-call whose first channel was made from ``channel``
    (``Local/100@from-internal`` -> ``Local/100@from-internal-00000007;1``)."""
    if not channel:
        return None
    for call in ctx.state.calls.values():
        root = call.legs.get(call.linkedid)
        ours = root is not None and root.chan.startswith(channel + "-")
        if call.originate and not call.originate_id and ours:
            return call
    return None
