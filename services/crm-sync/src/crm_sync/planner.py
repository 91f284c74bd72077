"""The planner: call events in (``cb:calls``), CRM commands and caller cards out.

* ``call.started`` with an outside party: look the number up at once (cache, single
  flight), publish the card (:class:`~cbcontracts.crm.CardData`) to ``cb:crm:events`` while
  the phone still rings; for CRMs with their own call card, a ``crm.card_start`` command.
* ``call.ringing`` / ``call.ringing_stopped``: ``crm.card_show`` / ``crm.card_hide`` for
  the extension (CRMs with their own call card only).
* ``call.answered`` / ``call.transferred``: note who talks from when (:class:`LegBook`).
* ``call.ended``: one ``crm.sync_call`` command with the operator legs.

Every command's key is ``{event_id}/{action}``: a redelivered event makes the same command,
which executors then skip. Events of one call are handled in order; calls in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import msgspec

from cbcontracts import CallEnded, CallEvent, CallStarted, CallTransferred, decode_event
from cbcontracts.calls import CallAnswered, CallRinging, CallRingingStopped
from cbcontracts.crm import (
    CardData,
    CardEntity,
    CardHide,
    CardShow,
    CardStart,
    CrmCommandBase,
    CrmFailed,
    SyncCall,
)
from cbcrm.exceptions import CrmError, InvalidPhone
from cbcrm.phones import normalize
from cbcrm.sync import CallSync, Card
from cbstreams import Delivery
from cbstreams.fields import F_DATA

from .consumer import GroupConsumer
from .legs import LegBook
from .metrics import CrmSyncMetrics
from .publisher import CrmPublisher

__all__ = ["Planner", "card_event"]

log = logging.getLogger(__name__)


def card_event(event: CallEvent, phone: str, card: Card, crm: str) -> CardData:
    chosen = card.effective
    fields: dict[str, Any] = msgspec.structs.asdict(chosen)
    entity = fields.pop("entity")
    return msgspec.convert(
        {
            **fields,
            "event_id": f"{event.event_id}/card",
            "call_id": event.call_id,
            "pbx": event.pbx,
            "tenant": event.tenant,
            "at": time.time_ns() // 1000,
            "crm": crm,
            "phone": phone,
            "known": chosen.known,
            "entity": entity,
            "reason_code": chosen.code,
            "company": entity.company
            if entity and entity.kind == "contact"
            else (entity.name if entity else ""),
            "responsible": card.responsible,
            "responsible_source": card.responsible_source,
        },
        CardData,
        from_attributes=True,
    )


class Planner:
    def __init__(
        self,
        consumer: GroupConsumer,
        sync: CallSync,
        publisher: CrmPublisher,
        legs: LegBook,
        metrics: CrmSyncMetrics,
        *,
        region: str = "RU",
        concurrency: int = 32,
    ) -> None:
        self.consumer, self.sync, self.publisher, self.legs = consumer, sync, publisher, legs
        self._slots = asyncio.Semaphore(concurrency)  # calls handled at once (Redis pool)
        self.metrics, self.region = metrics, region
        self.crm = sync.adapter.name
        self.drives_card = sync.adapter.drives_call_card

    async def run(self, stop: asyncio.Event) -> None:
        async for batch in self.consumer.pending():
            await self.handle_batch(batch)
        while not stop.is_set():
            await self.run_once()

    async def run_once(self, block_ms: int | None = None) -> int:
        batch = await self.consumer.new(block_ms)
        await self.handle_batch(batch)
        return len(batch)

    async def handle_batch(self, batch: list[Delivery]) -> None:
        """Events of one call in order, calls concurrently; ack the batch afterwards."""
        by_call: dict[str, list[CallEvent]] = defaultdict(list)
        for entry_id, data in batch:
            try:
                event = decode_event(data[F_DATA])
            except (KeyError, msgspec.DecodeError) as exc:
                log.warning(
                    "skipping malformed call event", extra={"id": entry_id, "error": str(exc)}
                )
                continue
            by_call[f"{event.pbx}/{event.call_id}"].append(event)
        planned: list[CrmCommandBase] = []
        async with asyncio.TaskGroup() as tg:
            for events in by_call.values():
                tg.create_task(self._handle_call(events, planned))
        if planned:  # one XADD round trip for the batch's commands (cards went out at once)
            await self.publisher.commands(planned)
            for command in planned:
                self.metrics.planned.labels(command.__struct_config__.tag).inc()
        await self.consumer.ack([entry_id for entry_id, _ in batch])

    async def _handle_call(self, events: list[CallEvent], planned: list[CrmCommandBase]) -> None:
        async with self._slots:
            for event in events:
                planned.extend(await self.handle(event))

    async def handle(self, event: CallEvent) -> list[CrmCommandBase]:
        phone = self._phone(event)
        if not phone:
            return []
        base = {"event_id": event.event_id, "call_id": event.call_id, "pbx": event.pbx,
                "tenant": event.tenant, "crm": self.crm}  # fmt: skip
        if isinstance(event, CallStarted):
            card = await self._card(event, phone)
            if self.drives_card:
                return [self._card_start(event, phone, card, base)]
        elif isinstance(event, CallRinging) and self.drives_card:
            return [CardShow(key=f"{event.event_id}/show", extensions=(event.extension,), **base)]
        elif isinstance(event, CallRingingStopped) and self.drives_card:
            return [CardHide(key=f"{event.event_id}/hide", extensions=(event.extension,), **base)]
        elif isinstance(event, CallAnswered):
            who = event.extension or event.answered_by
            await self.legs.start(event.pbx, event.call_id, event.seq, who, event.at)
        elif isinstance(event, CallTransferred):
            await self.legs.start(event.pbx, event.call_id, event.seq, event.to_extension, event.at)
        elif isinstance(event, CallEnded):
            return [await self._sync_call(event, phone, base)]
        return []

    def _phone(self, event: CallEvent) -> str:
        if event.direction == "internal" or not event.external:
            return ""
        try:
            phone = normalize(event.external, self.region)
        except InvalidPhone:
            return ""
        return phone.e164

    async def _card(self, event: CallStarted, phone: str) -> Card | None:
        try:
            card = await self.sync.card(phone, event.extension)
        except CrmError as exc:
            failed = CrmFailed(event_id=f"{event.event_id}/card", call_id=event.call_id,
                               pbx=event.pbx, at=time.time_ns() // 1000, crm=self.crm,
                               command="lookup", key="", error=str(exc))  # fmt: skip
            await self.publisher.events([failed])
            return None
        await self.publisher.events([card_event(event, phone, card, self.crm)])
        self.metrics.cards.inc()
        return card

    def _card_start(
        self, event: CallStarted, phone: str, card: Card | None, base: dict[str, Any]
    ) -> CardStart:
        """The CRM's card, registered for the responsible user (the operator who dials, for an
        outbound call), on the effective entity."""
        entity = card.effective.entity if card else None
        user = card.responsible.id if card and card.responsible else ""
        return CardStart(key=f"{event.event_id}/card_start", direction=event.direction,
                         phone=phone, did=event.did, started_at=event.at // 1_000_000,
                         extension=event.extension, user_id="" if event.extension else user,
                         entity=msgspec.convert(entity, CardEntity, from_attributes=True)
                         if entity else None, **base)  # fmt: skip

    async def _sync_call(self, event: CallEnded, phone: str, base: dict[str, Any]) -> SyncCall:
        return SyncCall(
            key=f"{event.event_id}/sync", direction=event.direction, result=event.result,
            phone=phone, did=event.did, started_at=event.started_at // 1_000_000,
            ended_at=event.at // 1_000_000, ring_s=event.ring_seconds, talk_s=event.talk_seconds,
            legs=await self.legs.finish(event), rang=event.rang,
            extension=event.extension if event.direction == "outbound" else "",
            recorded=bool(event.recording_file), originate_id=event.originate_id, **base,
        )  # fmt: skip
