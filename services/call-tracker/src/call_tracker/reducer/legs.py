"""Finding a call and its leg from an event's channel headers, adopting what we never saw."""

from __future__ import annotations

from aioami import Message

from .emit import Ctx
from .model import Call, Leg
from .topology import KIND_OPERATOR, KIND_TRUNK

__all__ = [
    "bridge_enter_wanted",
    "clean_number",
    "dialled_number",
    "find_leg",
    "hdr",
    "is_customer",
    "is_own",
    "local_pair",
    "looks_external",
    "move_leg",
    "on_bridge_enter",
    "on_newchannel",
]

_NO_NUMBER = frozenset({"", "<unknown>", "s", "anonymous", "Anonymous"})


def clean_number(value: str | None) -> str:
    return "" if value is None or value in _NO_NUMBER else value


def hdr(m: Message, key: str) -> str:
    """A header's value, "" if absent (exact name: no case-insensitive fallback)."""
    return dict.get(m, key, "")


def on_newchannel(ctx: Ctx, m: Message) -> None:
    find_leg(ctx, m)


def _value(raw: bytes, key: bytes) -> bytes:
    at = raw.find(key)
    if at < 0:
        return b""
    end = raw.find(b"\r\n", at + len(key))
    return raw[at + len(key) : end if end >= 0 else len(raw)]


def bridge_enter_wanted(raw: bytes) -> bool:
    """Only a channel whose Uniqueid is not its Linkedid can be joining an older call."""
    return _value(raw, b"\r\nUniqueid: ") != _value(raw, b"\r\nLinkedid: ")


def on_bridge_enter(ctx: Ctx, m: Message) -> None:
    """A channel that started a call of its own enters a bridge of an older call (Asterisk
    gives it that call's Linkedid): if its own call never showed anything (a Local channel
    Asterisk made for a transfer's retry, a pickup), its channels join the older call."""
    uid, lid = hdr(m, "Uniqueid"), hdr(m, "Linkedid")
    if not uid or uid == lid:
        return
    calls = ctx.state.calls
    own, into = calls.get(uid), calls.get(lid)
    if own is None or own is into or own.emitted or own.merged_into:
        return
    if into is None:
        return  # the older call is unknown (attached mid-call): find_leg finds it by its root
    if into.merged_into:
        into = calls.get(into.merged_into, into)
    for leg in list(own.legs.values()):
        move_leg(ctx, own, leg, into)


def looks_external(number: str) -> bool:
    return len(number) >= 7 and number.lstrip("+").isdigit()


def dialled_number(dial_string: str) -> str:
    """The number in a Dial() string: ``79031112233@trunk`` (PJSIP), ``trunk/79031112233``
    (chan_sip, IAX2), ``sip:79031112233@host``; "" if it names none."""
    rest = dial_string.rsplit("/", 1)[-1].removeprefix("sip:").partition("@")[0]
    return rest if rest.lstrip("+").isdigit() else ""


def local_pair(channel: str) -> str:
    """``Local/200@ctx-00000004;2`` -> ``Local/200@ctx-00000004`` (both halves share it)."""
    return channel.rpartition(";")[0] if channel.startswith("Local/") else ""


def is_own(call: Call, leg: Leg) -> bool:
    """A click-to-call's own operator leg (the phone the Originate rang first)."""
    return call.originate and (leg.uid == call.linkedid or leg.own)


def find_leg(
    ctx: Ctx, m: Message, prefix: str = "", *, create: bool = True, new_call: bool = True
) -> tuple[Call, Leg] | None:
    """The call and leg named by ``{prefix}Linkedid/Uniqueid/Channel``. Unknown ones are
    created when ``create`` (a call first seen after its start is marked reconstructed);
    an unknown call only if ``new_call`` too."""
    lid = hdr(m, prefix + "Linkedid")
    uid = hdr(m, prefix + "Uniqueid")
    if not lid or not uid:
        return None
    calls = ctx.state.calls
    call = calls.get(lid)
    if call is not None and call.merged_into:
        call = calls.get(call.merged_into, call)  # the channel moved into another call
    if uid != lid and (call is None or uid not in call.legs):
        rooted = calls.get(uid)  # a call's first channel, since given an older call's Linkedid
        if rooted is not None and uid in rooted.legs:
            ctx.touch(rooted)
            return rooted, rooted.legs[uid]
    if call is None:
        if not create or not new_call:
            return None
        call = calls[lid] = Call(linkedid=lid, start_at=ctx.at, reconstructed=uid != lid)
    leg = call.legs.get(uid)
    if leg is None:
        chan = hdr(m, prefix + "Channel")
        if not create or not chan:
            return None
        kind, ext = ctx.state.topology.classify(chan)
        leg = call.legs[uid] = Leg(uid, chan, kind, ext)
        if uid == lid:
            _root_seen(ctx, call, leg, m, prefix)
        elif call.reconstructed and not call.emitted:
            _guess_from_leg(call, leg, m, prefix)
    ctx.touch(call)
    return call, leg


def move_leg(ctx: Ctx, old: Call, leg: Leg, into: Call) -> None:
    """``leg`` now belongs to ``into`` (Asterisk bridged it there and will give it that call's
    Linkedid). Its old call, left without channels and never announced, becomes a stub
    pointing to ``into``, so events still naming the old Linkedid find the leg."""
    old.legs.pop(leg.uid, None)
    into.legs[leg.uid] = leg
    ctx.touch(old)
    ctx.touch(into)
    if not old.legs and not old.emitted and not old.merged_into:
        old.merged_into = into.linkedid
        into.merged.append(old.linkedid)


def is_customer(call: Call, leg: Leg) -> bool:
    """The outside party's channel (a trunk), or the caller of an internal call."""
    if leg.kind == KIND_TRUNK:
        return True
    return call.direction == "internal" and leg.uid == call.linkedid


def _root_seen(ctx: Ctx, call: Call, leg: Leg, m: Message, prefix: str) -> None:
    """The call's first channel decides who called: a trunk (inbound) or an operator."""
    topology = ctx.state.topology
    exten = clean_number(hdr(m, prefix + "Exten"))
    if leg.kind == KIND_TRUNK or (
        leg.kind != KIND_OPERATOR and topology.inbound_context(hdr(m, prefix + "Context"))
    ):
        call.direction = "inbound"
        call.caller = call.external = clean_number(hdr(m, prefix + "CallerIDNum"))
        call.called = call.did = exten
        ctx.start(call)
        return
    # An operator's phone (chan_sip creates it Down, PJSIP in Ring): internal until it dials a
    # trunk. An AMI Originate is recognised by its dial (dialing.on_dial_begin), not by state.
    call.caller = call.operator = leg.ext
    if not call.called:
        call.called = exten


def _guess_from_leg(call: Call, leg: Leg, m: Message, prefix: str) -> None:
    """Attached mid-call: guess the direction from a non-first channel."""
    if leg.kind == KIND_TRUNK:
        call.direction = "outbound"
        call.external = call.called = clean_number(hdr(m, prefix + "CallerIDNum"))
    elif leg.kind == KIND_OPERATOR:
        other = clean_number(hdr(m, prefix + "ConnectedLineNum"))
        if looks_external(other):
            call.direction = "inbound"
            call.caller = call.external = other
            call.called = call.did = clean_number(hdr(m, prefix + "Exten"))
