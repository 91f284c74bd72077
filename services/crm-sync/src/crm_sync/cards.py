"""What the planner publishes at call start: the caller's card (``crm.card`` on the CRM events
stream) and, for CRMs with their own call card, the ``crm.card_start`` command."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from cbcontracts import CallEvent, CallStarted
from cbcontracts.crm import CardData, CardEntity, CardStart
from cbcrm.sync import Card

__all__ = ["card_data", "card_event", "card_start"]


def card_event(event: CallEvent, phone: str, card: Card, crm: str) -> CardData:
    return card_data(card, phone, crm, event_id=f"{event.event_id}/card", call_id=event.call_id,
                     pbx=event.pbx, tenant=event.tenant)  # fmt: skip


def card_data(
    card: Card, phone: str, crm: str, *, event_id: str, call_id: str, pbx: str, tenant: str
) -> CardData:
    """The ``crm.card`` of ``call_id``: at call start, or again after the CRM changed."""
    chosen = card.effective
    fields: dict[str, Any] = msgspec.structs.asdict(chosen)
    entity = fields.pop("entity")
    return msgspec.convert(
        {
            **fields,
            "event_id": event_id,
            "call_id": call_id,
            "pbx": pbx,
            "tenant": tenant,
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


def card_start(
    event: CallStarted, phone: str, card: Card | None, base: dict[str, Any]
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
