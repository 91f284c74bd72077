"""Reconciling with a sync entry (the live channels ami-ingest saw on (re)connect).

The snapshot is the truth about the present, whatever the tracker believed before the gap:
- calls whose channels are all gone end (``reconstructed``);
- a known leg the snapshot shows Up and bridged with the caller (directly, or through the two
  halves of Local channels) was answered — at the latest at the snapshot — even if the tracker
  last saw it ringing; a known leg it shows Ringing that the tracker never saw dialled rings;
- live calls never seen are adopted as they are now.
"""

from __future__ import annotations

from collections import defaultdict

from aioami import Message
from cbcontracts import StopReason

from .dialing import answer, ring, stop_ringing
from .emit import Ctx
from .legs import find_leg, hdr, is_customer, local_pair
from .model import LEG_NEW, LEG_RINGING, LEG_UP, Call
from .results import finish
from .topology import KIND_OPERATOR, KIND_TRUNK

__all__ = ["apply_sync"]


def apply_sync(ctx: Ctx, snapshot: list[dict[str, str]]) -> int:
    """End calls whose channels are gone (reconstructed), adopt live calls never seen.
    Returns the number of calls ended or adopted."""
    live = {m.get("Uniqueid", "") for m in snapshot}
    changed = _end_vanished(ctx, live)
    known = {uid: call for call in ctx.state.calls.values() for uid in call.legs}
    unknown: dict[str, list[Message]] = defaultdict(list)
    seen: dict[str, list[Message]] = defaultdict(list)
    for fields in snapshot:
        if fields.get("Event", "CoreShowChannel") != "CoreShowChannel":
            continue  # CoreShowChannelsComplete
        m = Message(fields)
        uid = hdr(m, "Uniqueid")
        if uid and uid in known:
            seen[known[uid].linkedid].append(m)
        elif uid:
            unknown[hdr(m, "Linkedid") or uid].append(m)
    for linkedid, channels in seen.items():
        changed += _reconcile(ctx, ctx.state.calls[linkedid], channels)
    for linkedid, channels in unknown.items():
        _adopt(ctx, linkedid, channels)
    return changed + len(unknown)


def _caller_bridges(call: Call, channels: list[Message]) -> set[str]:
    """The bridges the caller's channel is in, extended across Local channel pairs."""
    by_uid = {hdr(m, "Uniqueid"): m for m in channels}
    bridges: set[str] = set()
    for uid, leg in call.legs.items():
        m = by_uid.get(uid)
        if m is not None and hdr(m, "BridgeId") and is_customer(call, leg):
            bridges.add(hdr(m, "BridgeId"))
    pairs: dict[str, set[str]] = defaultdict(set)
    for m in channels:
        pair = local_pair(hdr(m, "Channel"))
        if pair and hdr(m, "BridgeId"):
            pairs[pair].add(hdr(m, "BridgeId"))
    grown = True
    while grown:
        grown = False
        for ids in pairs.values():
            if ids & bridges and not ids <= bridges:
                bridges |= ids
                grown = True
    return bridges


def _reconcile(ctx: Ctx, call: Call, channels: list[Message]) -> int:
    """Known legs: what the snapshot shows wins over what the tracker last saw."""
    ctx.touch(call)
    bridges = _caller_bridges(call, channels)
    changed = 0
    for m in channels:
        leg = call.legs.get(hdr(m, "Uniqueid"))
        if leg is None or leg.kind not in (KIND_OPERATOR, KIND_TRUNK) or is_customer(call, leg):
            continue
        state = hdr(m, "ChannelState")
        bridged = bool(hdr(m, "BridgeId")) and hdr(m, "BridgeId") in bridges
        if state == "6" and bridged and (leg.state != LEG_UP or leg.pending):
            if leg.state == LEG_NEW:
                ring(ctx, call, leg)
            leg.via = ""  # bridged with the caller: any Local in between is up
            answer(ctx, call, leg)
            changed += 1
        elif state == "5" and leg.state == LEG_NEW and leg.kind == KIND_OPERATOR:
            ring(ctx, call, leg)
            changed += 1
    return changed


def _end_vanished(ctx: Ctx, live: set[str]) -> int:
    ended = 0
    for call in list(ctx.state.calls.values()):
        if call.merged_into:
            continue  # a stub: its channels live in another call
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
