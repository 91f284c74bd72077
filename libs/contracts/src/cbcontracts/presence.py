"""Extension line states (``cb:{pbx}:presence`` and the view ``cb:{pbx}:presence:view``).

Written by the presence service whenever an extension's state, its call or its presence
message changes; the view holds the latest entry per extension. Same evolution rules as
:mod:`cbcontracts.calls`: explicit tag, new fields with defaults, unknown fields skipped.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["LINE_STATES", "LineState", "PresenceState", "decode_presence", "encode_presence"]

LineState = Literal[
    "idle",  # registered, no call
    "ringing",  # a call is ringing the extension
    "in_call",  # talking (or dialling out)
    "on_hold",  # every call of the extension is on hold
    "dnd",  # do not disturb (presence state)
    "away",  # away / extended away (presence state)
    "unavailable",  # not registered, or presence state unavailable
    "unknown",  # the PBX said nothing usable (no hint, subscription refused)
]
LINE_STATES: tuple[str, ...] = LineState.__args__  # type: ignore[attr-defined]


class PresenceState(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="type",
    tag="presence.state",
):
    pbx: str
    extension: str
    state: LineState
    since: int  # unix ms: when the extension entered this state
    at: int = 0  # unix ms: when this entry was made
    call_id: str = ""  # the SIP Call-ID of the extension's call, when the PBX says
    remote: str = ""  # the other party (number or SIP user) when ringing or in a call
    remote_name: str = ""
    direction: str = ""  # inbound | outbound, when the PBX says
    message: str = ""  # presence message ("lunch") set with the presence state


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(PresenceState)


def encode_presence(p: PresenceState) -> bytes:
    return _enc.encode(p)


def decode_presence(data: bytes) -> PresenceState:
    return _dec.decode(data)
