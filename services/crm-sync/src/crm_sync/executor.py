"""Executors: CRM commands in (``cb:crm:commands``), CRM side effects out, exactly once.

Any number of executors share the group ``crm-executor``. For each command:

* its key already has a result (``Once``): done before — ack, skip;
* success: record the result under the key (``SET NX``), publish what changed, ack;
* :class:`~cbcrm.exceptions.CrmPermanentError` (or a malformed entry): dead-letter, ack;
* :class:`~cbcrm.exceptions.CrmTransientError` (timeouts, 5xx, 429): leave it pending with a
  not-before time (exponential backoff from ``backoff_ms``, at least the CRM's
  ``retry_after``); the retry loop claims it again when due. After ``max_attempts``
  deliveries it is dead-lettered too (``callbridge crm-sync dead redrive`` brings it back).

Entries left pending by an executor that died are claimed after ``orphan_idle_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import msgspec
import redis.asyncio as aioredis

from cbcontracts.crm import (
    CallSynced,
    CardHide,
    CardShow,
    CardStart,
    CrmCommand,
    CrmEventBase,
    CrmFailed,
    SyncCall,
    decode_command,
)
from cbcrm.adapter import CallLog
from cbcrm.exceptions import CrmPermanentError, CrmTransientError
from cbcrm.once import Once
from cbcrm.sync import CallSync
from cbstreams import Delivery
from cbstreams.deadletter import DeadLetters
from cbstreams.fields import F_DATA

from .consumer import GroupConsumer
from .metrics import CrmSyncMetrics
from .publisher import CrmPublisher
from .settings import ExecutorSettings

__all__ = ["Executor"]

log = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        consumer: GroupConsumer,
        sync: CallSync,
        once: Once,
        publisher: CrmPublisher,
        dead: DeadLetters,
        metrics: CrmSyncMetrics,
        settings: ExecutorSettings,
    ) -> None:
        self.consumer, self.sync, self.once, self.publisher = consumer, sync, once, publisher
        self.dead, self.metrics, self.settings = dead, metrics, settings
        self.redis: aioredis.Redis = consumer.redis
        self.not_before = f"{consumer.key}:notbefore:{consumer.group}"
        self._slots = asyncio.Semaphore(settings.workers)

    async def run(self, stop: asyncio.Event) -> None:
        async for batch in self.consumer.pending():
            await self.handle_batch(batch)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._retry_loop(stop))
            while not stop.is_set():
                await self.run_once()

    async def run_once(self, block_ms: int | None = None) -> int:
        batch = await self.consumer.new(block_ms)
        await self.handle_batch(batch)
        return len(batch)

    async def handle_batch(self, batch: list[Delivery]) -> None:
        async with asyncio.TaskGroup() as tg:
            for entry_id, data in batch:
                tg.create_task(self.handle(entry_id, data))

    async def retry_due(self) -> int:
        """Claim and run the pending commands whose retry is due, and orphans; how many."""
        now_ms = int(time.time() * 1000)
        due = cast(dict[bytes, bytes], await self.redis.hgetall(self.not_before))
        ids = [i for i, at in due.items() if int(at) <= now_ms]
        # HDEL returns 1 to one executor only: that one claims the entry
        mine: list[Any] = [i for i in ids if await self.redis.hdel(self.not_before, i)]
        claimed: list[Any] = []
        if mine:
            claimed = await self.redis.xclaim(self.consumer.key, self.consumer.group,
                                              self.consumer.consumer, 0, mine)  # fmt: skip
        orphans: Any = await self.redis.xautoclaim(
            self.consumer.key, self.consumer.group, self.consumer.consumer,
            self.settings.orphan_idle_ms, "0-0", count=self.settings.batch,
        )  # fmt: skip
        batch = [(i, f or {}) for i, f in [*claimed, *orphans[1]]]
        await self.handle_batch(batch)
        return len(batch)

    async def _retry_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.retry_due()
            try:
                async with asyncio.timeout(self.settings.retry_every_s):
                    await stop.wait()
            except TimeoutError:
                pass

    async def handle(self, entry_id: bytes, data: dict[bytes, bytes]) -> None:
        async with self._slots:
            try:
                command = decode_command(data[F_DATA])
            except (KeyError, msgspec.DecodeError) as exc:
                await self._dead(entry_id, data, None, f"malformed command: {exc}", 1)
                return
            if await self.once.result(command.key) is not None:
                self.metrics.executed.labels(_tag(command), "duplicate").inc()
                await self.consumer.ack([entry_id])
                return
            await self._execute(entry_id, data, command)

    async def _execute(self, entry_id: bytes, data: dict[bytes, bytes], cmd: CrmCommand) -> None:
        started = time.perf_counter()
        try:
            result, events = await self._run(cmd)
        except CrmPermanentError as exc:
            await self._dead(
                entry_id, data, cmd, f"{type(exc).__name__}: {exc}", await self._attempts(entry_id)
            )
        except CrmTransientError as exc:
            await self._later(entry_id, data, cmd, exc)
        except Exception as exc:  # a bug or an unmapped error: retry like a transient one
            log.exception("command failed", extra={"key": cmd.key})
            await self._later(
                entry_id, data, cmd, CrmTransientError(f"{type(exc).__name__}: {exc}")
            )
        else:
            if events:
                await self.publisher.events(events)
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(self.once.key(cmd.key), result, nx=True, ex=self.once.ttl_s)
            pipe.xack(self.consumer.key, self.consumer.group, entry_id)
            pipe.hdel(self.not_before, entry_id)
            await pipe.execute()
            self.metrics.executed.labels(_tag(cmd), "ok").inc()
            self.metrics.latency.labels(_tag(cmd)).observe(time.perf_counter() - started)

    async def _run(self, cmd: CrmCommand) -> tuple[bytes, list[CrmEventBase]]:
        adapter = self.sync.adapter
        if isinstance(cmd, SyncCall):
            out = await self.sync.sync(cmd)
            entity = msgspec.to_builtins(out.entity) if out.entity else None
            synced = msgspec.convert(
                {
                    "event_id": f"{cmd.event_id}/synced",
                    "call_id": cmd.call_id,
                    "pbx": cmd.pbx,
                    "tenant": cmd.tenant,
                    "at": time.time_ns() // 1000,
                    "crm": adapter.name,
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
            log_ = CallLog(call_id=cmd.call_id, direction=cmd.direction, phone=cmd.phone,
                           started_at=cmd.started_at, extension=cmd.extension)  # fmt: skip
            return msgspec.json.encode(await adapter.card_start(log_, key=cmd.key)), []
        users = [u.id for e in cmd.extensions if (u := await self.sync.users.by_extension(e))]
        if isinstance(cmd, CardShow):
            await adapter.card_show(cmd.call_id, users)
        elif isinstance(cmd, CardHide):
            await adapter.card_hide(cmd.call_id, users)
        return b"1", []

    async def _attempts(self, entry_id: bytes) -> int:
        rows: Any = await self.redis.xpending_range(
            self.consumer.key, self.consumer.group, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 1

    async def _later(
        self, entry_id: bytes, data: dict[bytes, bytes], cmd: CrmCommand, exc: CrmTransientError
    ) -> None:
        attempts = await self._attempts(entry_id)
        self.metrics.executed.labels(_tag(cmd), "transient").inc()
        if attempts >= self.settings.max_attempts:
            await self._dead(
                entry_id, data, cmd, f"gave up after {attempts} attempts: {exc}", attempts
            )
            return
        s = self.settings
        delay = min(s.backoff_ms * 2 ** (attempts - 1), s.backoff_max_ms)
        delay = max(delay, int(exc.retry_after * 1000))
        await self.redis.hset(self.not_before, entry_id, int(time.time() * 1000) + delay)
        log.info(
            "command will be retried",
            extra={"key": cmd.key, "attempt": attempts, "delay_ms": delay},
        )

    async def _dead(
        self,
        entry_id: bytes,
        data: dict[bytes, bytes],
        cmd: CrmCommand | None,
        error: str,
        attempts: int,
    ) -> None:
        pipe = self.redis.pipeline(transaction=True)
        await self.dead.add(self.consumer.key, entry_id, data, error, attempts,
                            group=self.consumer.group, pipe=pipe)  # fmt: skip
        pipe.xack(self.consumer.key, self.consumer.group, entry_id)
        pipe.hdel(self.not_before, entry_id)
        await pipe.execute()
        self.metrics.dead.inc()
        log.warning("command dead-lettered", extra={"entry": entry_id.decode(), "error": error})
        if cmd is not None:
            failed = CrmFailed(event_id=f"{cmd.key}/failed", call_id=cmd.call_id, pbx=cmd.pbx,
                               at=time.time_ns() // 1000, crm=self.sync.adapter.name,
                               command=_tag(cmd), key=cmd.key, error=error, permanent=True,
                               attempts=attempts)  # fmt: skip
            await self.publisher.events([failed])


def _tag(cmd: CrmCommand) -> str:
    return str(cmd.__struct_config__.tag)
