"""Client-side rate limiters, set below each CRM's own limit.

* :class:`LocalLimiter` — ``aiolimiter``'s leaky bucket, for one process.
* :class:`RedisLimiter` — the same leaky bucket kept in Redis (one Lua script, Redis's clock),
  so that every replica of crm-sync shares one budget per CRM account.

A leaky bucket of capacity ``burst`` draining ``rate`` per second admits at most
``burst + rate * T`` requests in any window of ``T`` seconds: amoCRM (7 req/s in any second)
gets ``rate=4.5, burst=2``; Bitrix24 (its own bucket: 2/s, burst 50) gets ``rate=1.8, burst=40``.

**Priority lanes** within the one budget: the lane of the running task (:data:`LANE`:
``cards`` — the caller's card: lookups at call start, register/show/hide —, ``logging`` —
the finished call —, ``enrichment`` — anything that may wait) decides how full the bucket may
be for its request to go: cards use all of it, logging leaves ``reserve`` slots free for
cards, enrichment twice that. So a backlog of writes never stands between a ringing call and
its card: a card request finds room at once (or after other cards).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal, Protocol

import redis.asyncio as aioredis
from aiolimiter import AsyncLimiter

__all__ = ["LANE", "Lane", "Limiter", "LocalLimiter", "RedisLimiter", "Unlimited", "lane"]

Lane = Literal["cards", "logging", "enrichment"]
LANE: ContextVar[Lane] = ContextVar("crm_lane", default="logging")
_DEPTH: dict[Lane, int] = {"cards": 0, "logging": 1, "enrichment": 2}


@contextlib.contextmanager
def lane(name: Lane) -> Iterator[None]:
    """CRM requests made in the block (this task and tasks it starts) go in lane ``name``."""
    token = LANE.set(name)
    try:
        yield
    finally:
        LANE.reset(token)


class Limiter(Protocol):
    async def acquire(self) -> None:
        """Return when one more request may be sent now."""


class Unlimited:
    async def acquire(self) -> None:
        return None


class LocalLimiter:
    """A per-process leaky bucket: ``burst`` at once, then ``rate`` per second."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        self._limiter = AsyncLimiter(burst, burst / rate)

    async def acquire(self) -> None:
        await self._limiter.acquire()


# KEYS[1] = bucket hash; ARGV = rate/s, capacity. Returns 0 (admitted) or the wait in µs.
_LEAKY_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or 0
local ts = tonumber(state[2]) or now
level = math.max(0, level - (now - ts) * rate / 1000000)
if level + 1 <= capacity then
  redis.call('HSET', KEYS[1], 'level', tostring(level + 1), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
  return 0
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', tostring(now))
return math.ceil((level + 1 - capacity) / rate * 1000000)
"""


class RedisLimiter:
    """A leaky bucket in Redis shared by every replica that uses the same ``key``; lanes
    below ``cards`` leave ``reserve`` slots per level (default: a fifth of ``burst``, at
    least 1 when ``burst`` > 1)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        rate: float,
        burst: int = 1,
        reserve: int | None = None,
    ) -> None:
        self._redis, self._key = redis, key
        self._rate, self._burst = rate, burst
        self.reserve = reserve if reserve is not None else (max(1, burst // 5) if burst > 1 else 0)
        self._script = redis.register_script(_LEAKY_BUCKET)

    def capacity(self, name: Lane) -> float:
        """How full the bucket may be for a request of lane ``name`` to go."""
        return max(1.0, self._burst - self.reserve * _DEPTH[name])

    async def acquire(self) -> None:
        capacity = self.capacity(LANE.get())
        while True:
            wait_us = int(await self._script(keys=[self._key], args=[self._rate, capacity]))
            if wait_us == 0:
                return
            await asyncio.sleep(wait_us / 1_000_000)
