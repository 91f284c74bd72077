"""The voice-bot's transcript of one conversation (``cb:voice:transcripts``).

Published once per FastAGI call when the dialog ends, so that crm-sync or the gateway can
attach it to the call (``call_id`` is Asterisk's ``agi_uniqueid`` of the channel, which the
call-tracker knows as the channel's ``Uniqueid``). Same evolution rules as
:mod:`cbcontracts.calls`: explicit tag, new fields with defaults, unknown fields skipped.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["VoiceTranscript", "VoiceTurn", "decode_transcript", "encode_transcript"]

Speaker = Literal["bot", "caller"]
TurnKind = Literal["speech", "dtmf", "silence"]


class VoiceTurn(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    at: int  # unix ms
    who: Speaker
    text: str = ""
    kind: TurnKind = "speech"
    confidence: float = 0.0  # the recogniser's, for caller speech
    step: str = ""  # the dialog step
    decision: str = ""  # caller turns: the intent taken, "digits", or why none ("nomatch: …")
    interrupted: str = ""  # bot turns: "speech" / "dtmf" when the caller barged in


class VoiceTranscript(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="type",
    tag="voice.transcript",
):
    event_id: str  # unique per conversation: "voice:{call_id}"
    call_id: str  # agi_uniqueid
    channel: str = ""
    caller: str = ""  # E.164 where it could be normalised, else as Asterisk sent it
    dialog: str = ""
    started_at: int = 0  # unix ms
    ended_at: int = 0
    outcome: str = ""  # transfer | callback | completed | caller_hangup | error
    transfer_to: str = ""
    crm_ref: str = ""  # the task or deal a callback request became
    entity_id: str = ""
    turns: tuple[VoiceTurn, ...] = ()

    def text(self) -> str:
        """The conversation as lines ``bot: …`` / ``caller: …``."""
        return "\n".join(f"{t.who}: {t.text or '(' + t.kind + ')'}" for t in self.turns)


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(VoiceTranscript)


def encode_transcript(t: VoiceTranscript) -> bytes:
    return _enc.encode(t)


def decode_transcript(data: bytes) -> VoiceTranscript:
    return _dec.decode(data)
