"""Wiring only: settings -> Redis -> one watcher per PBX -> changes to Redis, until stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cbruntime import HealthServer
from cbstreams import PbxKeys, connect

from .discover import hinted_extensions
from .metrics import PresenceMetrics
from .publish import PresencePublisher
from .settings import PresenceSettings
from .watcher import PbxWatcher

__all__ = ["PresenceService"]


class PresenceService:
    def __init__(self, settings: PresenceSettings) -> None:
        self.settings = settings
        self.metrics = PresenceMetrics.create()
        self.redis = connect(settings.redis_url)
        self.publisher = PresencePublisher(
            self.redis, settings.key_prefix, settings.retention_s, self.metrics
        )
        self.watchers = [
            PbxWatcher(
                name, pbx, self.publisher.submit, self.metrics,
                discover=self._discoverer(name, pbx.discover_context),
            )
            for name, pbx in settings.pbx.items()
        ]  # fmt: skip
        self.http: HealthServer | None = None

    def _discoverer(self, pbx: str, context: str) -> Callable[[], Awaitable[list[str]]] | None:
        if not context:
            return None
        keys = PbxKeys(pbx, self.settings.key_prefix)
        return lambda: hinted_extensions(self.redis, keys, context)

    def ready(self) -> bool:
        """Ready while Redis takes the changes and every PBX answers."""
        return self.publisher.redis_up and all(w.pbx_up for w in self.watchers)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                if self.settings.metrics_port >= 0:
                    self.http = HealthServer(
                        self.metrics.registry, ready=self.ready, port=self.settings.metrics_port
                    )
                    tg.create_task(self.http.serve(stop))
                tg.create_task(self.publisher.run(stop))
                for watcher in self.watchers:
                    tg.create_task(watcher.run(stop))
        finally:
            await self.redis.aclose()
