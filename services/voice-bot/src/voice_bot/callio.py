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

__all__ = ["AgiCallIO", "Heard", "Paths"]

KEYS = "0123456789*#"


class Heard(msgspec.Struct, frozen=True, kw_only=True):
    text: str = ""
    dtmf: str = ""
    confidence: float = 0.0
    stt_ms: float = 0.0  # time spent recognising (after the caller stopped speaking)


@dataclass(frozen=True)
class Paths:
    sounds_dir: Path
    recordings_dir: Path
    sounds_dir_pbx: str = ""  # "" = the same path
    recordings_dir_pbx: str = ""
    keep_recordings: bool = False

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
        return self.paths.pbx_sound(prompt.stem)

    async def say(self, text: str, *, interruptible: bool = False) -> str:
        """Play ``text``; the key that interrupted it, if ``interruptible``."""
        if not text:
            return ""
        reply = await self.agi.stream_file(await self._prompt(text), KEYS if interruptible else "")
        return reply.digit

    async def listen(self, phrases: Sequence[str], *, timeout_s: float, silence_s: int) -> Heard:
        name = f"{self._prefix}-{next(self._n)}"
        stem, ms = self.paths.pbx_recording(name), int(timeout_s * 1000)
        reply = await self.agi.record_file(stem, escape=KEYS, timeout_ms=ms, silence_s=silence_s)
        local = self.paths.recordings_dir / f"{name}.wav"
        try:
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
