"""The scenario matrix: real calls on the lab PBX, each with the calls it must give.

Every :class:`Scenario` is a small declarative definition: a description, a ``drive``
coroutine that makes the calls with sipp phones, the trunk and AMI, and ``calls``, the truth
(:class:`~pbxlab.truth.Expect`). ``xfail`` names, per Asterisk version (``"*"`` = all), the
tracker pattern that is known not to come out right yet. :func:`run_scenario` runs one on a
lab and records its AMI stream in the capture format (see :mod:`pbxlab.record`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aioami import AMIClient, Message
from amisim import capture

from .asterisk import AMI_SECRET, AMI_USER
from .lab import DIDS, MOBILE, Lab
from .sipp import AwaitBye, Dtmf, Hangup, Hold, Refer, Sipp, Talk
from .truth import Expect, Span, Transfer, resolve

__all__ = ["SCENARIOS", "Ctx", "Run", "Scenario", "run_scenario"]


@dataclass(slots=True)
class Ctx:
    """What a scenario's ``drive`` gets: the lab, its own numbers, AMI, the restart hook."""

    lab: Lab
    ami: AMIClient
    caller: str  # this scenario's external caller number
    number: str  # this scenario's external called number (outbound)
    caller2: str  # a second external caller of this scenario
    _restart: Restart
    marks: dict[str, float] = field(default_factory=dict)

    async def restart(self, during: Callable[[], Awaitable[object]] | None = None) -> None:
        """Restart the system under test (callbridge); ``during`` runs while it is down.
        The times are marked ``down`` and ``up`` (a recording-only run has nothing to
        restart: ``during`` just runs)."""
        self.mark("down")
        await self._restart(during)
        self.mark("up")

    def ext(self, role: str) -> str:
        return self.lab.ext(role)

    def mark(self, name: str) -> None:
        """Note the time of a moment the truth's :class:`Span` durations refer to."""
        self.marks[name] = time.time()

    async def parked(self, *, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Until a call waits in the parking lot."""
        async with asyncio.timeout(timeout):
            while True:
                result = await self.ami.send_list_action("ParkedCalls")
                if any(ev.event == "ParkedCall" for ev in result.events):
                    return
                await asyncio.sleep(0.1)

    def device(self, role: str) -> str:
        return self.lab.phone(role).device

    async def channel(self, role: str, *, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """The name of the Up channel of ``role``'s phone (polled under a deadline)."""
        prefix = self.device(role) + "-"
        async with asyncio.timeout(timeout):
            while True:
                result = await self.ami.send_list_action("CoreShowChannels")
                for ev in result.events:
                    name = ev.get("Channel") or ""
                    if name.startswith(prefix) and ev.get("ChannelStateDesc") == "Up":
                        return name
                await asyncio.sleep(0.1)

    async def channels(self, role: str) -> list[str]:
        """The names of ``role``'s Up channels, oldest first."""
        prefix = self.device(role) + "-"
        result = await self.ami.send_list_action("CoreShowChannels")
        return sorted(
            (ev.get("Channel") or "" for ev in result.events
             if (ev.get("Channel") or "").startswith(prefix)
             and ev.get("ChannelStateDesc") == "Up"),
            key=lambda name: name.rsplit("-", 1)[-1],
        )  # fmt: skip

    async def ringing(self, role: str, *, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Until ``role``'s phone has a ringing channel."""
        prefix = self.device(role) + "-"
        async with asyncio.timeout(timeout):
            while True:
                result = await self.ami.send_list_action("CoreShowChannels")
                if any(
                    (ev.get("Channel") or "").startswith(prefix)
                    and ev.get("ChannelStateDesc") == "Ringing"
                    for ev in result.events
                ):
                    return
                await asyncio.sleep(0.1)


Drive = Callable[[Ctx], Awaitable[None]]
Restart = Callable[[Callable[[], Awaitable[object]] | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    about: str
    drive: Drive
    calls: tuple[Expect, ...]
    xfail: Mapping[str, str] = field(default_factory=dict)
    versions: tuple[str, ...] = ("22", "20")

    def xfail_reason(self, version: str) -> str | None:
        return self.xfail.get(version) or self.xfail.get("*")


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    about: str,
    *calls: Expect,
    xfail: Mapping[str, str] | None = None,
    versions: tuple[str, ...] = ("22", "20"),
) -> Callable[[Drive], Drive]:
    def add(drive: Drive) -> Drive:
        name = drive.__name__
        SCENARIOS[name] = Scenario(name, about, drive, calls, dict(xfail or {}), versions)
        return drive

    return add


async def done(*runs: Sipp, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Until every sipp run completed (the first failure is raised, the rest stopped)."""
    try:
        await asyncio.gather(*(r.done(timeout) for r in runs))
    finally:
        for r in runs:
            r.kill()


async def registered(ctx: Ctx, *roles: str) -> None:
    for role in roles:
        await ctx.lab.phone(role).register()


def inbound(
    did: str, rang: tuple[str, ...], outcome: str, **kw: Any
) -> Expect:  # the usual shape of a trunk call
    return Expect("inbound", "$caller", did, rang, outcome, **kw)


# Known tracker gaps (issue #10), named once so the xfail reasons read the same everywhere.
CHAN_SIP_DOWN = "chan_sip: a phone's inbound channel starts Down, taken for an Originate"
LOCAL_ORIGINATE = "Originate through a Local channel: caller empty, operator leg = answer"
#: A known gap that shows in some runs only ("sometimes: " makes the live xfail non-strict).
LOCAL_REJECT_SIP = (
    "sometimes: a chan_sip operator who rejects a Local click-to-call comes out answered in "
    "some live runs and right in others (the recorded run replays wrong): event order, not "
    "yet understood"
)
FORWARD = "forward to an external number: answered_by is the caller / unanswered = answered"
REFER = "transfers from the phone (REFER/features): target unknown or the original callee"
BUSY_RULE = "a BUSY leg makes an unanswered ring group busy"
PBX_ANSWER = "a call answered by the PBX itself (IVR/AGI/voicemail) comes out missed"
PICKUP = "pickup: the picker counted as rung, the picker's own call never ends"
RESTART = "restart: a call answered while callbridge was down (Up in the snapshot) is missed"
RESTART_XFER = "restart: a transfer made while callbridge was down is lost (no target, no transfer)"
CONSULT = "REFER with Replaces: the consultation call never ends"
CONFERENCE = "conference: a call the PBX answered into a ConfBridge is not a conference"
PARK = "park: the parking lot taken for an extension the call was transferred to"

# ---------------------------------------------------------------- direct inbound


@scenario(
    "Trunk caller → DID → A rings 2 s, answers, talks 3 s; the caller hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=2, talk=3,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def inbound_answered(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(3), Hangup()])
    await done(a, c)


@scenario(
    "Trunk caller → DID → A rings; the caller gives up after 3 s.",
    inbound(DIDS["direct"], ("A",), "missed", ring=3, hangup_by="caller", recording=True),
)
async def inbound_missed(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], answer=None, cancel=3)
    await done(a, c)


@scenario(
    "Trunk caller → DID → A answers 486 Busy.",
    inbound(DIDS["direct"], ("A",), "busy", recording=True),
)
async def inbound_busy(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").busy()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], answer=False)
    await done(a, c)


@scenario(
    "Trunk caller → DID → A rings until the dial timeout (6 s); the PBX hangs up.",
    inbound(DIDS["direct"], ("A",), "missed", ring=6, hangup_by="system", recording=True),
)
async def inbound_no_answer(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], answer=False)
    await done(a, c)


# ---------------------------------------------------------------- internal, outbound


@scenario(
    "A dials B; B rings 2 s, answers, talks 2 s; A hangs up.",
    Expect("internal", "A", "B", ("B",), "answered", answered_by="B", ring=2, talk=2,
           hangup_by="caller"),
)  # fmt: skip
async def internal_answered(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    b = await ctx.lab.phone("B").answer(ring=2)
    a = await ctx.lab.phone("A").call(ctx.ext("B"), then=[Talk(2), Hangup()])
    await done(a, b)


@scenario(
    "A dials B; B is busy.",
    Expect("internal", "A", "B", ("B",), "busy"),
)
async def internal_busy(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    b = await ctx.lab.phone("B").busy()
    a = await ctx.lab.phone("A").call(ctx.ext("B"), answer=False)
    await done(a, b)


@scenario(
    "A dials an external number; the far end answers after 2 s; talk 2 s; A hangs up.",
    Expect("outbound", "A", "$number", ("$number",), "answered", answered_by="$number", ring=2,
           talk=2, hangup_by="caller", recording=True, extension="A"),
)  # fmt: skip
async def outbound_answered(ctx: Ctx) -> None:
    await registered(ctx, "A")
    far = await ctx.lab.trunk.answer(ring=2)
    a = await ctx.lab.phone("A").call(ctx.number, then=[Talk(2), Hangup()])
    await done(a, far)


@scenario(
    "A dials an external number; the far end is busy.",
    Expect("outbound", "A", "$number", ("$number",), "busy", recording=True, extension="A"),
)
async def outbound_busy(ctx: Ctx) -> None:
    await registered(ctx, "A")
    far = await ctx.lab.trunk.busy()
    a = await ctx.lab.phone("A").call(ctx.number, answer=False)
    await done(a, far)


# ---------------------------------------------------------------- ring groups


@scenario(
    "DID → ring group (Local/A, Local/B); B answers after 2 s, A is cancelled; B hangs up.",
    inbound(DIDS["group"], ("A", "B"), "answered", answered_by="B", ring=2, talk=2,
            hangup_by="callee", recording=True),
)  # fmt: skip
async def group_answered(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").ring()
    b = await ctx.lab.phone("B").answer(ring=2, then=[Talk(2), Hangup()])
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["group"])
    await done(a, b, c)


@scenario(
    "DID → ring group; A is busy, B answers after 2 s; the caller hangs up.",
    inbound(DIDS["group"], ("A", "B"), "answered", answered_by="B", ring=2, talk=2,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def group_member_busy(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").busy()
    b = await ctx.lab.phone("B").answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["group"], then=[Talk(2), Hangup()])
    await done(a, b, c)


@scenario(
    "DID → ring group; A is busy, B rings until the group's timeout (6 s): missed, not busy.",
    inbound(DIDS["group"], ("A", "B"), "missed", ring=6, recording=True),
)
async def group_busy_unanswered(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").busy()
    b = await ctx.lab.phone("B").ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["group"], answer=False)
    await done(a, b, c)


@scenario(
    "DID → ring group; A is on DND (the dialplan returns busy without ringing it), B answers.",
    inbound(DIDS["group"], ("B",), "answered", answered_by="B", ring=2, talk=2,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def group_member_dnd(ctx: Ctx) -> None:
    await registered(ctx, "B")
    await ctx.ami.send_action("DBPut", {"Family": "DND", "Key": ctx.ext("A"), "Val": "1"})
    try:
        b = await ctx.lab.phone("B").answer(ring=2)
        c = await ctx.lab.trunk.call(ctx.caller, DIDS["group"], then=[Talk(2), Hangup()])
        await done(b, c)
    finally:
        await ctx.ami.send_action("DBDel", {"Family": "DND", "Key": ctx.ext("A")})


@scenario(
    "DID → ring group of A and a mobile (Local → trunk); the mobile answers after 2 s.",
    inbound(DIDS["group_mobile"], ("A", "$mobile"), "answered", answered_by="$mobile", ring=2,
            talk=2, hangup_by="caller", recording=True),
)  # fmt: skip
async def group_mobile_answered(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").ring()
    m = await ctx.lab.trunk.answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["group_mobile"], then=[Talk(2), Hangup()])
    await done(a, m, c)


@scenario(
    "DID → ring group of A and a mobile; nobody answers, the caller gives up after 3 s.",
    inbound(
        DIDS["group_mobile"], ("A", "$mobile"), "missed", ring=3, hangup_by="caller", recording=True
    ),
)
async def group_mobile_missed(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").ring()
    m = await ctx.lab.trunk.ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["group_mobile"], answer=None, cancel=3)
    await done(a, m, c)


@scenario(
    "A forwards all calls to an external number (DB CF/A); DID → A → Local → trunk; answered.",
    inbound(DIDS["direct"], ("$number",), "answered", answered_by="$number", ring=2, talk=2,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def forward_answered(ctx: Ctx) -> None:
    await ctx.ami.send_action("DBPut", {"Family": "CF", "Key": ctx.ext("A"), "Val": ctx.number})
    try:
        far = await ctx.lab.trunk.answer(ring=2)
        c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(2), Hangup()])
        await done(far, c)
    finally:
        await ctx.ami.send_action("DBDel", {"Family": "CF", "Key": ctx.ext("A")})


# ---------------------------------------------------------------- queues


@scenario(
    "DID → queue support (ringall, Local members A, B); A answers after 2 s; caller hangs up.",
    inbound(DIDS["queue"], ("A", "B"), "answered", answered_by="A", ring=2, talk=2,
            hangup_by="caller", recording=True, queue="support"),
)  # fmt: skip
async def queue_answered(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=2)
    b = await ctx.lab.phone("B").ring()
    # the queue answers the caller first: the caller's talk includes the 2 s of ringing
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["queue"], then=[Talk(4), Hangup()])
    await done(a, b, c)


@scenario(
    "DID → queue support; A is busy, B answers after 2 s.",
    inbound(DIDS["queue"], ("A", "B"), "answered", answered_by="B", ring=2, talk=2,
            hangup_by="caller", recording=True, queue="support"),
)  # fmt: skip
async def queue_member_busy(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").busy()
    b = await ctx.lab.phone("B").answer(ring=2)
    # the queue answers the caller first: the caller's talk includes the 2 s of ringing
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["queue"], then=[Talk(4), Hangup()])
    await done(a, b, c)


@scenario(
    "DID → queue support; A and B ring; the caller leaves after 3 s (abandoned).",
    inbound(DIDS["queue"], ("A", "B"), "abandoned", ring=3, hangup_by="caller",
            recording=True, queue="support"),
)  # fmt: skip
async def queue_abandon(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").ring()
    b = await ctx.lab.phone("B").ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["queue"], then=[Talk(3), Hangup()])
    await done(a, b, c)


@scenario(
    "DID → queue support; nobody answers in 8 s; A's voicemail takes a 2 s message.",
    inbound(DIDS["queue"], ("A", "B"), "voicemail", ring=8, talk=2, hangup_by="caller",
            recording=True, queue="support", pbx_app="VoiceMail"),
)  # fmt: skip
async def queue_timeout_voicemail(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").ring()
    b = await ctx.lab.phone("B").ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["queue"], then=[Talk(10), Hangup()])
    await done(a, b, c)


@scenario(
    "DID → queue sales (rrmemory, device members); A (first) answers after 2 s.",
    inbound(DIDS["queue_rr"], ("A",), "answered", answered_by="A", ring=2, talk=2,
            hangup_by="caller", queue="sales"),
)  # fmt: skip
async def queue_rrmemory(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["queue_rr"], then=[Talk(4), Hangup()])
    await done(a, c)


# ---------------------------------------------------------------- handled by the PBX


@scenario(
    "DID → IVR; the caller presses 1 after 1 s; A rings 2 s, answers; caller hangs up.",
    inbound(DIDS["ivr"], ("A",), "answered", answered_by="A", ring=3, talk=2,
            hangup_by="caller"),
)  # fmt: skip
async def ivr_to_operator(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=2)
    c = await ctx.lab.trunk.call(
        ctx.caller, DIDS["ivr"], then=[Talk(1), Dtmf("1"), Talk(3.7), Hangup()]
    )
    await done(a, c)


@scenario(
    "DID → IVR; no choice: the IVR times out, plays a beep and hangs up.",
    inbound(DIDS["ivr"], (), "ivr", talk=4, hangup_by="system", pbx_app="BackGround"),
)
async def ivr_handled(ctx: Ctx) -> None:
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["ivr"], then=[AwaitBye()])
    await done(c)


@scenario(
    "DID → an AGI app answers, plays a beep, waits 2 s and hangs up.",
    inbound(DIDS["agi"], (), "bot", talk=2, hangup_by="system", pbx_app="AGI"),
)
async def agi_handled(ctx: Ctx) -> None:
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["agi"], then=[AwaitBye()])
    await done(c)


@scenario(
    "DID → C rings 6 s, no answer; voicemail takes a 3 s message; the caller hangs up.",
    inbound(DIDS["direct_vm"], ("C",), "voicemail", ring=6, talk=3, hangup_by="caller",
            pbx_app="VoiceMail"),
    xfail={"*": PBX_ANSWER},
)  # fmt: skip
async def voicemail_after_no_answer(ctx: Ctx) -> None:
    await registered(ctx, "C")
    cc = await ctx.lab.phone("C").ring()
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct_vm"], then=[Talk(9), Hangup()])
    await done(cc, c)


# ---------------------------------------------------------------- click-to-call


async def _originate(ctx: Ctx, channel: str) -> None:
    await ctx.ami.send_action(
        "Originate",
        {
            "Channel": channel,
            "Context": "from-internal",
            "Exten": ctx.number,
            "Priority": "1",
            "CallerID": f'"Click" <{ctx.ext("A")}>',
            "Timeout": "15000",
            "Async": "true",
        },
    )


@scenario(
    "AMI Originate of A's phone channel; A answers after 1 s; the client answers after 2 s.",
    Expect("outbound", "A", "$number", ("A", "$number"), "answered", answered_by="$number",
           ring=3, talk=2, hangup_by="callee", recording=True, extension="A"),
)  # fmt: skip
async def click_to_call_phone(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=1)
    far = await ctx.lab.trunk.answer(ring=2, then=[Talk(2), Hangup()])
    await _originate(ctx, ctx.device("A"))
    await done(a, far)


@scenario(
    "AMI Originate of Local/A@from-internal (FreePBX style); A answers after 1 s; the client"
    " answers after 2 s; the client hangs up.",
    Expect("outbound", "A", "$number", ("A", "$number"), "answered", answered_by="$number",
           ring=3, talk=2, hangup_by="callee", recording=True, extension="A"),
)  # fmt: skip
async def click_to_call_local(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=1)
    far = await ctx.lab.trunk.answer(ring=2, then=[Talk(2), Hangup()])
    await _originate(ctx, f"Local/{ctx.ext('A')}@from-internal")
    await done(a, far)


@scenario(
    "AMI Originate of Local/A@from-internal; the operator rejects (603): nobody is called.",
    Expect("outbound", "A", "$number", ("A",), "failed", extension="A"),
    xfail={"20": LOCAL_REJECT_SIP},
)
async def click_to_call_local_rejected(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").reject()
    await _originate(ctx, f"Local/{ctx.ext('A')}@from-internal")
    await done(a)


@scenario(
    "AMI Originate of Local/A@from-internal; A answers; the client is busy.",
    Expect("outbound", "A", "$number", ("A", "$number"), "busy", recording=True, extension="A"),
)
async def click_to_call_local_client_busy(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=1)
    far = await ctx.lab.trunk.busy()
    await _originate(ctx, f"Local/{ctx.ext('A')}@from-internal")
    await done(a, far)


# ---------------------------------------------------------------- transfers


@scenario(
    "Inbound to A, answered; A transfers blind with ## to B; B answers after 2 s; caller"
    " hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=6,
            hangup_by="caller", recording=True, transfers=(Transfer("blind", "A", "B"),),
            extension="B"),
)  # fmt: skip
async def blind_transfer_features(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(1), Dtmf("##" + ctx.ext("B"))])
    b = await ctx.lab.phone("B").answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(6), Hangup()])
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; A sends REFER to B (blind); B answers after 2 s; caller hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=5,
            hangup_by="caller", recording=True, transfers=(Transfer("blind", "A", "B"),),
            extension="B"),
)  # fmt: skip
async def blind_transfer_refer(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(1), Refer(ctx.ext("B"))])
    b = await ctx.lab.phone("B").answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(5), Hangup()])
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; A calls B (consultation, B answers), then sends REFER with"
    " Replaces (attended transfer from the phone); the caller talks to B and hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=1, talk=8,
            hangup_by="caller", recording=True, transfers=(Transfer("attended", "A", "B"),),
            extension="B"),
    Expect("internal", "A", "B", ("B",), "answered", answered_by="B", ring=1,
           talk=Span("consult_up", "referred"),
           notes="the consultation call (B rang in it), ended by the transfer"),
)  # fmt: skip
async def attended_transfer_refer(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    consult = f"consult-{ctx.caller}@lab"
    pjsip = ctx.lab.driver == "pjsip"
    # PJSIP finds the replaced dialog by Call-ID and both tags: the PBX's tag reaches the
    # phone in a NOTIFY (AMI PJSIPNotify into the first call); chan_sip (pedantic = no)
    # needs the Call-ID only, so that phone transfers after 4 s of talk.
    refer = Refer(ctx.ext("B"), replaces=consult, tag_by_notify=pjsip)
    a = await ctx.lab.phone("A").answer(ring=1, then=[refer] if pjsip else [Talk(4), refer])
    b = await ctx.lab.phone("B").answer(ring=1)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(8), Hangup()])
    first = await ctx.channel("A")
    a2 = await ctx.lab.phone("A").call(ctx.ext("B"), then=[AwaitBye()], call_id=consult)
    await ctx.channel("B")
    ctx.mark("consult_up")
    if pjsip:
        second = next(ch for ch in await ctx.channels("A") if ch != first)
        got = await ctx.ami.send_action(
            "Getvar", {"Channel": second, "Variable": "CHANNEL(pjsip,local_tag)"}
        )
        await ctx.ami.send_action(
            "PJSIPNotify",
            {
                "Channel": first,
                "Variable": [
                    "Event=lab-replaces",
                    "Content-Type=text/plain",
                    f"Content=totag={got.get('Value') or ''}",
                ],
            },
        )
    await a.done()
    ctx.mark("referred")
    await done(a2, b, c)


@scenario(
    "Inbound to A, answered; AMI BlindTransfer of A's channel to B; B answers; caller hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=5,
            hangup_by="caller", recording=True, transfers=(Transfer("blind", "A", "B"),),
            extension="B"),
)  # fmt: skip
async def blind_transfer_ami(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=1)
    b = await ctx.lab.phone("B").answer(ring=2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(5), Hangup()])
    channel = await ctx.channel("A")
    await ctx.ami.send_action(
        "BlindTransfer", {"Channel": channel, "Context": "from-internal", "Exten": ctx.ext("B")}
    )
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; A starts an attended transfer with *2 to B; B answers, they talk;"
    " A hangs up to complete; the caller talks to B and hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=9,
            hangup_by="caller", recording=True, transfers=(Transfer("attended", "A", "B"),),
            extension="B"),
)  # fmt: skip
async def attended_transfer_features(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(
        ring=1, then=[Talk(1), Dtmf("*2" + ctx.ext("B")), Talk(4), Hangup()]
    )
    b = await ctx.lab.phone("B").answer(ring=1)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(9), Hangup()])
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; A starts *2 to B and hangs up while B still rings (blonde);"
    " B answers; the caller talks to B and hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=8,
            hangup_by="caller", recording=True, transfers=(Transfer("attended", "A", "B"),),
            extension="B"),
)  # fmt: skip
async def blonde_transfer_features(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(
        ring=1, then=[Talk(1), Dtmf("*2" + ctx.ext("B")), Talk(1.5), Hangup()]
    )
    b = await ctx.lab.phone("B").answer(ring=3)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(8), Hangup()])
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; AMI Atxfer of A's channel to B; B answers; A hangs up to"
    " complete; the caller talks to B and hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=9,
            hangup_by="caller", recording=True, transfers=(Transfer("attended", "A", "B"),),
            extension="B"),
)  # fmt: skip
async def attended_transfer_ami(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(5), Hangup()])
    b = await ctx.lab.phone("B").answer(ring=1)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(9), Hangup()])
    channel = await ctx.channel("A")
    await ctx.ami.send_action(
        "Atxfer", {"Channel": channel, "Context": "from-internal", "Exten": ctx.ext("B")}
    )
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; A transfers blind (##) to an external number; it answers.",
    inbound(DIDS["direct"], ("A", "$number"), "answered", answered_by="A", ring=1, talk=6,
            hangup_by="caller", recording=True,
            transfers=(Transfer("blind", "A", "$number"),)),
)  # fmt: skip
async def transfer_to_external(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(1), Dtmf("##" + ctx.number)])
    far = await ctx.lab.trunk.answer(ring=1)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(6), Hangup()])
    await done(a, far, c)


# ---------------------------------------------------------------- pickup, park, hold


@scenario(
    "Inbound to A ringing; B picks it up with **A; talk 2 s; B hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="B", ring=Span("start", "pickup"),
            talk=2, hangup_by="callee", recording=True),
)  # fmt: skip
async def pickup_directed(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").ring()
    ctx.mark("start")
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[AwaitBye()])
    await ctx.ringing("A")
    ctx.mark("pickup")
    b = await ctx.lab.phone("B").call("**" + ctx.ext("A"), then=[Talk(2), Hangup()])
    await done(a, b, c)


@scenario(
    "Inbound to A ringing; B picks it up with *8 (group pickup); talk 2 s; B hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="B", ring=Span("start", "pickup"),
            talk=2, hangup_by="callee", recording=True),
)  # fmt: skip
async def pickup_group(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").ring()
    ctx.mark("start")
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[AwaitBye()])
    await ctx.ringing("A")
    ctx.mark("pickup")
    b = await ctx.lab.phone("B").call("*8", then=[Talk(2), Hangup()])
    await done(a, b, c)


@scenario(
    "Inbound to A, answered; A parks it (## 6000 → slot 6001); B retrieves it (6001), talks 2 s"
    " and hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=1,
            talk=Span("start", "end", -1), hangup_by="callee", recording=True, extension="B"),
)  # fmt: skip
async def park_and_retrieve(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(1), Dtmf("##6000")])
    ctx.mark("start")
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[AwaitBye()])
    await ctx.parked()
    b = await ctx.lab.phone("B").call("6001", then=[Talk(2), Hangup()])
    await done(a, b, c)
    ctx.mark("end")


@scenario(
    "Inbound to A, answered; A holds 2 s (re-INVITE sendonly), resumes, talks; caller hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=1, talk=5,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def hold_and_resume(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(1), Hold(2)])
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(5), Hangup()])
    await done(a, c)


# ---------------------------------------------------------------- two calls for one operator


@scenario(
    "Call waiting: A talks with a first caller; a second caller rings A for 3 s and gives up;"
    " the first caller hangs up after 6 s.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=1, talk=6,
            hangup_by="caller", recording=True),
    Expect("inbound", "$caller2", DIDS["direct"], ("A",), "missed", ring=3, hangup_by="caller",
           recording=True),
    versions=("22", "20", "20-pjsip"),
)  # fmt: skip
async def call_waiting(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer_waiting(1, [AwaitBye()], ring_only_from=ctx.caller2)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(6), Hangup()])
    await ctx.channel("A")
    c2 = await ctx.lab.trunk.call(ctx.caller2, DIDS["direct"], answer=None, cancel=3)
    await done(a, c, c2)


# ---------------------------------------------------------------- conference


@scenario(
    "A conference of three in ConfBridge: a trunk caller dials in (DID), A and B dial 800;"
    " B leaves after 3 s, A after 4 s, the caller after 5 s.",
    inbound(DIDS["conference"], (), "conference", talk=5, hangup_by="caller",
            pbx_app="ConfBridge"),
    Expect("internal", "A", "800", (), "conference", talk=4, hangup_by="caller",
           pbx_app="ConfBridge"),
    Expect("internal", "B", "800", (), "conference", talk=3, hangup_by="caller",
           pbx_app="ConfBridge"),
    xfail={"*": CONFERENCE},
)  # fmt: skip
async def conference_of_three(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["conference"], then=[Talk(5), Hangup()])
    a = await ctx.lab.phone("A").call("800", then=[Talk(4), Hangup()])
    b = await ctx.lab.phone("B").call("800", then=[Talk(3), Hangup()])
    await done(a, b, c)


# ---------------------------------------------------------------- restarts


@scenario(
    "Inbound to A ringing; callbridge goes down; A answers while it is down (after 3 s);"
    " callbridge is back during the talk; the caller hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=3, talk=3,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def restart_while_ringing(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=3)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(3), Hangup()])
    await ctx.ringing("A")
    await ctx.restart(during=lambda: ctx.channel("A"))
    await done(a, c)


@scenario(
    "Inbound to A, answered; callbridge restarts during the talk; caller hangs up.",
    inbound(DIDS["direct"], ("A",), "answered", answered_by="A", ring=1, talk=5,
            hangup_by="caller", recording=True),
)  # fmt: skip
async def restart_while_talking(ctx: Ctx) -> None:
    await registered(ctx, "A")
    a = await ctx.lab.phone("A").answer(ring=1)
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(5), Hangup()])
    await ctx.channel("A")
    await ctx.restart()
    await done(a, c)


@scenario(
    "Inbound to A, answered; callbridge goes down; A transfers blind (##) to B, B answers"
    " while it is down; callbridge is back; the caller hangs up.",
    inbound(DIDS["direct"], ("A", "B"), "answered", answered_by="A", ring=1, talk=7,
            hangup_by="caller", recording=True, transfers=(Transfer("blind", "A", "B"),),
            extension="B"),
    # Live only: the recording (every frame, no outage) replays right; the running system
    # misses the transfer's frames while it is down and the snapshot cannot tell of it.
    xfail={"*": RESTART_XFER},
)  # fmt: skip
async def restart_during_transfer(ctx: Ctx) -> None:
    await registered(ctx, "A", "B")
    b = await ctx.lab.phone("B").answer(ring=1)
    a = await ctx.lab.phone("A").answer(ring=1, then=[Talk(1), Dtmf("##" + ctx.ext("B"))])
    c = await ctx.lab.trunk.call(ctx.caller, DIDS["direct"], then=[Talk(7), Hangup()])
    await ctx.channel("A")
    await ctx.restart(during=lambda: ctx.channel("B", timeout=20))
    await done(a, b, c)


#: The scenarios also run on Asterisk 20 with PJSIP phones (beside its chan_sip ones).
PJSIP_ON_20 = (
    "inbound_answered", "inbound_missed", "internal_answered", "outbound_answered",
    "group_answered", "queue_answered", "click_to_call_phone", "blind_transfer_refer",
    "attended_transfer_features", "pickup_group",
)  # fmt: skip
for _name in PJSIP_ON_20:
    SCENARIOS[_name] = replace(SCENARIOS[_name], versions=(*SCENARIOS[_name].versions, "20-pjsip"))

# ---------------------------------------------------------------- running one


@dataclass(slots=True)
class Run:
    """One scenario's run on one lab: its truth resolved, the Linkedids it made, the CDRs."""

    scenario: str
    version: str
    driver: str
    started: float
    ended: float
    truth: list[dict[str, Any]]
    linkedids: list[str]
    cdr: list[dict[str, str]]
    marks: dict[str, float]
    capture: Path | None = None
    error: str = ""
    lane: str = ""
    got: list[dict[str, Any]] | None = None  # what the system under test made of it

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "description": SCENARIOS[self.scenario].about,
            "version": self.version,
            "driver": self.driver,
            "calls": self.truth,
            "linkedids": self.linkedids,
            "cdr": self.cdr,
        }
        if self.marks:
            out["marks"] = self.marks
        reason = SCENARIOS[self.scenario].xfail_reason(self.version)
        if reason:
            out["known_gap"] = reason
        return out


_numbers = itertools.count(1)


class Monitor:
    """Every event of one lab on one AMI connection, split by scenario window."""

    def __init__(self, ami: AMIClient) -> None:
        self.ami = ami
        self.events: list[Message] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Monitor:
        stream = self.ami.events("*")
        self._task = asyncio.create_task(self._pump(stream))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _pump(self, stream: Any) -> None:
        async for ev in stream:
            self.events.append(ev)
            self._changed.set()

    async def quiet(self, since: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Until every Linkedid that started since event ``since`` has ended (CEL
        LINKEDID_END) and Asterisk has no channel left."""
        async with asyncio.timeout(timeout):
            while True:
                window = self.events[since:]
                started = {e.get("Linkedid") for e in window if e.event == "Newchannel"}
                ended = {
                    e.get("LinkedID")
                    for e in window
                    if e.event == "CEL" and e.get("EventName") == "LINKEDID_END"
                }
                if started <= ended:
                    count = await self.ami.command("core show channels count")
                    if "0 active channels" in count:
                        return
                self._changed.clear()
                try:
                    async with asyncio.timeout(0.5):
                        await self._changed.wait()
                except TimeoutError:
                    pass


async def run_scenario(
    lab: Lab,
    monitor: Monitor,
    scn: Scenario,
    *,
    out: Path | None = None,
    restart: Restart | None = None,
) -> Run:
    """Run ``scn`` on ``lab``; with ``out``, record its AMI stream to ``out/<name>.ami``."""
    n = next(_numbers)
    caller = f"7916{n:07d}"
    number = f"7903{n:07d}"
    caller2 = f"7917{n:07d}"

    def name(x: str) -> str:
        if x == "$caller":
            return caller
        if x == "$number":
            return number
        if x == "$caller2":
            return caller2
        if x == "$mobile":
            return MOBILE
        return lab.ext(x)

    async def no_restart(during: Callable[[], Awaitable[object]] | None) -> None:
        if during is not None:
            await during()

    ctx = Ctx(lab, monitor.ami, caller, number, caller2, restart or no_restart)
    logged_in, until = asyncio.Event(), asyncio.Event()
    recording = None
    if out is not None:
        recording = asyncio.create_task(
            capture("127.0.0.1", lab.ast.ami_port, AMI_USER, AMI_SECRET, out / scn.name,
                    logged_in=logged_in, until=until)
        )  # fmt: skip
        async with asyncio.timeout(10):
            await logged_in.wait()
    since = len(monitor.events)
    started = time.time()
    error = ""
    try:
        await scn.drive(ctx)
    except Exception as exc:  # reported with the run; the lab goes on with the next one
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await lab.kill_sipps()
    try:
        await monitor.quiet(since)
    except TimeoutError:
        error = error or "the calls did not end within 30 s"
        await lab_hangup_all(monitor.ami)
    ended = time.time()
    window = monitor.events[since:]
    linkedids = list(
        dict.fromkeys(e.get("Linkedid") or "" for e in window if e.event == "Newchannel")
    )
    cdr = [{k: v for k, v in ev.items() if k in _CDR_KEYS} for ev in window if ev.event == "Cdr"]
    until.set()
    path = None
    if recording is not None:
        path = (await recording).ami
    truth = [resolve(e, name, ctx.marks) for e in scn.calls]
    return Run(scn.name, lab.variant, lab.driver, started, ended, truth, linkedids, cdr,
               ctx.marks, path, error)  # fmt: skip


_CDR_KEYS = frozenset(
    {
        "Source",
        "Destination",
        "DestinationContext",
        "Channel",
        "DestinationChannel",
        "LastApplication",
        "Disposition",
        "Duration",
        "BillableSeconds",
        "UniqueID",
    }
)


async def lab_hangup_all(ami: AMIClient) -> None:
    """Hang up every channel (after a scenario that went wrong)."""
    await ami.command("channel request hangup all")


def _call_text(expect: Expect) -> str:
    def ring(value: float | Span) -> str:
        return "measured" if isinstance(value, Span) else f"{value:g}"

    parts = [
        f"{expect.direction} {expect.caller} → {expect.called}",
        f"rang {', '.join(expect.rang) or '—'}",
        f"**{expect.outcome}**" + (f" by {expect.answered_by}" if expect.answered_by else ""),
        f"ring {ring(expect.ring)} s, talk {ring(expect.talk)} s",
    ]
    parts += [f"{t.kind} {t.src} → {t.dst}" for t in expect.transfers]
    if expect.queue:
        parts.append(f"queue {expect.queue}")
    if expect.pbx_app:
        parts.append(f"by {expect.pbx_app}")
    if expect.recording:
        parts.append("recorded")
    return "; ".join(parts)


def matrix_table() -> str:
    """The scenario matrix as a Markdown table (docs/call-tracker.md keeps a copy)."""
    rows = [
        "| scenario | Asterisk (phones) | what happens | the call must be | known gap |",
        "| --- | --- | --- | --- | --- |",
    ]
    drivers = {"22": "22 (PJSIP)", "20": "20 (chan_sip)", "20-pjsip": "20 (PJSIP)"}
    for name, scn in SCENARIOS.items():
        gaps = sorted({f"{drivers[v]}: {r}" if v != "*" else r for v, r in scn.xfail.items()})
        rows.append(
            f"| `{name}` | {', '.join(drivers[v] for v in scn.versions)} | {scn.about} "
            f"| {'<br>'.join(_call_text(c) for c in scn.calls)} | {'; '.join(gaps) or '—'} |"
        )
    return "\n".join(rows) + "\n"
