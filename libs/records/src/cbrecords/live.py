"""The live-call view: what readers may know of a call in progress (a contract: the
call-tracker writes it with every commit, the gateway and the CLI read it). Only fields
with defaults are ever added."""

from __future__ import annotations

import msgspec

from cbcontracts.calls import Direction

__all__ = ["LiveCall", "decode_live", "encode_live"]


class LiveCall(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A call in progress. Times are unix µs; ``extensions``: every operator extension
    involved so far (rang, ringing, answered, the current one, any leg's), in order;
    ``talking``: the extensions whose leg is answered now."""

    call_id: str
    pbx: str
    direction: Direction
    started_at: int
    tenant: str = ""
    caller: str = ""
    called: str = ""
    external: str = ""
    did: str = ""
    extension: str = ""  # the operator the call is with now
    answered_by: str = ""
    answered_at: int = 0
    extensions: tuple[str, ...] = ()
    ringing: tuple[str, ...] = ()
    talking: tuple[str, ...] = ()
    held: bool = False
    queue: str = ""
    originate_id: str = ""
    reconstructed: bool = False


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(LiveCall)


def encode_live(call: LiveCall) -> bytes:
    return _ENCODER.encode(call)


def decode_live(data: bytes | str) -> LiveCall:
    return _DECODER.decode(data)
