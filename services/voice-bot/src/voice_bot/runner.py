"""Runs one dialog over one call: steps in order, branching on what the caller said.

The runner knows the dialog and the call's variables; the call itself is :class:`CallIO`
(AGI in production) and the CRM is :class:`~voice_bot.crm.CrmLink` (optional). Every prompt
and answer goes to the :class:`Transcript`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from cbcontracts.voice import TurnKind
from cbspeech import DIGIT_WORDS

from .callio import Heard, Played
from .crm import CallerInfo, CrmLink
from .dialog import (
    END,
    Branch,
    Callback,
    Dialog,
    Hangup,
    Intent,
    Listen,
    Lookup,
    Say,
    SetVars,
    Step,
    Text,
    Transfer,
    in_lang,
    words,
)
from .exceptions import AgiHangup, VoiceBotError
from .listening import ListenSpec
from .transcript import Transcript

__all__ = ["CallIO", "DialogRunner", "match"]

log = logging.getLogger(__name__)


_YES_OR_NO: dict[str, str] = {"en": "Say yes or no.", "ru": "Скажите да или нет."}


def _confirm_step(step: Listen) -> Listen:
    yes = Intent(phrases={"en": ["yes"], "ru": ["да"]}, dtmf="1")
    no = Intent(phrases={"en": ["no"], "ru": ["нет"]}, dtmf="2")
    return Listen(
        id=f"{step.id}.confirm",
        intents={"yes": yes, "no": no},
        retries=1,
        dtmf_fallback=False,
        no_input_s=step.no_input_s,
        end_silence_s=step.end_silence_s,
        min_confidence=step.min_confidence,
    )


_MAX_STEPS = 200  # a loop in a dialog file must not keep a call forever


class CallIO(Protocol):
    async def say(self, text: str) -> Played: ...
    async def ask(
        self, prompt: str, phrases: Sequence[str], spec: ListenSpec
    ) -> tuple[Played, Heard]: ...
    async def keys(self, text: str, *, max_digits: int, timeout_s: float) -> str: ...
    async def transfer(self, extension: str) -> None: ...
    async def result(self, outcome: str) -> None: ...


class _Vars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def match(step: Listen, heard: Heard, lang: str = "en") -> tuple[str, str]:
    """``(outcome, digits)``: the intent the answer means, ``"digits"``, or ``""``."""
    outcome, digits, _ = decide(step, heard, lang)
    return outcome, digits


def decide(step: Listen, heard: Heard, lang: str = "en") -> tuple[str, str, str]:
    """``(outcome, digits, why)``: what the answer means, or ``""`` with the reason it means
    nothing (``noinput``, ``nomatch: low confidence 0.12 < 0.30``, ``nomatch: noise``,
    ``nomatch: not a known answer``). Never a forced intent: an answer that is not clearly
    one of the step's is no match."""
    if heard.dtmf:
        key = next((n for n, i in step.intents.items() if i.dtmf == heard.dtmf), "")
        if key:
            return key, "", key
        if step.digits and heard.dtmf.isdigit() and len(heard.dtmf) <= step.max_digits:
            return "digits", heard.dtmf, "digits"
        return "", "", f"nomatch: key {heard.dtmf}"
    said = words(heard.text)
    if heard.rejected:
        return "", "", f"nomatch: {heard.rejected}"
    if not said:
        return "", "", "nomatch: noise" if heard.noise else "noinput"
    if heard.confidence < step.min_confidence:
        return "", "", f"nomatch: low confidence {heard.confidence:.2f} < {step.min_confidence:.2f}"
    joined = f" {' '.join(said)} "
    for name, intent in step.intents.items():
        if any(" ".join(words(p)) == joined.strip() for p in in_lang(intent.phrases, lang)):
            return name, "", name
        if any(f" {' '.join(words(k))} " in joined for k in in_lang(intent.keywords, lang)):
            return name, "", name
    if step.digits and all(w in DIGIT_WORDS for w in said) and len(said) <= step.max_digits:
        return "digits", "".join(str(DIGIT_WORDS.index(w)) for w in said), "digits"
    return "", "", "nomatch: not a known answer"


def spec_of(step: Listen) -> ListenSpec:
    return ListenSpec(
        no_input_s=step.no_input_s,
        end_silence_s=step.end_silence_s,
        max_speech_s=step.timeout_s,
        digits=step.digits,
        max_digits=step.max_digits,
        terminator=step.terminator,
        inter_digit_s=step.inter_digit_s,
        barge_in=step.barge_in,
    )


class DialogRunner:
    def __init__(
        self,
        dialog: Dialog,
        io: CallIO,
        transcript: Transcript,
        caller: CallerInfo,
        crm: CrmLink | None = None,
        lang: str = "",
    ) -> None:
        self.dialog, self.io, self.t, self.info, self.crm = dialog, io, transcript, caller, crm
        self.vars = _Vars(dialog.vars) | _Vars(caller.as_vars())
        self.vars = _Vars(self.vars)
        self.path: list[str] = []  # step ids run, in order
        self.lang = lang or dialog.lang

    def fill(self, template: Text) -> str:
        return self.dialog.text(template, self.lang).format_map(self.vars)

    async def run(self) -> str:
        """Run to the end; the outcome (also in the transcript)."""
        self.t.outcome = "completed"
        i = 0
        try:
            while 0 <= i < len(self.dialog.steps) and len(self.path) < _MAX_STEPS:
                step = self.dialog.steps[i]
                self.path.append(step.id)
                target = await self._step(step)
                if target == END:
                    break
                i = self.dialog.index(target) if target else i + 1
            if self.t.outcome == "completed":
                await self.io.result("completed")  # the dialplan's fallback is for failures
        except AgiHangup:
            self.t.outcome = "caller_hangup"
        except VoiceBotError as exc:
            log.warning("dialog %s failed: %s", self.dialog.name, exc)
            self.t.outcome = "error"
        return self.t.outcome

    async def _say(self, text: Text, step: Step) -> None:
        text = self.fill(text)
        if text:
            played = await self.io.say(text)
            if played.started_at:
                self.t.bot(text, step.id, at=played.started_at, interrupted=played.interrupted)

    async def _ask(self, step: Listen, prompt: Text) -> Heard:
        """One turn: the prompt (the caller may interrupt it), then the answer; both in the
        transcript, the answer with the decision taken on it and its confidence."""
        prompt = self.fill(prompt)
        played, heard = await self.io.ask(prompt, step.phrases(self.lang), spec_of(step))
        if prompt and played.started_at:
            self.t.bot(prompt, step.id, at=played.started_at, interrupted=played.interrupted)
        outcome, _, why = decide(step, heard, self.lang)
        kind: TurnKind = "dtmf" if heard.dtmf else "speech" if heard.text else "silence"
        self.t.caller_said(
            heard.dtmf or heard.text,
            kind=kind,
            confidence=heard.confidence,
            step=step.id,
            decision=outcome or why,
        )
        log.info(
            "turn call=%s step=%s heard=%r intent=%s confidence=%.2f barge_in=%s stt_ms=%.0f "
            "latency_ms=%.0f",
            self.t.call_id,
            step.id,
            heard.dtmf or heard.text,
            outcome or why,
            heard.confidence,
            heard.barge_in or "-",
            heard.stt_ms,
            heard.latency_ms,
        )
        return heard

    async def _step(self, step: Step) -> str:
        match step:
            case Say():
                await self._say(step.text, step)
            case SetVars():
                self.vars.update({k: self.fill(v) for k, v in step.vars.items()})
            case Lookup():
                if self.crm is not None:
                    self.info = await self.crm.caller(self.info.number)
                    self.vars.update(self.info.as_vars())
                    self.t.entity_id = self.vars["entity_id"]
            case Branch():
                return step.cases.get(self.vars[step.var], step.default) or step.next
            case Listen():
                return await self._listen(step)
            case Transfer():
                return await self._transfer(step)
            case Callback():
                await self._callback(step)
            case Hangup():
                await self._say(step.text, step)
                return END
        return step.next

    async def _listen(self, step: Listen) -> str:
        outcome, digits, text, why = "", "", "", ""
        attempt = 0
        while attempt <= step.retries:
            if attempt == 0:
                prompt = step.prompt
            elif why == "noinput":
                prompt = step.noinput_prompt or step.reprompt or step.prompt
            else:
                prompt = step.nomatch_prompt or step.reprompt or step.prompt
            heard = await self._ask(step, prompt)
            outcome, digits, why = decide(step, heard, self.lang)
            text = heard.dtmf or heard.text
            attempt += 1
            spoken = outcome == "digits" and not heard.dtmf  # keys need no confirmation
            if spoken and step.confirm and not await self._confirm(step, digits):
                outcome, why = "", "nomatch: not confirmed"
                continue
            if outcome:
                break
        if (
            not outcome
            and step.dtmf_fallback
            and (step.digits or any(i.dtmf for i in step.intents.values()))
        ):
            prompt = self.fill(step.dtmf_prompt)
            keys = await self.io.keys(
                prompt, max_digits=step.max_digits if step.digits else 1, timeout_s=step.no_input_s
            )
            if prompt:
                self.t.bot(prompt, step.id)
            outcome, digits, why = (
                decide(step, Heard(dtmf=keys), self.lang) if keys else ("", "", "noinput")
            )
            self.t.caller_said(
                keys, kind="dtmf" if keys else "silence", step=step.id, decision=outcome or why
            )
            text = keys
        outcome = outcome or "nomatch"
        self.vars.update({step.save_as: outcome, f"{step.save_as}_text": text})
        if digits:
            self.vars["digits"] = digits
        return step.goto.get(outcome) or step.goto.get("default", "") or step.next

    async def _confirm(self, step: Listen, digits: str) -> bool:
        """ "You said 1 2 3, right?" — yes (or 1) keeps the digits; anything else drops them."""
        self.vars["digits"] = digits
        self.vars["digits_spoken"] = " ".join(digits)
        confirm = _confirm_step(step)
        for attempt in range(confirm.retries + 1):
            prompt = self.fill(step.confirm)
            prompt = prompt if attempt == 0 else f"{prompt} {self.fill(_YES_OR_NO)}"
            heard = await self._ask(confirm, prompt)
            outcome, _, _ = decide(confirm, heard, self.lang)
            if outcome:
                return outcome == "yes"
        return False

    async def _transfer(self, step: Transfer) -> str:
        extension = self.fill(step.extension).strip()
        if not extension:
            return step.fallback or step.next
        await self._say(step.text, step)
        await self.io.transfer(extension)
        await self.io.result("transfer")
        self.t.outcome, self.t.transfer_to = "transfer", extension
        return END

    async def _callback(self, step: Callback) -> None:
        if self.crm is not None:
            key = f"voice:{self.t.call_id}"
            text = f"{self.fill(step.text)}\n\n{self.t.finish().text()}"
            self.t.crm_ref = await self.crm.callback(
                self.info, create=step.create, text=text, key=key
            )
        self.t.outcome = "callback"
        await self.io.result("callback")
        await self._say(step.say, step)
