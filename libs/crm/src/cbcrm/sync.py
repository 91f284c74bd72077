"""Applying a finished call to a CRM, as the rules say, each step exactly once.

:class:`CallSync` is what crm-sync's executors run for a ``crm.sync_call`` command, with any
adapter: look the number up (cache), choose the effective entity (and say why), decide the
scenario and its action, then — each step under its own idempotency key ``{cmd.key}/{step}``
— create the contact, the deal (only if the entity has no open deal), log the call (one
entry per operator leg: a transfer logs the call for each operator who talked, the first
leg under our call id, the next ones ``{call id}#2``, …), and create the missed-call task.
"""

from __future__ import annotations

import msgspec

from cbcontracts.crm import Leg, SyncCall

from .adapter import (
    CallLog,
    CrmAdapter,
    CrmUser,
    Deal,
    Entity,
    Lookup,
    NewContact,
    NewDeal,
    NewTask,
)
from .effective import Effective, EffectiveRule, choose
from .links import LinkSigner
from .lookup import LookupCache
from .once import Once, Steps
from .routing import UserDirectory
from .rules import Rules, Scenario, scenario_of

__all__ = ["CallSync", "Card", "Outcome", "step_keys"]


class Card(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller card needs: the choice, and who is responsible (and by which rule)."""

    effective: Effective
    responsible: CrmUser | None = None
    responsible_source: str = "none"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    scenario: Scenario | None
    effective: Effective
    entity: Entity | None = None
    created: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()


class CallSync:
    def __init__(
        self,
        adapter: CrmAdapter,
        lookups: LookupCache,
        users: UserDirectory,
        once: Once,
        *,
        rules: Rules | None = None,
        effective: EffectiveRule | None = None,
        links: LinkSigner | None = None,
    ) -> None:
        self.adapter, self.lookups, self.users, self.once = adapter, lookups, users, once
        self.rules = rules or Rules()
        self.rule = effective or EffectiveRule()
        self.links = links

    async def card(self, phone: str, last_rang: str = "", *, found: Lookup | None = None) -> Card:
        """The card of ``phone``; ``found`` = its lookup if the caller has it already."""
        chosen = choose(found or await self.lookups.get(phone), self.rule)
        owner = chosen.entity.responsible_user_id if chosen.entity else ""
        rang = await self.users.by_extension(last_rang)
        user_id, source = self.rules.responsible(owner, rang.id if rang else "")
        user = await self.users.by_id(user_id) or (CrmUser(id=user_id) if user_id else None)
        return Card(effective=chosen, responsible=user, responsible_source=source)

    async def sync(
        self, cmd: SyncCall, *, steps: Steps | None = None, found: Lookup | None = None
    ) -> Outcome:
        """Apply ``cmd``; ``steps`` records the steps (default: :class:`Once`, one round trip
        per step), ``found`` is the number's lookup if the caller read it already."""
        once = steps or self.once
        legs = _legs(cmd)
        card = await self.card(cmd.phone, legs[-1].extension if legs else "", found=found)
        chosen = card.effective
        # A redelivered command must take the same path: a contact we created on the first
        # attempt does not make the caller "known".
        contact, deal_done = await once.results(f"{cmd.key}/contact", f"{cmd.key}/deal")
        made_contact, made_deal = contact is not None, deal_done is not None
        scenario = scenario_of(cmd.direction, cmd.result, chosen.known and not made_contact)
        if scenario is None:
            return Outcome(scenario=None, effective=chosen)
        action = self.rules.action(scenario, cmd.did)
        responsible = card.responsible.id if card.responsible else ""
        created: list[str] = []
        entity, deal = chosen.entity, chosen.deal
        if (entity is None or made_contact) and action.create_contact:
            entity = await self._create_contact(cmd, responsible, action.unsorted, once)
            created.append(f"contact:{entity.id}")
        no_open_deal = made_deal or made_contact or not chosen.open_deals
        if entity is not None and action.create_deal and no_open_deal:
            deal = await self._create_deal(cmd, entity, responsible, action.unsorted, once)
            created.append(f"deal:{deal.id}")
        logged: list[str] = []
        if action.log_call:
            logged = await self._log_legs(cmd, legs, entity, deal, chosen.code, responsible, once)
        if action.create_task and entity is not None:
            task = NewTask(
                text=self.rules.text("task_text", cmd.phone),
                entity=entity,
                responsible_user_id=responsible,
                deadline=self.rules.deadline(action, cmd.ended_at),
            )
            key = f"{cmd.key}/task"
            task_id = await once.run(key, lambda: self.adapter.create_task(task, key=key), str)
            created.append(f"task:{task_id}")
        return Outcome(
            scenario=scenario,
            effective=chosen,
            entity=entity,
            created=tuple(created),
            logged=tuple(logged),
        )

    async def _create_contact(
        self, cmd: SyncCall, responsible: str, unsorted: bool, once: Steps
    ) -> Entity:
        new = NewContact(
            name=self.rules.text("contact_name", cmd.phone),
            phone=cmd.phone,
            responsible_user_id=responsible,
            unsorted=unsorted,
        )
        key = f"{cmd.key}/contact"
        entity = await once.run(key, lambda: self.adapter.create_contact(new, key=key), Entity)
        await self.lookups.invalidate(cmd.phone)
        return entity

    async def _create_deal(
        self, cmd: SyncCall, entity: Entity, responsible: str, unsorted: bool, once: Steps
    ) -> Deal:
        new = NewDeal(
            name=self.rules.text("deal_name", cmd.phone),
            entity=entity,
            responsible_user_id=responsible,
            unsorted=unsorted,
        )
        key = f"{cmd.key}/deal"
        deal = await once.run(key, lambda: self.adapter.create_deal(new, key=key), Deal)
        await self.lookups.invalidate(cmd.phone)
        return deal

    async def _log_legs(
        self,
        cmd: SyncCall,
        legs: list[Leg],
        entity: Entity | None,
        deal: Deal | None,
        reason: str,
        responsible: str,
        once: Steps,
    ) -> list[str]:
        # a link names its tenant (the gateway looks the call up there only): none without one
        signed = self.links is not None and cmd.recorded and bool(cmd.tenant)
        url = self.links.url(cmd.call_id, tenant=cmd.tenant) if self.links and signed else ""
        ids = []
        for i, leg in enumerate(legs or [Leg(extension="", started_at=cmd.started_at)]):
            user = await self.users.by_extension(leg.extension)
            log = CallLog(
                call_id=cmd.call_id if i == 0 else f"{cmd.call_id}#{i + 1}",
                direction=cmd.direction,
                phone=cmd.phone,
                started_at=leg.started_at or cmd.started_at,
                duration_s=leg.duration_s,
                result=cmd.result,
                user_id=user.id if user else responsible,
                extension=leg.extension,
                entity=entity,
                recording_url=url,
                deal_id=deal.id if deal else "",
                reason=reason,
            )
            key = f"{cmd.key}/log/{i}"
            ids.append(await once.run(key, lambda: self.adapter.log_call(log, key=key), str))  # noqa: B023
        return ids


def _legs(cmd: SyncCall) -> list[Leg]:
    """The operator legs to log: the command's, else (missed / outbound not answered) one
    leg for the operator who dialled or the last one whose phone rang."""
    if cmd.legs:
        return list(cmd.legs)
    ext = cmd.extension or (cmd.rang[-1] if cmd.rang else "")
    return [Leg(extension=ext, started_at=cmd.started_at, duration_s=0)] if ext else []


def step_keys(cmd: SyncCall) -> list[str]:
    """The step records :meth:`CallSync.sync` may read for ``cmd`` (to fetch in advance)."""
    logs = [f"{cmd.key}/log/{i}" for i in range(max(1, len(_legs(cmd))))]
    return [f"{cmd.key}/contact", f"{cmd.key}/deal", *logs, f"{cmd.key}/task"]
