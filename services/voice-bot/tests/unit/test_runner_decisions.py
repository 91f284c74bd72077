"""The runner's decisions, with a scripted call (the CallIO protocol): Russian texts and
voices, never a forced intent, reasons and confidences in the transcript, prompts that never
played left out, digits read back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cbspeech import EspeakSynthesizer
from voice_bot.callio import Heard, Played
from voice_bot.crm import CallerInfo
from voice_bot.dialog import load_dialog, parse_dialog
from voice_bot.listening import ListenSpec
from voice_bot.runner import DialogRunner, decide
from voice_bot.transcript import Transcript

SAMPLE = Path(__file__).resolve().parents[2] / "dialogs" / "sample.yaml"


class Scripted:
    """Answers each ask with the next Heard; records what was said and the grammar asked."""

    def __init__(self, answers: Sequence[Heard], *, silent_prompts: bool = False) -> None:
        self.answers = list(answers)
        self.said: list[str] = []
        self.grammars: list[list[str]] = []
        self.silent = silent_prompts
        self.outcome = ""

    def _played(self) -> Played:
        return Played() if self.silent else Played(started_at=1, played_s=1.0, total_s=1.0)

    async def say(self, text: str) -> Played:
        self.said.append(text)
        return self._played()

    async def ask(
        self, prompt: str, phrases: Sequence[str], spec: ListenSpec
    ) -> tuple[Played, Heard]:
        self.said.append(prompt)
        self.grammars.append(list(phrases))
        return self._played(), self.answers.pop(0) if self.answers else Heard()

    async def keys(self, text: str, *, max_digits: int, timeout_s: float) -> str:
        self.said.append(text)
        return ""

    async def transfer(self, extension: str) -> None:
        pass

    async def result(self, outcome: str) -> None:
        self.outcome = outcome


async def test_a_russian_deployment_speaks_russian_with_a_russian_voice() -> None:
    dialog = load_dialog(SAMPLE)
    io = Scripted([Heard(dtmf="2"), Heard(text="один два три", confidence=0.9), Heard(dtmf="1")])
    runner = DialogRunner(dialog, io, Transcript(call_id="ru"), CallerInfo(number="1"), lang="ru")
    await runner.run()
    assert io.said[0] == "Здравствуйте, спасибо за звонок."
    assert io.grammars[0] == ["да", "нет", "перезвоните мне", "перезвоните", "перезвонить"]
    assert dialog.voice_for("ru").voice == "ru"
    assert dialog.voice_for("en").voice == "en-us"
    # espeak-ng's Russian voice reads Cyrillic as words; the English one spells it out
    text = "Здравствуйте, Иван Петров."
    ru = await EspeakSynthesizer().synthesize(text, dialog.voice_for("ru"))
    en = await EspeakSynthesizer().synthesize(text, dialog.voice_for("en"))
    assert ru.duration_s < en.duration_s / 1.5


def test_no_intent_is_forced() -> None:
    step = parse_dialog(
        """
name: t
steps:
  - id: ask
    do: listen
    min_confidence: 0.3
    intents: {"yes": {phrases: ["yes"]}, "no": {phrases: ["no"]}}
"""
    ).steps[0]
    assert decide(step, Heard(text="yes", confidence=0.5)) == ("yes", "", "yes")  # type: ignore[arg-type]
    assert decide(step, Heard(text="yes", confidence=0.1))[2].startswith(  # type: ignore[arg-type]
        "nomatch: low confidence 0.10"
    )
    assert decide(step, Heard(rejected="noise")) == ("", "", "nomatch: noise")  # type: ignore[arg-type]
    assert decide(step, Heard(text="yes please maybe", confidence=0.9))[2] == (  # type: ignore[arg-type]
        "nomatch: not a known answer"
    )
    assert decide(step, Heard()) == ("", "", "noinput")  # type: ignore[arg-type]
    assert decide(step, Heard(dtmf="7")) == ("", "", "nomatch: key 7")  # type: ignore[arg-type]


async def test_decisions_and_confidence_are_in_the_transcript_and_unplayed_prompts_are_not() -> (
    None
):
    dialog = load_dialog(SAMPLE)
    t = Transcript(call_id="x")
    answers = [Heard(rejected="noise"), Heard(text="yes", confidence=0.42)]
    io = Scripted(answers, silent_prompts=True)
    await DialogRunner(dialog, io, t, CallerInfo(number="1")).run()
    assert [x.who for x in t.turns] == ["caller", "caller"]  # no prompt played: none recorded
    assert [(x.decision, x.confidence) for x in t.turns] == [("nomatch: noise", 0.0), ("yes", 0.42)]
