"""Applying a finished call to a CRM, as the rules say, each step exactly once.

:class:`CallSync` is what crm-sync's executors run for a ``crm.sync_call`` command, with any
adapter: look the number up (cache), choose the effective entity (and say why), decide the
scenario and its action, then — each step under its own idempotency key ``{cmd.key}/{step}``
— create the contact, the deal (only if the entity has no open deal), log the call (one
entry per operator leg: a transfer logs the call for each operator who talked, the first
leg under our call id, the next ones ``{call id}#2``, …), and create the missed-call task.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import msgspec

from cbcontracts.crm import CardShow, Leg, SyncCall

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
from .exceptions import CrmError, CrmTransientError
from .flight import NumberFlight
from .links import LinkSigner
from .lookup import LookupCache
from .once import Once, Reconcile, Steps
from .routing import UserDirectory
from .rules import Action, Rules, Scenario, scenario_of

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


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What a finished call needs, decided from one lookup."""

    card: Card
    scenario: Scenario | None
    action: Action
    new_contact: bool = False
    new_deal: bool = False
    creates: bool = False  # a step still to run would create a contact or a deal


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
        flight: NumberFlight | None = None,
    ) -> None:
        self.adapter, self.lookups, self.users, self.once = adapter, lookups, users, once
        self.flight = flight or NumberFlight(once.redis, prefix=once.prefix)
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

    async def card_entity(self, call: CardShow, *, key: str) -> Entity | None:
        """The entity a CRM-side card is registered on: the effective one; for a new inbound
        caller whom the rules give a contact whatever the outcome (answered or missed), that
        contact, created now (single flight per number, under ``{key}/contact``), so the
        CRM's record of the call is bound to it. The finished call finds it (known caller)."""
        card = await self.card(call.phone)
        if card.effective.entity is not None or call.direction != "inbound":
            return card.effective.entity
        answered = self.rules.action("inbound_unknown", call.did)
        missed = self.rules.action("missed_unknown", call.did)
        if not (answered.create_contact and missed.create_contact):
            return None
        if answered.unsorted or missed.unsorted:
            return None
        try:
            async with self.flight.hold(call.phone, wait_s=0.5):  # a card does not wait long
                fresh = choose(await self.lookups.get(call.phone), self.rule)
                if fresh.entity is not None:
                    return fresh.entity
                responsible = card.responsible.id if card.responsible else ""
                return await self._create_contact_as(call.phone, f"{key}/contact", responsible)
        except CrmTransientError:  # the number is being written elsewhere: the card goes on
            return None

    async def sync(
        self, cmd: SyncCall, *, steps: Steps | None = None, found: Lookup | None = None
    ) -> Outcome:
        """Apply ``cmd``; ``steps`` records the steps (default: :class:`Once`, one round trip
        per step), ``found`` is the number's lookup if the caller read it already.

        When a step would create a contact or a deal, the number is held
        (:class:`~cbcrm.flight.NumberFlight`) and looked up again (the cache, which whoever
        creates drops before letting go of the number): a concurrent call from the same new
        number has created them meanwhile, or not."""
        once = steps or self.once
        legs = _legs(cmd)
        last = legs[-1].extension if legs else ""
        # A redelivered command must take the same path: a contact we created on the first
        # attempt does not make the caller "known".
        done = await once.results(f"{cmd.key}/contact", f"{cmd.key}/deal")
        plan = await self._plan(cmd, last, found, done)
        if plan.scenario is None:
            return Outcome(scenario=None, effective=plan.card.effective)
        if plan.creates:
            async with self.flight.hold(cmd.phone):
                # the cache is dropped by whoever creates, before letting go of the number
                plan = await self._plan(cmd, last, await self.lookups.get(cmd.phone), done)
                if plan.scenario is None:
                    return Outcome(scenario=None, effective=plan.card.effective)
                entity, deal, created = await self._create(cmd, plan, once)
        else:
            entity, deal, created = await self._create(cmd, plan, once)
        action, chosen = plan.action, plan.card.effective
        responsible = plan.card.responsible.id if plan.card.responsible else ""
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
            task_id = await _step(
                "task", once.run(key, lambda: self.adapter.create_task(task, key=key), str)
            )
            created.append(f"task:{task_id}")
        return Outcome(
            scenario=plan.scenario,
            effective=chosen,
            entity=entity,
            created=tuple(created),
            logged=tuple(logged),
        )

    async def _plan(
        self, cmd: SyncCall, last: str, found: Lookup | None, done: list[bytes | None]
    ) -> _Plan:
        card = await self.card(cmd.phone, last, found=found)
        chosen = card.effective
        made_contact, made_deal = done[0] is not None, done[1] is not None
        scenario = scenario_of(cmd.direction, cmd.result, chosen.known and not made_contact)
        if scenario is None:
            return _Plan(card=card, scenario=None, action=Action())
        action = self.rules.action(scenario, cmd.did)
        new_contact = (chosen.entity is None or made_contact) and action.create_contact
        no_open_deal = made_deal or made_contact or not chosen.open_deals
        new_deal = action.create_deal and no_open_deal
        creates = (new_contact and not made_contact) or (new_deal and not made_deal)
        return _Plan(card=card, scenario=scenario, action=action, new_contact=new_contact,
                     new_deal=new_deal, creates=creates)  # fmt: skip

    async def _create(
        self, cmd: SyncCall, plan: _Plan, once: Steps
    ) -> tuple[Entity | None, Deal | None, list[str]]:
        responsible = plan.card.responsible.id if plan.card.responsible else ""
        unsorted = plan.action.unsorted
        created: list[str] = []
        entity, deal = plan.card.effective.entity, plan.card.effective.deal
        if plan.new_contact:
            first = None
            if unsorted:  # the Unsorted entry carries the call's first leg
                leg = (_legs(cmd) or [_NOBODY])[0]
                code = plan.card.effective.code
                first = await self._call_log(cmd, 0, leg, None, None, code, responsible)
            entity = await self._create_contact(cmd, responsible, first, once)
            created.append(f"contact:{entity.id}")
        if entity is not None and plan.new_deal:
            deal = await self._create_deal(cmd, entity, responsible, unsorted, once)
            created.append(f"deal:{deal.id}")
        return entity, deal, created

    async def _create_contact(
        self, cmd: SyncCall, responsible: str, unsorted_call: CallLog | None, once: Steps
    ) -> Entity:
        """The caller's contact; with ``unsorted_call``, an Unsorted entry holding it and that
        call (the adapter logs the call there, once)."""
        new = NewContact(
            name=self.rules.text("contact_name", cmd.phone),
            phone=cmd.phone,
            responsible_user_id=responsible,
            unsorted=unsorted_call is not None,
            call=unsorted_call,
            called=cmd.did or (unsorted_call.extension if unsorted_call else ""),
        )
        return await self._create_contact_as(cmd.phone, f"{cmd.key}/contact", responsible,
                                             new=new, once=once)  # fmt: skip

    async def _create_contact_as(
        self,
        phone: str,
        key: str,
        responsible: str,
        *,
        new: NewContact | None = None,
        once: Steps | None = None,
    ) -> Entity:
        new = new or NewContact(name=self.rules.text("contact_name", phone), phone=phone,
                                responsible_user_id=responsible)  # fmt: skip

        async def made_before() -> Entity | None:  # an earlier attempt's contact, if any
            found = await self.adapter.lookup(phone)
            return max(found.entities, key=lambda e: e.created_at, default=None)

        steps = once or self.once
        try:
            entity = await _step(
                "contact",
                steps.run(
                    key, lambda: self.adapter.create_contact(new, key=key), Entity, made_before
                ),
            )
        except BaseException:  # perhaps done (no reply): the cached "unknown" may be wrong
            await self.lookups.invalidate(phone)
            raise
        if new.unsorted:  # out of the CRM's lists until accepted: a lookup does not find it
            await self.lookups.invalidate(phone)
        else:
            await self.lookups.amend(phone, entity=entity)
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

        async def made_before() -> Deal | None:  # an earlier attempt's deal, if any
            found = await self.adapter.lookup(cmd.phone)
            return next((d for d in found.deals.get(entity.id, ()) if d.is_open), None)

        try:
            deal = await _step(
                "deal",
                once.run(key, lambda: self.adapter.create_deal(new, key=key), Deal, made_before),
            )
        except BaseException:
            await self.lookups.invalidate(cmd.phone)
            raise
        if unsorted:
            await self.lookups.invalidate(cmd.phone)
        else:
            await self.lookups.amend(cmd.phone, deal=(entity.id, deal))
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
        ids = []
        for i, leg in enumerate(legs or [_NOBODY]):
            log = await self._call_log(cmd, i, leg, entity, deal, reason, responsible)
            key = f"{cmd.key}/log/{i}"
            write = once.run(key, lambda: self.adapter.log_call(log, key=key), str,  # noqa: B023
                             self._call_search(log))  # fmt: skip
            ids.append(await _step(f"log/{i}", write))
        return ids

    def _call_search(self, log: CallLog) -> Reconcile[str] | None:
        """How to find ``log`` in the CRM after an ambiguous outcome, where the CRM can be
        searched for a call (amoCRM's ``find_call``); elsewhere its native key dedupes."""
        find = getattr(self.adapter, "find_call", None)
        if find is None:
            return None

        async def logged_before() -> str | None:
            found: str | None = await find(log)
            return found

        return logged_before

    def _recording_url(self, cmd: SyncCall) -> str:
        """A signed recording link; a link names its tenant (the gateway looks the call up
        there only): none without one."""
        if self.links is None or not cmd.recorded or not cmd.tenant:
            return ""
        return self.links.url(cmd.call_id, tenant=cmd.tenant)

    async def _call_log(
        self,
        cmd: SyncCall,
        i: int,
        leg: Leg,
        entity: Entity | None,
        deal: Deal | None,
        reason: str,
        responsible: str,
    ) -> CallLog:
        """What the CRM records for leg ``i`` of the call (``{call id}#{i+1}`` after the
        first)."""
        user = await self.users.by_extension(leg.extension)
        return CallLog(
            call_id=cmd.call_id if i == 0 else f"{cmd.call_id}#{i + 1}",
            direction=cmd.direction,
            phone=cmd.phone,
            started_at=leg.started_at or cmd.started_at,
            duration_s=leg.duration_s,
            result=cmd.result,
            user_id=user.id if user else responsible,
            extension=leg.extension,
            entity=entity,
            recording_url=self._recording_url(cmd),
            deal_id=deal.id if deal else "",
            reason=reason,
            transferred_from=leg.transferred_from,
            transferred_to=leg.transferred_to,
        )


_NOBODY = Leg(extension="")
T = TypeVar("T")


async def _step(name: str, work: Awaitable[T]) -> T:
    """``await work``; a CRM error names the step it failed in (for the dead letter)."""
    try:
        return await work
    except CrmError as exc:
        exc.step = exc.step or name
        raise


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
