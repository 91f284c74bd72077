"""Wiring only: settings -> Redis, adapter, caches -> planner and executor -> run until stopped."""

from __future__ import annotations

import asyncio
import dataclasses

import redis.asyncio as aioredis

from cbcrm.adapter import CrmAdapter
from cbcrm.links import LinkSigner
from cbcrm.lookup import LookupCache
from cbcrm.once import Once
from cbcrm.routing import RouteTable, UserDirectory
from cbcrm.rules import Rules
from cbcrm.sync import CallSync
from cbruntime import HealthServer
from cbstreams import (
    GroupReader,
    Lease,
    ReaderSettings,
    RedisLink,
    connect,
    lane_stream,
    wait_for_redis,
)
from cbstreams.deadletter import DeadLetters

from .active import SingleActive
from .adapters import open_adapter
from .auth import AuthBreaker
from .executor import Executor
from .legs import LegBook
from .metrics import CrmSyncMetrics
from .planner import Planner
from .publisher import LANES, CrmPublisher
from .settings import CrmSyncSettings

__all__ = ["CrmSyncService", "build_sync"]


def build_sync(redis: aioredis.Redis, adapter: CrmAdapter, s: CrmSyncSettings) -> CallSync:
    """The CallSync of an adapter with the configured caches, rules and link signer."""
    p, lk = s.key_prefix, s.lookup
    lookups = LookupCache(redis, adapter.lookup, crm=adapter.name, prefix=p, ttl_s=lk.ttl_s,
                          negative_ttl_s=lk.negative_ttl_s, lock_ms=lk.lock_ms)  # fmt: skip
    users = UserDirectory(redis, adapter.users, crm=adapter.name, prefix=p, ttl_s=lk.users_ttl_s)
    rec = s.recordings
    links = LinkSigner(rec.secret.reveal(), rec.base_url, rec.ttl_s) if rec.secret else None
    return CallSync(adapter, lookups, users, Once(redis, prefix=p), rules=Rules(s.rules),
                    effective=s.effective, links=links)  # fmt: skip


class CrmSyncService:
    def __init__(self, settings: CrmSyncSettings, adapter: CrmAdapter | None = None) -> None:
        self.settings = settings
        self.metrics = CrmSyncMetrics.create()
        self.redis = connect(settings.redis_url)
        self._adapter = adapter
        #: Whether Redis answers; shared by the planner, the executor and the health endpoint.
        self.link = RedisLink("crm-sync", on_change=lambda up: self.metrics.redis_up.set(int(up)))

    def publisher(self) -> CrmPublisher:
        s = self.settings
        return CrmPublisher(self.redis, s.commands_stream, s.events_stream,
                            commands_retention_s=s.commands_retention_s,
                            events_retention_s=s.events_retention_s)  # fmt: skip

    def planner(self, sync: CallSync, publisher: CrmPublisher) -> Planner:
        s = self.settings
        reader = GroupReader(
            self.redis, s.calls_stream, s.planner_group, s.instance, link=self.link,
            dead=DeadLetters(self.redis, s.dead_stream),
            # the planner never retries on purpose: the cap only stops a poison entry
            settings=ReaderSettings(batch=s.batch, block_ms=s.block_ms, reclaim_idle_ms=None,
                                    claim_on_start=True, max_deliveries=1000),
        )  # fmt: skip
        legs = LegBook(self.redis, s.key_prefix)
        routes = RouteTable(s.key_prefix, s.route_ttl_s) if s.route_ttl_s > 0 else None
        return Planner(reader, sync, publisher, legs, self.metrics, region=s.region,
                       routes=routes)  # fmt: skip

    def executor(self, sync: CallSync, publisher: CrmPublisher, lane: str = "") -> Executor:
        """An executor of one command lane (``cards``: the caller's card; "": the rest): a
        GroupReader of the lane's stream."""
        s, e = self.settings, self.settings.executor
        e = dataclasses.replace(e, workers=e.card_workers) if lane == "cards" else e
        reader = GroupReader(
            self.redis, lane_stream(s.commands_stream, lane), s.executor_group, s.instance,
            link=self.link, dead=DeadLetters(self.redis, s.dead_stream),
            settings=ReaderSettings(
                batch=e.batch, block_ms=s.block_ms, reclaim_idle_ms=e.orphan_idle_ms,
                reclaim_every_s=e.retry_every_s, max_deliveries=e.max_attempts,
                backoff_ms=e.backoff_ms, backoff_max_ms=e.backoff_max_ms,
            ),
        )  # fmt: skip
        return Executor(reader, sync, sync.once, publisher, self.metrics, e)

    def ready(self) -> bool:
        """Redis answers (during an outage the service waits and is not ready)."""
        return self.link.up

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        if not await wait_for_redis(self.redis, self.link, stop):
            await self.redis.aclose()
            return
        adapter = self._adapter or await open_adapter(s, self.redis)
        try:
            sync = build_sync(self.redis, adapter, s)
            publisher = self.publisher()
            if isinstance(adapter, AuthBreaker):  # its one alert on dead credentials
                adapter.alert = publisher.event
            async with asyncio.TaskGroup() as tg:
                if s.metrics_port >= 0:
                    health = HealthServer(self.metrics.registry, ready=self.ready,
                                          port=s.metrics_port)  # fmt: skip
                    tg.create_task(health.serve(stop))
                if s.run_planner:
                    lease = Lease(self.redis, f"{s.key_prefix}crm:lease:planner", s.instance,
                                  ttl_ms=s.planner_lease_ttl_ms, link=self.link)  # fmt: skip
                    single = SingleActive(lease, renew_s=s.planner_lease_renew_s,
                                          poll_s=s.planner_standby_poll_s)  # fmt: skip
                    tg.create_task(single.run(self.planner(sync, publisher), stop))
                if s.run_executor:
                    for lane in LANES:
                        tg.create_task(self.executor(sync, publisher, lane).run(stop))
        finally:
            if self._adapter is None:
                await adapter.aclose()
            await self.redis.aclose()
