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
from collections import defaultdict
from typing import Any, cast

import msgspec
import redis.asyncio as aioredis

from cbcontracts.crm import (
    CallSynced,
    CrmCommand,
    CrmEventBase,
    CrmFailed,
    SyncCall,
    decode_command,
)
from cbcrm.adapter import Lookup
from cbcrm.exceptions import CrmAuthPaused, CrmPermanentError, CrmTransientError
from cbcrm.once import Once, StepBook
from cbcrm.sync import CallSync
from cbstreams import Delivery
from cbstreams.deadletter import DeadLetters
from cbstreams.exceptions import redis_errors
from cbstreams.fields import F_DATA

from .commands import CommandRunner
from .consumer import GroupConsumer
from .metrics import CrmSyncMetrics
from .publisher import CrmPublisher
from .settings import ExecutorSettings

__all__ = ["Executor"]

log = logging.getLogger(__name__)

_Job = tuple[bytes, dict[bytes, bytes], CrmCommand]
_Done = tuple[list[bytes], list[CrmEventBase]]  # entry ids to ack, events to publish


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
        self.runner = CommandRunner(sync, card_stale_s=settings.card_stale_s)
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
        """Commands of one call in order, calls concurrently; the batch's records, events and
        acks in one pipeline at the end (records first)."""
        if not batch:
            return
        book = StepBook(self.once)
        calls: dict[str, list[_Job]] = defaultdict(list)
        for entry_id, data in batch:
            try:
                cmd = decode_command(data[F_DATA])
            except (KeyError, msgspec.DecodeError) as exc:
                await self._dead(entry_id, data, None, f"malformed command: {exc}", 1)
                continue
            calls[f"{cmd.pbx}/{cmd.call_id}"].append((entry_id, data, cmd))
        found = await self.runner.prefetch(book, [c for jobs in calls.values() for *_, c in jobs])
        done: _Done = ([], [])
        async with asyncio.TaskGroup() as tg:
            for jobs in calls.values():
                tg.create_task(self._handle_call(jobs, book, found, done))
        await self._commit(book, done)

    async def _handle_call(
        self, jobs: list[_Job], book: StepBook, found: dict[str, Lookup], done: _Done
    ) -> None:
        async with self._slots:
            for entry_id, data, cmd in jobs:
                [result] = await book.results(cmd.key)
                if result is not None:
                    self.metrics.executed.labels(_tag(cmd), "duplicate").inc()
                    done[0].append(entry_id)
                    continue
                await self._execute(entry_id, data, cmd, book, found, done)

    async def _commit(self, book: StepBook, done: _Done) -> None:
        acks, events = done
        if not (book.written or acks or events):
            return
        pipe = self.redis.pipeline(transaction=False)
        for key, result in book.written:
            pipe.set(self.once.key(key), result, nx=True, ex=self.once.ttl_s)
        self.publisher.queue_events(pipe, events)
        if acks:
            pipe.xack(self.consumer.key, self.consumer.group, *acks)
            pipe.hdel(self.not_before, *acks)
        with redis_errors():
            await pipe.execute()

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

    async def _execute(
        self,
        entry_id: bytes,
        data: dict[bytes, bytes],
        cmd: CrmCommand,
        book: StepBook,
        found: dict[str, Lookup],
        done: _Done,
    ) -> None:
        started = time.perf_counter()
        phone = cmd.phone if isinstance(cmd, SyncCall) else ""
        try:
            result, events = await self.runner.run(cmd, book, found.get(phone))
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
            book.record(cmd.key, result)
            done[0].append(entry_id)
            done[1].extend(events)
            if any(isinstance(e, CallSynced) and e.created for e in events):
                found.pop(phone, None)  # the CRM changed: later calls of the batch look again
            self.metrics.executed.labels(_tag(cmd), "ok").inc()
            self.metrics.latency.labels(_tag(cmd)).observe(time.perf_counter() - started)

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
        # dead credentials (the circuit is open): the command waits for re-authorisation
        if attempts >= self.settings.max_attempts and not isinstance(exc, CrmAuthPaused):
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
