"""Dialog files: schema, references, and how answers match intents. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbspeech import DIGITS
from voice_bot.callio import Heard
from voice_bot.dialog import Listen, load_dialog, parse_dialog
from voice_bot.exceptions import DialogError
from voice_bot.runner import match

SAMPLE = Path(__file__).resolve().parents[2] / "dialogs" / "sample.yaml"


def test_the_sample_dialog_loads_and_its_listen_steps_make_grammars() -> None:
    dialog = load_dialog(SAMPLE)
    ask = dialog.steps[dialog.index("ask")]
    order = dialog.steps[dialog.index("order")]
    assert isinstance(ask, Listen)
    assert isinstance(order, Listen)
    assert ask.phrases() == ["yes", "no", "call me back", "call", "back"]
    assert order.phrases() == [DIGITS]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("name: x\nsteps: []\n", "no steps"),
        ("name: x\nsteps:\n  - {do: dance}\n", "Invalid value 'dance'"),
        ("name: x\nsteps:\n  - {do: say, txt: hi}\n", "txt"),
        (
            "name: x\nsteps:\n  - {id: a, do: say, text: a}\n  - {id: a, do: say, text: b}\n",
            "unique",
        ),
        ("name: x\nsteps:\n  - {do: listen, prompt: hi}\n", "expects nothing"),
        ("name: x\nsteps: [\n", "<dialog>"),
    ],
)
def test_bad_dialogs_are_refused_with_the_reason(text: str, error: str) -> None:
    with pytest.raises(DialogError, match=error):
        parse_dialog(text)


LISTEN = parse_dialog(SAMPLE.read_text()).steps[4]
ORDER = parse_dialog(SAMPLE.read_text()).steps[5]


@pytest.mark.parametrize(
    ("heard", "outcome"),
    [
        (Heard(text="yes"), ("yes", "")),
        (Heard(text="no"), ("no", "")),
        (Heard(text="call"), ("callback", "")),
        (Heard(text="please call me back"), ("callback", "")),
        (Heard(dtmf="2"), ("no", "")),
        (Heard(dtmf="9"), ("", "")),
        (Heard(text=""), ("", "")),
        (Heard(text="maybe"), ("", "")),
    ],
)
def test_answers_match_intents_by_phrase_keyword_or_key(
    heard: Heard, outcome: tuple[str, str]
) -> None:
    assert isinstance(LISTEN, Listen)
    assert match(LISTEN, heard) == outcome


def test_digit_answers_become_a_digit_string() -> None:
    assert isinstance(ORDER, Listen)
    assert match(ORDER, Heard(text="one two zero")) == ("digits", "120")
    assert match(ORDER, Heard(dtmf="4711")) == ("digits", "4711")
    assert match(ORDER, Heard(text="one banana")) == ("", "")
