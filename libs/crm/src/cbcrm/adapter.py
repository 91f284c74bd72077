"""The one interface every CRM adapter implements, and the values that cross it.

Adapters translate these calls into their CRM's API (amoCRM v4, Bitrix24 REST, Megaplan v3,
webhooks, the built-in SQLite CRM). Every write takes an idempotency key (``key``): an adapter
either passes it to the CRM (amoCRM call ``uniq``) or remembers it, so a retried command never
creates a second entity or log entry. Errors are mapped at the adapter boundary into
:class:`~cbcrm.exceptions.CrmError` subclasses: transient (timeouts, 5xx, 429: retry later)
or permanent (other 4xx: dead-letter with the reason).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

__all__ = [
    "CallLog",
    "CrmAdapter",
    "CrmUser",
    "Deal",
    "Entity",
    "EntityKind",
    "Lookup",
    "NewContact",
    "NewDeal",
    "NewTask",
    "NoCallCard",
]

EntityKind = Literal["contact", "company", "lead"]


class Entity(msgspec.Struct, frozen=True, kw_only=True):
    """A contact, company or lead as a card shows it."""

    kind: EntityKind
    id: str
    name: str = ""
    phones: tuple[str, ...] = ()  # E.164
    company: str = ""
    responsible_user_id: str = ""
    created_at: int = 0  # unix s: the default "effective entity" rule prefers the oldest
    url: str = ""  # open in CRM


class Deal(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str = ""
    status: str = ""
    is_open: bool = True
    amount: float = 0.0
    responsible_user_id: str = ""
    url: str = ""


class Lookup(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a CRM knows about one phone number (before the effective-entity rule)."""

    phone: str  # E.164
    entities: tuple[Entity, ...] = ()
    deals: dict[str, tuple[Deal, ...]] = {}  # entity id -> its deals


class CrmUser(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str = ""
    extension: str = ""  # the operator's PBX extension, where the CRM knows it


class NewContact(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    phone: str  # E.164
    responsible_user_id: str = ""
    unsorted: bool = False  # amoCRM: create an Unsorted (incoming lead) entry instead
    # For an Unsorted entry: the call that brought the caller (its one call event) and the
    # number the caller dialled (the DID, else the operator's extension).
    call: CallLog | None = None
    called: str = ""


class NewDeal(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    entity: Entity
    responsible_user_id: str = ""
    unsorted: bool = False  # amoCRM: create an Unsorted (incoming lead) entry instead


class NewTask(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    entity: Entity
    responsible_user_id: str = ""
    deadline: int = 0  # unix s


class CallLog(msgspec.Struct, frozen=True, kw_only=True):
    """One finished call (or one leg after a transfer) to record in the CRM."""

    call_id: str  # our id; amoCRM ``uniq``
    direction: Literal["inbound", "outbound", "internal"]
    phone: str  # the external party, E.164
    started_at: int  # unix s
    duration_s: int = 0
    result: Literal["answered", "missed", "busy", "failed", "abandoned"] = "answered"
    user_id: str = ""  # the operator, as a CRM user
    extension: str = ""
    entity: Entity | None = None
    recording_url: str = ""  # signed, expiring link served by the gateway
    deal_id: str = ""  # the entity's deal the call belongs to, where the rule chose one
    reason: str = ""  # why this entity (the effective-entity rule's code), for the note
    transferred_from: str = ""  # the operator (extension) who transferred the call to this leg
    transferred_to: str = ""  # the operator this leg transferred the call to

    def chain_text(self) -> str:
        """The transfer chain of this leg for a note ("" when it was not transferred)."""
        parts = []
        if self.transferred_from:
            parts.append(f"transferred from {self.transferred_from}")
        if self.transferred_to:
            parts.append(f"transferred to {self.transferred_to}")
        return ", ".join(parts)


@runtime_checkable
class CrmAdapter(Protocol):
    """What crm-sync needs from a CRM. Optional capabilities say False and no-op."""

    name: str
    #: Drives the CRM's own call card (Bitrix24 telephony.externalCall.*).
    drives_call_card: bool

    async def lookup(self, phone: str) -> Lookup: ...
    async def users(self) -> list[CrmUser]: ...
    async def create_contact(self, contact: NewContact, *, key: str) -> Entity: ...
    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal: ...
    async def create_task(self, task: NewTask, *, key: str) -> str: ...
    async def log_call(self, call: CallLog, *, key: str) -> str: ...

    # Call-card capability (no-ops where drives_call_card is False).
    async def card_start(self, call: CallLog, *, key: str, show: bool = False) -> str: ...
    async def card_show(self, call_id: str, user_ids: list[str]) -> None: ...
    async def card_hide(self, call_id: str, user_ids: list[str]) -> None: ...

    async def aclose(self) -> None: ...


class NoCallCard:
    """The call-card capability of a CRM that has no call card of its own: the operator's
    card is callbridge's web UI (fed by ``cb:crm:events``), so these are no-ops."""

    drives_call_card = False

    async def card_start(self, call: CallLog, *, key: str, show: bool = False) -> str:
        return ""

    async def card_show(self, call_id: str, user_ids: list[str]) -> None:
        return None

    async def card_hide(self, call_id: str, user_ids: list[str]) -> None:
        return None
