"""The executor side of action requests: a :class:`~cbstreams.consumer.GroupReader` of the
PBX's action stream (group ``ami-ingest``) that runs each request and replies.

On start it claims entries left pending by other consumers (a replica that died), re-reads
its own pending entries (``0``) and then new ones (``>``); Redis outages are waited out by the
reader. An expired request is answered ``expired`` and never run. A marker key set before
running makes execution at-most-once: a re-delivered request whose marker exists is answered
``unknown``, never re-run (a second Originate is a second phone call). The reply (LPUSH with
an EXPIRE) and the XACK are one MULTI/EXEC. A malformed request is dead-lettered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
import redis.asyncio as aioredis

from .actions import ActionReply, ActionRequest
from .consumer import Batch, GroupReader, ReaderSettings
from .exceptions import MalformedEntry, redis_errors
from .keys import PbxKeys
from .outage import RedisLink
from .publisher import Trimmer

__all__ = ["ActionExecutor", "Execute"]

log = logging.getLogger(__name__)

Execute = Callable[[ActionRequest, float], Awaitable[ActionReply]]
"""Runs a request with the seconds left before its deadline; returns the reply."""

_enc = msgspec.json.Encoder()


class ActionExecutor:
    """Executes the requests of one PBX's action stream, one at a time, in order."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: PbxKeys,
        execute: Execute,
        *,
        consumer: str,
        group: str = "ami-ingest",
        reply_ttl_s: int = 60,
        trimmer: Trimmer | None = None,
        clock: Callable[[], float] = time.time,
        link: RedisLink | None = None,
    ) -> None:
        self._redis, self._keys, self._execute = redis, keys, execute
        self.consumer, self.group = consumer, group
        self.reply_ttl_s = reply_ttl_s
        self._clock = clock
        self._trimmer = trimmer or Trimmer(3_600_000, every_s=60.0)
        settings = ReaderSettings(batch=16, reclaim_idle_ms=None, claim_on_start=True)
        self.reader = GroupReader(redis, keys.actions, group, consumer, settings=settings,
                                  link=link)  # fmt: skip
        self._started = False

    async def start(self) -> None:
        """Create the group if needed, claim orphans, handle own pending entries."""
        await self.reader.start(self.handle)
        self._started = True

    async def run_once(self, block_ms: int = 1000) -> int:
        """Read new requests (blocking up to ``block_ms``) and handle them; how many."""
        if not self._started:
            await self.start()
        return await self.reader.run_once(self.handle, block_ms)

    async def run(self, stop: asyncio.Event | None = None, block_ms: int | None = None) -> None:
        """Handle requests until ``stop`` (or cancelled), through Redis outages."""
        if block_ms is not None:
            self.reader.settings = dataclasses.replace(self.reader.settings, block_ms=block_ms)
        await self.reader.run(self.handle, stop or asyncio.Event())

    async def handle(self, batch: Batch) -> None:
        """Run each request of the batch; queue its reply with the batch's acks."""
        for entry_id, data in batch.entries:
            try:
                request = ActionRequest.from_entry(data)
            except MalformedEntry as exc:
                log.warning("malformed action request",
                            extra={"id": entry_id.decode(), "error": str(exc)})  # fmt: skip
                batch.dead(entry_id, f"malformed action request: {exc}")
                continue
            reply = await self._decide(request)
            batch.pipe.execute_command("LPUSH", request.reply, _enc.encode(reply))
            batch.pipe.execute_command("EXPIRE", request.reply, self.reply_ttl_s)
        if (minid := self._trimmer.due()) is not None:
            batch.pipe.execute_command("XTRIM", self._keys.actions, "MINID", "~", minid)

    async def _decide(self, request: ActionRequest) -> ActionReply:
        left = request.deadline_ms / 1000 - self._clock()
        if left <= 0:
            return ActionReply(id=request.id, status="expired", error="deadline passed")
        marker = self._keys.action_marker(request.id)
        with redis_errors():
            first = await self._redis.set(marker, self.consumer, nx=True, ex=self.reply_ttl_s)
        if not first:
            return ActionReply(id=request.id, status="unknown", error="re-delivered; not re-run")
        log.info("executing action", extra={"action": request.action, "id": request.id})
        return await self._execute(request, left)
