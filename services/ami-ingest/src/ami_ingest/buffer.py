"""The bounded, ordered buffer between the AMI reader and the Redis publisher.

Items go in in arrival order and leave from the front only after they were published. When
the bound is reached :meth:`FrameBuffer.put` waits until half of it has drained: the reader
stops consuming the client's batches, and the client stops reading its socket (backpressure,
nothing dropped).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

__all__ = ["FrameBuffer", "Item"]


@dataclass(frozen=True, slots=True)
class Item:
    """The frames of one socket read, or one sync entry (``sync`` = its extra fields)."""

    session: int
    rx_us: int
    frames: list[bytes]
    sync: tuple[bytes, bytes] | None = None  # (banner, snap JSON)

    @property
    def size(self) -> int:
        extra = len(self.sync[1]) if self.sync else 0
        return sum(map(len, self.frames)) + extra + 64

    @property
    def count(self) -> int:
        return 1 if self.sync else len(self.frames)


class FrameBuffer:
    """FIFO of :class:`Item` bounded by ``max_bytes`` (one item may exceed it)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: deque[Item] = deque()
        self._changed = asyncio.Condition()

    @property
    def full(self) -> bool:
        return self.bytes >= self.max_bytes

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: Item) -> None:
        """Append. A full buffer makes this wait until it has drained to half (hysteresis:
        reading resumes in long runs instead of flapping at the bound)."""
        async with self._changed:
            if self.full:
                await self._changed.wait_for(lambda: self.bytes <= self.max_bytes // 2)
            self._items.append(item)
            self.bytes += item.size
            self._changed.notify_all()

    async def peek(self, max_entries: int) -> list[Item]:
        """The oldest items, up to ``max_entries`` entries (at least one item); waits."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items))
            out: list[Item] = []
            n = 0
            for item in self._items:
                if out and n + item.count > max_entries:
                    break
                out.append(item)
                n += item.count
            return out

    async def drop(self, n: int) -> None:
        """Remove the ``n`` oldest items (they were published)."""
        async with self._changed:
            for _ in range(n):
                self.bytes -= self._items.popleft().size
            self._changed.notify_all()
