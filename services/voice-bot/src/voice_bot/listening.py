"""Listening like a person, on the call's audio stream: voice activity detection with
end-of-speech, barge-in, DTMF at any moment with multi-digit collection.

:class:`Turn` consumes 20 ms frames of 8 kHz slin and DTMF digits as they arrive (and the
clock, for the timeouts) and says when the caller's turn is over:

* speech starts when at least ``START_VOICED`` of the last ``START_WINDOW`` frames are voiced
  (WebRTC's VAD, ``webrtcvad-wheels``) — while a prompt plays this is the barge-in; the
  ~300 ms before it are kept, so the first syllable is not lost;
* speech ends after ``end_silence_s`` without a voiced frame (or when frames stop coming:
  a phone that sends no RTP in silence), or after ``max_speech_s``;
* a key stops the prompt too; with ``digits`` it starts a collection that ends on the
  ``terminator`` (not part of the result), at ``max_digits``, or ``inter_digit_s`` after the
  last key; without, the first key is the answer;
* nothing at all within ``no_input_s`` after the prompt ended is no-input. The wait is
  counted from the end of the prompt, not from its start, and a caller who starts late is
  listened to until they stop.
"""

from __future__ import annotations

import collections
import itertools
import sys
from array import array
from dataclasses import dataclass, field
from typing import Literal

import webrtcvad  # type: ignore[import-untyped]

__all__ = ["ListenSpec", "Turn", "TurnResult", "screen", "zero_crossing_rate"]

FRAME_S = 0.02
START_WINDOW, START_VOICED = 10, 6  # 120 ms of voice within 200 ms starts speech
PREROLL_FRAMES = 15  # 300 ms kept from before the start


@dataclass(frozen=True, kw_only=True)
class ListenSpec:
    no_input_s: float = 5.0
    end_silence_s: float = 0.5
    max_speech_s: float = 10.0
    digits: bool = False  # collect a digit string (else the first key is the answer)
    max_digits: int = 10
    terminator: str = "#"
    inter_digit_s: float = 3.0
    barge_in: bool = True
    vad_mode: int = 2  # 0 (least aggressive) .. 3


Ended = Literal["speech", "dtmf", "noinput", "max_speech"]


@dataclass
class TurnResult:
    ended: Ended
    audio: bytes = b""  # the utterance (8 kHz slin), preroll included
    dtmf: str = ""
    speech_start_at: float | None = None  # clock of the first voiced frame that started speech
    speech_end_at: float | None = None  # clock of the last voiced frame (the caller stopped)
    barge_in: Literal["", "speech", "dtmf"] = ""


@dataclass
class Turn:
    """Feed it frames, digits and clock ticks; ``result`` is set once the turn is over.
    ``prompt_playing``: the caller's speech or key is a barge-in (``stop_prompt`` is True
    from then on, for the player to stop)."""

    spec: ListenSpec
    started_at: float
    prompt_playing: bool = True
    prompt_ended_at: float | None = None
    result: TurnResult | None = None
    stop_prompt: bool = False
    _vad: webrtcvad.Vad = field(init=False)
    _window: collections.deque[tuple[bool, float]] = field(init=False)
    _preroll: collections.deque[bytes] = field(init=False)
    _utterance: bytearray = field(default_factory=bytearray)
    _speaking: bool = False
    _speech_start: float | None = None
    _last_voice: float | None = None
    _digits: str = ""
    _last_key: float | None = None
    _barge: Literal["", "speech", "dtmf"] = ""

    def __post_init__(self) -> None:
        self._vad = webrtcvad.Vad(self.spec.vad_mode)
        self._window = collections.deque(maxlen=START_WINDOW)
        self._preroll = collections.deque(maxlen=PREROLL_FRAMES)

    # -- inputs ------------------------------------------------------------------------------

    def prompt_done(self, now: float) -> None:
        self.prompt_playing = False
        self.prompt_ended_at = now

    def frame(self, pcm: bytes, now: float) -> None:
        if self.result is not None or len(pcm) != 320:
            return
        voiced = self._vad.is_speech(pcm, 8000)
        if not self._speaking:
            if self.prompt_playing and not self.spec.barge_in:
                return
            self._preroll.append(pcm)
            self._window.append((voiced, now))
            if sum(v for v, _ in self._window) >= START_VOICED and not self._digits:
                self._speaking = True
                self._speech_start = next(t for v, t in self._window if v)
                self._utterance += b"".join(self._preroll)
                self._last_voice = now
                if self.prompt_playing:
                    self._barge, self.stop_prompt = "speech", True
            return
        self._utterance += pcm
        if voiced:
            self._last_voice = now
        if len(self._utterance) / 16000 >= self.spec.max_speech_s:
            self._finish("max_speech")
        else:
            self.tick(now)

    def key(self, digit: str, now: float) -> None:
        if self.result is not None:
            return
        if self.prompt_playing:
            self._barge, self.stop_prompt = self._barge or "dtmf", True
        if not self.spec.digits:
            self._digits = digit
            self._finish("dtmf")
            return
        if digit == self.spec.terminator:
            self._finish("dtmf" if self._digits else "noinput")
            return
        self._digits += digit
        self._last_key = now
        self._speaking = False  # keys win over speech heard at the same time
        self._utterance.clear()
        if len(self._digits) >= self.spec.max_digits:
            self._finish("dtmf")

    def tick(self, now: float) -> None:
        """The clock moved (call it at least every 100 ms)."""
        if self.result is not None:
            return
        s = self.spec
        if self._digits and self._last_key is not None:
            if now - self._last_key >= s.inter_digit_s:
                self._finish("dtmf")
            return
        if self._speaking and self._last_voice is not None:
            if now - self._last_voice >= s.end_silence_s:
                self._finish("speech")
            return
        ended = self.prompt_ended_at
        if not self.prompt_playing and ended is not None and now - ended >= s.no_input_s:
            self._finish("noinput")

    def next_deadline(self, now: float) -> float:
        """When :meth:`tick` must run next at the latest."""
        return now + 0.05

    # -- output ------------------------------------------------------------------------------

    def _finish(self, ended: Ended) -> None:
        audio = bytes(self._utterance) if ended in ("speech", "max_speech") else b""
        self.result = TurnResult(
            ended=ended,
            audio=audio,
            dtmf=self._digits if ended == "dtmf" else "",
            speech_start_at=self._speech_start if audio else None,
            speech_end_at=self._last_voice if audio else None,
            barge_in=self._barge,
        )
        self.stop_prompt = True


def zero_crossing_rate(pcm: bytes) -> float:
    """Sign changes per sample of 16-bit LE PCM: ~0.05-0.2 for voiced speech, ~0.5 for
    white noise (hiss, wind, a line's static)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if len(samples) < 2:
        return 0.0
    changes = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return changes / (len(samples) - 1)


NOISE_ZCR = 0.3
SECONDS_PER_WORD, SLACK_S = 0.55, 0.9


def screen(audio: bytes, speech_s: float, max_words: int) -> str:
    """Why an utterance cannot be one of the expected answers ("" = it may be): mostly
    noise-like frames, or longer than the longest expected answer could take to say
    (``max_words`` words). Grammar-bound recognisers always name *some* answer; this keeps
    a sentence about something else, or a burst of noise, from becoming an intent."""
    frames = [audio[i : i + 320] for i in range(0, len(audio) - 319, 320)]
    if frames:
        noisy = sum(1 for f in frames if zero_crossing_rate(f) > NOISE_ZCR)
        if noisy > len(frames) / 2:
            return "noise"
    limit = SECONDS_PER_WORD * max_words + SLACK_S
    if max_words and speech_s > limit:
        return f"longer than any expected answer ({speech_s:.1f} s > {limit:.1f} s)"
    return ""
