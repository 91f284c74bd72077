"""Local engines: espeak-ng speaks, sox converts to 8 kHz, pocketsphinx with a grammar built
from the expected answers hears it back. Real subprocesses."""

from __future__ import annotations

import shutil

import pytest

from cbspeech import (
    DIGITS,
    Audio,
    EspeakSynthesizer,
    SpeechEngineError,
    SphinxRecognizer,
    VoiceParams,
    jsgf,
    read_wav,
    wav_bytes,
)

pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox"
)
ANSWERS = ("yes", "no", "call me back", DIGITS)


def test_the_grammar_accepts_the_phrases_and_digit_strings() -> None:
    grammar = jsgf(["Yes!", "no", "call me back", DIGITS])
    assert "public <answer> = call me back | no | yes | <digit>+;" in grammar
    assert "<digit> = zero | one | two" in grammar
    with pytest.raises(SpeechEngineError):
        jsgf([])


async def test_espeak_speaks_8khz_16bit_mono() -> None:
    audio = await EspeakSynthesizer().synthesize("hello there", VoiceParams())
    assert audio.rate == 8000
    assert 0.4 < audio.duration_s < 3.0
    assert read_wav(wav_bytes(audio)) == audio


@pytest.mark.parametrize(
    ("spoken", "heard"),
    [("yes", "yes"), ("no", "no"), ("one two three", "one two three"), ("call me back", "call")],
)
async def test_sphinx_hears_what_espeak_says_with_the_dialog_grammar(
    spoken: str, heard: str
) -> None:
    audio = await EspeakSynthesizer().synthesize(spoken, VoiceParams())
    result = await SphinxRecognizer().recognize(audio, phrases=ANSWERS)
    # pocketsphinx reports only "call" of "call me back" here; dialogs match on keywords
    assert result.text == heard
    assert result.provider == "pocketsphinx"


async def test_silence_is_recognised_as_nothing() -> None:
    result = await SphinxRecognizer().recognize(Audio(b"\x00\x00" * 8000), phrases=("yes", "no"))
    assert result.text == ""
    assert result.confidence == 0.0


async def test_phrases_with_unknown_words_are_left_out_of_the_grammar() -> None:
    audio = await EspeakSynthesizer().synthesize("no", VoiceParams())
    result = await SphinxRecognizer().recognize(audio, phrases=("no", "yes", "qwzxv"))
    assert result.text == "no"


async def test_a_missing_engine_is_a_speech_engine_error() -> None:
    synth = EspeakSynthesizer(espeak="/nonexistent/espeak-ng")
    with pytest.raises(SpeechEngineError, match="cannot run"):
        await synth.synthesize("x", VoiceParams())
