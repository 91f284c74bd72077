"""espeak-ng text-to-speech: the embedded default. Text goes on stdin (never argv, so no
text is ever taken for an option); the WAV it writes is converted to 8 kHz by sox."""

from __future__ import annotations

from .audio import run_tool, to_asterisk
from .base import Audio, VoiceParams

__all__ = ["EspeakSynthesizer"]

_BASE_WPM = 175  # espeak-ng's default speed = VoiceParams.speed 1.0


class EspeakSynthesizer:
    name = "espeak-ng"

    def __init__(
        self, *, default_voice: str = "en-us", espeak: str = "espeak-ng", sox: str = "sox"
    ) -> None:
        self.default_voice = default_voice
        self._espeak, self._sox = espeak, sox

    def argv(self, voice: VoiceParams) -> list[str]:
        wpm = max(80, min(450, round(_BASE_WPM * voice.speed)))
        argv = [self._espeak, "-v", voice.voice or self.default_voice, "-s", str(wpm)]
        if voice.ssml:
            argv.append("-m")
        return [*argv, "--stdout", "--stdin"]

    async def synthesize(self, text: str, voice: VoiceParams) -> Audio:
        if not text.strip():
            return Audio(b"")
        wav = await run_tool(self.argv(voice), text.encode())
        return await to_asterisk(wav, sox=self._sox)
