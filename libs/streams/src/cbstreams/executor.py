"""The executor side of action requests: read with a consumer group, run, reply, ack.

On start it claims entries left pending by other consumers (a replica that died), re-reads
its own pending entries (``0``) and then new ones (``>``). An expired request is answered
``expired`` and never run. A marker key set before running makes execution at-most-once: a
re-delivered request whose marker exists is answered ``unknown``, never re-run (a second
Originate is a second phone call). The reply is pushed (with an EXPIRE) before the XACK.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
import redis.asyncio as aioredis

from .actions import ActionReply, ActionRequest
from .exceptions import MalformedEntry, redis_errors
from .groups import claim_all, ensure_group, read_group
from .keys import PbxKeys
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
    ) -> None:
        self._redis, self._keys, self._execute = redis, keys, execute
        self.consumer, self.group = consumer, group
        self.reply_ttl_s = reply_ttl_s
        self._clock = clock
        self._trimmer = trimmer or Trimmer(3_600_000, every_s=60.0)
        self._started = False

    async def start(self) -> None:
        """Create the group if needed, claim orphans, handle own pending entries."""
        key = self._keys.actions
        await ensure_group(self._redis, key, self.group)
        await claim_all(self._redis, key, self.group, self.consumer)
        after: bytes = b"0"
        while batch := await read_group(
            self._redis, key, self.group, self.consumer, pending=True, after=after
        ):
            for entry_id, data in batch:
                await self.handle(entry_id, data)
            after = batch[-1][0]
        self._started = True

    async def run_once(self, block_ms: int = 1000) -> int:
        """Read new requests (blocking up to ``block_ms``) and handle them; how many."""
        if not self._started:
            await self.start()
        batch = await read_group(
            self._redis,
            self._keys.actions,
            self.group,
            self.consumer,
            pending=False,
            count=16,
            block_ms=block_ms,
        )
        for entry_id, data in batch:
            await self.handle(entry_id, data)
        if (minid := self._trimmer.due()) is not None:
            with redis_errors():
                await self._redis.execute_command("XTRIM", self._keys.actions, "MINID", "~", minid)  # type: ignore[no-untyped-call]
        return len(batch)

    async def run(self, block_ms: int = 1000) -> None:
        """Handle requests until cancelled."""
        while True:
            await self.run_once(block_ms)

    async def handle(self, entry_id: bytes, data: dict[bytes, bytes]) -> None:
        try:
            request = ActionRequest.from_entry(data)
        except MalformedEntry as exc:
            log.warning(
                "dropping malformed action request",
                extra={"id": entry_id.decode(), "error": str(exc)},
            )
            await self._ack(entry_id)
            return
        reply = await self._decide(request)
        await self._reply_and_ack(entry_id, request, reply)

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

    async def _reply_and_ack(
        self, entry_id: bytes, request: ActionRequest, reply: ActionReply
    ) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.execute_command("LPUSH", request.reply, _enc.encode(reply))
        pipe.execute_command("EXPIRE", request.reply, self.reply_ttl_s)
        pipe.execute_command("XACK", self._keys.actions, self.group, entry_id)
        with redis_errors():
            await pipe.execute()

    async def _ack(self, entry_id: bytes) -> None:
        with redis_errors():
            await self._redis.xack(self._keys.actions, self.group, entry_id)
