"""The transcript of one conversation: collected while the dialog runs, then published on
``cb:voice:transcripts`` (one ``data`` field: JSON :class:`VoiceTranscript`) and written to
the CRM's call log where the adapter keeps notes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from cbcontracts.voice import TurnKind, VoiceTranscript, VoiceTurn, encode_transcript
from cbstreams import RedisLink, StreamPublisher, Trimmer
from cbstreams.fields import F_DATA

log = logging.getLogger(__name__)

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

    def bot(self, text: str, step: str = "") -> None:
        self.turns.append(VoiceTurn(at=_now_ms(), who="bot", text=text, step=step))

    def caller_said(
        self, text: str, *, kind: TurnKind = "speech", confidence: float = 0.0, step: str = ""
    ) -> None:
        self.turns.append(
            VoiceTurn(
                at=_now_ms(),
                who="caller",
                text=text,
                kind=kind,
                confidence=round(confidence, 3),
                step=step,
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
    """Publishes finished conversations. :meth:`submit` never blocks a call: transcripts wait
    in an outbox that :meth:`run` drains, through Redis outages (waited out, logged once);
    a transcript published twice around a lost reply has the same ``event_id``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        stream: str,
        retention_s: int = 7 * 86_400,
        *,
        link: RedisLink | None = None,
        max_waiting: int = 10_000,
    ) -> None:
        self._publisher = StreamPublisher(redis, stream, Trimmer(retention_s * 1000))
        self.link = link or RedisLink("voice-bot transcripts")
        self._waiting: deque[VoiceTranscript] = deque()
        self._max = max_waiting
        self._changed = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, transcript: VoiceTranscript) -> None:
        """Queue a transcript for :meth:`run` (the oldest is dropped, with an error logged,
        only if ``max_waiting`` transcripts already wait)."""
        if len(self._waiting) >= self._max:
            lost = self._waiting.popleft()
            log.error("transcript outbox full: dropped the oldest", extra={"call": lost.call_id})
        self._waiting.append(transcript)
        self._empty.clear()
        self._changed.set()

    async def drained(self) -> None:
        """Return once nothing waits in the outbox (everything submitted is published)."""
        await self._empty.wait()

    async def run(self, stop: asyncio.Event, drain_s: float = 5.0) -> None:
        """Publish what waits until ``stop``; then for at most ``drain_s`` what is left."""
        while not stop.is_set():
            if not self._waiting:
                self._changed.clear()
                waits = [asyncio.create_task(e.wait()) for e in (self._changed, stop)]
                _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                continue
            await self._flush(stop)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_s):
                while self._waiting:
                    await self._flush(None)
        if self._waiting:
            log.error("transcripts not published at stop", extra={"n": len(self._waiting)})

    async def _flush(self, stop: asyncio.Event | None) -> None:
        batch = list(self._waiting)[:100]
        entries = [(F_DATA, encode_transcript(t)) for t in batch]
        if await self.link.retry(lambda: self._publisher.publish(entries), stop) is not None:
            for _ in batch:
                self._waiting.popleft()
            if not self._waiting:
                self._empty.set()

    @property
    def stream(self) -> str:
        return self._publisher.key

    async def publish(self, transcript: VoiceTranscript) -> bytes:
        ids = await self._publisher.publish([(F_DATA, encode_transcript(transcript))])
        return ids[0]
