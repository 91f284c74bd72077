"""A lease: one owner at a time, kept alive by renewing before its TTL runs out, with a
generation that fences what an owner writes.

Keys: ``key`` (the lease, ``PX ttl``; value = the owner's token ``<owner>#<generation>.<nonce>``),
``key:gen`` (the generation counter), ``key:holder`` (the token of the last owner that did not
release it; no TTL) and ``key:free`` (when a standby first found the lease lapsed).

* Acquire (one Lua script, also used to renew): our token → extend it. Held under our owner
  name by an earlier process of ours (a restarted replica, which has no token yet) → take it
  over with a new generation, fencing the old process out. Free, and the last
  holder is us (it lapsed, e.g. Redis restarted or was unreachable for longer than the TTL) →
  re-take it with the *same* generation. Free and last held by another owner that did not
  release it → wait ``handover_grace_ms`` of it staying free (Redis time), so that a live owner
  cut off by an outage re-takes it first, with everything it buffered; then take it with a new
  generation. Free otherwise → take it with a new generation.
* Release (Lua): delete the lease and the holder only if ours — a clean hand-over, no grace.
* :attr:`Lease.held` is the local view: true until ``ttl`` after the last successful
  acquire/renew *was sent*, so an owner cut off from Redis stops believing in its lease before
  anybody else can take it. :attr:`Lease.token` fences writes: a script that checks the lease
  still holds the token (e.g. :meth:`cbstreams.StreamPublisher.publish_fenced`) writes only
  for the current generation.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from .exceptions import LeaseLost, StreamUnavailable, redis_errors
from .outage import RedisLink

__all__ = ["Lease"]

log = logging.getLogger(__name__)

# KEYS: lease, holder, gen, free. ARGV: owner, ttl_ms, grace_ms, our token ('' if none),
# a fresh nonce (so a generation counter that restarted after a data loss never repeats a token)
_ACQUIRE = """
local mine = string.sub(ARGV[1], 1, -1) .. '#'
local v = redis.call('GET', KEYS[1])
if v then
  if v == ARGV[4] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return v end
  if ARGV[4] ~= '' or string.sub(v, 1, #mine) ~= mine then return false end
  -- held under our name by a previous process of ours (restarted): take it over below
else
  local h = redis.call('GET', KEYS[2])
  if h and h == ARGV[4] then
    redis.call('SET', KEYS[1], h, 'PX', ARGV[2])
    redis.call('DEL', KEYS[4])
    return h
  end
  local grace = tonumber(ARGV[3])
  if h and grace > 0 and string.sub(h, 1, #mine) ~= mine then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local since = redis.call('GET', KEYS[4])
    if not since then
      redis.call('SET', KEYS[4], now, 'PX', grace * 4)
      return false
    end
    if now - tonumber(since) < grace then return false end
  end
end
local tok = ARGV[1] .. '#' .. redis.call('INCR', KEYS[3]) .. '.' .. ARGV[5]
redis.call('SET', KEYS[1], tok, 'PX', ARGV[2])
redis.call('SET', KEYS[2], tok)
redis.call('DEL', KEYS[4])
return tok
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
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
        handover_grace_ms: int = 0,
        clock: Callable[[], float] = time.monotonic,
        link: RedisLink | None = None,
    ) -> None:
        self._redis = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms
        self.handover_grace_ms = handover_grace_ms
        self._clock = clock
        self._valid_until = 0.0
        #: ``<owner>#<generation>.<nonce>`` while we hold (or last held) the lease, else "".
        self.token = ""
        self.link = link or RedisLink(f"lease {key}")
        self._keys = [key, f"{key}:holder", f"{key}:gen", f"{key}:free"]
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    @property
    def held(self) -> bool:
        return self._clock() < self._valid_until

    @property
    def generation(self) -> int:
        """The generation of our token (0 if we never held the lease)."""
        return int(self.token.rpartition("#")[2].partition(".")[0]) if self.token else 0

    async def _call(self) -> bool:
        sent = self._clock()
        args: list[str | int] = [self.owner, self.ttl_ms, self.handover_grace_ms, self.token,
                                 secrets.token_hex(4)]  # fmt: skip
        with redis_errors():
            got = await self._acquire(keys=self._keys, args=args)
        if got:
            self.token = got.decode() if isinstance(got, bytes) else str(got)
            self._valid_until = sent + self.ttl_ms / 1000
            return True
        self._valid_until = 0.0
        return False

    async def acquire(self) -> bool:
        """Take the lease if it is free (or already ours). Raises StreamUnavailable."""
        return await self._call()

    async def renew(self) -> bool:
        """Extend the lease if it is ours (or re-take it if it lapsed while ours); False if
        someone else holds it. Raises LeaseLost if it came back as a *new* generation of ours:
        Redis lost its data (restarted without persistence, or restored from an old copy), so
        whatever the owner derived from Redis state must be rebuilt."""
        old = self.token
        ok = await self._call()
        if ok and old and self.token != old:
            log.warning("lease came back as a new generation: Redis lost its data",
                        extra={"key": self.key, "was": old, "now": self.token})  # fmt: skip
            raise LeaseLost(f"lease {self.key}: Redis lost its data ({old} -> {self.token})")
        return ok

    async def release(self) -> bool:
        """Delete the lease only if it is ours."""
        self._valid_until = 0.0
        token, self.token = self.token, ""
        if not token:
            return False
        with redis_errors():
            return bool(await self._release(keys=self._keys[:2], args=[token]))

    async def wait_acquired(self, poll_s: float = 0.5) -> None:
        """Poll until the lease is ours (standby). Redis outages are waited out (logged once)."""
        while True:
            try:
                if await self.acquire():
                    self.link.ok()
                    return
                self.link.ok()
            except StreamUnavailable as exc:
                await self.link.failed(exc)
                continue
            await asyncio.sleep(poll_s)

    async def keep(self, every_s: float = 1.0) -> None:
        """Renew every ``every_s`` forever. Raises LeaseLost if someone else took it; while
        Redis is unreachable it keeps trying (``held`` turns false after the TTL) and re-takes
        the lease when Redis returns, unless another owner took it in between."""
        while True:
            await asyncio.sleep(every_s if self.link.up else min(every_s, self.link.delay()))
            try:
                ok = await self.renew()
            except StreamUnavailable as exc:
                self.link.down(exc)
                continue
            self.link.ok()
            if not ok:
                raise LeaseLost(f"lease {self.key} is held by another owner")
