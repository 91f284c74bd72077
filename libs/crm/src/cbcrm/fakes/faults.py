"""Faults a test injects into a fake CRM, and the measures tests take of what it received."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["Faults", "max_in_window", "max_leaky_level"]


class Faults:
    """Statuses that the next requests get instead of an answer, in order."""

    def __init__(self) -> None:
        self._queue: deque[int] = deque()
        self.down_status: int | None = None  # every request gets this until cleared
        self._slow: list[list[Any]] = []  # [requests left, seconds, path prefix]

    def slow(self, times: int, seconds: float, path: str = "") -> None:
        """The next ``times`` requests (to ``path…``, if given) are done at once but answered
        ``seconds`` later (a client with a shorter timeout sees no reply for a request that
        was applied)."""
        self._slow.append([times, seconds, path])

    def next_delay(self, path: str = "") -> float:
        for rule in self._slow:
            if rule[0] > 0 and path.startswith(rule[2]):
                rule[0] -= 1
                return float(rule[1])
        return 0.0

    @property
    def slow_pending(self) -> int:
        return sum(rule[0] for rule in self._slow)

    def fail(self, times: int, status: int = 500) -> None:
        """The next ``times`` requests get ``status`` (500, 503, 429, ...)."""
        self._queue.extend([status] * times)

    def clear(self) -> None:
        self._queue.clear()
        self._slow.clear()
        self.down_status = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def next_status(self) -> int | None:
        if self.down_status is not None:
            return self.down_status
        return self._queue.popleft() if self._queue else None


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most requests that arrived within any ``window`` seconds (half-open windows)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def max_leaky_level(times: Sequence[float], rate: float) -> float:
    """The highest level a leaky bucket draining ``rate``/s reaches over these arrivals."""
    level, last, best = 0.0, None, 0.0
    for t in sorted(times):
        if last is not None:
            level = max(0.0, level - (t - last) * rate)
        level += 1
        last = t
        best = max(best, level)
    return best
