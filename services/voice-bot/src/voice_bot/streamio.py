"""The call over AudioSocket: prompts streamed to the caller, the caller's audio and keys
streamed to the bot — no file on Asterisk's disk, no directory shared with it.

Each :meth:`StreamCallIO.ask` is one turn (:class:`~voice_bot.listening.Turn`): the prompt
plays while the bot listens, speech or a key stops it (barge-in), the turn ends at the
caller's end of speech, on keys, or on no-input. The utterance is recognised with the
step's grammar. Timing is measured on the way: from the caller's end of speech (the last
voiced frame's arrival) to the first frame of the bot's next prompt, and from the start of
a barge-in to the prompt's stop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from cbspeech import DIGITS, Audio, Recognizer, SpeechError, TtsCache, VoiceParams, read_wav

from .audiosocket import AudioStream
from .callio import Heard, Played
from .exceptions import AgiHangup
from .listening import ListenSpec, Turn, screen

__all__ = ["StreamCallIO", "VoiceMetrics"]

log = logging.getLogger(__name__)


@dataclass
class VoiceMetrics:
    """Turn timings of the calls this process served (bounded; for the bench and metrics)."""

    turn_latency_ms: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )
    barge_in_stop_ms: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )


def max_words(phrases: Sequence[str], spec: ListenSpec) -> int:
    """The longest expected answer, in words (a digit string: ``max_digits`` words)."""
    longest = max((len(p.split()) for p in phrases if p != DIGITS), default=0)
    return max(longest, spec.max_digits if DIGITS in phrases else 0)


class StreamCallIO:
    def __init__(
        self,
        stream: AudioStream,
        tts: TtsCache,
        stt: Recognizer,
        voice: VoiceParams,
        metrics: VoiceMetrics | None = None,
    ) -> None:
        self.stream, self.tts, self.stt, self.voice = stream, tts, stt, voice
        self.metrics = metrics or VoiceMetrics()
        self.outcome = ""  # VOICEBOT_RESULT, set over FastAGI once the stream is closed
        self.transfer_to = ""
        self._eos_at: float | None = None  # the caller's last end of speech / key
        self.last_latency_ms: float | None = None

    async def _pcm(self, text: str) -> bytes:
        if not text:
            return b""
        prompt = await self.tts.get(text, self.voice)
        audio = read_wav(await asyncio.to_thread(prompt.path.read_bytes))
        return audio.pcm

    def _check(self) -> None:
        if self.stream.closed.is_set():
            raise AgiHangup("the caller hung up (AudioSocket closed)")

    async def _play(self, pcm: bytes) -> Played:
        self._check()
        wall = int(time.time() * 1000)
        seconds = await self.stream.send_audio(pcm)
        first = self.stream.first_audio_at
        if self._eos_at is not None and first is not None and pcm:
            self.last_latency_ms = (first - self._eos_at) * 1000
            self.metrics.turn_latency_ms.append(self.last_latency_ms)
            self._eos_at = None
        return Played(started_at=wall, played_s=seconds, total_s=len(pcm) / 16000)

    async def say(self, text: str) -> Played:
        played = await self._play(await self._pcm(text))
        self._check()
        return played

    async def ask(
        self, prompt: str, phrases: Sequence[str], spec: ListenSpec
    ) -> tuple[Played, Heard]:
        pcm = await self._pcm(prompt)
        self._check()
        loop = asyncio.get_running_loop()
        while not self.stream.frames.empty():  # audio from before this turn is stale
            self.stream.frames.get_nowait()
        turn = Turn(spec, started_at=loop.time(), prompt_playing=bool(pcm))
        if not pcm:
            turn.prompt_done(loop.time())
        stopped_at: list[float] = []

        async def play() -> Played:
            played = await self._play(pcm) if pcm else Played()
            stopped_at.append(loop.time())
            turn.prompt_done(loop.time())
            return played

        player = asyncio.create_task(play())
        try:
            await self._listen(turn)
            self.stream.stop_playing()
            played = await player
        finally:
            if not player.done():
                self.stream.stop_playing()
                player.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await player
        result = turn.result
        if result is None:  # pragma: no cover - _listen returns only with a result
            raise RuntimeError("turn ended without a result")
        if result.barge_in and result.speech_start_at is not None and stopped_at:
            self.metrics.barge_in_stop_ms.append((stopped_at[0] - result.speech_start_at) * 1000)
        played = Played(
            started_at=played.started_at,
            played_s=played.played_s,
            total_s=played.total_s,
            interrupted=result.barge_in,
        )
        if result.ended == "dtmf":
            self._eos_at = loop.time()
            return played, Heard(dtmf=result.dtmf, barge_in=result.barge_in)
        eos = result.speech_end_at
        if not result.audio:
            return played, Heard(barge_in=result.barge_in)
        self._eos_at = result.speech_end_at
        speech_s = (result.speech_end_at or 0) - (result.speech_start_at or 0)
        why = screen(result.audio, speech_s, max_words(phrases, spec))
        if why:
            ms = (loop.time() - eos) * 1000 if eos is not None else 0.0
            return played, Heard(barge_in=result.barge_in, noise=True, rejected=why, latency_ms=ms)
        t0 = time.perf_counter()
        try:
            got = await self.stt.recognize(Audio(result.audio), phrases=phrases)
        except SpeechError as exc:
            log.warning("recognition failed: %s", exc)
            return played, Heard(barge_in=result.barge_in, noise=True)
        spent = (time.perf_counter() - t0) * 1000
        heard = Heard(
            text=got.text,
            confidence=got.confidence,
            stt_ms=spent,
            barge_in=result.barge_in,
            noise=not got.text,
            latency_ms=(loop.time() - eos) * 1000 if eos is not None else 0.0,
        )
        return played, heard

    async def _listen(self, turn: Turn) -> None:
        loop = asyncio.get_running_loop()
        frames, keys = self.stream.frames, self.stream.dtmf
        while turn.result is None:
            if self.stream.closed.is_set():
                raise AgiHangup("the caller hung up (AudioSocket closed)")
            now = loop.time()
            while not keys.empty():
                turn.key(keys.get_nowait(), now)
            if turn.result is not None:
                break
            try:
                frame = await asyncio.wait_for(frames.get(), 0.05)
            except TimeoutError:
                turn.tick(loop.time())
            else:
                turn.frame(frame, loop.time())
            if turn.stop_prompt:
                self.stream.stop_playing()

    async def keys(self, text: str, *, max_digits: int, timeout_s: float) -> str:
        spec = ListenSpec(digits=max_digits > 1, max_digits=max_digits, no_input_s=timeout_s)
        _, heard = await self.ask(text or "Please use the keypad.", (), spec)
        return heard.dtmf

    async def transfer(self, extension: str) -> None:
        self.transfer_to = extension

    async def result(self, outcome: str) -> None:
        self.outcome = outcome
