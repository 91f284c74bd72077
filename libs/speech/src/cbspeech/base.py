"""The speech interfaces every provider implements, and the values that cross them.

Audio crosses as :class:`Audio`: signed 16-bit little-endian mono PCM at ``rate`` Hz — the
``slin`` Asterisk plays and records at 8000 Hz. Providers convert at their own boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

__all__ = ["Audio", "Recognition", "Recognizer", "Synthesizer", "VoiceParams"]

ASTERISK_RATE = 8000


class Audio(msgspec.Struct, frozen=True):
    """16-bit signed LE mono PCM."""

    pcm: bytes
    rate: int = ASTERISK_RATE

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / (2 * self.rate)

    def __repr__(self) -> str:
        return f"Audio({len(self.pcm)} bytes, {self.rate} Hz, {self.duration_s:.2f} s)"


class VoiceParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How to speak. Providers read what they support (espeak-ng: voice, speed;
    SpeechKit: all). Part of the TTS cache key."""

    voice: str = ""
    lang: str = ""
    speed: float = 1.0
    emotion: str = ""
    ssml: bool = False  # the text is SSML (<speak>…</speak>)


class Recognition(msgspec.Struct, frozen=True, kw_only=True):
    text: str  # "" when nothing was recognised
    confidence: float = 0.0  # 0..1 where the engine gives one
    provider: str = ""


@runtime_checkable
class Synthesizer(Protocol):
    """Text -> speech."""

    name: str

    async def synthesize(self, text: str, voice: VoiceParams) -> Audio: ...


@runtime_checkable
class Recognizer(Protocol):
    """Speech -> text. ``phrases``: the answers expected (a grammar for engines that take
    one, hints or ignored for others)."""

    name: str

    async def recognize(self, audio: Audio, *, phrases: Sequence[str] = ()) -> Recognition: ...
