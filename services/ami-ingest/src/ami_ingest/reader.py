"""Reads the client's raw batches into the buffer, in order; a Snapshot becomes a sync item."""

from __future__ import annotations

import logging

import msgspec

from aioami import AMIClient, FrameBatch, Snapshot

from .buffer import FrameBuffer, Item
from .handler import header_map
from .metrics import IngestMetrics

__all__ = ["read_frames", "sync_item"]

log = logging.getLogger(__name__)
_json = msgspec.json.Encoder()


def sync_item(snapshot: Snapshot) -> Item:
    snap = _json.encode([header_map(event) for event in snapshot.events])
    return Item(snapshot.session, snapshot.rx_us, [], (snapshot.banner.encode(), snap))


async def read_frames(
    client: AMIClient, buffer: FrameBuffer, metrics: IngestMetrics, pbx: str
) -> None:
    """Consume ``client.raw_batches()`` forever. Waits (backpressure) while the buffer is full."""
    blocked = metrics.backpressure.labels(pbx)
    async for batch in client.raw_batches():
        if isinstance(batch, FrameBatch):
            item = Item(batch.session, batch.rx_us, batch.frames)
            metrics.frames_in.labels(pbx).inc(len(batch.frames))
        else:
            item = sync_item(batch)
            if batch.session > 1:
                metrics.reconnects.labels(pbx).inc()
            log.info(
                "AMI session synced",
                extra={"pbx": pbx, "session": batch.session, "channels": len(batch.events)},
            )
        if buffer.full:
            blocked.set(1)
            log.warning(
                "buffer full: no longer reading AMI (backpressure)",
                extra={"pbx": pbx, "bytes": buffer.bytes},
            )
            await buffer.put(item)
            blocked.set(0)
            log.info("buffer drained: reading AMI again", extra={"pbx": pbx})
        else:
            await buffer.put(item)
