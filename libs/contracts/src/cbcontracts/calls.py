"""Call events: what the call-tracker publishes to ``cb:calls`` (one msgspec-encoded event
per entry). Frozen, keyword-only, explicitly tagged (``type``); new fields get defaults and
readers skip fields they do not know, so producers and consumers can be deployed in any order.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "CALL_EVENT_TYPES",
    "OUTCOMES",
    "OUTCOME_RESULT",
    "PBX_OUTCOMES",
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallEventBase",
    "CallHeld",
    "CallResumed",
    "CallRinging",
    "CallRingingStopped",
    "CallStarted",
    "CallTransferred",
    "Direction",
    "HangupBy",
    "Outcome",
    "Result",
    "StopReason",
    "TransferKind",
    "decode_event",
    "encode_event",
    "result_of_outcome",
]

Direction = Literal["inbound", "outbound", "internal"]
#: The coarse result: a closed set that never grows (older readers validate it).
Result = Literal["answered", "missed", "busy", "failed", "abandoned"]
#: The fine outcome: an open vocabulary. Decoded as any string, so a producer may add values
#: without breaking older readers; a reader that does not know a value uses ``result``.
Outcome = str
#: Outcomes the PBX itself answered (no person answered the call as a callee): an IVR menu, a
#: voice bot (AGI), voicemail, a conference bridge the caller was put in.
PBX_OUTCOMES: tuple[str, ...] = ("ivr", "bot", "voicemail", "conference")
#: Every outcome known today, and the coarse result each maps to.
OUTCOME_RESULT: dict[str, Result] = {
    "answered": "answered",  # a person: an extension, a queue member or an external forward
    "ivr": "answered",
    "bot": "answered",
    "voicemail": "answered",
    "conference": "answered",
    "missed": "missed",  # rang, nobody answered (some callees may have been busy)
    "busy": "busy",  # every callee was busy
    "failed": "failed",  # never reached anyone (unavailable, congestion, rejected click-to-call)
    "abandoned": "abandoned",  # the caller left a queue
}
OUTCOMES: tuple[str, ...] = tuple(OUTCOME_RESULT)
StopReason = Literal["answered_elsewhere", "caller_gave_up", "no_answer", "busy", "failed"]
TransferKind = Literal["blind", "attended", "redirect"]
HangupBy = Literal["caller", "callee", "system"]


class CallEventBase(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"
):
    """Fields every call event carries. ``event_id`` is ``{pbx}/{entry id}/{index}``: stable
    across redeliveries and replays, so consumers drop duplicates by it. ``seq`` increases by
    one per event of a call; ``at`` is the event time (unix µs)."""

    event_id: str
    call_id: str  # the call's Linkedid (unique per PBX)
    pbx: str
    seq: int
    at: int
    direction: Direction = "internal"
    external: str = ""  # the outside party's number (inbound caller / outbound callee)
    did: str = ""  # the number the outside caller dialled (inbound)
    tenant: str = ""


class CallStarted(CallEventBase, tag="call.started", frozen=True):
    caller: str = ""
    called: str = ""
    extension: str = ""  # the operator placing an outbound / internal call
    originate_id: str = ""  # ActionID of the AMI Originate that started a click-to-call
    reconstructed: bool = False  # adopted from a sync snapshot or attached mid-call


class CallRinging(CallEventBase, tag="call.ringing", frozen=True):
    extension: str
    channel: str = ""
    queue: str = ""


class CallRingingStopped(CallEventBase, tag="call.ringing_stopped", frozen=True):
    extension: str
    reason: StopReason
    channel: str = ""


class CallAnswered(CallEventBase, tag="call.answered", frozen=True):
    answered_by: str  # an extension, a queue member, a stated external forward, or the
    # external number (outbound); never the caller
    extension: str = ""  # the operator on the call
    channel: str = ""


class CallTransferred(CallEventBase, tag="call.transferred", frozen=True):
    kind: TransferKind
    from_extension: str
    to_extension: str
    caller: str = ""  # the original caller, kept across transfers


class CallHeld(CallEventBase, tag="call.held", frozen=True):
    extension: str = ""


class CallResumed(CallEventBase, tag="call.resumed", frozen=True):
    extension: str = ""


class CallEnded(CallEventBase, tag="call.ended", frozen=True):
    result: Result
    outcome: Outcome = ""  # one of OUTCOMES (open set); "" from producers before it existed
    pbx_app: str = ""  # PBX outcomes: the dialplan application that answered (VoiceMail, AGI…)
    caller: str = ""
    called: str = ""
    ring_seconds: int = 0
    talk_seconds: int = 0
    hangup_cause: int = 0
    hangup_by: HangupBy = "system"
    answered_by: str = ""
    extension: str = ""  # the last operator on the call
    rang: tuple[str, ...] = ()
    transferred_to: tuple[str, ...] = ()
    recording_file: str = ""
    queue: str = ""
    originate_id: str = ""
    started_at: int = 0
    answered_at: int = 0
    reconstructed: bool = False
    #: The operator extensions that answered (talked on the call), in order; ``rang`` also
    #: lists those whose phone only rang. Empty in events written before this field.
    talked: tuple[str, ...] = ()


CallEvent = (
    CallStarted
    | CallRinging
    | CallRingingStopped
    | CallAnswered
    | CallTransferred
    | CallHeld
    | CallResumed
    | CallEnded
)

CALL_EVENT_TYPES: tuple[type[CallEventBase], ...] = (
    CallStarted,
    CallRinging,
    CallRingingStopped,
    CallAnswered,
    CallTransferred,
    CallHeld,
    CallResumed,
    CallEnded,
)

_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[CallEvent] = msgspec.json.Decoder(CallEvent)


def result_of_outcome(outcome: str, result: Result) -> Result:
    """The coarse result of ``outcome``; ``result`` for an outcome this reader does not know."""
    return OUTCOME_RESULT.get(outcome, result)


def encode_event(event: CallEventBase) -> bytes:
    """JSON bytes of ``event`` (with its ``type`` tag)."""
    return _ENCODER.encode(event)


def decode_event(data: bytes | str) -> CallEvent:
    """The event encoded in ``data``; unknown fields are skipped. Raises msgspec errors."""
    return _DECODER.decode(data)
