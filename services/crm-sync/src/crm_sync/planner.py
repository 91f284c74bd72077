"""The planner: call events in (``cb:calls``), CRM commands and caller cards out.

* ``call.started`` with an outside party: look the number up at once (cache, single
  flight; in the ``cards`` lane of the CRM's rate limit), publish the card
  (:class:`~cbcontracts.crm.CardData`) to ``cb:crm:events`` while the phone still rings; a
  number not in the cache is looked up beside the batches, so no call waits for another's
  lookup. For CRMs with their own call card, an outbound call's ``crm.card_start`` (the
  dialling operator's card).
* ``call.ringing`` / ``call.ringing_stopped``: ``crm.card_show`` / ``crm.card_hide`` for
  the extension (CRMs with their own call card only; the first show registers the card for
  the ringing operator). ``call.ended`` marks the call over, so queued shows are dropped.
* ``call.answered`` / ``call.transferred``: note who answered and where the call went
  (:class:`LegBook`).
* ``call.ended``: one ``crm.sync_call`` command with the operator legs (conversations: one
  per operator who talked, ringing that never connected is none).

Every command's key is ``{event_id}/{action}``: a redelivered event makes the same command,
which executors then skip. Events of one call are handled in order; calls in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any, cast

import msgspec

from cbcontracts import CallEnded, CallEvent, CallStarted, CallTransferred, decode_event
from cbcontracts.calls import CallAnswered, CallRinging, CallRingingStopped
from cbcontracts.crm import (
    CardHide,
    CardShow,
    CrmCommandBase,
    CrmFailed,
    SyncCall,
)
from cbcrm.adapter import Lookup
from cbcrm.exceptions import CrmError, InvalidPhone
from cbcrm.phones import normalize
from cbcrm.remote import lane
from cbcrm.routing import Router, RouteTable
from cbcrm.sync import CallSync, Card
from cbstreams import Batch, GroupReader, LeaseLost
from cbstreams.fields import F_DATA

from .cards import card_event, card_start
from .legs import LegBook
from .metrics import CrmSyncMetrics
from .publisher import CrmPublisher

__all__ = ["Planner", "card_event"]

_lookup = msgspec.msgpack.Decoder(Lookup)

log = logging.getLogger(__name__)


_BASE_FIELDS = ("event_id", "call_id", "pbx", "seq", "at", "direction", "external", "did",
                "tenant")  # fmt: skip


class _Ahead:
    """What a batch's events need from Redis, read before they are handled."""

    def __init__(self) -> None:
        self.lookups: dict[str, Lookup | None] = {}
        self.legs: dict[tuple[str, str], dict[bytes, bytes]] = {}
        self.routes: list[tuple[str, str, str]] = []  # (tenant, E.164, extension) to write


class Planner:
    def __init__(
        self,
        reader: GroupReader,
        sync: CallSync,
        publisher: CrmPublisher,
        legs: LegBook,
        metrics: CrmSyncMetrics,
        *,
        region: str = "RU",
        concurrency: int = 32,
        routes: RouteTable | None = None,
    ) -> None:
        self.reader, self.sync, self.publisher, self.legs = reader, sync, publisher, legs
        self.redis = reader.redis
        self._slots = asyncio.Semaphore(concurrency)  # calls handled at once (Redis pool)
        self._aside = asyncio.Semaphore(concurrency)  # card lookups running beside batches
        self._background: set[asyncio.Task[None]] = set()
        self.routes = routes  # None: keep no routing data for the gateway
        self._router = Router(sync.lookups, sync.users, sync.rule, region)
        self.metrics, self.region = metrics, region
        self.crm = sync.adapter.name
        self.drives_card = sync.adapter.drives_call_card

    async def run(self, stop: asyncio.Event, active: Callable[[], bool] = lambda: True) -> None:
        """Plan until ``stop`` (claiming first what a previous planner left pending); raises
        LeaseLost as soon as ``active()`` says we may not. Redis outages are waited out."""

        def check() -> None:
            if not active():
                raise LeaseLost("the planner lease lapsed")

        await self.reader.run(self.handle_batch, stop, guard=check)

    async def handle_batch(self, batch: Batch) -> None:
        """Events of one call in order, calls concurrently; the commands and route data are
        queued on ``batch.pipe``, committed with the acks in one MULTI/EXEC."""
        by_call: dict[str, list[CallEvent]] = defaultdict(list)
        for entry_id, data in batch.entries:
            try:
                event = decode_event(data[F_DATA])
            except (KeyError, msgspec.DecodeError) as exc:
                batch.dead(entry_id, f"malformed call event: {exc}")
                continue
            by_call[f"{event.pbx}/{event.call_id}"].append(event)
        ahead = await self._read_ahead(by_call)
        planned: list[CrmCommandBase] = []
        async with asyncio.TaskGroup() as tg:
            for events in by_call.values():
                tg.create_task(self._handle_call(events, planned, ahead))
        # the batch's commands commit with its acks (cards went out at once)
        self.publisher.queue_commands(batch.pipe, planned)
        for command in planned:
            self.metrics.planned.labels(command.__struct_config__.tag).inc()
        if ahead.routes and self.routes is not None:  # the gateway's /v1/route data
            for tenant, phone, extension in ahead.routes:
                self.routes.queue(batch.pipe, tenant, phone, extension)

    async def _read_ahead(self, by_call: dict[str, list[CallEvent]]) -> _Ahead:
        """One MGET of the cached lookups of the batch's new calls and one pipeline of the
        leg records of its finished calls (unless the batch itself adds to them)."""
        ahead = _Ahead()
        ended: list[tuple[str, str]] = []
        for events in by_call.values():
            for event in events:
                if isinstance(event, CallStarted) and (phone := self._phone(event)):
                    ahead.lookups[phone] = None
            if isinstance(events[-1], CallEnded) and not any(
                isinstance(e, CallAnswered | CallTransferred) for e in events
            ):
                ended.append((events[-1].pbx, events[-1].call_id))
        phones = list(ahead.lookups)
        if phones:
            keys = [self.sync.lookups.key(p) for p in phones]
            raw = cast(list[bytes | None], await self.redis.mget(keys))
            ahead.lookups = {p: _lookup.decode(v) for p, v in zip(phones, raw, strict=True) if v}
        ahead.legs = dict(zip(ended, await self.legs.read(ended), strict=True))
        return ahead

    async def _handle_call(
        self, events: list[CallEvent], planned: list[CrmCommandBase], ahead: _Ahead
    ) -> None:
        async with self._slots:
            for event in events:
                planned.extend(await self.handle(event, ahead))

    async def handle(self, event: CallEvent, ahead: _Ahead | None = None) -> list[CrmCommandBase]:
        ahead = ahead or _Ahead()
        phone = self._phone(event)
        if not phone:
            if isinstance(event, CallStarted):  # click-to-call: the number comes later
                await self.legs.card_pending(event.pbx, event.call_id)
            return []
        base: dict[str, Any] = {"event_id": event.event_id, "call_id": event.call_id,
                "pbx": event.pbx,
                "tenant": event.tenant, "crm": self.crm}  # fmt: skip
        if isinstance(event, CallStarted):
            found = ahead.lookups.get(phone)
            if found is None:  # not cached: never hold the batch (other calls) for it
                self._later(self._started(event, phone, None, base, ahead=None))
                return []
            return await self._started(event, phone, found, base, ahead)
        elif isinstance(event, CallRinging | CallAnswered) and await self.legs.card_due(
            event.pbx, event.call_id
        ):  # the first event of a click-to-call that names the outside number: its card
            started = CallStarted(**{f: getattr(event, f) for f in _BASE_FIELDS},
                                  extension=getattr(event, "extension", ""))  # fmt: skip
            commands = await self._started(started, phone, None, base, ahead)
            return commands + await self.handle(event, ahead)
        if isinstance(event, CallRinging) and self.drives_card:
            return [CardShow(key=f"{event.event_id}/show", extensions=(event.extension,),
                             phone=phone, direction=event.direction, did=event.did,
                             at=event.at, **base)]  # fmt: skip
        elif isinstance(event, CallRingingStopped) and self.drives_card:
            return [CardHide(key=f"{event.event_id}/hide", extensions=(event.extension,),
                             at=event.at, **base)]  # fmt: skip
        elif isinstance(event, CallAnswered):
            who = event.extension or event.answered_by
            await self.legs.answered(event.pbx, event.call_id, event.seq, who, event.at)
        elif isinstance(event, CallTransferred):
            e = event
            await self.legs.transferred(
                e.pbx, e.call_id, e.seq, e.kind, e.from_extension, e.to_extension, e.at
            )
        elif isinstance(event, CallEnded):
            if self.drives_card:
                await self.legs.mark_ended(event.pbx, event.call_id)
            legs = ahead.legs.get((event.pbx, event.call_id))
            return [await self._sync_call(event, phone, base, legs)]
        return []

    async def _started(
        self,
        event: CallStarted,
        phone: str,
        found: Lookup | None,
        base: dict[str, Any],
        ahead: _Ahead | None,
    ) -> list[CrmCommandBase]:
        """The card of a new call; the outbound card command (the dialling operator's).
        ``ahead`` None: running on its own (a lookup that was not cached): whatever it makes
        it publishes itself, and route data goes straight to Redis."""
        with lane("cards"):
            card = await self._card(event, phone, found)
            route = None
            if card is not None and self.routes is not None and event.tenant:
                route = await self._router.resolve(card.effective)
        if route is not None and route.extension:
            if ahead is not None:
                ahead.routes.append((event.tenant, phone, route.extension))
            elif self.routes is not None:
                pipe = self.redis.pipeline(transaction=False)
                self.routes.queue(pipe, event.tenant, phone, route.extension)
                await pipe.execute()
        commands: list[CrmCommandBase] = []
        if self.drives_card and event.direction == "outbound":
            commands.append(card_start(event, phone, card, base))
        if ahead is None and commands:
            await self.publisher.commands(commands)
            return []
        return commands

    def _later(self, work: Coroutine[Any, Any, list[CrmCommandBase]]) -> None:
        """Run ``work`` beside the batches (bounded); errors are logged, not raised."""

        async def run() -> None:
            async with self._aside:
                try:
                    await work
                except Exception:
                    log.exception("card of a new call failed")

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _phone(self, event: CallEvent) -> str:
        if event.direction == "internal" or not event.external:
            return ""
        try:
            phone = normalize(event.external, self.region)
        except InvalidPhone:
            return ""
        return phone.e164

    async def _card(self, event: CallStarted, phone: str, found: Lookup | None) -> Card | None:
        try:
            card = await self.sync.card(phone, event.extension, found=found)
        except CrmError as exc:
            failed = CrmFailed(event_id=f"{event.event_id}/card", call_id=event.call_id,
                               pbx=event.pbx, at=time.time_ns() // 1000, crm=self.crm,
                               command="lookup", key="", error=str(exc))  # fmt: skip
            await self.publisher.event(failed)
            return None
        await self.publisher.event(card_event(event, phone, card, self.crm))
        self.metrics.cards.inc()
        return card

    async def _sync_call(
        self, event: CallEnded, phone: str, base: dict[str, Any], legs: dict[bytes, bytes] | None
    ) -> SyncCall:
        return SyncCall(
            key=f"{event.event_id}/sync", direction=event.direction, result=event.result,
            phone=phone, did=event.did, started_at=event.started_at // 1_000_000,
            ended_at=event.at // 1_000_000, ring_s=event.ring_seconds, talk_s=event.talk_seconds,
            legs=await self.legs.finish(event, legs), rang=event.rang,
            extension=event.extension if event.direction == "outbound" else "",
            recorded=bool(event.recording_file), originate_id=event.originate_id, **base,
        )  # fmt: skip
