"""CRM commands (``cb:crm:commands``) and CRM events (``cb:crm:events``).

Commands are what crm-sync's planner (or the gateway) asks executors to do in a CRM; each has
an idempotency ``key`` derived from the call event that caused it (``{event_id}/{action}``),
so a redelivered or re-planned command is done once. Events are what crm-sync learned: the
card of a ringing call (contact, company, open deals, responsible user, the chosen entity and
why), what a finished call changed, and errors worth showing. Same evolution rules as
:mod:`cbcontracts.calls`: explicit tags, new fields with defaults, unknown fields skipped.
"""

from __future__ import annotations

import msgspec

from .calls import Direction, Result

__all__ = [
    "CallSynced",
    "CardData",
    "CardDeal",
    "CardEntity",
    "CardHide",
    "CardShow",
    "CardStart",
    "CardUser",
    "CreateDeal",
    "CrmCommand",
    "CrmCommandBase",
    "CrmEvent",
    "CrmEventBase",
    "CrmFailed",
    "Leg",
    "SyncCall",
    "decode_command",
    "decode_crm_event",
    "encode_command",
    "encode_crm_event",
]


class _Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    pass


class Leg(_Wire, frozen=True, kw_only=True):
    """One operator's conversation in a call (a transfer ends it; the target's starts when
    the target talks). Times unix s; ``duration_s`` rounded to the nearest second.
    ``transferred_from`` / ``transferred_to``: the operator this leg came from / went to."""

    extension: str
    started_at: int = 0
    duration_s: int = 0
    transferred_from: str = ""
    transferred_to: str = ""


class CrmCommandBase(_Wire, frozen=True, kw_only=True, tag_field="type"):
    key: str  # idempotency key: "{event_id}/{action}"
    event_id: str  # the call event that caused it
    call_id: str
    pbx: str
    tenant: str = ""
    crm: str = ""  # the adapter it is meant for; "" = the configured one


class SyncCall(CrmCommandBase, tag="crm.sync_call", frozen=True, kw_only=True):
    """A finished call: find or create the entity and deal, log the call (one entry per
    operator leg), create the missed-call task — as the rules for its scenario say."""

    direction: Direction
    result: Result
    phone: str  # the outside party, E.164
    did: str = ""
    started_at: int = 0  # unix s
    ended_at: int = 0
    ring_s: int = 0
    talk_s: int = 0
    legs: tuple[Leg, ...] = ()  # operators who talked, in order
    rang: tuple[str, ...] = ()  # extensions that rang, in order
    extension: str = ""  # the operator who placed an outbound call
    recorded: bool = False  # a recording exists: log a signed link to it
    originate_id: str = ""  # set for click-to-call


class CardStart(CrmCommandBase, tag="crm.card_start", frozen=True, kw_only=True):
    """Open the CRM's own call card (Bitrix24 externalCall.register)."""

    direction: Direction
    phone: str
    did: str = ""
    started_at: int = 0
    extension: str = ""
    user_id: str = ""  # who the card is registered for: the responsible user from the lookup
    entity: CardEntity | None = None  # the effective entity, when known


class CardShow(CrmCommandBase, tag="crm.card_show", frozen=True, kw_only=True):
    """Pop the CRM's card for the operators behind ``extensions`` (their phones ring). The
    call's own fields let the executor register the card on the first show, for the ringing
    operator. Ephemeral: dropped when older than the executor's ``card_stale_s`` or after
    the call ended."""

    extensions: tuple[str, ...]
    phone: str = ""  # E.164
    direction: Direction = "inbound"
    did: str = ""
    started_at: int = 0  # unix s
    at: int = 0  # the ringing event's time, unix µs


class CardHide(CrmCommandBase, tag="crm.card_hide", frozen=True, kw_only=True):
    """Close the card for ``extensions`` (answered elsewhere / stopped ringing). Ephemeral."""

    extensions: tuple[str, ...]
    at: int = 0  # unix µs


class CreateDeal(CrmCommandBase, tag="crm.create_deal", frozen=True, kw_only=True):
    """An operator's "create deal" (the gateway): a deal on ``entity_id`` (of ``entity_kind``)
    or, without it, on the effective entity of ``phone``; the ``crm.card`` of ``call_id`` is
    published again so the card shows it. ``key`` is the request's idempotency key;
    ``call_id`` may be empty (no card to refresh). Every field here has a default."""

    name: str = ""  # empty: "Deal from <phone>"
    phone: str = ""  # E.164
    entity_id: str = ""
    entity_kind: str = ""  # contact | company; empty: the lookup's (else contact)
    extension: str = ""  # who asked: their CRM user is responsible (else the entity's)
    user: str = ""  # who asked, for the record


CrmCommand = SyncCall | CardStart | CardShow | CardHide | CreateDeal


class CardUser(_Wire, frozen=True, kw_only=True):
    id: str
    name: str = ""
    extension: str = ""


class CardDeal(_Wire, frozen=True, kw_only=True):
    id: str
    name: str = ""
    status: str = ""
    is_open: bool = True
    amount: float = 0.0
    responsible_user_id: str = ""
    url: str = ""


class CardEntity(_Wire, frozen=True, kw_only=True):
    kind: str  # contact | company
    id: str
    name: str = ""
    phones: tuple[str, ...] = ()
    company: str = ""
    responsible_user_id: str = ""
    created_at: int = 0
    url: str = ""


class CrmEventBase(_Wire, frozen=True, kw_only=True, tag_field="type"):
    event_id: str  # "{cause event_id}/{what}": consumers dedupe on it
    call_id: str
    pbx: str
    at: int  # unix µs
    crm: str = ""
    tenant: str = ""


class CardData(CrmEventBase, tag="crm.card", frozen=True, kw_only=True):
    """Everything a caller card shows, published as soon as the lookup finishes."""

    phone: str
    known: bool = False
    entity: CardEntity | None = None  # the effective entity
    deal: CardDeal | None = None  # its single open deal, when the rule shows it
    target: str = "none"  # what the card opens: deal | contact | company | none
    reason_code: str = "no_match"
    reason: str = ""
    candidates: int = 0
    company: str = ""
    open_deals: tuple[CardDeal, ...] = ()
    responsible: CardUser | None = None
    responsible_source: str = ""  # entity | last_rang | default


class CallSynced(CrmEventBase, tag="crm.call_synced", frozen=True, kw_only=True):
    """A finished call is in the CRM: on which entity, why, and what was created."""

    scenario: str
    entity: CardEntity | None = None
    reason_code: str = ""
    created: tuple[str, ...] = ()  # "contact:12", "deal:5", "task:3"
    logged: tuple[str, ...] = ()  # the CRM's ids of the call log entries


class CrmFailed(CrmEventBase, tag="crm.error", frozen=True, kw_only=True):
    command: str  # the command's type tag
    key: str
    error: str  # never contains a secret
    permanent: bool = False
    attempts: int = 0


CrmEvent = CardData | CallSynced | CrmFailed

_ENCODER = msgspec.json.Encoder()
_COMMANDS: msgspec.json.Decoder[CrmCommand] = msgspec.json.Decoder(CrmCommand)
_EVENTS: msgspec.json.Decoder[CrmEvent] = msgspec.json.Decoder(CrmEvent)


def encode_command(command: CrmCommandBase) -> bytes:
    return _ENCODER.encode(command)


def decode_command(data: bytes | str) -> CrmCommand:
    return _COMMANDS.decode(data)


def encode_crm_event(event: CrmEventBase) -> bytes:
    return _ENCODER.encode(event)


def decode_crm_event(data: bytes | str) -> CrmEvent:
    return _EVENTS.decode(data)
