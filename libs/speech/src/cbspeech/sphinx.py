"""pocketsphinx speech-to-text with a grammar built from the answers a dialog expects.

Measured here: with its full English language model pocketsphinx mishears espeak-ng speech
at 8 kHz ("one two three" -> "why don't we"); a JSGF grammar of the expected phrases
("yes", "no", digits, "call me back") recognises them. The packaged en-us model is 16 kHz
(its ``feat.params`` pins a 6800 Hz filter bank, which an 8 kHz decoder refuses), so 8 kHz
recordings are resampled to 16 kHz by sox first.

A decoder per grammar is kept (loading the model takes ~0.1 s); a decoder is not thread-safe,
so each has a lock and decoding runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence

from pocketsphinx import Decoder  # type: ignore[import-untyped]

from .audio import resample
from .base import Audio, Recognition
from .exceptions import SpeechEngineError

__all__ = ["DIGITS", "SphinxRecognizer", "jsgf"]

DIGITS = "<digits>"  #: a phrase standing for "one or more spoken digits"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MODEL_RATE = 16000
#: Below this peak amplitude (16-bit samples, about -50 dBFS) a recording is silence.
_SILENCE_PEAK = 100


def _peak(pcm: bytes) -> int:
    """The largest absolute sample of 16-bit little-endian mono PCM (0 for none)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return max(max(samples, default=0), -min(samples, default=0))


def _words(phrase: str) -> list[str]:
    return re.findall(r"[a-z']+", phrase.lower())


def jsgf(phrases: Sequence[str]) -> str:
    """A JSGF grammar accepting exactly one of ``phrases`` (``DIGITS``: a digit string)."""
    alts = sorted({" ".join(_words(p)) for p in phrases if p != DIGITS} - {""})
    if DIGITS in phrases:
        alts.append("<digit>+")
    if not alts:
        raise SpeechEngineError("a grammar needs at least one phrase", provider="pocketsphinx")
    rules = [f"public <answer> = {' | '.join(alts)};"]
    if DIGITS in phrases:
        rules.append(f"<digit> = {' | '.join(DIGIT_WORDS)};")
    return "#JSGF V1.0;\ngrammar answers;\n" + "\n".join(rules) + "\n"


class _Slot:
    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self.lock = threading.Lock()

    def decode(self, pcm: bytes) -> tuple[str, float]:
        with self.lock:
            d = self.decoder
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            hyp = d.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            return text, (float(d.get_prob()) if text else 0.0)


class SphinxRecognizer:
    """Grammar-constrained recognition. Without phrases it uses the full language model
    (poor on telephone audio; pass the expected answers)."""

    name = "pocketsphinx"

    def __init__(self, *, sox: str = "sox", max_grammars: int = 16) -> None:
        self._sox = sox
        self._max = max_grammars
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._build = threading.Lock()

    def _known(self, phrases: Sequence[str], probe: Decoder) -> list[str]:
        """Drop phrases with words the dictionary lacks (a grammar with one fails to load)."""
        return [
            p
            for p in phrases
            if p == DIGITS or all(probe.lookup_word(w) is not None for w in _words(p))
        ]

    def _slot(self, phrases: tuple[str, ...]) -> _Slot:
        key = "\n".join(phrases)
        with self._build:
            slot = self._slots.get(key)
            if slot is not None:
                self._slots.move_to_end(key)
                return slot
            try:
                decoder = (
                    Decoder(lm=None, loglevel="FATAL") if phrases else Decoder(loglevel="FATAL")
                )
                if phrases:
                    decoder.add_jsgf_string("answers", jsgf(self._known(phrases, decoder)))
                    decoder.activate_search("answers")
            except RuntimeError as exc:
                raise SpeechEngineError(f"pocketsphinx: {exc}", provider=self.name) from None
            self._slots[key] = slot = _Slot(decoder)
            while len(self._slots) > self._max:
                self._slots.popitem(last=False)
            return slot

    async def prepare(self, phrases: Sequence[str]) -> None:
        """Load the decoder for ``phrases`` now (so the first caller does not wait)."""
        await asyncio.to_thread(self._slot, tuple(phrases))

    async def recognize(self, audio: Audio, *, phrases: Sequence[str] = ()) -> Recognition:
        if _peak(audio.pcm) < _SILENCE_PEAK:
            # Nothing was said. Not decoded: on digital silence a grammar-constrained
            # decoder may still pick one of its phrases (seen once in a loaded test run).
            return Recognition(text="", provider=self.name)
        pcm = (await resample(audio, _MODEL_RATE, sox=self._sox)).pcm
        slot = await asyncio.to_thread(self._slot, tuple(phrases))
        text, confidence = await asyncio.to_thread(slot.decode, pcm)
        return Recognition(text=text, confidence=confidence, provider=self.name)
