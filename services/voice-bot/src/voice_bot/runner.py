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

from .callio import Heard
from .crm import CallerInfo, CrmLink
from .dialog import (
    END,
    Branch,
    Callback,
    Dialog,
    Hangup,
    Listen,
    Lookup,
    Say,
    SetVars,
    Step,
    Transfer,
    words,
)
from .exceptions import AgiHangup, VoiceBotError
from .transcript import Transcript

__all__ = ["CallIO", "DialogRunner", "match"]

log = logging.getLogger(__name__)
_MAX_STEPS = 200  # a loop in a dialog file must not keep a call forever


class CallIO(Protocol):
    async def say(self, text: str, *, interruptible: bool = False) -> str: ...
    async def listen(
        self, phrases: Sequence[str], *, timeout_s: float, silence_s: int
    ) -> Heard: ...
    async def keys(self, text: str, *, max_digits: int, timeout_s: float) -> str: ...
    async def transfer(self, extension: str) -> None: ...
    async def result(self, outcome: str) -> None: ...


class _Vars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def match(step: Listen, heard: Heard) -> tuple[str, str]:
    """``(outcome, digits)``: the intent the answer means, ``"digits"``, or ``""``."""
    if heard.dtmf:
        key = next((n for n, i in step.intents.items() if i.dtmf == heard.dtmf), "")
        return (key, "") if key or not step.digits else ("digits", heard.dtmf)
    said = words(heard.text)
    if not said or heard.confidence < step.min_confidence:
        return "", ""
    joined = f" {' '.join(said)} "
    for name, intent in step.intents.items():
        if any(" ".join(words(p)) == joined.strip() for p in intent.phrases):
            return name, ""
        if any(f" {' '.join(words(k))} " in joined for k in intent.keywords):
            return name, ""
    if step.digits and all(w in DIGIT_WORDS for w in said):
        return "digits", "".join(str(DIGIT_WORDS.index(w)) for w in said)
    return "", ""


class DialogRunner:
    def __init__(
        self,
        dialog: Dialog,
        io: CallIO,
        transcript: Transcript,
        caller: CallerInfo,
        crm: CrmLink | None = None,
    ) -> None:
        self.dialog, self.io, self.t, self.info, self.crm = dialog, io, transcript, caller, crm
        self.vars = _Vars(dialog.vars) | _Vars(caller.as_vars())
        self.vars = _Vars(self.vars)
        self.path: list[str] = []  # step ids run, in order

    def fill(self, template: str) -> str:
        return template.format_map(self.vars)

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
        except AgiHangup:
            self.t.outcome = "caller_hangup"
        except VoiceBotError as exc:
            log.warning("dialog %s failed: %s", self.dialog.name, exc)
            self.t.outcome = "error"
        return self.t.outcome

    async def _say(self, text: str, step: Step) -> None:
        text = self.fill(text)
        if text:
            self.t.bot(text, step.id)
            await self.io.say(text)

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
        outcome, digits, text = "", "", ""
        for attempt in range(step.retries + 1):
            await self._say(step.prompt if attempt == 0 else step.reprompt or step.prompt, step)
            heard = await self.io.listen(
                step.phrases(), timeout_s=step.timeout_s, silence_s=step.silence_s
            )
            kind: TurnKind = "dtmf" if heard.dtmf else "speech" if heard.text else "silence"
            self.t.caller_said(
                heard.dtmf or heard.text, kind=kind, confidence=heard.confidence, step=step.id
            )
            outcome, digits = match(step, heard)
            text = heard.dtmf or heard.text
            if outcome:
                break
        if (
            not outcome
            and step.dtmf_fallback
            and (step.digits or any(i.dtmf for i in step.intents.values()))
        ):
            prompt = self.fill(step.dtmf_prompt)
            self.t.bot(prompt, step.id)
            keys = await self.io.keys(
                prompt, max_digits=step.max_digits if step.digits else 1, timeout_s=step.timeout_s
            )
            self.t.caller_said(keys, kind="dtmf" if keys else "silence", step=step.id)
            outcome, digits = match(step, Heard(dtmf=keys)) if keys else ("", "")
            text = keys
        outcome = outcome or "nomatch"
        self.vars.update({step.save_as: outcome, f"{step.save_as}_text": text})
        if digits:
            self.vars["digits"] = digits
        return step.goto.get(outcome) or step.goto.get("default", "") or step.next

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
