"""The one consumer-group reader every stream consumer uses (crm-sync's planner and
executors, ami-ingest's action executor, …). Per consumer of a group:

* on start, and again after every Redis outage: create the group if it is missing (e.g. after
  Redis lost its data), optionally claim every pending entry of the group (a single active
  reader taking over), then its **own pending entries** (``0``), then **new ones** (``>``);
* a **reclaim loop**: entries whose retry is due (hash ``{stream}:notbefore:{group}``, entry
  id -> unix ms; the consumer whose HDEL wins XCLAIMs it), and entries other consumers left
  pending longer than ``reclaim_idle_ms`` (XAUTOCLAIM — a consumer that died);
* **retries** with a not-before time (exponential backoff, at least the ``after_s`` the
  handler asks for), a **delivery cap** (``max_deliveries``), **dead letters** (``cb:dead``,
  with the error) past it or when the handler says so;
* **acknowledgement and the effects' writes in one transaction**: the handler gets a
  :class:`Batch` whose ``pipe`` is a MULTI/EXEC pipeline; it queues its writes there
  (``StreamPublisher.queue(pipe, …)``); the XACKs, dead letters and retry times are added
  to the same pipeline and executed once the handler returns. Nothing the handler queued is
  written unless the entries are acknowledged with it, and vice versa.
* **Redis outages**: every loop waits them out (:class:`~cbstreams.outage.RedisLink`: logged
  once, jittered backoff) and resumes with its own pending entries — exactly where the group
  says.

A handler that raises :class:`LeaseLost` (or is cancelled) leaves its entries pending and
commits nothing. Any other exception is a bug or an unmapped failure: logged, and the batch's
entries are retried like transient failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from .deadletter import DeadLetters
from .exceptions import REDIS_DOWN, LeaseLost, StreamUnavailable, redis_errors
from .groups import Delivery, claim_all, ensure_group, read_group
from .outage import RedisLink

__all__ = ["Batch", "GroupReader", "Handler", "ReaderSettings", "not_before_key"]

log = logging.getLogger(__name__)

Handler = Callable[["Batch"], Awaitable[None]]
"""Handles a batch: queue the effects on ``batch.pipe``; mark failures with ``retry``/``dead``."""


def not_before_key(stream: str, group: str) -> str:
    """The hash of retry times of ``group`` on ``stream`` (entry id -> unix ms)."""
    return f"{stream}:notbefore:{group}"


@dataclass(frozen=True, kw_only=True)
class ReaderSettings:
    batch: int = 100
    block_ms: int = 1000
    #: Claim other consumers' entries pending this long (None: never; due retries are
    #: claimed either way).
    reclaim_idle_ms: int | None = 30_000
    reclaim_every_s: float = 1.0
    #: Deliveries after which an entry is dead-lettered instead of handled again.
    max_deliveries: int = 8
    backoff_ms: int = 1000
    backoff_max_ms: int = 300_000
    #: Claim every pending entry of the group at start (a single active reader taking over).
    claim_on_start: bool = False


class Batch:
    """Delivered entries, the transaction to queue their effects on, and their fate."""

    def __init__(
        self,
        entries: list[Delivery],
        pipe: Any,
        attempts: dict[bytes, int],
        settings: ReaderSettings,
    ) -> None:
        self.entries = entries
        #: A MULTI/EXEC pipeline: queue the effects' writes here; the XACKs join them.
        self.pipe = pipe
        self._attempts = attempts
        self._settings = settings
        self.retries: dict[bytes, int] = {}  # id -> not-before, unix ms
        self.dead_letters: dict[bytes, str] = {}  # id -> error

    def __len__(self) -> int:
        return len(self.entries)

    def attempts(self, entry_id: bytes) -> int:
        """Deliveries of the entry so far, this one included."""
        return self._attempts.get(entry_id, 1)

    def retry(
        self, entry_id: bytes, error: str, *, after_s: float = 0.0, capped: bool = True
    ) -> bool:
        """Leave the entry pending and deliver it again later (exponential backoff, at least
        ``after_s``). False if it reached the delivery cap: then it is dead-lettered.
        ``capped=False``: retried however often (a pause that is nobody's fault, e.g. waiting
        for an operator to re-authorise a CRM)."""
        n = self.attempts(entry_id)
        s = self._settings
        if capped and n >= s.max_deliveries:
            self.dead(entry_id, f"gave up after {n} attempts: {error}")
            return False
        delay = max(min(s.backoff_ms * 2 ** (n - 1), s.backoff_max_ms), int(after_s * 1000))
        self.retries[entry_id] = int(time.time() * 1000) + delay
        log.info("entry will be retried", extra={"id": entry_id.decode(), "attempt": n,
                                                  "delay_ms": delay})  # fmt: skip
        return True

    def dead(self, entry_id: bytes, error: str) -> None:
        """Give up on the entry: dead-letter it (with ``error``) and acknowledge it."""
        self.retries.pop(entry_id, None)
        self.dead_letters[entry_id] = error

    @property
    def acked(self) -> list[bytes]:
        """The entries the commit acknowledges (handled or dead-lettered)."""
        return [i for i, _ in self.entries if i not in self.retries]


class GroupReader:
    """Consumer ``consumer`` of ``group`` on ``key``; ``await run(handler, stop)``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        group: str,
        consumer: str,
        *,
        settings: ReaderSettings | None = None,
        dead: DeadLetters | None = None,
        link: RedisLink | None = None,
    ) -> None:
        self.redis, self.key, self.group, self.consumer = redis, key, group, consumer
        self.settings = settings or ReaderSettings()
        self.dead = dead or DeadLetters(redis)
        self.link = link or RedisLink(f"{group}@{key}")
        self.not_before = not_before_key(key, group)
        #: Counters: handled (acked), retried, dead, reclaimed (claimed from others or due).
        self.stats = {"handled": 0, "retried": 0, "dead": 0, "reclaimed": 0}
        # held while own pending entries are re-read and while reclaiming, so that an entry
        # is never handled by both at once (an own entry idle long enough for XAUTOCLAIM)
        self._claiming = asyncio.Lock()

    # -- the loops -------------------------------------------------------------------------

    async def run(
        self,
        handler: Handler,
        stop: asyncio.Event,
        guard: Callable[[], None] | None = None,
    ) -> None:
        """Read and handle until ``stop``. ``guard()`` runs before every batch (it raises
        LeaseLost when a single active reader must stop)."""
        await self.link.retry(lambda: ensure_group(self.redis, self.key, self.group), stop)
        async with asyncio.TaskGroup() as tg:
            reclaim = tg.create_task(self._reclaim_loop(handler, stop, guard))
            await self._main_loop(handler, stop, guard)
            reclaim.cancel()

    async def _main_loop(
        self, handler: Handler, stop: asyncio.Event, guard: Callable[[], None] | None
    ) -> None:
        fresh = True
        while not stop.is_set():
            try:
                if fresh:
                    await self.start(handler, guard)
                    fresh = False
                await self.run_once(handler, guard=guard)
                self.link.ok()
            except StreamUnavailable as exc:
                fresh = True
                await self.link.failed(exc, stop)
            except ResponseError as exc:
                if not _vanished(exc):
                    raise
                log.warning("consumer group vanished (did Redis lose data?): creating it again",
                            extra={"stream": self.key, "group": self.group})  # fmt: skip
                fresh = True

    async def start(self, handler: Handler, guard: Callable[[], None] | None = None) -> None:
        """Create the group if needed, claim everything if configured, then handle this
        consumer's own pending entries (what it read before a crash, restart or outage)."""
        async with self._claiming:
            await self._start(handler, guard)

    async def _start(self, handler: Handler, guard: Callable[[], None] | None) -> None:
        await ensure_group(self.redis, self.key, self.group)
        if self.settings.claim_on_start:
            await claim_all(self.redis, self.key, self.group, self.consumer)
        after: bytes = b"0"
        while batch := await read_group(
            self.redis, self.key, self.group, self.consumer,
            pending=True, after=after, count=self.settings.batch,
        ):  # fmt: skip
            after = batch[-1][0]
            ready, retried = await self._not_waiting(batch)
            await self._deliver(ready, handler, guard, redelivered=True, retried=retried)

    async def run_once(
        self,
        handler: Handler,
        block_ms: int | None = None,
        guard: Callable[[], None] | None = None,
    ) -> int:
        """Read new entries (blocking up to ``block_ms``) and handle them; how many."""
        batch = await read_group(
            self.redis, self.key, self.group, self.consumer, pending=False,
            count=self.settings.batch,
            block_ms=self.settings.block_ms if block_ms is None else block_ms,
        )  # fmt: skip
        await self._deliver(batch, handler, guard, redelivered=False)
        return len(batch)

    async def _reclaim_loop(
        self, handler: Handler, stop: asyncio.Event, guard: Callable[[], None] | None
    ) -> None:
        while not stop.is_set():
            try:
                await self.reclaim(handler, guard)
                self.link.ok()
            except StreamUnavailable as exc:
                await self.link.failed(exc, stop)
                continue
            except ResponseError as exc:
                if not _vanished(exc):
                    raise
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.reclaim_every_s):
                    await stop.wait()

    async def reclaim(self, handler: Handler, guard: Callable[[], None] | None = None) -> int:
        """Handle the entries whose retry is due and those other consumers left idle; how
        many."""
        async with self._claiming:
            return await self._reclaim(handler, guard)

    async def _reclaim(self, handler: Handler, guard: Callable[[], None] | None) -> int:
        redis, s = self.redis, self.settings
        with redis_errors():
            now_ms = int(time.time() * 1000)
            due = cast(dict[bytes, bytes], await redis.hgetall(self.not_before))
            ids = [i for i, at in due.items() if int(at) <= now_ms]
            # HDEL returns 1 to one consumer only: that one claims the entry
            mine: list[Any] = [i for i in ids if await redis.hdel(self.not_before, i)]
            claimed: list[Any] = []
            if mine:
                claimed = cast(list[Any], await redis.xclaim(
                    self.key, self.group, self.consumer, 0, mine))  # fmt: skip
            orphans: Any = [None, []]
            if s.reclaim_idle_ms is not None:
                orphans = await redis.xautoclaim(
                    self.key, self.group, self.consumer, s.reclaim_idle_ms, "0-0", count=s.batch
                )
        entries = [(i, f or {}) for i, f in claimed]
        ready, retried = await self._not_waiting([(i, f or {}) for i, f in orphans[1]])
        entries += ready
        self.stats["reclaimed"] += len(entries)
        retried |= {i for i, _ in claimed}
        await self._deliver(entries, handler, guard, redelivered=True, retried=retried)
        return len(entries)

    # -- one batch -------------------------------------------------------------------------

    async def _not_waiting(self, batch: list[Delivery]) -> tuple[list[Delivery], set[bytes]]:
        """The entries of ``batch`` not waiting for a retry time in the future, and which of
        them a handler chose to retry (their retry is due)."""
        if not batch:
            return [], set()
        with redis_errors():
            ids = [i for i, _ in batch]
            times = cast(list[bytes | None], await self.redis.hmget(self.not_before, ids))
        now_ms = int(time.time() * 1000)
        ready = [(d, at) for d, at in zip(batch, times, strict=True)
                 if at is None or int(at) <= now_ms]  # fmt: skip
        return [d for d, _ in ready], {d[0] for d, at in ready if at is not None}

    async def _attempts(self, batch: list[Delivery]) -> dict[bytes, int]:
        with redis_errors():
            rows: Any = await self.redis.xpending_range(
                self.key, self.group, min=batch[0][0], max=batch[-1][0],
                count=len(batch) * 4 + 100, consumername=self.consumer,
            )  # fmt: skip
        wanted = {i for i, _ in batch}
        return {
            r["message_id"]: int(r["times_delivered"]) for r in rows if r["message_id"] in wanted
        }

    async def _deliver(
        self,
        entries: list[Delivery],
        handler: Handler,
        guard: Callable[[], None] | None,
        *,
        redelivered: bool,
        retried: set[bytes] | None = None,
    ) -> None:
        """Handle ``entries`` and commit. The delivery cap applies here only to entries no
        handler decided on (``retried``: those it chose to retry, capping them itself)."""
        if not entries:
            return
        if guard is not None:
            guard()
        entries = sorted(entries, key=lambda d: _id_key(d[0])) if redelivered else entries
        attempts = await self._attempts(entries) if redelivered else {}
        batch = Batch([], self.redis.pipeline(transaction=True), attempts, self.settings)
        for entry_id, data in entries:
            if not data:
                batch.entries.append((entry_id, data))
                batch.dead(entry_id, "entry trimmed from the stream before it was handled")
            elif batch.attempts(entry_id) > self.settings.max_deliveries and entry_id not in (
                retried or set()
            ):
                batch.entries.append((entry_id, data))
                batch.dead(entry_id, f"delivered {batch.attempts(entry_id)} times, never handled")
            else:
                batch.entries.append((entry_id, data))
        live = [(i, d) for i, d in batch.entries if i not in batch.dead_letters]
        if live:
            work = Batch(live, batch.pipe, attempts, self.settings)
            try:
                with redis_errors():
                    await handler(work)
            except (StreamUnavailable, LeaseLost):
                raise
            except Exception as exc:
                if isinstance(exc, ExceptionGroup):  # from the handler's own task groups
                    if (lost := exc.subgroup(LeaseLost)) is not None:
                        raise lost.exceptions[0] from exc
                    if (down := exc.subgroup(REDIS_DOWN)) is not None:
                        raise StreamUnavailable(f"redis unavailable: {down.exceptions[0]}") from exc
                log.exception("handler failed: retrying its entries",
                              extra={"stream": self.key, "group": self.group})  # fmt: skip
                work = Batch(live, self.redis.pipeline(transaction=True), attempts, self.settings)
                for entry_id, _ in live:
                    work.retry(entry_id, f"{type(exc).__name__}: {exc}")
            work.dead_letters.update(batch.dead_letters)
            work.entries = [*batch.entries]
            batch = work
        await self._commit(batch)

    async def _commit(self, batch: Batch) -> None:
        pipe = batch.pipe
        for entry_id, error in batch.dead_letters.items():
            data = next(d for i, d in batch.entries if i == entry_id)
            await self.dead.add(self.key, entry_id, data, error, batch.attempts(entry_id),
                                group=self.group, pipe=pipe)  # fmt: skip
            where = {"stream": self.key, "group": self.group, "id": entry_id.decode()}
            log.warning("entry dead-lettered", extra={**where, "error": error})
        acked = batch.acked
        if acked:
            pipe.execute_command("XACK", self.key, self.group, *acked)
            pipe.hdel(self.not_before, *acked)
        if batch.retries:
            pipe.hset(self.not_before, mapping=batch.retries)
        with redis_errors():
            await pipe.execute()
        self.stats["dead"] += len(batch.dead_letters)
        self.stats["retried"] += len(batch.retries)
        self.stats["handled"] += len(acked) - len(batch.dead_letters)


def _vanished(exc: ResponseError) -> bool:
    """The stream or its group is gone (``NOGROUP``; ``UNBLOCKED`` for a reader blocked on a
    stream that was deleted): create them again and go on."""
    return str(exc).startswith(("NOGROUP", "UNBLOCKED"))


def _id_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)
