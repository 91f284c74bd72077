"""Bitrix24's per-method operating budget as the client sees it, shared by every replica
through Redis (reference/bitrix24.md §2.3).

Each response says how many seconds of execution its method has used in the last 10 minutes
(``time.operating``) and when the oldest minute drops (``time.operating_reset_at``); ``batch``
says it per command (``result_time``). Beyond ``limit`` (480 s) the portal refuses that method
with 429 ``OPERATION_TIME_LIMIT``. The tracker keeps the latest figures per method in one Redis
hash per account, and :meth:`OperatingTracker.hold` asks callers to wait until the reset once a
method passes ``hold_at`` of its limit — other methods are unaffected.

``clock`` is the portal's clock as we know it (``time.time`` in production; a test's fake
portal may run an accelerated one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis

__all__ = ["OperatingTracker"]

_TTL_S = 660  # the window is 10 minutes: older figures mean nothing


class OperatingTracker:
    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        limit: float = 480.0,
        hold_at: float = 0.8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis, self._key = redis, key
        self.limit, self.hold_at, self.clock = limit, hold_at, clock

    def __repr__(self) -> str:
        return f"OperatingTracker(key={self._key!r}, limit={self.limit}, hold_at={self.hold_at})"

    async def observe(self, method: str, timing: Any) -> None:
        """Keep ``method``'s figures from a response's ``time`` block (if it has them)."""
        if not isinstance(timing, dict):
            return
        try:
            operating = float(timing["operating"])
            reset_at = float(timing["operating_reset_at"])
        except (KeyError, TypeError, ValueError):
            return
        await self._save(method, operating, reset_at)

    async def exhausted(self, method: str, reset_at: float | None) -> float:
        """The portal refused ``method`` (429): it is held until ``reset_at`` (the response's,
        else the last one known, else 10 s from now). Returns the seconds to wait."""
        if reset_at is None:
            _, known = await self.figures(method)
            reset_at = known if known > self.clock() else self.clock() + 10.0
        await self._save(method, self.limit, reset_at)
        return max(0.0, reset_at - self.clock())

    async def figures(self, method: str) -> tuple[float, float]:
        """(operating seconds, reset_at) last seen for ``method``; (0, 0) when unknown."""
        raw = await self._redis.hget(self._key, method.lower())
        return _parse(raw)

    async def hold(self, methods: Iterable[str]) -> tuple[str, float]:
        """The method among ``methods`` held longest and the seconds until its reset, or
        ("", 0.0) when all may go now."""
        names = sorted({m.lower() for m in methods})
        raws = await self._redis.hmget(self._key, names)
        now, worst = self.clock(), ("", 0.0)
        for name, raw in zip(names, raws, strict=True):
            operating, reset_at = _parse(raw)
            if operating >= self.limit * self.hold_at and reset_at - now > worst[1]:
                worst = (name, reset_at - now)
        return worst

    async def _save(self, method: str, operating: float, reset_at: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key, method.lower(), f"{operating} {reset_at}")
            pipe.expire(self._key, _TTL_S)
            await pipe.execute()


def _parse(raw: Any) -> tuple[float, float]:
    if raw is None:
        return 0.0, 0.0
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    operating, _, reset_at = text.partition(" ")
    try:
        return float(operating), float(reset_at)
    except ValueError:
        return 0.0, 0.0
