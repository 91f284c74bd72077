"""The only publisher of ami-ingest: buffer items -> ``cb:{pbx}:ami`` entries, in order.

Publishes only while the lease is held. A Redis failure leaves the items in the buffer (the
reader keeps filling it up to its bound, then backpressure) and is retried with backoff;
after a failure whose outcome is unknown, the entries that did land are found by comparing
the stream's last entry with the batch, so that nothing is appended twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis

from aioami import event_name
from cbstreams import Lease, PbxKeys, StreamPublisher, StreamUnavailable, Trimmer
from cbstreams import fields as F
from cbstreams.exceptions import redis_errors
from cbstreams.outage import RedisLink

from .buffer import FrameBuffer, Item
from .metrics import IngestMetrics

__all__ = ["FramePublisher"]

log = logging.getLogger(__name__)
_Entry = list[bytes | int]


class FramePublisher:
    """Drains a :class:`FrameBuffer` into the PBX's raw stream."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: PbxKeys,
        buffer: FrameBuffer,
        lease: Lease,
        metrics: IngestMetrics,
        *,
        link: RedisLink | None = None,
        batch: int = 1000,
        trimmer: Trimmer | None = None,
    ) -> None:
        self._redis, self._keys, self._buffer, self._lease = redis, keys, buffer, lease
        self._stream = StreamPublisher(redis, keys.ami, trimmer)
        self._batch = batch
        self._sess: dict[int, int] = {}
        self._uncertain = False
        self._metrics = metrics
        self._label = keys.pbx
        self._link = link or RedisLink(f"ami-ingest {keys.pbx}")

    async def run(self) -> None:
        """Publish until cancelled. Raises LeaseLost when another generation holds the lease
        (fenced: nothing of ours is written after it took over)."""
        while True:
            items = await self._buffer.peek(self._batch)
            if not self._lease.held:  # not renewed within its TTL: never publish
                await asyncio.sleep(0.05)
                continue
            try:
                await self._publish(items)
            except StreamUnavailable as exc:
                self._failed(exc)
                await asyncio.sleep(self._link.down(exc))
                continue
            self._link.ok()
            self._metrics.redis_up.labels(self._label).set(1)
            await self._buffer.drop(len(items))

    def _failed(self, exc: StreamUnavailable) -> None:
        self._uncertain = True
        self._metrics.redis_up.labels(self._label).set(0)
        self._metrics.errors.labels(self._label, "redis").inc()
        if self._link.up:
            log.warning(
                "redis unreachable: buffering frames",
                extra={"pbx": self._label, "error": str(exc), "buffered": self._buffer.bytes},
            )

    async def _publish(self, items: list[Item]) -> None:
        entries: list[_Entry] = []
        for item in items:
            entries.extend(self._entries(item, await self._session(item.session)))
        if self._uncertain:
            entries = entries[await self._landed(entries) :]
            self._uncertain = False
        await self._stream.publish_fenced(entries, self._lease.key, self._lease.token)
        self._metrics.published.labels(self._label).inc(len(entries))

    async def _session(self, client_session: int) -> int:
        """The PBX-wide number of this client's connection (INCR on first sight)."""
        sess = self._sess.get(client_session)
        if sess is None:
            with redis_errors():
                sess = int(await self._redis.incr(self._keys.sess))
            self._sess[client_session] = sess
        return sess

    @staticmethod
    def _entries(item: Item, sess: int) -> list[_Entry]:
        rx = item.rx_us
        if item.sync is not None:
            banner, snap = item.sync
            return [
                [
                    F.F_RAW,
                    b"",
                    F.F_EV,
                    F.SYNC_EVENT,
                    F.F_RX,
                    rx,
                    F.F_SESS,
                    sess,
                    F.F_BANNER,
                    banner,
                    F.F_SNAP,
                    snap,
                ]
            ]
        return [
            [F.F_RAW, raw, F.F_EV, event_name(raw), F.F_RX, rx, F.F_SESS, sess]
            for raw in item.frames
        ]

    async def _landed(self, entries: list[_Entry]) -> int:
        """How many leading ``entries`` are already the stream's tail (0 if none)."""
        with redis_errors():
            last: Any = await self._redis.xrevrange(self._keys.ami, count=1)
        if not last:
            return 0
        tail = last[0][1]
        for i, entry in enumerate(entries):
            if all(tail.get(entry[k]) == _b(entry[k + 1]) for k in range(0, len(entry), 2)):
                log.info("skipping entries that landed before the failure", extra={"n": i + 1})
                return i + 1
        return 0


def _b(value: bytes | int) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
