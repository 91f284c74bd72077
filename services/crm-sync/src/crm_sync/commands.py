"""What one CRM command does (the executor decides when, and records it exactly once).

* ``crm.sync_call``: :meth:`cbcrm.sync.CallSync.sync` with the batch's step records and the
  number's lookup read in advance; a ``crm.call_synced`` event says what changed.
* ``crm.card_start`` / ``crm.card_show`` / ``crm.card_hide``: the CRM's own call card, for the
  CRM users behind the extensions (the ``cards`` lane of the CRM's rate limit; shows and
  hides are dropped when stale or after the call ended).
* ``crm.create_deal`` (an operator's "create deal"): the adapter's ``create_deal`` under the
  command's key, then the number's lookup is dropped and the call's ``crm.card`` published
  again, so the card shows the new deal.
"""

from __future__ import annotations

import time

import msgspec

from cbcontracts.crm import (
    CallSynced,
    CardHide,
    CardShow,
    CardStart,
    CreateDeal,
    CrmCommand,
    CrmEventBase,
    SyncCall,
)
from cbcrm.adapter import CallLog, Entity, EntityKind, Lookup, NewDeal
from cbcrm.exceptions import CrmPermanentError, InvalidPhone
from cbcrm.once import StepBook
from cbcrm.phones import normalize
from cbcrm.remote import lane
from cbcrm.sync import CallSync, step_keys

from .cards import card_data
from .legs import LegBook

__all__ = ["CommandRunner"]

_lookup = msgspec.msgpack.Decoder(Lookup)


class CommandRunner:
    def __init__(self, sync: CallSync, *, card_stale_s: float = 60.0) -> None:
        self.sync = sync
        self.adapter = sync.adapter
        self.card_stale_s = card_stale_s
        self.marks = LegBook(sync.once.redis, sync.once.prefix)

    async def prefetch(self, book: StepBook, commands: list[CrmCommand]) -> dict[str, Lookup]:
        """One MGET: every command's record, its steps' records, the numbers' cached lookups."""
        keys: list[str] = []
        phones: list[str] = []
        for cmd in commands:
            keys.append(cmd.key)
            if isinstance(cmd, SyncCall):
                keys += step_keys(cmd)
                phones.append(cmd.phone)
        phones = list(dict.fromkeys(phones))
        cached = await book.prefetch(keys, [self.sync.lookups.key(p) for p in phones])
        return {p: _lookup.decode(raw) for p, raw in zip(phones, cached, strict=True) if raw}

    async def run(
        self, cmd: CrmCommand, book: StepBook, found: Lookup | None = None
    ) -> tuple[bytes, list[CrmEventBase]]:
        """Do ``cmd``: its result (to record under its key) and the events to publish."""
        if isinstance(cmd, SyncCall):
            out = await self.sync.sync(cmd, steps=book, found=found)
            entity = msgspec.to_builtins(out.entity) if out.entity else None
            synced = msgspec.convert(
                {
                    "event_id": f"{cmd.event_id}/synced",
                    "call_id": cmd.call_id,
                    "pbx": cmd.pbx,
                    "tenant": cmd.tenant,
                    "at": time.time_ns() // 1000,
                    "crm": self.adapter.name,
                    "scenario": out.scenario or "",
                    "entity": entity,
                    "reason_code": out.effective.code,
                    "created": out.created,
                    "logged": out.logged,
                },
                CallSynced,
            )
            return msgspec.json.encode(out.logged), [synced]
        if isinstance(cmd, CardStart):
            entity = (
                msgspec.convert(cmd.entity, Entity, from_attributes=True) if cmd.entity else None
            )
            log = CallLog(call_id=cmd.call_id, direction=cmd.direction, phone=cmd.phone,
                          started_at=cmd.started_at, extension=cmd.extension,
                          user_id=cmd.user_id, entity=entity)  # fmt: skip
            return msgspec.json.encode(await self.adapter.card_start(log, key=cmd.key)), []
        if isinstance(cmd, CreateDeal):
            return await self.create_deal(cmd)
        with lane("cards"):
            return await self.card(cmd)

    async def card(self, cmd: CardShow | CardHide) -> tuple[bytes, list[CrmEventBase]]:
        """Show / hide the CRM's card: ephemeral — dropped once the call ended or when older
        than ``card_stale_s``. The first show registers the card for the ringing operator
        (else the default user), on the caller's entity (a new inbound caller's contact is
        created now when the rules create one whatever the outcome, so the CRM's call
        record is bound to it)."""
        now_us = time.time_ns() // 1000
        if cmd.at and now_us - cmd.at > self.card_stale_s * 1_000_000:
            return b"stale", []
        if await self.marks.is_ended(cmd.pbx, cmd.call_id):
            return b"ended", []
        users = [u.id for e in cmd.extensions if (u := await self.sync.users.by_extension(e))]
        if isinstance(cmd, CardHide):
            await self.adapter.card_hide(cmd.call_id, users)
            return b"1", []
        users = users or [u for u in (self.sync.rules.config.default_user_id,) if u]
        if not users:
            raise CrmPermanentError("a card needs an operator: no CRM user rings, no default")
        if cmd.phone:
            entity = await self.sync.card_entity(cmd, key=f"{cmd.pbx}/{cmd.call_id}/card")
            log = CallLog(call_id=cmd.call_id, direction=cmd.direction, phone=cmd.phone,
                          started_at=cmd.started_at or now_us // 1_000_000,
                          extension=cmd.extensions[0] if cmd.extensions else "",
                          user_id=users[0], entity=entity)  # fmt: skip
            await self.adapter.card_start(log, key=f"{cmd.key}/register", show=True)
            users = users[1:]  # the first is shown the card with its registration
        if users:
            await self.adapter.card_show(cmd.call_id, users)
        return b"1", []

    async def create_deal(self, cmd: CreateDeal) -> tuple[bytes, list[CrmEventBase]]:
        entity: Entity | None = None
        phone = ""
        if cmd.phone:
            try:
                phone = normalize(cmd.phone).e164
            except InvalidPhone:
                raise CrmPermanentError(f"not a phone number: {cmd.phone!r}") from None
        if phone:
            if cmd.entity_id:
                found = await self.sync.lookups.get(phone)
                entity = next((e for e in found.entities if e.id == cmd.entity_id), None)
            else:
                entity = (await self.sync.card(phone)).effective.entity
        elif cmd.entity_id:  # no number: the entity by its id alone
            kind: EntityKind = "company" if cmd.entity_kind == "company" else "contact"
            entity = Entity(kind=kind, id=cmd.entity_id)
        if entity is None:
            raise CrmPermanentError(f"no CRM entity of the number {phone!r} to add a deal to")
        user = await self.sync.users.by_extension(cmd.extension) if cmd.extension else None
        name = cmd.name or f"Deal from {phone or entity.name or entity.id}"
        owner = user.id if user else entity.responsible_user_id
        new = NewDeal(name=name, entity=entity, responsible_user_id=owner)
        deal = await self.adapter.create_deal(new, key=cmd.key)
        events: list[CrmEventBase] = []
        phones = [p for p in (phone, *entity.phones) if p]
        if phones:
            await self.sync.lookups.invalidate(*phones)
        if phone and cmd.call_id:
            card = await self.sync.card(phone, cmd.extension)
            refreshed = card_data(card, phone, self.adapter.name, event_id=f"{cmd.key}/card",
                                  call_id=cmd.call_id, pbx=cmd.pbx, tenant=cmd.tenant)  # fmt: skip
            events.append(refreshed)
        result = {"deal": msgspec.to_builtins(deal), "entity": msgspec.to_builtins(entity)}
        return msgspec.json.encode(result), events
