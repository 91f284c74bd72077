"""Dialogs as data: a YAML file of steps, checked against a msgspec schema at load time.

    name: sample
    voice: {voice: en-us}
    steps:
      - {id: hello, do: lookup}
      - {id: greet, do: say, text: "Hello {caller_name}."}
      - id: ask
        do: listen
        prompt: "Shall I put you through to {manager_name}? Say yes or no."
        intents:
          yes: {phrases: ["yes"], dtmf: "1"}
          no: {phrases: ["no"], dtmf: "2"}
        goto: {"yes": transfer, "no": bye, nomatch: bye}
      ...

Steps run in order unless ``next`` (or a listen's ``goto``, a branch's ``cases``) names
another. Texts are templates over the call's variables: ``{caller_name}``,
``{caller_number}``, ``{manager_name}``, ``{manager_extension}``, listen results
(``{answer}``, ``{answer_text}``, ``{digits}``) and any ``set`` variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import msgspec
import yaml

from cbspeech import DIGITS, VoiceParams

from .exceptions import DialogError

__all__ = [
    "Branch",
    "Callback",
    "Dialog",
    "Hangup",
    "Intent",
    "Listen",
    "Lookup",
    "Say",
    "SetVars",
    "Step",
    "Text",
    "Transfer",
    "load_dialog",
    "parse_dialog",
]

END = "end"  #: a step id that ends the dialog

#: A text to say: one string, or one per language (``{ru: "Здравствуйте", en: "Hello"}``).
Text = str | dict[str, str]

#: The voice for a language when the dialog names none (espeak-ng voices; SpeechKit reads
#: ``lang``).
DEFAULT_VOICES = {
    "ru": VoiceParams(voice="ru", lang="ru-RU"),
    "en": VoiceParams(voice="en-us", lang="en-US"),
}


class _Step(msgspec.Struct, kw_only=True, tag_field="do", forbid_unknown_fields=True):
    id: str = ""
    next: str = ""  # default: the following step


class Say(_Step, tag="say"):
    text: Text


class Intent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # exact answers (they make the recogniser's grammar) and keywords (any of these words or
    # word runs in the answer): a list, or a list per language ({en: [yes], ru: [да]})
    phrases: list[str] | dict[str, list[str]] = []
    keywords: list[str] | dict[str, list[str]] = []
    dtmf: str = ""  # the key that means the same


class Listen(_Step, tag="listen"):
    prompt: Text = ""
    reprompt: Text = ""  # said before each retry
    intents: dict[str, Intent] = {}
    digits: bool = False  # accept a spoken (or keyed) digit string: outcome "digits"
    max_digits: int = 10
    save_as: str = "answer"
    timeout_s: float = 6.0  # longest answer (speech)
    silence_s: int = 2  # FastAGI mode: silence that ends a recording (whole seconds)
    no_input_s: float = 5.0  # wait for the caller to start, counted from the prompt's end
    end_silence_s: float = 0.5  # stream mode: silence that ends the caller's speech
    barge_in: bool = True  # speech or a key stops the prompt
    terminator: str = "#"  # ends a digit string (not part of it)
    inter_digit_s: float = 3.0  # a digit string ends this long after its last key
    retries: int = 1  # extra attempts by speech
    noinput_prompt: Text = ""  # said before a retry after silence (default: reprompt)
    nomatch_prompt: Text = ""  # said before a retry after an answer not understood
    dtmf_fallback: bool = True  # then ask for keys when speech failed
    dtmf_prompt: Text = ""
    min_confidence: float = 0.0  # an answer recognised with less is not trusted
    confirm: Text = ""  # digits: "You said {digits_spoken}, right?" (yes/no, 1/2)
    goto: dict[str, str] = {}  # outcome (intent, "digits", "nomatch") -> step id

    def phrases(self, lang: str = "en") -> list[str]:
        out = [
            p
            for intent in self.intents.values()
            for p in (*in_lang(intent.phrases, lang), *in_lang(intent.keywords, lang))
        ]
        return [*dict.fromkeys(out), *([DIGITS] if self.digits else [])]


class SetVars(_Step, tag="set"):
    vars: dict[str, str]


class Lookup(_Step, tag="lookup"):
    """Read the CRM: caller_name, manager_name, manager_extension, entity_id."""


class Branch(_Step, tag="branch"):
    var: str
    cases: dict[str, str]
    default: str = ""


class Transfer(_Step, tag="transfer"):
    extension: str = "{manager_extension}"  # the responsible manager by default
    text: Text = ""
    fallback: str = ""  # step when there is no extension to transfer to


class Callback(_Step, tag="callback"):
    create: Literal["task", "deal"] = "task"
    text: str = "Call back {caller_number} (voice-bot)"
    say: Text = ""


class Hangup(_Step, tag="hangup"):
    text: Text = ""


Step = Say | Listen | SetVars | Lookup | Branch | Transfer | Callback | Hangup


class Dialog(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    steps: list[Step]
    lang: str = "en"  # the language texts are taken in (a deployment's `language` overrides)
    voice: VoiceParams | None = None  # the voice for `lang` (default: DEFAULT_VOICES)
    voices: dict[str, VoiceParams] = {}  # per language, when texts come in several
    vars: dict[str, str] = {}

    def voice_for(self, lang: str) -> VoiceParams:
        if lang in self.voices:
            return self.voices[lang]
        if self.voice is not None and lang == self.lang:
            return self.voice
        return DEFAULT_VOICES.get(lang, self.voice or VoiceParams())

    def text(self, text: Text, lang: str) -> str:
        """``text`` in ``lang`` (else in the dialog's own language, else the first given)."""
        if isinstance(text, str):
            return text
        return text.get(lang) or text.get(self.lang) or next(iter(text.values()), "")

    def index(self, step_id: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.id == step_id)


def _targets(step: Step) -> list[str]:
    out = [step.next]
    if isinstance(step, Listen):
        out += step.goto.values()
    elif isinstance(step, Branch):
        out += [*step.cases.values(), step.default]
    elif isinstance(step, Transfer):
        out.append(step.fallback)
    return [t for t in out if t]


def parse_dialog(text: str, source: str = "<dialog>") -> Dialog:
    try:
        dialog = msgspec.convert(yaml.safe_load(text), Dialog)
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        raise DialogError(f"{source}: {exc}") from None
    if not dialog.steps:
        raise DialogError(f"{source}: no steps")
    for n, step in enumerate(dialog.steps):
        step.id = step.id or f"step{n + 1}"
    ids = [s.id for s in dialog.steps]
    if len(set(ids)) != len(ids) or END in ids:
        raise DialogError(f"{source}: step ids must be unique and not {END!r}")
    for step in dialog.steps:
        missing = [t for t in _targets(step) if t not in ids and t != END]
        if missing:
            raise DialogError(f"{source}: step {step.id!r} goes to unknown {missing}")
        if isinstance(step, Listen) and not (step.intents or step.digits):
            raise DialogError(f"{source}: listen step {step.id!r} expects nothing")
    return dialog


def load_dialog(path: Path) -> Dialog:
    try:
        return parse_dialog(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise DialogError(f"cannot read {path}: {exc.strerror}") from None


def in_lang(items: list[str] | dict[str, list[str]], lang: str) -> list[str]:
    """A per-language list's entries for ``lang`` (a plain list is for every language)."""
    return items if isinstance(items, list) else items.get(lang, [])


def words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())
