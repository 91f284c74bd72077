"""One PBX: standby until the lease is ours, then the AMI connection, the reader, the
publisher and the action executor, until the lease is lost or the service stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

import redis.asyncio as aioredis

from aioami import AMIClient, AMIError
from cbstreams import ActionExecutor, Lease, LeaseLost, PbxKeys, StreamError, Trimmer
from cbstreams.outage import RedisLink

from .buffer import FrameBuffer
from .handler import ActionHandler
from .metrics import IngestMetrics
from .publisher import FramePublisher
from .reader import read_frames
from .settings import IngestSettings, PbxSettings, ami_config

__all__ = ["PbxIngest"]

log = logging.getLogger(__name__)
State = Literal["standby", "connecting", "active"]


class PbxIngest:
    """The ingest of one PBX. ``run()`` until cancelled; ``state`` for health checks."""

    def __init__(
        self,
        name: str,
        pbx: PbxSettings,
        settings: IngestSettings,
        redis: aioredis.Redis,
        metrics: IngestMetrics,
        link: RedisLink | None = None,
    ) -> None:
        self.name, self._pbx, self._settings = name, pbx, settings
        self._redis, self._metrics = redis, metrics
        self.link = link or RedisLink(f"ami-ingest {name}")
        self.keys = PbxKeys(name, prefix=settings.key_prefix)
        self.lease = Lease(
            redis, self.keys.lease(), settings.instance, ttl_ms=settings.lease_ttl_ms,
            handover_grace_ms=settings.lease_handover_grace_ms, link=self.link,
        )  # fmt: skip
        self.state: State = "standby"
        self.client: AMIClient | None = None
        self.buffer: FrameBuffer | None = None

    async def run(self) -> None:
        while True:
            self.state = "standby"
            await self.lease.wait_acquired(self._settings.standby_poll_s)
            log.info("lease acquired: active", extra={"pbx": self.name})
            self._metrics.lease_held.labels(self.name).set(1)
            try:
                await self._active()
            except* LeaseLost:
                dropped = self.buffer.bytes if self.buffer is not None else 0
                log.warning("lease lost to another replica: stopped publishing",
                            extra={"pbx": self.name, "buffer_dropped_bytes": dropped})  # fmt: skip
            finally:
                self._metrics.lease_held.labels(self.name).set(0)
                self._metrics.connected.labels(self.name).set(0)
                with contextlib.suppress(StreamError):
                    await self.lease.release()

    async def _active(self) -> None:
        self.state = "connecting"
        client = self.client = AMIClient(ami_config(self._pbx))
        self.buffer = FrameBuffer(self._settings.buffer_max_bytes)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.lease.keep(self._settings.lease_renew_s))
                tg.create_task(self._session(client, self.buffer))
        finally:
            await client.close()

    async def _session(self, client: AMIClient, buffer: FrameBuffer) -> None:
        await self._connect(client)
        self.state = "active"
        s = self._settings
        publisher = FramePublisher(
            self._redis,
            self.keys,
            buffer,
            self.lease,
            self._metrics,
            link=self.link,
            batch=s.publish_batch,
            trimmer=Trimmer(s.retention_s * 1000, every_s=s.trim_every_s),
        )
        handler = ActionHandler(client, self._metrics, self.name)
        executor = ActionExecutor(
            self._redis, self.keys, handler, consumer=s.instance, link=self.link
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(read_frames(client, buffer, self._metrics, self.name))
            tg.create_task(publisher.run())
            tg.create_task(self._execute(executor))
            tg.create_task(self._gauges(client, buffer))

    async def _connect(self, client: AMIClient) -> None:
        """First connect + login, retried with backoff (the client reconnects after that)."""
        delay = 0.5
        while True:
            try:
                await client.start()
                return
            except (OSError, AMIError) as exc:
                self._metrics.errors.labels(self.name, "ami").inc()
                log.warning("AMI connect failed", extra={"pbx": self.name, "error": str(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _execute(self, executor: ActionExecutor) -> None:
        """Run actions until cancelled; the executor waits out Redis outages itself."""
        await executor.run(asyncio.Event())

    async def _gauges(self, client: AMIClient, buffer: FrameBuffer) -> None:
        m, pbx = self._metrics, self.name
        while True:
            m.connected.labels(pbx).set(1 if client.connected else 0)
            m.buffer_bytes.labels(pbx).set(buffer.bytes)
            m.buffer_fill.labels(pbx).set(buffer.bytes / buffer.max_bytes)
            await asyncio.sleep(0.5)
