"""The two outputs of the client: the raw feed (ingest, with backpressure) and the parsed
event subscriptions (bounded, lossy for a slow subscriber)."""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import AsyncGenerator, Callable
from fnmatch import fnmatchcase
from typing import Generic, TypeVar

from ._framing import event_name
from ._types import ClientStats, FrameBatch, Snapshot
from .message import Message, parse_frame

__all__ = ["EventHub", "RawFeed"]

RawItem = FrameBatch | Snapshot
#: Messages queued per ``events()`` subscriber before new ones are dropped.
EVENT_QUEUE_MAX = 10_000
_SNAPSHOT_BYTES = 1024  # accounting weight of a Snapshot item
T = TypeVar("T")


class _Waitable(Generic[T]):
    """A deque with an end: ``get()`` waits for an item; ``None`` once closed and empty."""

    def __init__(self) -> None:
        self.items: collections.deque[T] = collections.deque()
        self.closed = False
        self._ready = asyncio.Event()

    def put(self, item: T) -> None:
        self.items.append(item)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> T | None:
        while not self.items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self.items.popleft()


class RawFeed:
    """FrameBatch and Snapshot items in arrival order for the one ``raw_batches()`` consumer.

    Held bytes are bounded by ``max_bytes`` (plus one socket read): with a consumer
    registered, ``set_reading(False)`` is called above the bound and ``set_reading(True)``
    once below half; with none, items arriving above the bound are dropped and counted.
    """

    def __init__(
        self, stats: ClientStats, max_bytes: int, set_reading: Callable[[bool], None]
    ) -> None:
        self._stats = stats
        self._max = max_bytes
        self._set_reading = set_reading
        self._queue: _Waitable[tuple[RawItem, int]] = _Waitable()
        self._consumers = 0

    @property
    def paused(self) -> bool:
        return self._stats.paused

    def put(self, item: RawItem) -> None:
        size = _size(item)
        stats = self._stats
        if stats.buffered_bytes > self._max and not self._consumers:
            stats.dropped_events += len(item.frames) if isinstance(item, FrameBatch) else 1
            return
        self._queue.put((item, size))
        stats.buffered_bytes += size
        if stats.buffered_bytes > self._max and self._consumers and not stats.paused:
            stats.paused = True
            self._set_reading(False)

    def close(self) -> None:
        self._queue.close()

    async def iterate(self) -> AsyncGenerator[RawItem, None]:
        self._consumers += 1
        try:
            while (entry := await self._queue.get()) is not None:
                item, size = entry
                self._taken(size)
                yield item
        finally:
            self._consumers -= 1
            if not self._consumers:
                self._resume()

    def _taken(self, size: int) -> None:
        self._stats.buffered_bytes -= size
        if self._stats.buffered_bytes <= self._max // 2:
            self._resume()

    def _resume(self) -> None:
        if self._stats.paused:
            self._stats.paused = False
            self._set_reading(True)


def _size(item: RawItem) -> int:
    if isinstance(item, FrameBatch):
        return sum(map(len, item.frames))
    return _SNAPSHOT_BYTES


class _Subscription:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern.lower()
        self.queue: _Waitable[Message] = _Waitable()
        self._cache: dict[bytes, bool] = {}

    def matches(self, name: bytes) -> bool:
        hit = self._cache.get(name)
        if hit is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            text = name.decode("utf-8", "replace").lower()
            hit = self._cache[name] = fnmatchcase(text, self.pattern)
        return hit


class EventHub:
    """Parsed events for ``events(pattern)`` subscribers; frames are parsed only when some
    subscriber's pattern matches, and once for all of them. A subscription lives as long as
    its iterator (weakly held), so an iterator dropped unstarted costs nothing."""

    def __init__(self, stats: ClientStats) -> None:
        self._stats = stats
        self._subs: weakref.WeakSet[_Subscription] = weakref.WeakSet()
        self._closed = False

    def publish(self, frames: list[bytes]) -> None:
        if not self._subs:
            return
        for frame in frames:
            name = event_name(frame)
            if name:
                self._publish_one(frame, name)

    def _publish_one(self, frame: bytes, name: bytes) -> None:
        msg: Message | None = None
        for sub in self._subs:
            if not sub.matches(name):
                continue
            if len(sub.queue.items) >= EVENT_QUEUE_MAX:
                self._stats.dropped_events += 1
                continue
            if msg is None:
                msg = parse_frame(frame)
            sub.queue.put(msg)

    def subscribe(self, pattern: str) -> AsyncGenerator[Message, None]:
        """Registered now (events from this moment on), iterated later."""
        sub = _Subscription(pattern)
        if self._closed:
            sub.queue.close()
        self._subs.add(sub)
        return self._iterate(sub)

    async def _iterate(self, sub: _Subscription) -> AsyncGenerator[Message, None]:
        try:
            while (msg := await sub.queue.get()) is not None:
                yield msg
        finally:
            self._subs.discard(sub)

    def close(self) -> None:
        self._closed = True
        for sub in list(self._subs):
            sub.queue.close()
