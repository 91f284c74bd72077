"""One PBX's tracker loop: hold the lease, read the raw stream from the checkpoint in order,
reduce, commit. A standby waits for the lease and resumes from the committed state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as aioredis

from cbcontracts import CallEvent
from cbstreams import Lease, LeaseLost, PbxKeys, StreamUnavailable, TailReader, fields

from .metrics import TrackerMetrics
from .reducer import reduce
from .reducer.model import TrackerState
from .store import TrackerStore
from .window import entry_from_fields

__all__ = ["PbxTracker"]

log = logging.getLogger(__name__)


class PbxTracker:
    def __init__(
        self,
        redis: aioredis.Redis,
        store: TrackerStore,
        lease: Lease,
        metrics: TrackerMetrics,
        *,
        batch: int = 2000,
        block_ms: int = 1000,
        prefix: str = "cb:",
        renew_s: float = 1.0,
        standby_poll_s: float = 0.5,
    ) -> None:
        self._redis = redis
        self.store = store
        self.lease = lease
        self.metrics = metrics
        self.pbx = store.topology.pbx
        self.stream = PbxKeys(self.pbx, prefix).ami
        self.batch = batch
        self.block_ms = block_ms
        self.renew_s = renew_s
        self.standby_poll_s = standby_poll_s
        self.link = lease.link

    async def run(self, stop: asyncio.Event) -> None:
        """Active while we hold the lease, standby otherwise, until ``stop``. A Redis outage
        is waited out (logged once by the link); then the tracker resumes from its committed
        checkpoint and state — whatever it had applied in memory since is applied again."""
        while not stop.is_set():
            await self.lease.wait_acquired(self.standby_poll_s)
            try:
                async with asyncio.TaskGroup() as tg:
                    keeper = tg.create_task(self.lease.keep(self.renew_s))
                    await self._consume(stop)
                    keeper.cancel()
            except* LeaseLost:
                log.warning("tracker lease lost", extra={"pbx": self.pbx})
            except* StreamUnavailable as group:
                await self.link.failed(group.exceptions[0], stop)
        with contextlib.suppress(StreamUnavailable):
            await self.lease.release()

    async def _consume(self, stop: asyncio.Event) -> None:
        state = await self.store.load()
        tail = TailReader(self._redis, {self.stream: state.last_id}, count=self.batch,
                          block_ms=self.block_ms, link=self.link)  # fmt: skip
        while not stop.is_set():
            await self.step(state, tail)

    async def step(self, state: TrackerState, tail: TailReader | None = None) -> int:
        """Read, apply and commit one batch; returns the entries applied. Raises
        StreamUnavailable (nothing committed: the caller reloads the committed state)."""
        if tail is None:
            tail = TailReader(self._redis, {self.stream: state.last_id}, count=self.batch,
                              block_ms=self.block_ms, link=self.link)  # fmt: skip
        entries = await tail.read_once()
        self.link.ok()
        if not entries:
            return 0
        events: list[CallEvent] = []
        for _, entry_id, f in entries:
            entry = entry_from_fields(entry_id, f)
            if entry.ev == fields.SYNC_EVENT:
                self.metrics.reconciliations.labels(self.pbx).inc()
            events += reduce(state, entry)[1]
        if not self.lease.held:
            raise LeaseLost(f"lease for {self.pbx} lapsed")
        await self.store.commit(state, events)
        self._observe(state, len(entries), len(events))
        return len(entries)

    def _observe(self, state: TrackerState, applied: int, emitted: int) -> None:
        self.metrics.lag.labels(self.pbx).set(max(0.0, time.time() - state.last[0] / 1000))
        self.metrics.applied.labels(self.pbx).inc(applied)
        self.metrics.emitted.labels(self.pbx).inc(emitted)
        self.metrics.live_calls.labels(self.pbx).set(len(state.calls))
