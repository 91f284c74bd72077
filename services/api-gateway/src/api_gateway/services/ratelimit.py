"""Per-key rate limit: a fixed one-minute window counter in Redis (one Lua round-trip)."""

from __future__ import annotations

import math
from typing import cast

import redis.asyncio as aioredis

__all__ = ["RateLimiter"]

_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, prefix: str, window_ms: int = 60_000) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._prefix = prefix
        self._window_ms = window_ms

    async def hit(self, key_id: str, limit: int) -> float | None:
        """Count one request; None if allowed, else the seconds until the window resets."""
        reply = await self._script(keys=[f"{self._prefix}gw:rl:{key_id}"], args=[self._window_ms])
        count, ttl_ms = cast(list[int], reply)
        if count <= limit:
            return None
        return max(1.0, math.ceil(ttl_ms / 1000))
