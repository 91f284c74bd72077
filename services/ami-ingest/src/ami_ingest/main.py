"""Wiring only: settings -> Redis -> one PbxIngest per PBX -> health endpoint -> run."""

from __future__ import annotations

import asyncio
import logging

from cbruntime import HealthServer, new_registry
from cbstreams import connect
from cbstreams.outage import RedisLink

from .metrics import IngestMetrics
from .pbx import PbxIngest
from .settings import IngestSettings

__all__ = ["IngestService"]

log = logging.getLogger(__name__)


class IngestService:
    """ami-ingest for every configured PBX; ``await run(stop)`` until ``stop`` is set."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.registry = new_registry()
        self.metrics = IngestMetrics.create(self.registry)
        self.redis = connect(settings.redis_url)
        #: Whether Redis answers (one link for every PBX: it is one Redis).
        self.link = RedisLink("ami-ingest", on_change=self._redis_up)
        self.pbxs = [
            PbxIngest(name, pbx, settings, self.redis, self.metrics, self.link)
            for name, pbx in settings.pbx.items()
        ]
        self.http: HealthServer | None = None
        if settings.http.port >= 0:
            self.http = HealthServer(
                self.registry,
                healthy=self.healthy,
                ready=self.ready,
                host=settings.http.host,
                port=settings.http.port,
            )

    def _redis_up(self, up: bool) -> None:
        for name in self.settings.pbx:
            self.metrics.redis_up.labels(name).set(int(up))

    def healthy(self) -> bool:
        """The service runs (a standby is healthy)."""
        return True

    def ready(self) -> bool:
        """Redis answers and no PBX is stuck connecting: each is a standby or has its AMI
        session. During a Redis outage frames are buffered, but the service is not ready."""
        return self.link.up and all(p.state != "connecting" for p in self.pbxs)

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "ami-ingest starting",
            extra={"instance": self.settings.instance, "pbxs": [p.name for p in self.pbxs]},
        )
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(p.run(), name=f"pbx:{p.name}") for p in self.pbxs]
                if self.http is not None:
                    tasks.append(tg.create_task(self.http.serve(stop)))
                await stop.wait()
                for task in tasks:
                    task.cancel()
        finally:
            await self.redis.aclose()
            log.info("ami-ingest stopped", extra={"instance": self.settings.instance})
