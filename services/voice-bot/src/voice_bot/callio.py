"""The call as the dialog sees it: say, listen, ask for keys, hand over to an extension.

Over AGI: prompts come from the TTS cache (files in ``sounds_dir``, which the PBX reads as
``sounds_dir_pbx``) and play with STREAM FILE; answers are recorded with RECORD FILE into
``recordings_dir_pbx`` and read back from ``recordings_dir`` (the same directory shared with
the bot), then recognised with the grammar of the expected answers. A key pressed during a
prompt or a recording is a DTMF answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from cbspeech import Recognizer, SpeechError, TtsCache, VoiceParams, read_wav, resample

from .agi import AgiChannel
from .exceptions import AgiHangup
from .listening import ListenSpec

__all__ = ["AgiCallIO", "Heard", "Paths", "Played"]

KEYS = "0123456789*#"


class Heard(msgspec.Struct, frozen=True, kw_only=True):
    text: str = ""
    dtmf: str = ""
    confidence: float = 0.0
    stt_ms: float = 0.0  # time spent recognising (after the caller stopped speaking)
    barge_in: str = ""  # "speech" / "dtmf": the caller interrupted the prompt
    noise: bool = False  # something was heard, but nothing the grammar knows
    rejected: str = ""  # why the audio was not recognised at all (noise, too long)
    latency_ms: float = 0.0  # the caller's end of speech (or last key) -> the answer known


class Played(msgspec.Struct, frozen=True, kw_only=True):
    """What became of a prompt: when it started (unix ms; 0 = it never played), how much of
    it played, and what interrupted it."""

    started_at: int = 0
    played_s: float = 0.0
    total_s: float = 0.0
    interrupted: str = ""


@dataclass(frozen=True)
class Paths:
    sounds_dir: Path
    recordings_dir: Path
    sounds_dir_pbx: str = ""  # "" = the same path
    recordings_dir_pbx: str = ""
    keep_recordings: bool = False
    prompts_url: str = ""  # "http://bot:9104/prompts": Asterisk fetches prompts over HTTP

    def pbx_sound(self, stem: Path) -> str:
        rel = stem.relative_to(self.sounds_dir)
        return str(Path(self.sounds_dir_pbx) / rel) if self.sounds_dir_pbx else str(stem)

    def pbx_recording(self, name: str) -> str:
        return str(Path(self.recordings_dir_pbx or self.recordings_dir) / name)


class AgiCallIO:
    def __init__(
        self, agi: AgiChannel, tts: TtsCache, stt: Recognizer, paths: Paths, voice: VoiceParams
    ) -> None:
        self.agi, self.tts, self.stt, self.paths, self.voice = agi, tts, stt, paths, voice
        self._n = itertools.count(1)
        safe = re.sub(r"[^\w.-]", "_", agi.env.uniqueid or "call")
        self._prefix = f"voicebot-{safe}"

    async def _prompt(self, text: str) -> str:
        prompt = await self.tts.get(text, self.voice)
        if self.paths.prompts_url:  # Asterisk's HTTP media cache fetches it (once)
            return f"{self.paths.prompts_url.rstrip('/')}/{prompt.key}.wav"
        return self.paths.pbx_sound(prompt.stem)

    async def _stream(self, text: str, escape: str) -> tuple[Played, str]:
        if not text:
            return Played(), ""
        stem = await self._prompt(text)
        started = int(time.time() * 1000)
        reply = await self.agi.stream_file(stem, escape)
        played = Played(started_at=started, interrupted="dtmf" if reply.digit else "")
        return played, reply.digit

    async def say(self, text: str) -> Played:
        return (await self._stream(text, ""))[0]

    async def ask(
        self, prompt: str, phrases: Sequence[str], spec: ListenSpec
    ) -> tuple[Played, Heard]:
        """The prompt (a key stops it), then keys or a recording. FastAGI cannot hear speech
        during a prompt, and RECORD FILE counts silence from its start: the stream mode
        (AudioSocket) listens better; this is the mode for a bot on Asterisk's host."""
        played, key = await self._stream(prompt, KEYS)
        if key:
            return played, Heard(dtmf=await self._more_keys(key, spec), barge_in="dtmf")
        silence = max(1, round(spec.end_silence_s))
        heard = await self.listen(
            phrases, timeout_s=spec.no_input_s + spec.max_speech_s, silence_s=silence
        )
        if heard.dtmf and spec.digits:
            heard = Heard(dtmf=await self._more_keys(heard.dtmf, spec))
        return played, heard

    async def _more_keys(self, first: str, spec: ListenSpec) -> str:
        """Collect a digit string after its first key: WAIT FOR DIGIT until the terminator,
        ``max_digits``, or ``inter_digit_s`` without a key."""
        if not spec.digits:
            return first
        digits = "" if first == spec.terminator else first
        if first == spec.terminator:
            return ""
        while len(digits) < spec.max_digits:
            ms = int(spec.inter_digit_s * 1000)
            reply = await self.agi.command("WAIT FOR DIGIT", str(ms), wait_s=ms / 1000)
            if reply.code == -1:
                raise AgiHangup("the caller hung up while keying")
            if not reply.digit or reply.digit == spec.terminator:
                break
            digits += reply.digit
        return digits

    async def listen(self, phrases: Sequence[str], *, timeout_s: float, silence_s: int) -> Heard:
        name = f"{self._prefix}-{next(self._n)}"
        stem, ms = self.paths.pbx_recording(name), int(timeout_s * 1000)
        local = self.paths.recordings_dir / f"{name}.wav"
        try:  # the recording is removed however this ends (a hangup mid-recording too)
            reply = await self.agi.record_file(
                stem, escape=KEYS, timeout_ms=ms, silence_s=silence_s
            )
            if reply.data == "dtmf" and reply.digit:
                return Heard(dtmf=reply.digit)
            try:
                data = await asyncio.to_thread(local.read_bytes)
            except FileNotFoundError:
                return Heard()
            t0 = time.perf_counter()
            audio = read_wav(data)
            audio = audio if audio.rate == 8000 else await resample(audio, 8000)
            try:
                got = await self.stt.recognize(audio, phrases=phrases)
            except SpeechError:
                return Heard()  # the dialog retries, then falls back to keys
            spent = (time.perf_counter() - t0) * 1000
            return Heard(text=got.text, confidence=got.confidence, stt_ms=spent)
        finally:
            if not self.paths.keep_recordings:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(local.unlink)

    async def keys(self, text: str, *, max_digits: int, timeout_s: float) -> str:
        """Play ``text`` and collect keys (GET DATA)."""
        stem = await self._prompt(text or "Please use the keypad.")
        reply = await self.agi.get_data(stem, int(timeout_s * 1000), max_digits)
        return reply.result  # "" when the caller pressed nothing

    async def transfer(self, extension: str) -> None:
        """Leave the extension for the dialplan (``Dial(PJSIP/${VOICEBOT_TRANSFER})``)."""
        await self.agi.set_variable("VOICEBOT_TRANSFER", extension)

    async def result(self, outcome: str) -> None:
        await self.agi.set_variable("VOICEBOT_RESULT", outcome)
