"""What one CRM command does (the executor decides when, and records it exactly once).

* ``crm.sync_call``: :meth:`cbcrm.sync.CallSync.sync` with the batch's step records and the
  number's lookup read in advance; a ``crm.call_synced`` event says what changed.
* ``crm.card_start`` / ``crm.card_show`` / ``crm.card_hide``: the CRM's own call card, for the
  CRM users behind the extensions.
"""

from __future__ import annotations

import time

import msgspec

from cbcontracts.crm import (
    CallSynced,
    CardHide,
    CardShow,
    CardStart,
    CrmCommand,
    CrmEventBase,
    SyncCall,
)
from cbcrm.adapter import CallLog, Entity, Lookup
from cbcrm.once import StepBook
from cbcrm.sync import CallSync, step_keys

__all__ = ["CommandRunner"]

_lookup = msgspec.msgpack.Decoder(Lookup)


class CommandRunner:
    def __init__(self, sync: CallSync) -> None:
        self.sync = sync
        self.adapter = sync.adapter

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
        users = [u.id for e in cmd.extensions if (u := await self.sync.users.by_extension(e))]
        if isinstance(cmd, CardShow):
            await self.adapter.card_show(cmd.call_id, users)
        elif isinstance(cmd, CardHide):
            await self.adapter.card_hide(cmd.call_id, users)
        return b"1", []
