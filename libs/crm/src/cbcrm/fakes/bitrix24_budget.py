"""The fake portal's per-method operating budget (reference/bitrix24.md §2.3): every executed
call costs its method simulated seconds, summed in 10 one-minute buckets; a method whose sum
reaches ``limit`` (480 s) is refused with 429 ``OPERATION_TIME_LIMIT`` until its oldest bucket
drops (``operating_reset_at``). The clock is the wall clock plus ``offset``, which tests move
with :meth:`OperatingBudget.advance` instead of waiting minutes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OperatingBudget"]

BUCKETS = 10  # one-minute buckets in the window


@dataclass
class OperatingBudget:
    limit: float = 480.0
    default_cost: float = 0.05
    costs: dict[str, float] = field(default_factory=dict)  # method (any case) → seconds a call
    offset: float = 0.0
    _spent: dict[str, dict[int, float]] = field(default_factory=dict)

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def set_cost(self, method: str, seconds: float) -> None:
        self.costs[method.lower()] = seconds

    def cost(self, method: str) -> float:
        return self.costs.get(method.lower(), self.default_cost)

    def _buckets(self, method: str) -> dict[int, float]:
        minute = int(self.now() // 60)
        buckets = self._spent.setdefault(method.lower(), {})
        for old in [m for m in buckets if m <= minute - BUCKETS]:
            del buckets[old]
        return buckets

    def operating(self, method: str) -> float:
        return round(sum(self._buckets(method).values()), 4)

    def reset_at(self, method: str) -> int:
        """When the oldest bucket of ``method`` drops (now, when it has none)."""
        buckets = self._buckets(method)
        return (min(buckets) + BUCKETS) * 60 if buckets else int(self.now())

    def blocked(self, method: str) -> bool:
        return self.operating(method) >= self.limit

    def spend(self, method: str, seconds: float | None = None) -> float:
        """Charge one call of ``method`` (its configured cost unless ``seconds``)."""
        cost = self.cost(method) if seconds is None else seconds
        buckets = self._buckets(method)
        minute = int(self.now() // 60)
        buckets[minute] = buckets.get(minute, 0.0) + cost
        return cost

    def preload(self, method: str, seconds: float) -> None:
        """Time another application spent on ``method`` of this portal just now."""
        self.spend(method, seconds)

    def timing(self, method: str, duration: float = 0.0) -> dict[str, Any]:
        """The ``time`` block of a response to ``method``."""
        now = self.now()
        return {
            "start": now,
            "finish": now + duration,
            "duration": duration,
            "processing": duration,
            "date_start": _iso(now),
            "date_finish": _iso(now + duration),
            "operating_reset_at": self.reset_at(method),
            "operating": self.operating(method),
        }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))
