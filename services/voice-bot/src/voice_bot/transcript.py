"""The transcript of one conversation: collected while the dialog runs, then published on
``cb:voice:transcripts`` (one ``data`` field: JSON :class:`VoiceTranscript`) and written to
the CRM's call log where the adapter keeps notes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from cbcontracts.voice import TurnKind, VoiceTranscript, VoiceTurn, encode_transcript
from cbstreams import StreamPublisher, Trimmer
from cbstreams.fields import F_DATA

__all__ = ["Transcript", "TranscriptPublisher"]


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Transcript:
    call_id: str
    channel: str = ""
    caller: str = ""
    dialog: str = ""
    started_at: int = field(default_factory=_now_ms)
    turns: list[VoiceTurn] = field(default_factory=list)
    outcome: str = ""
    transfer_to: str = ""
    crm_ref: str = ""
    entity_id: str = ""

    def bot(self, text: str, step: str = "", *, at: int = 0, interrupted: str = "") -> None:
        """A prompt that played (``at``: when it started); never one that did not."""
        self.turns.append(
            VoiceTurn(at=at or _now_ms(), who="bot", text=text, step=step, interrupted=interrupted)
        )

    def caller_said(
        self,
        text: str,
        *,
        kind: TurnKind = "speech",
        confidence: float = 0.0,
        step: str = "",
        decision: str = "",
    ) -> None:
        self.turns.append(
            VoiceTurn(
                at=_now_ms(),
                who="caller",
                text=text,
                kind=kind,
                confidence=round(confidence, 3),
                step=step,
                decision=decision,
            )
        )

    def finish(self) -> VoiceTranscript:
        return VoiceTranscript(
            event_id=f"voice:{self.call_id}",
            call_id=self.call_id,
            channel=self.channel,
            caller=self.caller,
            dialog=self.dialog,
            started_at=self.started_at,
            ended_at=_now_ms(),
            outcome=self.outcome,
            transfer_to=self.transfer_to,
            crm_ref=self.crm_ref,
            entity_id=self.entity_id,
            turns=tuple(self.turns),
        )


class TranscriptPublisher:
    def __init__(self, redis: aioredis.Redis, stream: str, retention_s: int = 7 * 86_400) -> None:
        self._publisher = StreamPublisher(redis, stream, Trimmer(retention_s * 1000))

    @property
    def stream(self) -> str:
        return self._publisher.key

    async def publish(self, transcript: VoiceTranscript) -> bytes:
        ids = await self._publisher.publish([(F_DATA, encode_transcript(transcript))])
        return ids[0]
