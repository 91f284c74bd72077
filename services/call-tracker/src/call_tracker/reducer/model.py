"""The tracker's state: live calls, their channels (legs), and the last applied entry.

Small mutable msgspec Structs (slots, no GC tracking, array-like when serialised) keep a live
call well under 4 KiB and let the service persist each call as a few hundred bytes.
"""

from __future__ import annotations

import msgspec

from .topology import Topology

__all__ = [
    "LEG_DONE",
    "LEG_NEW",
    "LEG_RINGING",
    "LEG_UP",
    "Call",
    "Leg",
    "TrackerState",
    "decode_call",
    "encode_call",
    "entry_key",
]

LEG_NEW = 0
LEG_RINGING = 1  # dialled; the extension's card is showing
LEG_UP = 2  # answered as a dialled party
LEG_DONE = 3  # ringing over without an answer


class Leg(msgspec.Struct, array_like=True, gc=False):
    """One channel of a call."""

    uid: str
    chan: str
    kind: int
    ext: str = ""
    state: int = LEG_NEW
    consult: bool = False  # dialled by an operator while the call was already answered
    # (fields below were added later: appended, so calls persisted before still decode)
    own: bool = False  # a click-to-call's operator phone: its answer is not the call's answer
    via: str = ""  # dialled by a Local channel's inner half: the Local pair's name
    pending: bool = False  # answered behind a Local channel whose outer half is not up yet


class Call(msgspec.Struct, array_like=True, gc=False):
    """A call: the channels sharing one Linkedid."""

    linkedid: str
    start_at: int
    seq: int = 0
    emitted: bool = False  # call.started was sent
    direction: str = "internal"
    caller: str = ""
    called: str = ""
    external: str = ""
    did: str = ""
    operator: str = ""  # the extension the call is with now
    ring_at: int = 0
    ring_end_at: int = 0
    answer_at: int = 0
    answered_by: str = ""
    last_answer: str = ""
    originate: bool = False
    originate_id: str = ""
    queue: str = ""
    recording: str = ""
    xfer_pending: bool = False  # a blind transfer waits for its dial (transfers.flush_blind)
    held: bool = False
    busy: bool = False  # unused (kept for the persisted layout): see n_busy
    failed: bool = False  # unused (kept for the persisted layout): see n_failed
    abandoned: bool = False
    hangup_by: str = "system"
    cause: int = 0
    reconstructed: bool = False
    rang: list[str] = msgspec.field(default_factory=list)
    ringing: list[str] = msgspec.field(default_factory=list)
    transfers: list[str] = msgspec.field(default_factory=list)
    legs: dict[str, Leg] = msgspec.field(default_factory=dict)
    # (fields below were added later: appended, so calls persisted before still decode)
    n_rung: int = 0  # parties dialled (extensions and external numbers), click-to-call's own not
    n_busy: int = 0  # of them, stopped busy
    n_failed: int = 0  # of them, unavailable / congestion
    originate_up: bool = False  # the click-to-call's operator answered
    pbx_up_at: int = 0  # the caller's channel was answered by the PBX (no person yet)
    pbx_app: str = ""  # the dialplan application that handled it (VoiceMail, AGI, BackGround…)
    pbx_kind: str = ""  # its outcome: ivr, bot, voicemail
    pbx_app_at: int = 0
    merged_into: str = ""  # a stub: this Linkedid's channels moved into that call (pickup)
    merged: list[str] = msgspec.field(default_factory=list)  # stubs pointing here
    relayed: list[str] = msgspec.field(default_factory=list)  # Local pairs that dialled someone
    pbx_from: int = 0  # when the PBX's handling after the last ring began (its talk time)
    xfer_from: str = ""  # the pending blind transfer: from, to (from: also the last transferer)
    xfer_to: str = ""
    parked: bool = False
    talked: list[str] = msgspec.field(default_factory=list)  # operators that answered


class TrackerState:
    """Everything the reducer needs between entries. ``dirty`` (when not None) collects the
    Linkedids of calls changed or finished since the caller last emptied it."""

    __slots__ = ("calls", "dirty", "last", "topology")

    def __init__(self, topology: Topology, *, track_dirty: bool = False) -> None:
        self.topology = topology
        self.calls: dict[str, Call] = {}
        self.last: tuple[int, int] = (0, -1)
        self.dirty: set[str] | None = set() if track_dirty else None

    @property
    def last_id(self) -> str:
        return "0-0" if self.last[1] < 0 else f"{self.last[0]}-{self.last[1]}"


def entry_key(entry_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)``: stream order as a tuple."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Call)


def encode_call(call: Call) -> bytes:
    return _ENCODER.encode(call)


def decode_call(data: bytes) -> Call:
    return _DECODER.decode(data)
