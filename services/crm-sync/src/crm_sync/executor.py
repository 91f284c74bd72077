"""Executors: CRM commands in (``cb:crm:commands``), CRM side effects out, exactly once.

Any number of executors share the group ``crm-executor``. For each command:

* its key already has a result (``Once``): done before — ack, skip;
* success: record the result under the key (``SET NX``), publish what changed, ack;
* :class:`~cbcrm.exceptions.CrmPermanentError` (or a malformed entry): dead-letter, ack;
* :class:`~cbcrm.exceptions.CrmTransientError` (timeouts, 5xx, 429): leave it pending with a
  not-before time (exponential backoff from ``backoff_ms``, at least the CRM's
  ``retry_after``); the reader's reclaim loop claims it again when due. After
  ``max_attempts`` deliveries it is dead-lettered too (``callbridge crm-sync dead redrive``
  brings it back).

Reading, the reclaim of entries a dead executor left pending (after ``orphan_idle_ms``),
retries, dead letters and Redis outages are :class:`cbstreams.GroupReader`'s; the records,
events and acks of a batch are one MULTI/EXEC.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

import msgspec

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
from cbstreams import Batch, GroupReader
from cbstreams.exceptions import REDIS_DOWN
from cbstreams.fields import F_DATA

from .commands import CommandRunner
from .metrics import CrmSyncMetrics
from .publisher import CrmPublisher
from .settings import ExecutorSettings

__all__ = ["Executor"]

log = logging.getLogger(__name__)

_Job = tuple[bytes, CrmCommand]


class Executor:
    """The per-command work of an executor; reading, acking, retrying and dead-lettering are
    the :class:`~cbstreams.GroupReader`'s (``reader``)."""

    def __init__(
        self,
        reader: GroupReader,
        sync: CallSync,
        once: Once,
        publisher: CrmPublisher,
        metrics: CrmSyncMetrics,
        settings: ExecutorSettings,
    ) -> None:
        self.reader, self.sync, self.once, self.publisher = reader, sync, once, publisher
        self.metrics, self.settings = metrics, settings
        self.runner = CommandRunner(sync, card_stale_s=settings.card_stale_s)
        self._slots = asyncio.Semaphore(settings.workers)

    async def run(self, stop: asyncio.Event) -> None:
        """Execute commands until ``stop``, through Redis outages."""
        await self.reader.run(self.handle, stop)

    async def handle(self, batch: Batch) -> None:
        """Commands of one call in order, calls concurrently; the batch's records and events
        are queued on ``batch.pipe``, committed with the acks in one MULTI/EXEC."""
        book = StepBook(self.once)
        calls: dict[str, list[_Job]] = defaultdict(list)
        events: list[CrmEventBase] = []
        for entry_id, data in batch.entries:
            try:
                cmd = decode_command(data[F_DATA])
            except (KeyError, msgspec.DecodeError) as exc:
                self._dead(batch, entry_id, None, f"malformed command: {exc}", events)
                continue
            calls[f"{cmd.pbx}/{cmd.call_id}"].append((entry_id, cmd))
        found = await self.runner.prefetch(book, [c for jobs in calls.values() for _, c in jobs])
        async with asyncio.TaskGroup() as tg:
            for jobs in calls.values():
                tg.create_task(self._handle_call(jobs, book, found, batch, events))
        for key, result in book.written:
            batch.pipe.set(self.once.key(key), result, nx=True, ex=self.once.ttl_s)
        self.publisher.queue_events(batch.pipe, events)

    async def _handle_call(
        self,
        jobs: list[_Job],
        book: StepBook,
        found: dict[str, Lookup],
        batch: Batch,
        events: list[CrmEventBase],
    ) -> None:
        async with self._slots:
            for entry_id, cmd in jobs:
                [result] = await book.results(cmd.key)
                if result is not None:
                    self.metrics.executed.labels(_tag(cmd), "duplicate").inc()
                    continue
                await self._execute(entry_id, cmd, book, found, batch, events)

    async def _execute(
        self,
        entry_id: bytes,
        cmd: CrmCommand,
        book: StepBook,
        found: dict[str, Lookup],
        batch: Batch,
        events: list[CrmEventBase],
    ) -> None:
        started = time.perf_counter()
        phone = cmd.phone if isinstance(cmd, SyncCall) else ""
        try:
            result, produced = await self.runner.run(cmd, book, found.get(phone))
        except CrmPermanentError as exc:
            self._dead(batch, entry_id, cmd, f"{type(exc).__name__}: {exc}", events)
        except CrmTransientError as exc:
            self._later(batch, entry_id, cmd, exc, events)
        except REDIS_DOWN:
            raise  # an outage: the reader waits it out and delivers the batch again
        except Exception as exc:  # a bug or an unmapped error: retry like a transient one
            log.exception("command failed", extra={"key": cmd.key})
            error = CrmTransientError(f"{type(exc).__name__}: {exc}")
            self._later(batch, entry_id, cmd, error, events)
        else:
            book.record(cmd.key, result)
            events.extend(produced)
            if any(isinstance(e, CallSynced) and e.created for e in produced):
                found.pop(phone, None)  # the CRM changed: later calls of the batch look again
            self.metrics.executed.labels(_tag(cmd), "ok").inc()
            self.metrics.latency.labels(_tag(cmd)).observe(time.perf_counter() - started)

    def _later(
        self,
        batch: Batch,
        entry_id: bytes,
        cmd: CrmCommand,
        exc: CrmTransientError,
        events: list[CrmEventBase],
    ) -> None:
        self.metrics.executed.labels(_tag(cmd), "transient").inc()
        # dead credentials (the circuit is open): the command waits for re-authorisation
        capped = not isinstance(exc, CrmAuthPaused)
        if not batch.retry(entry_id, str(exc), after_s=exc.retry_after, capped=capped):
            attempts = batch.attempts(entry_id)
            self._failed(cmd, f"gave up after {attempts} attempts: {exc}", attempts, events)

    def _dead(
        self,
        batch: Batch,
        entry_id: bytes,
        cmd: CrmCommand | None,
        error: str,
        events: list[CrmEventBase],
    ) -> None:
        batch.dead(entry_id, error)
        if cmd is not None:
            self._failed(cmd, error, batch.attempts(entry_id), events)
        else:
            self.metrics.dead.inc()

    def _failed(
        self, cmd: CrmCommand, error: str, attempts: int, events: list[CrmEventBase]
    ) -> None:
        """A dead-lettered command: count it and tell the readers of ``cb:crm:events``."""
        self.metrics.dead.inc()
        events.append(CrmFailed(event_id=f"{cmd.key}/failed", call_id=cmd.call_id, pbx=cmd.pbx,
                                at=time.time_ns() // 1000, crm=self.sync.adapter.name,
                                command=_tag(cmd), key=cmd.key, error=error, permanent=True,
                                attempts=attempts))  # fmt: skip


def _tag(cmd: CrmCommand) -> str:
    return str(cmd.__struct_config__.tag)
