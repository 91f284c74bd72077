"""Bitrix24 telephony: ``telephony.externalCall.register`` → ``show``/``hide`` → ``finish``
→ ``attachRecord``, many calls per ``batch`` when they end together.

Two phases, each safe to repeat: registers (Bitrix24 returns the same CALL_ID for a repeat
with the same ``EXTERNAL_CALL_ID`` within 30 minutes), whose CALL_IDs are kept in Redis; then
finishes (+ recordings). A finish repeated after a lost reply meets "Call is not found": the
call is already finished, which is what we wanted. Each leg of a transferred call is its own
Bitrix24 call, registered for that leg's operator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from ..adapter import CallLog
from ..exceptions import CrmError, CrmPermanentError, CrmTransientError
from ..remote import Coalescer, Memo
from .client import B24Client, Command

__all__ = ["STATUS_CODE", "B24Calls", "status_code"]

#: CallLog.result → finish STATUS_CODE (200 answered, 304 missed, 486 busy, 603-S cancelled).
STATUS_CODE = {"answered": "200", "missed": "304", "busy": "486", "failed": "OTHER"}
_TYPE = {"outbound": 1, "inbound": 2}
_REGISTER_WAIT_S = 30.0
_OWNER = {"contact": "CONTACT", "company": "COMPANY", "lead": "LEAD"}


def status_code(call: CallLog) -> str:
    if call.result == "abandoned":  # the caller gave up (missed) / our operator cancelled
        return "304" if call.direction == "inbound" else "603-S"
    return STATUS_CODE[call.result]


def user_params(call: CallLog) -> dict[str, Any]:
    if call.user_id:
        return {"USER_ID": int(call.user_id)}
    if call.extension:
        return {"USER_PHONE_INNER": call.extension}
    raise CrmPermanentError(
        "bitrix24: a call needs an operator (user id or extension)", crm="bitrix24"
    )


class B24Calls:
    def __init__(self, client: B24Client, memo: Memo) -> None:
        self._client, self._memo = client, memo
        size = client.settings.commands_per_batch
        self._registers: Coalescer[Command, Any] = Coalescer(self._send, max_items=size)
        self._cards: Coalescer[Command, Any] = Coalescer(self._send_cards, max_items=size)
        self._writes: Coalescer[Command, Any] = Coalescer(self._send_cards, max_items=size)
        self._finishes: Coalescer[list[Command], Any] = Coalescer(self._send_groups, max_items=size)

    async def register(self, call: CallLog, *, show: bool = False) -> str:
        """The Bitrix24 CALL_ID of our ``call`` (registered now unless known)."""
        return (await self.ensure(call, show=show))[0]

    async def ensure(self, call: CallLog, *, show: bool = False) -> tuple[str, bool]:
        """(CALL_ID, registered by this request) of our ``call``. One registration per
        call, however many executors ask at once (its card's; its log reuses it)."""
        known = await self._memo.get("b24:callid", call.call_id)
        if known is not None:
            return known, False
        loop = asyncio.get_running_loop()
        deadline, step = loop.time() + _REGISTER_WAIT_S, 0.02
        while not await self._memo.claim("b24:callid", call.call_id, _REGISTER_WAIT_S):
            # another executor is registering this call: its CALL_ID, when it has it
            await asyncio.sleep(step)
            step = min(step * 2, 0.25)
            if (known := await self._memo.get("b24:callid", call.call_id)) is not None:
                return known, False
            if loop.time() > deadline:
                raise CrmTransientError("bitrix24: call being registered elsewhere", crm="bitrix24")
        try:
            known = await self._memo.get("b24:callid", call.call_id)
            if known is not None:
                return known, False
            return await self._register(call, show=show), True
        finally:
            await self._memo.release("b24:callid", call.call_id)

    async def _register(self, call: CallLog, *, show: bool) -> str:
        params: dict[str, Any] = {
            **user_params(call),
            "PHONE_NUMBER": call.phone,
            "TYPE": _TYPE[call.direction],
            "CALL_START_DATE": dt.datetime.fromtimestamp(call.started_at, dt.UTC).isoformat(),
            "CRM_CREATE": 0,
            "SHOW": int(show),
            "EXTERNAL_CALL_ID": call.call_id,
        }
        if self._client.settings.line_number:
            params["LINE_NUMBER"] = self._client.settings.line_number
        if call.entity is not None:
            params.update(
                CRM_ENTITY_TYPE=_OWNER[call.entity.kind], CRM_ENTITY_ID=int(call.entity.id)
            )
        result = await self._registers.submit(("telephony.externalCall.register", params))
        call_id = str(result["CALL_ID"])
        await self.remember(call.call_id, call_id)
        return call_id

    async def card_id(self, call_id: str) -> str:
        """Bitrix24's CALL_ID for ``call_id`` (ours, registered by ``card_start``, or already
        Bitrix24's own); "" when our call has no card (nothing to show or hide)."""
        if call_id.startswith("externalCall."):
            return call_id
        return await self._memo.get("b24:callid", call_id) or ""

    async def remember(self, our_call_id: str, b24_call_id: str) -> None:
        await self._memo.put("b24:callid", our_call_id, b24_call_id)

    async def log(self, call: CallLog, *, key: str) -> str:
        if call.direction == "internal":
            return ""
        done = await self._memo.get("b24:log", key)
        if done is not None:
            return done
        b24_call_id = await self.register(call)
        finish: dict[str, Any] = {
            "CALL_ID": b24_call_id,
            **user_params(call),
            "DURATION": call.duration_s if call.result == "answered" else 0,
            "STATUS_CODE": status_code(call),
        }
        if call.result == "failed":
            finish["FAILED_REASON"] = "call failed"
        group: list[Command] = [("telephony.externalCall.finish", finish)]
        if call.recording_url:
            record = {
                "CALL_ID": b24_call_id,
                "RECORD_URL": call.recording_url,
                "FILENAME": f"{call.call_id}.mp3",
            }
            group.append(("telephony.externalCall.attachRecord", record))
        await self._finishes.submit(group, weight=len(group))
        await self._memo.put("b24:log", key, b24_call_id)
        return b24_call_id

    async def show(self, b24_call_id: str, user_ids: list[str], *, hide: bool = False) -> None:
        """Show / hide the card; cards of many calls at once share one ``batch``."""
        method = "telephony.externalCall.hide" if hide else "telephony.externalCall.show"
        result = await self._cards.submit(
            (method, {"CALL_ID": b24_call_id, "USER_ID": [int(u) for u in user_ids]})
        )
        if isinstance(result, CrmError):
            raise result

    async def bulk(self, method: str, params: dict[str, Any]) -> Any:
        """One command whose request may be shared with others' (a ``batch``): tasks."""
        return await self._writes.submit((method, params))

    async def _send_cards(self, commands: Sequence[Command]) -> list[Any]:
        """Show/hide: alone as the method itself, several as one ``batch``."""
        if len(commands) == 1:
            method, params = commands[0]
            return [await self._client.call(method, params)]
        return await self._client.batch(list(commands))

    async def _send(self, commands: Sequence[Command]) -> list[Any]:
        return await self._client.batch(list(commands))

    async def _send_groups(self, groups: Sequence[list[Command]]) -> list[Any]:
        flat = [cmd for group in groups for cmd in group]
        results = await self._client.batch(flat)
        out: list[Any] = []
        at = 0
        for group in groups:
            mine, at = results[at : at + len(group)], at + len(group)
            finish = mine[0]
            if isinstance(finish, CrmError):
                if "not found" not in str(finish).lower():
                    out.append(finish)
                    continue
                finish = {"ALREADY_FINISHED": True}  # finished by an attempt whose reply was lost
            record_failed = len(mine) > 1 and isinstance(mine[1], CrmError)
            out.append(mine[1] if record_failed else finish)
        return out
