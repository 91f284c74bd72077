"""The reducer: ``reduce(state, entry) -> (state, call events)`` over raw stream entries.

Deterministic and free of I/O: the same entries from the same state give the same events,
so the service can replay and checkpoint it. The state is updated in place and returned
(copying 10,000 live calls per AMI event would be absurd); persist it with
:func:`model.encode_call` per call. Entries at or below the last applied id are ignored.

Cheap first: the event name is read from the frame's first line, VarSet (half of all
traffic) is skipped unless it names MIXMONITOR_FILENAME, and only the events below are parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

from aioami import Message, event_name, parse_frame
from cbcontracts import CallEvent

from . import dialing, legs, originate, pbxapps, pickup, queues, recording, results, transfers
from .emit import Ctx
from .model import TrackerState, entry_key
from .sync import apply_sync
from .topology import Topology

__all__ = ["SYNC_EVENT", "RawEntry", "new_state", "reduce"]

SYNC_EVENT = b"callbridge.sync"

Handler = Callable[[Ctx, Message], None]

_HANDLERS: dict[bytes, Handler] = {
    b"Newchannel": legs.on_newchannel,
    b"BridgeEnter": legs.on_bridge_enter,
    b"Newstate": dialing.on_newstate,
    b"Newexten": pbxapps.on_newexten,
    b"DialBegin": dialing.on_dial_begin,
    b"DialEnd": dialing.on_dial_end,
    b"HangupRequest": results.on_hangup_request,
    b"Hangup": results.on_hangup,
    b"QueueCallerJoin": queues.on_queue_join,
    b"QueueCallerAbandon": queues.on_queue_abandon,
    b"AgentCalled": queues.on_agent_called,
    b"AgentConnect": queues.on_agent_connect,
    b"AgentRingNoAnswer": queues.on_agent_ring_no_answer,
    b"OriginateResponse": originate.on_originate_response,
    b"Pickup": pickup.on_pickup,
    b"VarSet": recording.on_varset,
    b"BlindTransfer": transfers.on_blind_transfer,
    b"ParkedCall": transfers.on_parked_call,
    b"UnParkedCall": pickup.on_unparked_call,
    b"AttendedTransfer": transfers.on_attended_transfer,
    b"Hold": transfers.on_hold,
    b"MusicOnHoldStart": transfers.on_hold,
    b"Unhold": transfers.on_unhold,
    b"MusicOnHoldStop": transfers.on_unhold,
}

#: Frames of these events are parsed only if they contain one of the byte strings.
_NEEDS: dict[bytes, tuple[bytes, ...]] = {
    b"VarSet": (b"\r\nVariable: MIXMONITOR_FILENAME\r\n",),
    b"Newstate": (b"\r\nChannelState: 6\r\n", b"\r\nChannelState: 5\r\n"),
}


class RawEntry(NamedTuple):
    """One entry of ``cb:{pbx}:ami``: its id, the frame (no final CRLF CRLF), the receive
    time in µs; ``ev`` (optional, else read from the frame) and, for sync entries, ``snap``."""

    id: str
    raw: bytes
    rx: int
    ev: bytes = b""
    snap: bytes = b""


def new_state(topology: Topology, *, track_dirty: bool = False) -> TrackerState:
    return TrackerState(topology, track_dirty=track_dirty)


def reduce(state: TrackerState, entry: RawEntry) -> tuple[TrackerState, list[CallEvent]]:
    """Apply one entry; returns the state and the call events it produced."""
    key = entry_key(entry.id)
    if key <= state.last:
        return state, []
    state.last = key
    ev = entry.ev or event_name(entry.raw)
    if ev == SYNC_EVENT:
        ctx = Ctx(state, entry.id, entry.rx)
        apply_sync(ctx, json.loads(entry.snap or b"[]"))
        return state, ctx.events
    handler = _HANDLERS.get(ev)
    if handler is None:
        return state, []
    needs = _NEEDS.get(ev)
    if needs is not None and not any(n in entry.raw for n in needs):
        return state, []
    if ev == b"Newexten" and not pbxapps.wanted(entry.raw):
        return state, []
    if ev == b"BridgeEnter" and not legs.bridge_enter_wanted(entry.raw):
        return state, []
    ctx = Ctx(state, entry.id, entry.rx)
    handler(ctx, parse_frame(entry.raw))
    return state, ctx.events
