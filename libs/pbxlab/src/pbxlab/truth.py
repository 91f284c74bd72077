"""What a call must be, and comparing the tracker's call events against it.

A scenario states its calls as :class:`Expect` with roles (``"A"``), ``"$caller"`` (the
scenario's own external number) or literal numbers; :func:`resolve` turns them into plain
dicts for one lab (the ``truth.json`` of the fixtures). :func:`summarize` turns call events
(JSON dicts as on ``cb:calls``) into one summary per call, :func:`differences` lists where a
summary disagrees with the truth (durations within ±1 s).

Conventions (those of ``../shared/captures/EXPECTED.json``): ``ring_seconds`` runs from the
call's start to the first answer by a person (to the end when nobody answered; 0 for a call
the PBX answered at once), ``talk_seconds`` from that answer to the end, across transfers;
``answered_by`` is the first person who answered (an extension, or the external number of an
outbound call or a forward), never the caller; ``rang`` every extension or external number
that was rung (order free); ``outcome``: answered (a person), ivr, bot, voicemail, conference
(answered by the PBX into a ConfBridge), missed, busy (every callee busy), failed, abandoned;
``result`` the coarse one. Calls are compared in the order of (caller, called).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Expect", "Span", "Transfer", "differences", "resolve", "summarize"]

RESULT_OF = {
    "answered": "answered",
    "ivr": "answered",
    "bot": "answered",
    "voicemail": "answered",
    "conference": "answered",
    "missed": "missed",
    "busy": "busy",
    "failed": "failed",
    "abandoned": "abandoned",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A duration the scenario measures as it runs: from mark ``start`` to mark ``end``
    (``Ctx.mark``), plus ``plus`` seconds — for calls whose timing the PBX decides."""

    start: str
    end: str
    plus: float = 0.0


@dataclass(frozen=True, slots=True)
class Transfer:
    kind: str  # blind | attended
    src: str  # the extension that transferred
    dst: str  # where to (an extension or an external number)


@dataclass(frozen=True, slots=True)
class Expect:
    """One call as it must come out (roles unresolved)."""

    direction: str
    caller: str
    called: str
    rang: tuple[str, ...]
    outcome: str
    answered_by: str = ""
    ring: float | Span = 0
    talk: float | Span = 0
    hangup_by: str = ""  # "" = not stated
    transfers: tuple[Transfer, ...] = ()
    recording: bool = False
    queue: str = ""
    pbx_app: str = ""  # for PBX outcomes: VoiceMail, AGI, IVR …
    extension: str = ""  # the operator last on the call ("" = not stated)
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _seconds(value: float | Span, marks: Mapping[str, float]) -> float:
    if isinstance(value, Span):
        if value.start not in marks or value.end not in marks:
            return -1.0  # the scenario failed before noting them (its error says why)
        return round(marks[value.end] - marks[value.start] + value.plus, 1)
    return value


def resolve(expect: Expect, name: Any, marks: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The truth of one call as plain data; ``name(x)`` maps roles and ``$`` names,
    ``marks`` are the times the scenario noted (for :class:`Span` durations)."""
    out: dict[str, Any] = {
        "direction": expect.direction,
        "caller": name(expect.caller),
        "called": name(expect.called),
        "rang": sorted(name(r) for r in expect.rang),
        "answered_by": name(expect.answered_by) if expect.answered_by else "",
        "result": RESULT_OF[expect.outcome],
        "outcome": expect.outcome,
        "ring_seconds": _seconds(expect.ring, marks or {}),
        "talk_seconds": _seconds(expect.talk, marks or {}),
        "transfers": [
            {"kind": t.kind, "from": name(t.src), "to": name(t.dst)} for t in expect.transfers
        ],
        "recording": expect.recording,
    }
    if expect.hangup_by:
        out["hangup_by"] = expect.hangup_by
    if expect.queue:
        out["queue"] = expect.queue
    if expect.pbx_app:
        out["pbx_app"] = expect.pbx_app
    if expect.extension:
        out["extension"] = name(expect.extension)
    if expect.notes:
        out["notes"] = expect.notes
    out.update(expect.extra)
    return out


def summarize(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One summary per ended call (in the order they ended) from call-event dicts."""
    transfers: dict[str, list[dict[str, str]]] = {}
    ended: list[dict[str, Any]] = []
    for ev in events:
        kind = ev.get("type")
        if kind == "call.transferred":
            transfers.setdefault(ev["call_id"], []).append(
                {
                    "kind": ev.get("kind", ""),
                    "from": ev.get("from_extension", ""),
                    "to": ev.get("to_extension", ""),
                }
            )
        elif kind == "call.ended":
            ended.append(
                {
                    "call_id": ev["call_id"],
                    "direction": ev.get("direction", "internal"),
                    "caller": ev.get("caller", ""),
                    "called": ev.get("called", ""),
                    "rang": sorted(ev.get("rang", ())),
                    "answered_by": ev.get("answered_by", ""),
                    "result": ev.get("result", ""),
                    "outcome": ev.get("outcome", ""),
                    "ring_seconds": ev.get("ring_seconds", 0),
                    "talk_seconds": ev.get("talk_seconds", 0),
                    "hangup_by": ev.get("hangup_by", "system"),
                    "transfers": transfers.get(ev["call_id"], []),
                    "recording": bool(ev.get("recording_file")),
                    "queue": ev.get("queue", ""),
                    "pbx_app": ev.get("pbx_app", ""),
                    "extension": ev.get("extension", ""),
                    "reconstructed": ev.get("reconstructed", False),
                }
            )
    return ended


_EXACT = ("direction", "caller", "called", "rang", "answered_by", "result", "recording")


def differences(truth: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every way ``got`` (summaries) disagrees with ``truth`` (resolved calls), in words."""
    if len(got) != len(truth):
        return [
            f"{len(got)} calls, expected {len(truth)}: "
            + "; ".join(f"{g['caller']}->{g['called']} {g['result']}" for g in got)
        ]

    def order(call: Mapping[str, Any]) -> tuple[str, str]:
        return (str(call.get("caller", "")), str(call.get("called", "")))

    truth, got = sorted(truth, key=order), sorted(got, key=order)
    out: list[str] = []
    for n, (want, have) in enumerate(zip(truth, got, strict=True)):
        where = f"call {n + 1}"
        for key in _EXACT:
            if have.get(key) != want.get(key):
                out.append(f"{where}: {key} {have.get(key)!r}, expected {want.get(key)!r}")
        if have.get("outcome") and have["outcome"] != want["outcome"]:
            out.append(f"{where}: outcome {have['outcome']!r}, expected {want['outcome']!r}")
        for key in ("ring_seconds", "talk_seconds"):
            if abs(float(have.get(key, 0)) - float(want[key])) > 1:
                out.append(f"{where}: {key} {have.get(key)}, expected {want[key]} (±1)")
        for key in ("hangup_by", "queue", "extension"):
            if key in want and have.get(key) != want[key]:
                out.append(f"{where}: {key} {have.get(key)!r}, expected {want[key]!r}")
        if "pbx_app" in want and have.get("pbx_app") and have["pbx_app"] != want["pbx_app"]:
            out.append(f"{where}: pbx_app {have['pbx_app']!r}, expected {want['pbx_app']!r}")
        got_t = [(t["kind"], t["from"], t["to"]) for t in have.get("transfers", [])]
        want_t = [(t["kind"], t["from"], t["to"]) for t in want["transfers"]]
        if got_t != want_t:
            out.append(f"{where}: transfers {got_t}, expected {want_t}")
    return out
