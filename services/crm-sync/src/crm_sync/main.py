"""Wiring only: settings -> Redis, adapter, caches -> planner and executor -> run until stopped."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from cbcrm.adapter import CrmAdapter
from cbcrm.links import LinkSigner
from cbcrm.lookup import LookupCache
from cbcrm.once import Once
from cbcrm.routing import RouteTable, UserDirectory
from cbcrm.rules import Rules
from cbcrm.sync import CallSync
from cbruntime import HealthServer
from cbstreams import Lease, connect
from cbstreams.deadletter import DeadLetters

from .active import SingleActive
from .adapters import open_adapter
from .consumer import GroupConsumer
from .executor import Executor
from .legs import LegBook
from .metrics import CrmSyncMetrics
from .planner import Planner
from .publisher import CrmPublisher
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

    def publisher(self) -> CrmPublisher:
        s = self.settings
        return CrmPublisher(self.redis, s.commands_stream, s.events_stream,
                            commands_retention_s=s.commands_retention_s,
                            events_retention_s=s.events_retention_s)  # fmt: skip

    def planner(self, sync: CallSync, publisher: CrmPublisher) -> Planner:
        s = self.settings
        consumer = GroupConsumer(self.redis, s.calls_stream, s.planner_group, s.instance,
                                 batch=s.batch, block_ms=s.block_ms)  # fmt: skip
        legs = LegBook(self.redis, s.key_prefix)
        routes = RouteTable(s.key_prefix, s.route_ttl_s) if s.route_ttl_s > 0 else None
        return Planner(consumer, sync, publisher, legs, self.metrics, region=s.region,
                       routes=routes)  # fmt: skip

    def executor(self, sync: CallSync, publisher: CrmPublisher) -> Executor:
        s = self.settings
        consumer = GroupConsumer(self.redis, s.commands_stream, s.executor_group, s.instance,
                                 batch=s.executor.batch, block_ms=s.block_ms)  # fmt: skip
        dead = DeadLetters(self.redis, s.dead_stream)
        return Executor(consumer, sync, sync.once, publisher, dead, self.metrics, s.executor)

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        adapter = self._adapter or await open_adapter(s, self.redis)
        try:
            sync = build_sync(self.redis, adapter, s)
            publisher = self.publisher()
            async with asyncio.TaskGroup() as tg:
                if s.metrics_port >= 0:
                    health = HealthServer(self.metrics.registry, port=s.metrics_port)
                    tg.create_task(health.serve(stop))
                if s.run_planner:
                    lease = Lease(self.redis, f"{s.key_prefix}crm:lease:planner", s.instance,
                                  ttl_ms=s.planner_lease_ttl_ms)  # fmt: skip
                    single = SingleActive(lease, renew_s=s.planner_lease_renew_s,
                                          poll_s=s.planner_standby_poll_s)  # fmt: skip
                    tg.create_task(single.run(self.planner(sync, publisher), stop))
                if s.run_executor:
                    tg.create_task(self.executor(sync, publisher).run(stop))
        finally:
            if self._adapter is None:
                await adapter.aclose()
            await self.redis.aclose()
