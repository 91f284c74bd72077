"""Client-side rate limiters, set below each CRM's own limit.

* :class:`LocalLimiter` — ``aiolimiter``'s leaky bucket, for one process.
* :class:`RedisLimiter` — the same leaky bucket kept in Redis (one Lua script, Redis's clock),
  so that every replica of crm-sync shares one budget per CRM account.

A leaky bucket of capacity ``burst`` draining ``rate`` per second admits at most
``burst + rate * T`` requests in any window of ``T`` seconds: amoCRM (7 req/s in any second)
gets ``rate=5, burst=1``; Bitrix24 (its own bucket: 2/s, burst 50) gets ``rate=1.8, burst=40``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import redis.asyncio as aioredis
from aiolimiter import AsyncLimiter

__all__ = ["Limiter", "LocalLimiter", "RedisLimiter", "Unlimited"]


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
    """A leaky bucket in Redis shared by every replica that uses the same ``key``."""

    def __init__(self, redis: aioredis.Redis, key: str, *, rate: float, burst: int = 1) -> None:
        self._redis, self._key = redis, key
        self._rate, self._burst = rate, burst
        self._script = redis.register_script(_LEAKY_BUCKET)

    async def acquire(self) -> None:
        while True:
            wait_us = int(await self._script(keys=[self._key], args=[self._rate, self._burst]))
            if wait_us == 0:
                return
            await asyncio.sleep(wait_us / 1_000_000)
