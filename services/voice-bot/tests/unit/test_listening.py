"""Turn-taking on the stream (voice_bot.listening) with real speech frames (espeak-ng) and
the VAD; the clock is the frames' own (20 ms each)."""

from __future__ import annotations

import pytest

from voice_bot.listening import ListenSpec, Turn, screen
from voice_bot.testing_media import Script, speech_pcm

SILENCE = b"\0" * 320


@pytest.fixture(scope="module")
def yes() -> bytes:
    return speech_pcm("yes")


def feed(turn: Turn, pcm: bytes, t: float) -> float:
    """Frames of ``pcm`` from time ``t``; the time after them."""
    for i in range(0, len(pcm) - 319, 320):
        turn.frame(pcm[i : i + 320], t)
        t += 0.02
    return t


def test_speech_during_the_prompt_is_a_barge_in_and_ends_after_the_silence(yes: bytes) -> None:
    turn = Turn(ListenSpec(end_silence_s=0.5), started_at=0.0)
    t = feed(turn, SILENCE * 20, 0.0)
    t = feed(turn, yes, t)
    assert turn.stop_prompt  # the player is told to stop
    assert turn.result is None  # still listening: the caller may go on
    feed(turn, SILENCE * 30, t)
    r = turn.result
    assert r is not None
    assert (r.ended, r.barge_in) == ("speech", "speech")
    assert r.speech_start_at is not None
    assert 0.4 <= r.speech_start_at <= 0.6  # the first voiced frame, not the trigger
    assert len(r.audio) >= len(yes) // 2  # the utterance with its start


def test_no_barge_in_when_the_step_forbids_it(yes: bytes) -> None:
    turn = Turn(ListenSpec(barge_in=False), started_at=0.0)
    feed(turn, yes + SILENCE * 30, 0.0)
    assert (turn.stop_prompt, turn.result) == (False, None)


def test_no_input_is_counted_from_the_end_of_the_prompt_so_a_late_speaker_is_heard(
    yes: bytes,
) -> None:
    turn = Turn(ListenSpec(no_input_s=5.0), started_at=0.0)
    t = feed(turn, SILENCE * 200, 0.0)  # a 4 s prompt
    turn.prompt_done(t)
    t = feed(turn, SILENCE * 130, t)  # 2.6 s of thinking
    turn.tick(t)
    assert turn.result is None
    t = feed(turn, yes + SILENCE * 30, t)
    assert turn.result is not None
    assert (turn.result.ended, turn.result.barge_in) == ("speech", "")

    quiet = Turn(ListenSpec(no_input_s=5.0), started_at=0.0)
    quiet.prompt_done(0.0)
    quiet.tick(4.9)
    assert quiet.result is None
    quiet.tick(5.0)
    assert quiet.result is not None
    assert quiet.result.ended == "noinput"


def test_a_digit_string_ends_on_the_terminator_max_or_inter_digit_timeout() -> None:
    spec = ListenSpec(digits=True, max_digits=4, inter_digit_s=3.0)
    turn = Turn(spec, started_at=0.0)
    for i, d in enumerate("123#"):
        turn.key(d, 0.3 * i)
    assert turn.result is not None
    assert (turn.result.dtmf, turn.result.barge_in) == ("123", "dtmf")

    turn = Turn(spec, started_at=0.0)
    for d in "98765":
        turn.key(d, 0.0)
    assert turn.result is not None
    assert turn.result.dtmf == "9876"

    turn = Turn(spec, started_at=0.0)
    turn.key("4", 1.0)
    turn.key("2", 2.0)
    turn.tick(4.9)
    assert turn.result is None
    turn.tick(5.0)
    assert turn.result is not None
    assert turn.result.dtmf == "42"


def test_without_digits_the_first_key_is_the_answer() -> None:
    turn = Turn(ListenSpec(), started_at=0.0)
    turn.key("2", 0.5)
    assert turn.result is not None
    assert (turn.result.ended, turn.result.dtmf) == ("dtmf", "2")


def test_screen_rejects_noise_and_answers_too_long_to_be_expected(yes: bytes) -> None:
    assert screen(yes, len(yes) / 16000, 1) == ""
    noise = bytes(Script().noise(1.0).pcm)
    assert screen(noise, 1.0, 1) == "noise"
    long = speech_pcm("I would like to order a large pizza with extra cheese")
    assert screen(long, len(long) / 16000, 1).startswith("longer than any expected answer")
    assert screen(long, len(long) / 16000, 10) == ""  # ten digits may take that long
