"""What the dialog reads from and writes to the CRM, through cbcrm.

* the caller's name (the effective entity of the caller's number, via the shared
  :class:`~cbcrm.lookup.LookupCache`) and the responsible manager (:class:`~cbcrm.routing.Router`);
* a callback request becomes a CRM task or deal on the caller's entity (a contact is created
  for an unknown number), idempotent per call;
* the transcript goes to the CRM's call log (``CallLog.reason`` carries it: amoCRM's note and
  Megaplan's comment show it; the built-in CRM keeps the call without the text).

CRM failures never end a call: the dialog goes on without the data.
"""

from __future__ import annotations

import logging
import time

import msgspec

from cbcontracts.voice import VoiceTranscript
from cbcrm.adapter import CallLog, CrmAdapter, Entity, NewContact, NewDeal, NewTask
from cbcrm.effective import EffectiveRule, choose
from cbcrm.exceptions import CrmError, InvalidPhone
from cbcrm.lookup import LookupCache
from cbcrm.phones import to_e164
from cbcrm.routing import Router

__all__ = ["CallerInfo", "CrmLink"]

log = logging.getLogger(__name__)


class CallerInfo(msgspec.Struct, kw_only=True):
    number: str  # E.164 where possible
    name: str = ""
    entity: Entity | None = None
    manager_name: str = ""
    manager_extension: str = ""
    manager_user_id: str = ""

    def as_vars(self) -> dict[str, str]:
        return {
            "caller_number": self.number,
            "caller_name": self.name,
            "entity_id": self.entity.id if self.entity else "",
            "manager_name": self.manager_name,
            "manager_extension": self.manager_extension,
        }


class CrmLink:
    def __init__(
        self,
        adapter: CrmAdapter,
        lookups: LookupCache,
        router: Router,
        *,
        region: str = "RU",
        rule: EffectiveRule | None = None,
        deadline_s: float = 1.0,
    ) -> None:
        self.adapter, self._lookups, self._router = adapter, lookups, router
        self.region, self._rule, self.deadline_s = region, rule or EffectiveRule(), deadline_s

    def normalise(self, number: str) -> str:
        try:
            return to_e164(number, self.region)
        except InvalidPhone:
            return number

    async def caller(self, number: str) -> CallerInfo:
        info = CallerInfo(number=self.normalise(number))
        if not info.number.startswith("+"):
            return info
        try:
            chosen = choose(await self._lookups.get(info.number), self._rule)
        except CrmError as exc:
            log.warning("CRM lookup failed: %s", exc)
            return info
        if chosen.entity is not None:
            info.entity, info.name = chosen.entity, chosen.entity.name
        route = await self._router.route(info.number, deadline_s=self.deadline_s)
        info.manager_name, info.manager_extension = route.user_name, route.extension
        info.manager_user_id = route.user_id
        return info

    async def _entity(self, info: CallerInfo, key: str) -> Entity:
        if info.entity is not None:
            return info.entity
        contact = NewContact(name=f"Caller {info.number}", phone=info.number)
        # keyed by the number, not the call: a caller the CRM cannot find by number (an
        # extension, a number that is not E.164) gets one contact, not one per callback
        info.entity = await self.adapter.create_contact(contact, key=f"voice-contact:{info.number}")
        await self._lookups.invalidate(info.number)
        return info.entity

    async def callback(self, info: CallerInfo, *, create: str, text: str, key: str) -> str:
        """A task (or deal) asking the responsible manager to call back; its id."""
        entity = await self._entity(info, key)
        owner = info.manager_user_id or entity.responsible_user_id
        if create == "deal":
            deal = NewDeal(name=text, entity=entity, responsible_user_id=owner)
            return f"deal:{(await self.adapter.create_deal(deal, key=f'{key}/deal')).id}"
        task = NewTask(
            text=text, entity=entity, responsible_user_id=owner, deadline=int(time.time()) + 3600
        )
        return f"task:{await self.adapter.create_task(task, key=f'{key}/task')}"

    async def log_transcript(self, info: CallerInfo, t: VoiceTranscript) -> str:
        call = CallLog(
            call_id=f"{t.call_id}/voice-bot",
            direction="inbound",
            phone=info.number,
            started_at=t.started_at // 1000,
            duration_s=max(0, (t.ended_at - t.started_at) // 1000),
            entity=info.entity,
            reason=f"voice-bot transcript:\n{t.text()}"[:4000],
        )
        return await self.adapter.log_call(call, key=f"{t.event_id}/log")
