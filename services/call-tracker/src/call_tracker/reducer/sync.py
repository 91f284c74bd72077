"""Reconciling with a sync entry (the live channels ami-ingest saw on (re)connect)."""

from __future__ import annotations

from collections import defaultdict

from aioami import Message
from cbcontracts import StopReason

from .dialing import answer, ring, stop_ringing
from .emit import Ctx
from .ending import finish
from .legs import find_leg, hdr
from .model import LEG_NEW, LEG_RINGING, Call
from .topology import KIND_OPERATOR, KIND_TRUNK

__all__ = ["apply_sync"]


def apply_sync(ctx: Ctx, snapshot: list[dict[str, str]]) -> int:
    """End calls whose channels are gone (reconstructed), adopt live calls never seen.
    Returns the number of calls ended or adopted."""
    live = {m.get("Uniqueid", "") for m in snapshot}
    changed = _end_vanished(ctx, live)
    known = {uid for call in ctx.state.calls.values() for uid in call.legs}
    unknown: dict[str, list[Message]] = defaultdict(list)
    for fields in snapshot:
        if fields.get("Event", "CoreShowChannel") != "CoreShowChannel":
            continue  # CoreShowChannelsComplete
        m = Message(fields)
        if hdr(m, "Uniqueid") and hdr(m, "Uniqueid") not in known:
            unknown[hdr(m, "Linkedid") or hdr(m, "Uniqueid")].append(m)
    for linkedid, channels in unknown.items():
        _adopt(ctx, linkedid, channels)
    return changed + len(unknown)


def _end_vanished(ctx: Ctx, live: set[str]) -> int:
    ended = 0
    for call in list(ctx.state.calls.values()):
        gone = [leg for uid, leg in call.legs.items() if uid not in live]
        for leg in gone:
            if leg.state == LEG_RINGING:
                reason: StopReason = "answered_elsewhere" if call.answer_at else "caller_gave_up"
                stop_ringing(ctx, call, leg, reason)
            del call.legs[leg.uid]
        ctx.touch(call)
        if not call.legs:
            finish(ctx, call, reconstructed=True)
            ended += 1
    return ended


def _adopt(ctx: Ctx, linkedid: str, channels: list[Message]) -> None:
    """A call that was live before we looked: take it as it is now."""
    channels.sort(key=lambda m: hdr(m, "Uniqueid") != linkedid)
    call = ctx.state.calls.get(linkedid)
    if call is None:
        start = ctx.at - _seconds(hdr(channels[0], "Duration")) * 1_000_000
        call = ctx.state.calls[linkedid] = Call(linkedid, start, reconstructed=True)
    for m in channels:
        m.setdefault("Linkedid", linkedid)
        found = find_leg(ctx, m)
        if found is None or found[1].uid == linkedid or found[1].state != LEG_NEW:
            continue
        leg = found[1]
        state = hdr(m, "ChannelState")
        if leg.kind in (KIND_OPERATOR, KIND_TRUNK) and state == "6":
            answer(ctx, call, leg)
        elif leg.kind == KIND_OPERATOR and state == "5":
            ring(ctx, call, leg)
    if call.legs:
        ctx.start(call)


def _seconds(duration: str) -> int:
    """``"01:02:03"`` -> 3723 (0 if malformed)."""
    try:
        h, m, s = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0
    return h * 3600 + m * 60 + s
