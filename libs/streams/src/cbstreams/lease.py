"""A lease: one owner at a time, kept alive by renewing before its TTL runs out.

``SET key owner NX PX ttl`` acquires; a Lua script renews (or re-takes a key that vanished,
e.g. after a Redis restart) only if nobody else holds it, and releases only if it is ours.
:attr:`Lease.held` is the local view: true until ``ttl`` after the last successful
acquire/renew *was sent*, so an owner cut off from Redis stops believing in its lease before
anybody else can take it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from .exceptions import LeaseLost, StreamUnavailable, redis_errors

__all__ = ["Lease"]

log = logging.getLogger(__name__)

_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """The lease ``key`` for ``owner`` with a TTL of ``ttl_ms``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        owner: str,
        *,
        ttl_ms: int = 3000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._clock = clock
        self._valid_until = 0.0
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @property
    def held(self) -> bool:
        return self._clock() < self._valid_until

    def _mark(self, ok: bool, sent_at: float) -> bool:
        self._valid_until = sent_at + self.ttl_ms / 1000 if ok else 0.0
        return ok

    async def acquire(self) -> bool:
        """Take the lease if it is free (or already ours). Raises StreamUnavailable."""
        sent = self._clock()
        with redis_errors():
            ok = await self._redis.set(self.key, self.owner, nx=True, px=self.ttl_ms)
            if not ok:
                ok = bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))
        return self._mark(bool(ok), sent)

    async def renew(self) -> bool:
        """Extend the lease if it is ours or free; False if someone else holds it."""
        sent = self._clock()
        with redis_errors():
            ok = await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms])
        return self._mark(bool(ok), sent)

    async def release(self) -> bool:
        """Delete the lease only if it is ours."""
        self._valid_until = 0.0
        with redis_errors():
            return bool(await self._release(keys=[self.key], args=[self.owner]))

    async def wait_acquired(self, poll_s: float = 0.5) -> None:
        """Poll until the lease is ours (standby). Redis errors are logged and retried."""
        while True:
            try:
                if await self.acquire():
                    return
            except StreamUnavailable as exc:
                log.warning("lease poll failed", extra={"key": self.key, "error": str(exc)})
            await asyncio.sleep(poll_s)

    async def keep(self, every_s: float = 1.0) -> None:
        """Renew every ``every_s`` forever. Raises LeaseLost if someone else took it; while
        Redis is unreachable it keeps trying (``held`` turns false after the TTL)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                if not await self.renew():
                    raise LeaseLost(f"lease {self.key} is held by another owner")
            except StreamUnavailable as exc:
                log.warning("lease renew failed", extra={"key": self.key, "error": str(exc)})
