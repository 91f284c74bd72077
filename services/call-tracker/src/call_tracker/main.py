"""Wiring only: settings -> Redis -> one tracker per PBX -> run until stopped."""

from __future__ import annotations

import asyncio

from cbruntime import HealthServer
from cbstreams import Lease, PbxKeys, RedisLink, Trimmer, connect

from .handler import PbxTracker
from .metrics import TrackerMetrics
from .publisher import CallPublisher
from .reducer.topology import Topology
from .settings import TrackerSettings
from .store import TrackerStore

__all__ = ["TrackerService"]


class TrackerService:
    def __init__(self, settings: TrackerSettings) -> None:
        self.settings = settings
        self.metrics = TrackerMetrics.create()
        self.redis = connect(settings.redis_url)
        #: Whether Redis answers; shared by every PBX's tracker and the health endpoint.
        self.link = RedisLink(
            "call-tracker", on_change=lambda up: self.metrics.redis_up.set(int(up))
        )
        self.metrics.redis_up.set(1)
        publisher = CallPublisher(
            settings.calls_stream,
            prefix=settings.key_prefix,
            retention_s=settings.retention_s,
            trimmer=Trimmer(settings.calls_retention_s * 1000),
        )
        self.trackers = [self._tracker(t, publisher) for t in settings.topologies()]

    def _tracker(self, topology: Topology, publisher: CallPublisher) -> PbxTracker:
        s = self.settings
        keys = PbxKeys(topology.pbx, s.key_prefix)
        lease = Lease(self.redis, keys.lease("tracker"), s.instance, ttl_ms=s.lease_ttl_ms,
                      link=self.link)  # fmt: skip
        store = TrackerStore(self.redis, topology, publisher, prefix=s.key_prefix)
        return PbxTracker(
            self.redis, store, lease, self.metrics, batch=s.batch, block_ms=s.block_ms,
            prefix=s.key_prefix, renew_s=s.lease_renew_s, standby_poll_s=s.standby_poll_s,
        )  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                if self.settings.metrics_port >= 0:
                    http = HealthServer(self.metrics.registry, ready=lambda: self.link.up,
                                        port=self.settings.metrics_port)  # fmt: skip
                    tg.create_task(http.serve(stop))
                for tracker in self.trackers:
                    tg.create_task(tracker.run(stop))
        finally:
            await self.redis.aclose()
