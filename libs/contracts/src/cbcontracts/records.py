"""Call records (CDR): one per finished call, kept by the call-tracker with indexes."""

from __future__ import annotations

import msgspec

from .calls import CallEnded, Direction, HangupBy, Result

__all__ = ["CallRecord", "decode_record", "encode_record", "record_from_ended"]


class CallRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A finished call. Times are unix µs; ``rang`` lists the parties that rang in order
    (extensions, and the external number for outbound calls)."""

    call_id: str
    pbx: str
    direction: Direction
    result: Result
    started_at: int
    ended_at: int
    outcome: str = ""  # cbcontracts.OUTCOMES (open set; see CallEnded)
    pbx_app: str = ""
    caller: str = ""
    called: str = ""
    external: str = ""
    did: str = ""
    answered_at: int = 0
    ring_seconds: int = 0
    talk_seconds: int = 0
    rang: tuple[str, ...] = ()
    answered_by: str = ""
    extension: str = ""
    transferred_to: tuple[str, ...] = ()
    hangup_cause: int = 0
    hangup_by: HangupBy = "system"
    recording_file: str = ""
    queue: str = ""
    originate_id: str = ""
    reconstructed: bool = False
    tenant: str = ""
    event_id: str = ""  # the call.ended event this record was made from
    #: The operator extensions that answered (see ``CallEnded.talked``).
    talked: tuple[str, ...] = ()

    @property
    def extensions(self) -> tuple[str, ...]:
        """Every operator extension involved (rang, answered or received a transfer)."""
        seen = dict.fromkeys((*self.rang, self.answered_by, self.extension, *self.transferred_to))
        return tuple(e for e in seen if e and e != self.external)

    @property
    def participants(self) -> tuple[str, ...]:
        """The operator extensions that took part in the conversation (answered), not those
        whose phone only rang. Records written before ``talked`` existed fall back to who
        answered first and who was on the call last."""
        found = self.talked or (self.answered_by, self.extension)
        return tuple(e for e in dict.fromkeys(found) if e and e != self.external)


def record_from_ended(event: CallEnded) -> CallRecord:
    """The record of the call ``event`` ended."""
    return CallRecord(
        call_id=event.call_id,
        pbx=event.pbx,
        direction=event.direction,
        result=event.result,
        outcome=event.outcome,
        pbx_app=event.pbx_app,
        started_at=event.started_at,
        ended_at=event.at,
        caller=event.caller,
        called=event.called,
        external=event.external,
        did=event.did,
        answered_at=event.answered_at,
        ring_seconds=event.ring_seconds,
        talk_seconds=event.talk_seconds,
        rang=event.rang,
        answered_by=event.answered_by,
        extension=event.extension,
        transferred_to=event.transferred_to,
        hangup_cause=event.hangup_cause,
        hangup_by=event.hangup_by,
        recording_file=event.recording_file,
        queue=event.queue,
        originate_id=event.originate_id,
        reconstructed=event.reconstructed,
        tenant=event.tenant,
        event_id=event.event_id,
        talked=event.talked,
    )


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(CallRecord)


def encode_record(record: CallRecord) -> bytes:
    return _ENCODER.encode(record)


def decode_record(data: bytes | str) -> CallRecord:
    return _DECODER.decode(data)
