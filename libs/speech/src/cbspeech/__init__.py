"""cbspeech: speech providers behind one interface (TTS: text -> audio; STT: audio -> text).

Local engines are the embedded default (espeak-ng, pocketsphinx with a grammar); Yandex
SpeechKit v1 REST is the cloud provider. Audio is 8 kHz 16-bit mono where Asterisk meets it.
A Redis-indexed, content-addressed TTS cache makes a repeated prompt free.
"""

from .audio import read_wav, resample, run_tool, to_asterisk, wav_bytes, write_wav
from .base import Audio, Recognition, Recognizer, Synthesizer, VoiceParams
from .cache import CachedPrompt, TtsCache, prompt_key
from .espeak import EspeakSynthesizer
from .exceptions import (
    SpeechAuthError,
    SpeechBadRequest,
    SpeechEngineError,
    SpeechError,
    SpeechLimitExceeded,
    SpeechQuotaExceeded,
    SpeechUnavailable,
)
from .sphinx import DIGIT_WORDS, DIGITS, SphinxRecognizer, jsgf
from .yandex import SpeechKitAuth, SpeechKitClient

__all__ = [
    "DIGITS",
    "DIGIT_WORDS",
    "Audio",
    "CachedPrompt",
    "EspeakSynthesizer",
    "Recognition",
    "Recognizer",
    "SpeechAuthError",
    "SpeechBadRequest",
    "SpeechEngineError",
    "SpeechError",
    "SpeechKitAuth",
    "SpeechKitClient",
    "SpeechLimitExceeded",
    "SpeechQuotaExceeded",
    "SpeechUnavailable",
    "SphinxRecognizer",
    "Synthesizer",
    "TtsCache",
    "VoiceParams",
    "jsgf",
    "prompt_key",
    "read_wav",
    "resample",
    "run_tool",
    "to_asterisk",
    "wav_bytes",
    "write_wav",
]
