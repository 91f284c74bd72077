"""Compose templates for calls the captures lack (``python -m amisim.compose OUT``).

Each composed scenario is cut and spliced from the derived templates' frames (event shapes,
header order, noise and timing as Asterisk 22 sent them), re-timed and re-labelled where the
call differs. What no capture shows is said in a ``#`` comment line of the template.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .channels import CHANNEL_KEYS

__all__ = ["COMPOSED", "compose"]

_TIMED = re.compile(r"\{(tv|cdr|ntp|epoch)@(-?[0-9.]+)\}")


@dataclass(slots=True)
class Frame:
    at: float
    lines: list[str]

    @property
    def event(self) -> str:
        return self.lines[0].removeprefix("Event: ")

    def get(self, key: str) -> str | None:
        for line in self.lines:
            k, _, v = line.partition(": ")
            if k == key:
                return v
        return None

    def set(self, key: str, value: str) -> Frame:
        """A copy with the first ``key`` header set (appended if absent)."""
        lines = list(self.lines)
        for i, line in enumerate(lines):
            if line.partition(": ")[0] == key:
                lines[i] = f"{key}: {value}"
                return Frame(self.at, lines)
        return Frame(self.at, [*lines, f"{key}: {value}"])

    def drop(self, key: str) -> Frame:
        return Frame(self.at, [ln for ln in self.lines if ln.partition(": ")[0] != key])

    def block(self, prefix: str = "") -> list[str]:
        keys = {prefix + k for k in CHANNEL_KEYS}
        return [ln for ln in self.lines if ln.partition(": ")[0] in keys]

    def rebase(self, source: Frame, prefix: str = "", source_prefix: str = "") -> Frame:
        """A copy whose ``prefix`` channel block is ``source``'s ``source_prefix`` block."""
        new = [prefix + ln.removeprefix(source_prefix) for ln in source.block(source_prefix)]
        keys = {prefix + k for k in CHANNEL_KEYS}
        out: list[str] = []
        for line in self.lines:
            if line.partition(": ")[0] in keys:
                if new:
                    out += new
                    new = []
                continue
            out.append(line)
        return Frame(self.at, out)

    def named(self, event: str) -> Frame:
        return Frame(self.at, [f"Event: {event}", *self.lines[1:]])

    def when(self, at: float) -> Frame:
        return Frame(at, list(self.lines))

    def sub(self, old: str, new: str) -> Frame:
        return Frame(self.at, [ln.replace(old, new) for ln in self.lines])


Frames = list[Frame]


def load(name: str) -> Frames:
    """The frames of a bundled derived template, in order."""
    text = (resources.files("amisim") / "scenarios" / f"{name}.tmpl").read_text("utf-8")
    frames = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith(("#", "%"))]
        if lines:
            frames.append(Frame(float(lines[0][1:]), lines[1:]))
    return frames


def find(frames: Frames, event: str, at: int = 0, **headers: str) -> int:
    """Index of the first frame from ``at`` named ``event`` with these header values."""
    for i in range(at, len(frames)):
        f = frames[i]
        if f.event == event and all(f.get(k) == v for k, v in headers.items()):
            return i
    raise LookupError(f"no {event} {headers} after {at}")


def shift(frames: Iterable[Frame], dt: float) -> Frames:
    """Frames later by ``dt`` seconds: offsets and the time placeholders in them."""

    def move(m: re.Match[str]) -> str:
        kind, at = m[1], float(m[2])
        if kind == "cdr":
            return f"{{cdr@{at + dt:.0f}}}"
        if kind == "epoch":
            return m[0]
        digits = 6 if kind == "ntp" else 3
        return f"{{{kind}@{at + dt:.{digits}f}}}"

    return [Frame(f.at + dt, [_TIMED.sub(move, ln) for ln in f.lines]) for f in frames]


def longer(frames: Iterable[Frame], dt: int, *, billable: bool = True) -> Frames:
    """Durations (Cdr and Dial's ``*TIME`` variables) grown by ``dt`` seconds."""
    out = []
    for f in frames:
        if f.event == "Cdr":
            f = f.set("Duration", str(int(f.get("Duration") or 0) + dt))
            if billable and f.get("AnswerTime"):
                f = f.set("BillableSeconds", str(int(f.get("BillableSeconds") or 0) + dt))
        elif f.event == "VarSet" and f.get("Variable") in _DURATION_VARS:
            ms = (f.get("Variable") or "").endswith("_MS")
            grow = dt * 1000 if ms else dt
            if billable or not (f.get("Variable") or "").startswith("ANSWERED"):
                f = f.set("Value", str(int(f.get("Value") or 0) + grow))
        out.append(f)
    return out


_DURATION_VARS = {"ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"}


def rename(frames: Iterable[Frame], pairs: dict[str, str]) -> Frames:
    """Placeholders renamed at once (``{"c3": "c2"}`` turns ``{c3}``, ``{c3_uid}`` …)."""
    pattern = re.compile(r"\{(" + "|".join(map(re.escape, pairs)) + r")(_uid|_[12]_uid)?\}")

    def swap(m: re.Match[str]) -> str:
        return "{" + pairs[m[1]] + (m[2] or "") + "}"

    return [Frame(f.at, [pattern.sub(swap, ln) for ln in f.lines]) for f in frames]


# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Composed:
    description: str
    channels: tuple[str, ...]  # "%channel" lines' arguments
    notes: tuple[str, ...]
    phases: tuple[tuple[str, Frames], ...]

    def text(self) -> str:
        out = ["# composed by amisim.compose from the derived templates' frames"]
        out[0] += "".join(f"\n# {note}" for note in self.notes)
        out[0] += f"\n%description {self.description}"
        out += [f"%channel {spec}" for spec in self.channels]
        for name, frames in self.phases:
            out.append(f"%phase {name}")
            out += [f"@{f.at:.3f}\n" + "\n".join(f.lines) for f in frames]
        return "\n\n".join(out) + "\n"


def _callee_hangs_up(dt: float) -> Frames:
    """inbound_answered's teardown as when the operator hangs up (inbound_group's tail,
    the winner ``c3`` as ``c2``, the loser's Cdr left out), ``dt`` seconds later."""
    group = load("inbound_group")
    answered = load("inbound_answered")
    start = find(group, "VarSet", find(group, "BridgeEnter"), Variable="RTPAUDIOQOS")
    tail = [
        f for f in group[start:] if not (f.event == "Cdr" and f.get("DestinationChannel") == "{c2}")
    ]
    tail = rename(tail, {"c3": "c2", "ext2": "ext1"})
    c1 = answered[find(answered, "HangupRequest")]
    out = []
    for f in tail:
        if f.get("Channel") == "{c1}":
            f = f.set("Priority", c1.get("Priority") or "")
        if f.event == "Cdr":
            f = f.set("LastData", "PJSIP/{ext1},20,t")
        out.append(f.sub("{epoch@-81}", "{epoch@-19}"))
    return longer(shift(out, dt), round(dt))


def internal() -> Composed:
    """100 dials 101 (from-internal ``_1XX``): rings, answers, 101 hangs up."""
    answered = load("inbound_answered")
    outbound = load("outbound")
    cut = find(answered, "VarSet", find(answered, "BridgeEnter"), Variable="RTPAUDIOQOS")
    frames = [f for f in answered[:cut] + _callee_hangs_up(1.0) if not _is_recording(f)]
    out = outbound[:2]  # the phone's INVITE is challenged, then accepted
    for f in rename(frames, {"ext1": "ext2"}):
        if f.get("Channel") == "{c1}":
            f = f.set("CallerIDName", "Operator {ext1}")
            if int(f.get("Priority") or 1) > 2:
                f = f.set("Priority", str(int(f.get("Priority") or 1) - 1))  # no MixMonitor
        f = f.sub("{phone}", "{ext1}").sub("{did}", "{ext2}").sub("from-trunk", "from-internal")
        f = f.sub("PJSIP/trunk", "PJSIP/{ext1}").sub("Inbound call to DID", "Internal call")
        f = f.sub("{ext2} from {ext1}", "{ext1} -> {ext2}")
        if f.get("Application") == "Dial":
            f = f.set("AppData", "PJSIP/{ext2},20,tT")
        if f.event == "Cdr":
            f = f.set("CallerID", '"Operator {ext1}" <{ext1}>')
            f = f.set("LastData", "PJSIP/{ext2},20,tT")
        out.append(_operator_names(f))
    return Composed(
        "Ext 100 dials 101 (from-internal _1XX, Dial(PJSIP/101,20,tT)); 101 rings 2 s, "
        "answers; talk 4 s; 101 hangs up.",
        ("c1 PJSIP/{ext1}", "c2 PJSIP/{ext2}"),
        (
            "not captured: an internal call. Frames are inbound_answered's with the trunk caller"
            " turned into operator {ext1} (outbound's INVITE auth first),",
            "no MixMonitor (the _1XX dialplan has none) and inbound_group's teardown for the"
            " callee hanging up.",
        ),
        (("call", _retimed(out)),),
    )


def _operator_names(f: Frame) -> Frame:
    """Operator legs show ``Operator N`` as their names; fix the connected-line names."""
    for prefix in ("", "Dest", "Target"):
        num = f.get(prefix + "ConnectedLineNum")
        if num in ("{ext1}", "{ext2}"):
            f = f.set(prefix + "ConnectedLineName", f"Operator {num}")
    return f


def _is_recording(f: Frame) -> bool:
    return (
        f.event == "MixMonitorStart"
        or f.get("Application") == "MixMonitor"
        or f.get("Variable") == "MIXMONITOR_FILENAME"
    )


def _retimed(frames: Frames) -> Frames:
    """Offsets never go backwards (splices may overlap by a millisecond)."""
    out: Frames = []
    for f in frames:
        out.append(f.when(max(f.at, out[-1].at)) if out else f)
    return out


def dial_timeout() -> Composed:
    """DID 4951234567 → Dial(PJSIP/100,20,t): nobody answers in 20 s; the dialplan hangs up."""
    missed = load("inbound_missed")
    busy = load("inbound_busy")
    head = missed[: find(missed, "HangupRequest")]
    at = 20.002
    dial_end = missed[find(missed, "DialEnd")].set("DialStatus", "NOANSWER")
    c1 = dial_end  # the caller's block while Dial runs
    status = missed[find(missed, "VarSet", Variable="DIALSTATUS")].set("Value", "NOANSWER")
    goto = busy[find(busy, "Newexten", Application="GotoIf")].rebase(c1).set("Priority", "4")
    goto = goto.set("AppData", "0?busy")
    callee = missed[find(missed, "Hangup", Channel="{c2}")]
    callee = callee.set("Cause", "16").set("Cause-txt", "Normal Clearing").drop("TechCause")
    app = busy[find(busy, "Newexten", Application="Hangup")].rebase(c1).set("Priority", "5")
    app = app.set("AppData", "")
    soft = busy[find(busy, "SoftHangupRequest")].rebase(c1).set("Priority", "5")
    cdr = missed[find(missed, "Cdr")].set("Duration", "20").set("EndTime", "{cdr@20}")
    caller = missed[find(missed, "Hangup", Channel="{c1}")].set("Priority", "5")
    caller = caller.set("Cause", "16").set("Cause-txt", "Normal Clearing").drop("TechCause")
    dsc = [f for f in missed[find(missed, "Hangup", Channel="{c2}") :] if f.event != "Hangup"]
    trunk = [f for f in dsc if f.get("Device") == "PJSIP/trunk"]
    member = [f for f in dsc if f.get("Device") != "PJSIP/trunk"]
    tail = [dial_end, status, goto, callee, *member, app, soft, cdr, caller, *trunk]
    tail = [f.when(at + (0.001 if i > 2 else 0.0)) for i, f in enumerate(tail)]
    return Composed(
        "Trunk caller -> DID 4951234567 -> ext 100 rings 20 s, nobody answers (Dial timeout, "
        "DIALSTATUS NOANSWER); the dialplan's Hangup() ends the call.",
        ("c1 PJSIP/trunk", "c2 PJSIP/{ext1}"),
        (
            "not captured: a Dial timeout. Ringing as in inbound_missed; the end uses the"
            " inbound_busy dialplan steps (GotoIf, Hangup) and frames.",
            "the operator leg's Hangup cause on a timeout (16 here; 19 is also met) is not in a"
            " capture; DialEnd NOANSWER comes first either way.",
        ),
        (("call", head + tail),),
    )


def queue_abandon() -> Composed:
    """DID 4951112233 → Queue(support): 100 and 101 ring; the caller hangs up after 8 s."""
    queue = load("inbound_queue")
    missed = load("inbound_missed")
    answer_at = queue[find(queue, "Newstate", find(queue, "DialState"), Channel="{c3}")].at
    head = [f for f in queue if f.at < answer_at and f.event != "RTCPSent"]
    ring3 = queue[find(queue, "DialState", DestChannel="{c3}")]
    c1 = ring3  # the caller's block while the queue rings
    at = 8.004
    request = missed[find(missed, "HangupRequest")].rebase(c1)
    cancel2 = queue[find(queue, "DialEnd", DialStatus="CANCEL")].rebase(c1)
    cancel2 = cancel2.rebase(queue[find(queue, "DialState", DestChannel="{c2}")], "Dest", "Dest")
    cancel3 = cancel2.rebase(ring3, "Dest", "Dest")
    leave = queue[find(queue, "QueueCallerLeave")].rebase(c1)
    abandon = leave.named("QueueCallerAbandon").drop("Count")
    abandon = abandon.set("OriginalPosition", "1").set("HoldTime", "8")
    dsc_queue = queue[find(queue, "DeviceStateChange", Device="Queue:support", State="NOT_INUSE")]
    hangups = []
    for role, ext in (("c2", "ext1"), ("c3", "ext2")):
        ringing = queue[find(queue, "DialState", DestChannel=f"{{{role}}}")]
        hangup = missed[find(missed, "Hangup", Channel="{c2}")].rebase(ringing, "", "Dest")
        hangups.append(hangup)
        idle = queue[find(queue, "QueueMemberStatus", Interface=f"PJSIP/{{{ext}}}", Status="1")]
        hangups.append(idle)
        hangups.append(Frame(0, _dsc(f"PJSIP/{{{ext}}}", "NOT_INUSE")))
    avail = queue[find(queue, "DeviceStateChange", Device="Queue:support_avail", State="NOT_INUSE")]
    soft = missed[find(missed, "SoftHangupRequest")].rebase(c1)
    cdr = queue[find(queue, "Cdr", Disposition="NO ANSWER")]
    cdr = cdr.set("EndTime", "{cdr@8}").set("Duration", "8").set("BillableSeconds", "0")
    caller = missed[find(missed, "Hangup", Channel="{c1}")].rebase(c1)
    trunk = Frame(0, _dsc("PJSIP/trunk", "NOT_INUSE"))
    tail = [request, cancel2, cancel3, abandon, leave, dsc_queue, *hangups, avail]
    tail += [soft, cdr, caller, trunk]
    tail = [
        f.when(at + (0.001 if i else 0.0) + (0.001 if i > 5 else 0.0)) for i, f in enumerate(tail)
    ]
    return Composed(
        "Trunk caller -> DID 4951112233 -> Queue(support, ringall 100+101); both ring, nobody "
        "answers; the caller hangs up after 8 s (QueueCallerAbandon).",
        ("c1 PJSIP/trunk", "c2 PJSIP/{ext1}", "c3 PJSIP/{ext2}"),
        (
            "not captured: a queue abandon. Ringing as in inbound_queue; the caller's CANCEL as"
            " in inbound_missed (cause 127).",
            "QueueCallerAbandon (Queue, Position, OriginalPosition, HoldTime after the channel"
            " block) and its place before QueueCallerLeave are from Asterisk's documentation,"
            " not a capture.",
        ),
        (("call", head + tail),),
    )


def _dsc(device: str, state: str) -> list[str]:
    return [
        "Event: DeviceStateChange",
        "Privilege: call,all",
        f"Device: {device}",
        f"State: {state}",
    ]


def redirect_transfer() -> Composed:
    """blind_transfer_ami without BlindTransfer, Unhold and BLINDTRANSFER: an AMI Redirect."""
    blind = load("blind_transfer_ami")
    cut = find(blind, "Unhold")

    def keep(f: Frame) -> bool:
        gone = f.event in ("BlindTransfer", "Unhold") or f.get("Variable") == "BLINDTRANSFER"
        return not gone

    return Composed(
        "Trunk caller -> DID 4951234567 -> 100 answers after 2 s; 3 s later AMI Redirect of the"
        " caller's channel to from-internal,101,1 (no transfer event); 101 rings 2 s, answers;"
        " caller hangs up 10 s after its own answer.",
        ("c1 PJSIP/trunk", "c2 PJSIP/{ext1}", "c3 PJSIP/{ext2}"),
        (
            "not captured as such: the blind_transfer_ami capture with its BlindTransfer, Unhold"
            " and BLINDTRANSFER frames removed (an AMI Redirect sends none of them).",
        ),
        (
            ("call", [f for f in blind[:cut] if keep(f)]),
            ("transfer", [f for f in blind[cut:] if keep(f)]),
        ),
    )


def hold() -> Composed:
    """inbound_answered with a hold (4 s → 7 s) by the operator; the operator hangs up at 9 s."""
    answered = load("inbound_answered")
    atx = load("attended_transfer_ami")
    blind = load("blind_transfer_ami")
    cut = find(answered, "VarSet", find(answered, "BridgeEnter"), Variable="RTPAUDIOQOS")
    up1 = answered[cut - 1]  # c1's block while bridged
    up2 = answered[find(answered, "VarSet", find(answered, "BridgeEnter"), Channel="{c2}")]
    held = atx[find(atx, "Hold")].rebase(up2)
    moh = atx[find(atx, "MusicOnHoldStart")].rebase(up1)
    onhold = atx[find(atx, "DeviceStateChange", Device="PJSIP/trunk", State="ONHOLD")]
    unhold = blind[find(blind, "Unhold")].rebase(up2)
    stop = atx[find(atx, "MusicOnHoldStop")].rebase(up1)
    inuse = Frame(0, _dsc("PJSIP/trunk", "INUSE"))
    mid = [held.when(4.006), moh.when(4.006), onhold.when(4.006)]
    mid += [unhold.when(7.009), stop.when(7.009), inuse.when(7.009)]
    frames = answered[:cut] + mid + _callee_hangs_up(4.0)
    return Composed(
        "Trunk caller -> DID 4951234567 -> 100 answers after 2 s; 2 s later 100 puts the caller"
        " on hold (MOH) for 3 s; 100 hangs up 7 s after answering.",
        ("c1 PJSIP/trunk", "c2 PJSIP/{ext1}"),
        (
            "not captured: a phone's own hold. Hold on the operator's channel and"
            " MusicOnHoldStart/Stop on the caller's as in attended_transfer_ami, Unhold as in"
            " blind_transfer_ami;",
            "the trunk's DeviceStateChange back to INUSE on unhold is inferred.",
        ),
        (("call", _retimed(frames)),),
    )


def pickup() -> Composed:
    """DID 4951234567 → 100 rings; after 3 s 102 dials the pickup code and takes the call."""
    answered = load("inbound_answered")
    outbound = load("outbound")
    ring_end = find(answered, "Newstate", find(answered, "DialState"), Channel="{c2}")
    head = answered[:ring_end]
    ringing = answered[find(answered, "DialState")]  # c2 ringing as the Dest block
    auth = rename(outbound[:2], {"ext1": "ext2", "sip1": "sip2"})
    picker = outbound[find(outbound, "Newchannel")]
    picker = rename([picker], {"c1": "c3", "ext1": "ext2"})[0]
    picker = picker.set("Exten", "*8").set("Linkedid", "{c3_uid}")
    domain = outbound[find(outbound, "VarSet", Variable="SIPDOMAIN")].rebase(picker)
    event = Frame(0, ["Event: Pickup", "Privilege: call,all", *picker.block()])
    event = Frame(
        0, event.lines + ["Target" + ln.removeprefix("Dest") for ln in ringing.block("Dest")]
    )
    inuse = Frame(0, _dsc("PJSIP/{ext2}", "INUSE"))
    gone = Frame(0, [*picker.named("Hangup").lines[:2], *picker.block()])
    gone = gone.set("Cause", "16").set("Cause-txt", "Normal Clearing")
    pick = [*auth, picker, domain, event, inuse]
    pick = [f.when(3.004 + (0.001 if i > 1 else 0.0)) for i, f in enumerate(pick)]
    cut = find(answered, "VarSet", find(answered, "BridgeEnter"), Variable="RTPAUDIOQOS")
    answer = shift(answered[ring_end:cut], 1.0)
    idle = Frame(0, _dsc("PJSIP/{ext2}", "NOT_INUSE"))
    bye = [gone.when(answer[-1].at), idle.when(answer[-1].at)]
    tail = longer(shift(answered[cut:], 4.0), 4)
    frames = head + pick + answer + bye + tail
    return Composed(
        "Trunk caller -> DID 4951234567 -> 100 rings; after 3 s 102 dials *8 (call pickup) and"
        " takes the call; talk 6 s; the caller hangs up.",
        ("c1 PJSIP/trunk", "c2 PJSIP/{ext1}", "c3 PJSIP/{ext2}"),
        (
            "not captured: call pickup (the capture PBX has no pickup code). The Pickup event"
            " (picker's channel block, then the ringing channel's block prefixed Target),",
            "the picker channel's short life (own Linkedid, Exten *8, hung up after the pickup)"
            " and the ringing leg answering in its place are from Asterisk's documentation;",
            "every other frame is inbound_answered's (the answer 1 s later, the talk 3 s longer).",
        ),
        (("call", _retimed(frames)),),
    )


COMPOSED: dict[str, Callable[[], Composed]] = {
    "internal": internal,
    "dial_timeout": dial_timeout,
    "queue_abandon": queue_abandon,
    "redirect_transfer": redirect_transfer,
    "pickup": pickup,
    "hold": hold,
}


def compose(name: str) -> str:
    """The template text of composed scenario ``name``."""
    return COMPOSED[name]().text()


def main(out: Path) -> None:
    for name in COMPOSED:
        (out / f"{name}.tmpl").write_text(compose(name), "utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
