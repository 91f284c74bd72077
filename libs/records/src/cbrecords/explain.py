"""Explaining a call: the raw frames that built it, per frame the decisions taken (the call
events it caused, and — where a reducer is at hand — what it changed in the call's state),
then what crm-sync did (lookup result and reason, commands, CRM responses, failures, dead
letters), all read from the streams and keys the services write.

The frames of a call are those of its Linkedid and of every channel related to it: a frame
naming one of the call's Uniqueids/Linkedids brings in the others it names (the Local halves,
the consulted call of an attended transfer). Sync entries of its time span come along.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import msgspec
import redis.asyncio as aioredis

from cbcontracts import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallHeld,
    CallRecord,
    CallResumed,
    CallRinging,
    CallRingingStopped,
    CallStarted,
    CallTransferred,
)
from cbcontracts.crm import CallSynced, CardData, CrmFailed, decode_command, decode_crm_event
from cbstreams import PbxKeys, fields

from .store import RecordStore

__all__ = [
    "CrmStep",
    "CrmStreams",
    "Explanation",
    "FrameDecisions",
    "FrameStep",
    "describe_event",
    "explain_call",
    "related_frames",
]

Row = tuple[bytes, dict[bytes, bytes]]
#: Extra per-frame decisions (entry id -> lines), e.g. from running the tracker's reducer.
FrameDecisions = Callable[[Sequence[Row]], dict[str, list[str]]]

_IDS = re.compile(rb"\r\n\w*(?:Uniqueid|UniqueID|Linkedid|LinkedID): ([^\r\n]+)")
_FIRST = re.compile(rb"^(?:Event|Response): ([^\r\n]*)")
_CHANNEL = re.compile(rb"\r\nChannel: ([^\r\n]*)")
_MARGIN_MS = 5000
_SCAN_MAX = 200_000


class FrameStep(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str  # the stream entry id
    at: int  # receive time, unix µs
    event: str  # event name (or the response; callbridge.sync)
    channel: str = ""
    decisions: list[str] = msgspec.field(default_factory=list)
    events: list[str] = msgspec.field(default_factory=list)  # call event types emitted


class CrmStep(msgspec.Struct, kw_only=True, omit_defaults=True):
    at: int  # unix µs (stream time for commands and dead letters)
    kind: str  # lookup | command | response | synced | error | dead
    what: str  # one line for a human
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Explanation(msgspec.Struct, kw_only=True, omit_defaults=True):
    call_id: str
    pbx: str
    state: str  # ended | live
    record: CallRecord | None = None
    frames: list[FrameStep] = msgspec.field(default_factory=list)
    crm: list[CrmStep] = msgspec.field(default_factory=list)


class CrmStreams(msgspec.Struct, frozen=True, kw_only=True):
    commands: str = "cb:crm:commands"
    events: str = "cb:crm:events"
    dead: str = "cb:dead"


def _ids(raw: bytes) -> set[bytes]:
    return {m.strip() for m in _IDS.findall(b"\r\n" + raw)}


def related_frames(rows: Sequence[Row], call_id: str) -> list[Row]:
    """The entries of one call among ``rows``: its related frames and every sync entry."""
    related = {call_id.encode()}
    ids = [_ids(f.get(fields.F_RAW, b"")) for _, f in rows]
    for _ in range(8):  # the relation closes in a few passes (transfer chains)
        before = len(related)
        for found in ids:
            if found & related:
                related |= found
        if len(related) == before:
            break
    return [
        row
        for row, found in zip(rows, ids, strict=True)
        if found & related or row[1].get(fields.F_EV) == fields.SYNC_EVENT
    ]


def describe_event(event: CallEvent) -> str:
    """The decision a call event stands for, in words."""
    match event:
        case CallStarted():
            text = (f"call started: {event.direction}, caller {event.caller or '?'}, "
                    f"called {event.called or '?'}")  # fmt: skip
            if event.reconstructed:
                text += " (reconstructed: first seen mid-call)"
            if event.originate_id:
                text += f", click-to-call {event.originate_id}"
            return text
        case CallRinging():
            return f"ringing: extension {event.extension}"
        case CallRingingStopped():
            return f"ringing stopped: extension {event.extension} ({event.reason})"
        case CallAnswered():
            return f"answered by {event.answered_by}"
        case CallTransferred():
            who = event.from_extension or "?"
            return f"transfer ({event.kind}) from {who} to {event.to_extension}"
        case CallHeld():
            return "held"
        case CallResumed():
            return "resumed"
        case CallEnded():
            return f"ended: result {event.result} — {_why(event)}"
    return event.__struct_config__.tag or type(event).__name__  # pragma: no cover


def _why(e: CallEnded) -> str:
    if e.result == "answered":
        return (f"answered by {e.answered_by} after {e.ring_seconds} s of ringing, "
                f"talk {e.talk_seconds} s, {e.hangup_by} hung up")  # fmt: skip
    rang = ", ".join(e.rang) or "no one"
    if e.result == "busy":
        return f"the called party was busy (cause {e.hangup_cause}); rang {rang}"
    if e.result == "failed":
        return f"the call could not be placed (cause {e.hangup_cause}); rang {rang}"
    if e.result == "abandoned":
        return f"the caller left the queue {e.queue or ''} unanswered; rang {rang}".replace(
            "  ", " "
        )
    return (f"no one answered: rang {rang} for {e.ring_seconds} s, "
            f"{e.hangup_by} hung up (cause {e.hangup_cause})")  # fmt: skip


async def _xrange_all(redis: aioredis.Redis, stream: str, start: str, end: str = "+") -> list[Row]:
    out: list[Row] = []
    cursor = start
    while len(out) < _SCAN_MAX:
        got = cast(list[Row], await redis.xrange(stream, min=cursor, max=end, count=5000))
        out += got
        if len(got) < 5000:
            break
        cursor = "(" + got[-1][0].decode()
    return out


def _entry_of(event_id: str) -> str:
    """``{pbx}/{entry id}/{index}`` -> the entry id."""
    parts = event_id.split("/")
    return parts[-2] if len(parts) >= 3 else ""


def _frame_step(entry_id: bytes, f: dict[bytes, bytes]) -> FrameStep:
    raw = f.get(fields.F_RAW, b"")
    first = _FIRST.match(raw)
    channel = _CHANNEL.search(b"\r\n" + raw)
    ev = f.get(fields.F_EV, b"").decode() or (first[1].decode() if first else "")
    return FrameStep(id=entry_id.decode(), at=int(f.get(fields.F_RX, b"0")), event=ev,
                     channel=channel[1].decode() if channel else "")  # fmt: skip


async def explain_call(
    redis: aioredis.Redis,
    pbx: str,
    call_id: str,
    *,
    prefix: str = "cb:",
    calls_stream: str = "cb:calls",
    crm: CrmStreams | None = None,
    decisions: FrameDecisions | None = None,
) -> Explanation:
    """The explanation of one call; LookupError if the PBX knows no such call."""
    store = RecordStore(redis, prefix)
    record = await store.get(pbx, call_id)
    if record is not None:
        since, until, state = record.started_at, record.ended_at, "ended"
    else:
        live = await store.live(pbx, call_id)
        if live is None:
            raise LookupError(f"no call {call_id} on {pbx}")
        since, until, state = live.started_at, 0, "live"
    start = f"{max(0, since // 1000 - _MARGIN_MS)}-0"
    end = f"{until // 1000 + _MARGIN_MS}" if until else "+"
    rows = related_frames(await _xrange_all(redis, PbxKeys(pbx, prefix).ami, start, end),
                          call_id)  # fmt: skip
    by_entry: dict[str, list[CallEvent]] = {}
    for event in await store.timeline(calls_stream, pbx, call_id, since):
        by_entry.setdefault(_entry_of(event.event_id), []).append(event)
    extra = decisions(rows) if decisions is not None else {}
    frames = []
    for entry_id, f in rows:
        step = _frame_step(entry_id, f)
        step.decisions = list(extra.get(step.id, []))
        for event in by_entry.get(step.id, []):
            step.decisions.append(describe_event(event))
            step.events.append(str(event.__struct_config__.tag))
        frames.append(step)
    trail = await crm_trail(redis, pbx, call_id, since, prefix=prefix,
                            streams=crm or CrmStreams())  # fmt: skip
    return Explanation(call_id=call_id, pbx=pbx, state=state, record=record, frames=frames,
                       crm=trail)  # fmt: skip


async def crm_trail(
    redis: aioredis.Redis,
    pbx: str,
    call_id: str,
    since_us: int,
    *,
    prefix: str = "cb:",
    streams: CrmStreams,
) -> list[CrmStep]:
    """What crm-sync did with the call, in stream order: its lookup (card), the commands it
    planned and each one's recorded CRM response (``{prefix}crm:done:{key}``), the calls it
    synced, its failures, and the dead letters naming the call."""
    start = f"{max(0, since_us // 1000 - 60_000)}-0"
    steps: list[CrmStep] = []
    for _, f in await _xrange_all(redis, streams.events, start):
        try:
            event = decode_crm_event(f[fields.F_DATA])
        except (KeyError, msgspec.DecodeError):
            continue
        if event.call_id != call_id or event.pbx != pbx:
            continue
        data = msgspec.to_builtins(event)
        if isinstance(event, CardData):
            who = event.entity.name or event.entity.id if event.entity else "no entity"
            steps.append(CrmStep(at=event.at, kind="lookup", data=data, what=(
                f"lookup {event.phone}: {'known' if event.known else 'unknown'}, {who} "
                f"({event.reason_code}: {event.reason or '-'}; {event.candidates} "
                f"candidate(s)); card opens {event.target}")))  # fmt: skip
        elif isinstance(event, CallSynced):
            steps.append(CrmStep(at=event.at, kind="synced", data=data, what=(
                f"synced as {event.scenario}: created {', '.join(event.created) or 'nothing'},"
                f" logged {', '.join(event.logged) or 'nothing'}")))  # fmt: skip
        elif isinstance(event, CrmFailed):
            steps.append(CrmStep(at=event.at, kind="error", data=data, what=(
                f"{event.command} failed ({'permanent' if event.permanent else 'transient'}, "
                f"{event.attempts} attempt(s)): {event.error}")))  # fmt: skip
    keys: list[tuple[int, str]] = []
    for entry_id, f in await _xrange_all(redis, streams.commands, start):
        try:
            cmd = decode_command(f[fields.F_DATA])
        except (KeyError, msgspec.DecodeError):
            continue
        if cmd.call_id != call_id or cmd.pbx != pbx:
            continue
        at = int(entry_id.split(b"-")[0]) * 1000
        tag = cmd.__struct_config__.tag
        steps.append(CrmStep(at=at, kind="command", what=f"planned {tag} ({cmd.key})",
                             data=msgspec.to_builtins(cmd)))  # fmt: skip
        keys.append((at, cmd.key))
    if keys:
        done = await redis.mget([f"{prefix}crm:done:{k}" for _, k in keys])
        for (at, key), result in zip(keys, done, strict=True):
            if result is None:
                steps.append(CrmStep(at=at, kind="response", what=f"{key}: not done (yet)"))
                continue
            value: Any
            try:
                value = json.loads(result)
            except ValueError:
                value = cast(bytes, result).decode(errors="replace")
            steps.append(CrmStep(at=at, kind="response", what=f"{key}: CRM answered",
                                 data={"key": key, "result": value}))  # fmt: skip
    steps += await _dead_letters(redis, streams.dead, pbx, call_id, start)
    return sorted(steps, key=lambda s: s.at)


async def _dead_letters(
    redis: aioredis.Redis, dead: str, pbx: str, call_id: str, start: str
) -> list[CrmStep]:
    out = []
    for entry_id, f in await _xrange_all(redis, dead, start):
        try:
            payload = msgspec.msgpack.decode(f[b"payload"], type=dict[bytes, bytes])
            body = json.loads(payload.get(fields.F_DATA, b"{}"))
        except (KeyError, ValueError, msgspec.DecodeError):
            continue
        if not isinstance(body, dict) or body.get("call_id") != call_id:
            continue
        if body.get("pbx", pbx) != pbx:
            continue
        error = f.get(b"error", b"").decode(errors="replace")
        out.append(CrmStep(
            at=int(entry_id.split(b"-")[0]) * 1000, kind="dead",
            what=f"dead letter from {f.get(b'stream', b'').decode()}: {error}",
            data={"dead_id": entry_id.decode(), "error": error,
                  "attempts": int(f.get(b"attempts", b"0")), "payload": body},
        ))  # fmt: skip
    return out
