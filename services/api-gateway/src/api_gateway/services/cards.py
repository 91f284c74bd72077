"""What each feed client may see, decided by the server from the entries themselves.

* :class:`TenantFilter` — an integrator key: call events and CRM events of its tenant's PBXs
  (and, for a key limited to some extensions, only the events that involve them).
* :class:`OperatorCards` — an operator session: the caller card of its one extension: shown
  when that extension rings (or a call is transferred to it), filled with the CRM's data,
  hidden when it stops ringing, is answered elsewhere, is transferred away, or ends;
  ``card.answered`` when this extension answers it; ``call.ended`` when a call it was shown
  ends (its record exists from then: time to refresh the history). The CRM data of recent
  calls is kept (bounded), so a card shown after its ``crm.card`` (a transfer, a late ring)
  still fills.

A resumed operator feed starts from a *snapshot* (:meth:`OperatorCards.resume`): the cards
its extension has open now, rebuilt by replaying the entries since the oldest live call that
concerns it through the same rules, each with its CRM data; the page closes every other card.
The events between the client's cursor and the snapshot are summed up by it, not replayed to
the client: a card whose call ended meanwhile is simply not in it.

CRM events (``cb:crm:events``) are ``cbcontracts.crm`` events in the ``data`` field; an
operator gets the ``crm.card`` data of the calls whose card it shows, an integrator every CRM
event of its tenant. Entries that do not decode are skipped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from cbcontracts import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    CallRingingStopped,
    CallTransferred,
    decode_event,
)
from cbcontracts.crm import CardData, CrmEvent, decode_crm_event
from cbrecords import LiveCall, decode_live

from .feeds import FeedReader, Start
from .records import CallRecords

__all__ = [
    "CALLS",
    "CRM",
    "Message",
    "OperatorCards",
    "TenantFilter",
    "concerns",
    "event_extensions",
    "open_for",
    "resume_operator",
]

#: A resumed operator feed replays the entries from this long before the oldest live call
#: that concerns it (its call.started and crm.card are there)...
REPLAY_LOOKBACK_MS = 5_000
#: ...but at most this many of each stream (a call older than that: judged by its state).
SNAPSHOT_REPLAY_MAX = 50_000

CALLS, CRM = 0, 1  # stream indexes of the merged feed
Message = dict[str, Any]


def event_extensions(event: CallEvent) -> set[str]:
    names = ("extension", "answered_by", "from_extension", "to_extension")
    found = {getattr(event, n, "") for n in names}
    found.update(getattr(event, "rang", ()), getattr(event, "transferred_to", ()))
    return {e for e in found if e and e != event.external}


def decode_call(fields: dict[bytes, bytes]) -> CallEvent | None:
    try:
        return decode_event(fields[b"data"])
    except (KeyError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def decode_crm(fields: dict[bytes, bytes]) -> CrmEvent | None:
    try:
        return decode_crm_event(fields[b"data"])
    except (KeyError, msgspec.DecodeError, msgspec.ValidationError):
        return None


class TenantFilter:
    def __init__(self, pbxs: set[str], extensions: set[str] | None = None) -> None:
        self._pbxs = pbxs
        self._extensions = extensions or set()

    def __call__(self, stream: int, fields: dict[bytes, bytes]) -> list[Message]:
        if stream == CALLS:
            event = decode_call(fields)
            if event is None or event.pbx not in self._pbxs:
                return []
            if self._extensions and not self._extensions & event_extensions(event):
                return []
            return [{"type": event.__struct_config__.tag, "event": msgspec.to_builtins(event)}]
        crm = decode_crm(fields)
        if crm is None or crm.pbx not in self._pbxs:
            return []
        return [{"type": crm.__struct_config__.tag, "event": msgspec.to_builtins(crm)}]


class OperatorCards:
    #: CRM cards of recent calls kept for cards shown after their data arrived.
    RECENT = 512

    def __init__(self, pbxs: set[str], extension: str) -> None:
        self._pbxs = pbxs
        self._ext = extension
        self.pbxs = frozenset(pbxs)
        self.extension = extension
        self._shown: dict[tuple[str, str], Message] = {}
        self._recent: OrderedDict[tuple[str, str], CardData] = OrderedDict()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()  # shown, not ended

    def __call__(self, stream: int, fields: dict[bytes, bytes]) -> list[Message]:
        if stream == CRM:
            crm = decode_crm(fields)
            if not isinstance(crm, CardData) or crm.pbx not in self._pbxs:
                return []
            key = (crm.pbx, crm.call_id)
            self._recent[key] = crm
            self._recent.move_to_end(key)
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
            return [_card_data(crm)] if key in self._shown else []
        event = decode_call(fields)
        if event is None or event.pbx not in self._pbxs:
            return []
        return self._on_call(event)

    def _on_call(self, event: CallEvent) -> list[Message]:
        key = (event.pbx, event.call_id)
        ext = self._ext
        if isinstance(event, CallRinging) and event.extension == ext:
            return self._show(key, event)
        if isinstance(event, CallTransferred):
            if event.to_extension == ext:
                return self._show(key, event)
            if event.from_extension == ext:
                return self._hide(key, "transferred")
        if isinstance(event, CallRingingStopped) and event.extension == ext:
            return self._hide(key, event.reason)
        if isinstance(event, CallAnswered) and event.extension not in ("", ext):
            return self._hide(key, "answered_elsewhere")
        if isinstance(event, CallAnswered) and event.extension == ext and key in self._shown:
            return [{"type": "card.answered", "call_id": event.call_id, "pbx": event.pbx}]
        if isinstance(event, CallEnded):
            self._recent.pop(key, None)
            hidden = self._hide(key, "ended")
            if key in self._seen:
                del self._seen[key]
                ended = {"type": "call.ended", "call_id": event.call_id, "pbx": event.pbx}
                return [*hidden, {**ended, "result": event.result}]
            return hidden
        return []

    def _show(self, key: tuple[str, str], event: CallEvent) -> list[Message]:
        if key in self._shown:
            return []
        card = self._card(
            key, event.external, event.direction, event.did, isinstance(event, CallTransferred)
        )
        known = self._recent.get(key)
        return [card] if known is None else [card, _card_data(known)]

    def _card(
        self, key: tuple[str, str], external: str, direction: str, did: str, transferred: bool
    ) -> Message:
        card: Message = {
            "type": "card.show",
            "call_id": key[1],
            "pbx": key[0],
            "extension": self._ext,
            "external": external,
            "direction": direction,
            "did": did,
            "transferred": transferred,
        }
        self._shown[key] = card
        self._seen[key] = None
        while len(self._seen) > self.RECENT:
            self._seen.popitem(last=False)
        return card

    def resume(
        self, past: Iterable[tuple[int, dict[bytes, bytes]]], live: Iterable[LiveCall]
    ) -> Message:
        """Start from a snapshot. ``past``: (stream, fields) of the merged calls and CRM
        entries up to the snapshot, oldest first, from at least the start of the oldest live
        call that concerns this extension; they are replayed through this very filter (its
        output dropped), so the snapshot holds exactly the cards the events left open, each
        with its CRM data. ``live``: the calls in progress (the live-call view); one whose start
        the replay did not reach (``past`` was bounded) is judged by :func:`open_for`.
        Returns the ``snapshot`` message: each open card's ``card.show`` with ``answered``
        and ``data`` (``card.data``'s, or None)."""
        answered: set[tuple[str, str]] = set()
        started: set[tuple[str, str]] = set()
        for stream, fields in past:
            if stream == CALLS:
                event = decode_call(fields)
                if event is not None and event.seq == 1:
                    started.add((event.pbx, event.call_id))
            for message in self(stream, fields):
                key = (message.get("pbx", ""), message.get("call_id", ""))
                if message["type"] == "card.answered":
                    answered.add(key)
                elif message["type"] in ("card.show", "card.hide"):
                    answered.discard(key)
        live_keys = set()
        for call in live:
            key = (call.pbx, call.call_id)
            live_keys.add(key)
            state = open_for(call, self._ext) if call.pbx in self._pbxs else None
            if key in started or key in self._shown or state is None:
                continue
            # came by a transfer: answered first by another extension, with this one now
            moved = call.answered_by not in ("", self._ext)
            self._card(key, call.external, call.direction, call.did, moved)
            if state == "answered":
                answered.add(key)
        for key in [k for k in self._shown if k not in live_keys]:
            del self._shown[key]  # ended before the replay reached its end: not open
        cards = [
            {
                **card,
                "answered": key in answered,
                "data": _card_data(self._recent[key])["data"] if key in self._recent else None,
            }
            for key, card in self._shown.items()
        ]
        return {"type": "snapshot", "extension": self._ext, "cards": cards}

    def _hide(self, key: tuple[str, str], reason: str) -> list[Message]:
        if self._shown.pop(key, None) is None:
            return []
        return [{"type": "card.hide", "call_id": key[1], "pbx": key[0], "reason": reason}]


def concerns(call: LiveCall, extension: str) -> bool:
    """Whether ``extension`` may have a card of this live call (it rang, rings, answered,
    has it, or has a channel in it: the live view's ``extensions``)."""
    return extension in call.extensions or extension in call.ringing


def open_for(call: LiveCall, extension: str) -> str | None:
    """Whether ``extension``'s card of a live call is open, by the tracker's state:
    ``"ringing"`` (it rings there now), ``"answered"`` (answered there and still with it),
    else None — the same rules as the events: shown on ringing (or a transfer to it), hidden
    when that stops, when another extension has the call, or when it ends."""
    if extension in call.ringing:
        return "ringing"
    if not call.answered_at or call.extension != extension:
        return None
    # the call is with it and its leg is answered (rang there, or transferred to it)
    return "answered" if extension in call.talking else None


def _card_data(crm: CardData) -> Message:
    data = msgspec.to_builtins(crm)
    return {"type": "card.data", "call_id": crm.call_id, "pbx": crm.pbx, "data": data}


async def resume_operator(
    feeds: FeedReader,
    records: CallRecords,
    streams: Sequence[str],
    since: str,
    cards: OperatorCards,
) -> tuple[Start, Message]:
    """Where a resumed operator feed continues and the snapshot it starts with: the cursor
    checked and its gaps found, the streams' tails and the tracker's live calls read in one
    MULTI/EXEC, the entries since the oldest live call that concerns the extension replayed
    into ``cards`` (:meth:`OperatorCards.resume`)."""
    _, gaps = await feeds.start(streams, since)
    names = sorted(cards.pbxs)
    snap = await feeds.snapshot(streams, [records.store.keys.live(p) for p in names])
    live = [decode_live(raw) for values in snap.live for raw in values]
    mine = [call.started_at for call in live if concerns(call, cards.extension)]
    past: list[tuple[int, str, dict[bytes, bytes]]] = []
    if mine:
        oldest_ms = min(mine) // 1000 - REPLAY_LOOKBACK_MS
        past = await feeds.window(streams, snap.ids, oldest_ms, SNAPSHOT_REPLAY_MAX)
    snapshot = cards.resume(((i, fields) for i, _, fields in past), live)
    return (snap.ids, gaps), snapshot
