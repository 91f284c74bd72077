"""The only writer of ``cb:crm:commands`` and ``cb:crm:events`` (one ``data`` field per
entry: msgspec JSON of a cbcontracts.crm command or event), with retention by age.

Commands go to their priority lane's stream (:func:`lane_of`): the caller's card
(``crm.card_start/show/hide``) to ``cb:crm:commands:cards``, read by its own executors, so a
backlog of finished calls never delays a card; everything else to ``cb:crm:commands``."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from cbcontracts.crm import (
    CardHide,
    CardShow,
    CardStart,
    CrmCommandBase,
    CrmEventBase,
    encode_command,
    encode_crm_event,
)
from cbcrm.remote import Coalescer
from cbstreams import StreamPublisher, Trimmer, lane_stream
from cbstreams.fields import F_DATA

__all__ = ["LANES", "CrmPublisher", "lane_of"]

#: The command lanes, in priority order ("" = the commands stream itself).
LANES = ("cards", "")


def lane_of(command: CrmCommandBase) -> str:
    return "cards" if isinstance(command, CardStart | CardShow | CardHide) else ""


class CrmPublisher:
    def __init__(
        self,
        redis: aioredis.Redis,
        commands_key: str,
        events_key: str,
        *,
        commands_retention_s: int = 7 * 86_400,
        events_retention_s: int = 86_400,
    ) -> None:
        self._commands = StreamPublisher(
            redis, commands_key, Trimmer(commands_retention_s * 1000, every_s=60.0)
        )
        self._cards = StreamPublisher(
            redis, lane_stream(commands_key, "cards"), Trimmer(3600 * 1000, every_s=60.0)
        )
        self._events = StreamPublisher(
            redis, events_key, Trimmer(events_retention_s * 1000, every_s=60.0)
        )
        self._one_by_one: Coalescer[CrmEventBase, bytes] = Coalescer(self.events, max_items=256)

    async def commands(self, commands: Sequence[CrmCommandBase]) -> list[bytes]:
        """XADD each command to its lane's stream (the ids, cards' first)."""
        cards = [(F_DATA, encode_command(c)) for c in commands if lane_of(c) == "cards"]
        rest = [(F_DATA, encode_command(c)) for c in commands if lane_of(c) != "cards"]
        ids = await self._cards.publish(cards) if cards else []
        return ids + (await self._commands.publish(rest) if rest else [])

    async def event(self, event: CrmEventBase) -> bytes:
        """Publish one event now; events published at the same moment share one XADD
        pipeline (cards of a batch of calls: one round trip, none waits for another)."""
        return await self._one_by_one.submit(event)

    async def events(self, events: Sequence[CrmEventBase]) -> list[bytes]:
        return await self._events.publish([(F_DATA, encode_crm_event(e)) for e in events])

    def queue_events(self, pipe: Pipeline, events: Sequence[CrmEventBase]) -> None:
        """XADD ``events`` (and XTRIM when due) in the caller's pipeline."""
        self._events.queue(pipe, [(F_DATA, encode_crm_event(e)) for e in events])

    def queue_commands(self, pipe: Pipeline, commands: Sequence[CrmCommandBase]) -> None:
        """XADD each command to its lane's stream (and XTRIM when due) in the caller's
        pipeline (cards' first)."""
        cards = [(F_DATA, encode_command(c)) for c in commands if lane_of(c) == "cards"]
        rest = [(F_DATA, encode_command(c)) for c in commands if lane_of(c) != "cards"]
        if cards:
            self._cards.queue(pipe, cards)
        if rest:
            self._commands.queue(pipe, rest)
