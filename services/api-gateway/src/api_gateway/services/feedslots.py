"""Open feeds per principal (key or operator session), capped: each feed holds a Redis
connection and may replay from the start, so one credential cannot take them all."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from ..errors import ApiError

__all__ = ["FeedSlots"]


class FeedSlots:
    """Open feeds per principal, capped (each feed holds a Redis connection)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def count(self, principal_id: str) -> int:
        return self._open[principal_id]

    @contextlib.contextmanager
    def take(self, principal_id: str) -> Iterator[None]:
        if self._open[principal_id] >= self.limit:
            raise ApiError(429, "too-many-feeds", "Too many feeds",
                           f"at most {self.limit} feeds at once per key or session")  # fmt: skip
        self._open[principal_id] += 1
        try:
            yield
        finally:
            self._open[principal_id] -= 1
            if self._open[principal_id] <= 0:
                del self._open[principal_id]
