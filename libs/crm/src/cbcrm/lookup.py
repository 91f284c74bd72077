"""Lookup cache: one CRM request per number however many calls ask, shared by replicas.

* **TTL**: a found number is cached ``ttl_s`` (5 min), a number the CRM does not know
  ``negative_ttl_s`` (30 s: a contact created in the CRM by hand shows up soon).
* **Single flight**: concurrent :meth:`LookupCache.get` calls for one number in one process
  share one future; across replicas a short Redis lock (``SET NX PX``) elects the one that
  asks the CRM while the others wait for its answer (bounded by the lock's life).
* **Invalidation**: :meth:`LookupCache.invalidate` after we create or update an entity. A
  generation counter per number makes it safe against a lookup already in flight: an answer
  fetched before the invalidation is never written after it.

Keys (hash tag = the number, so a number's keys share a Redis Cluster slot)::

    {prefix}crm:{crm}:lookup:{+7916…}       msgpack Lookup, EX ttl
    {prefix}crm:{crm}:lookup:{+7916…}:gen   invalidation counter
    {prefix}crm:{crm}:lookup:{+7916…}:lock  single-flight lock across replicas, PX lock_ms
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
import redis.asyncio as aioredis

from .adapter import Deal, Entity, Lookup
from .exceptions import CrmTransientError
from .remote.limits import lane

__all__ = ["Fetch", "LookupCache"]

Fetch = Callable[[str], Awaitable[Lookup]]

_SET_IF_GEN = """
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"

_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Lookup)


class LookupCache:
    """Cached, single-flight lookups of E.164 numbers through ``fetch`` (an adapter's
    ``lookup``)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        fetch: Fetch,
        *,
        crm: str,
        prefix: str = "cb:",
        ttl_s: int = 300,
        negative_ttl_s: int = 30,
        lock_ms: int = 3000,
        wait_step_s: float = 0.005,
    ) -> None:
        self._redis, self._fetch = redis, fetch
        self._base = f"{prefix}crm:{crm}:lookup:"
        self.ttl_s, self.negative_ttl_s = ttl_s, negative_ttl_s
        self.lock_ms, self.wait_step_s = lock_ms, wait_step_s
        self._inflight: dict[str, asyncio.Future[Lookup]] = {}
        self._set_if_gen: Any = redis.register_script(_SET_IF_GEN)
        self._unlock: Any = redis.register_script(_UNLOCK)
        self.hits = self.misses = self.fetches = 0

    def key(self, phone: str) -> str:
        return f"{self._base}{{{phone}}}"

    async def get(self, phone: str) -> Lookup:
        """What the CRM knows about ``phone`` (E.164), from the cache when fresh."""
        cached = cast(bytes | None, await self._redis.get(self.key(phone)))
        if cached is not None:
            self.hits += 1
            return _dec.decode(cached)
        self.misses += 1
        if (running := self._inflight.get(phone)) is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Lookup] = asyncio.get_running_loop().create_future()
        self._inflight[phone] = future
        try:
            result = await self._load(phone)
        except BaseException as exc:
            shared = exc if isinstance(exc, Exception) else CrmTransientError("lookup cancelled")
            future.set_exception(shared)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[phone]

    async def invalidate(self, *phones: str) -> None:
        """Forget ``phones`` (after we created or changed an entity with them)."""
        if not phones:
            return
        pipe = self._redis.pipeline(transaction=False)
        for phone in phones:
            key = self.key(phone)
            pipe.incr(f"{key}:gen")
            pipe.expire(f"{key}:gen", max(self.ttl_s, 60) * 2)
            pipe.delete(key)
        await pipe.execute()

    async def amend(
        self, phone: str, *, entity: Entity | None = None, deal: tuple[str, Deal] | None = None
    ) -> None:
        """We just created ``entity`` / ``deal`` (entity id, deal) for ``phone``: write them
        into its cached lookup instead of dropping it (no lookup request to see our own
        write; a burst of calls from one number would otherwise refetch after each). With
        nothing cached, the number is simply forgotten (as :meth:`invalidate`)."""
        key = self.key(phone)
        cached = cast(bytes | None, await self._redis.get(key))
        if cached is None:
            await self.invalidate(phone)
            return
        found = _dec.decode(cached)
        entities = found.entities
        if entity is not None and all(e.id != entity.id for e in entities):
            if not entity.created_at:  # the newest, not "oldest" by a missing date
                entity = msgspec.structs.replace(entity, created_at=int(time.time()))
            entities = (*entities, entity)
        deals = dict(found.deals)
        if deal is not None:
            owner, new = deal
            if all(d.id != new.id for d in deals.get(owner, ())):
                deals[owner] = (*deals.get(owner, ()), new)
        amended = Lookup(phone=found.phone, entities=entities, deals=deals)
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(f"{key}:gen")  # a lookup in flight from before may not overwrite this
        pipe.expire(f"{key}:gen", max(self.ttl_s, 60) * 2)
        pipe.set(key, _enc.encode(amended), ex=self.ttl_s)
        await pipe.execute()

    async def _load(self, phone: str) -> Lookup:
        key = self.key(phone)
        token = secrets.token_hex(8)
        locked = await self._redis.set(f"{key}:lock", token, nx=True, px=self.lock_ms)
        if not locked and (waited := await self._wait_for_other(key)) is not None:
            return waited
        try:
            gen = await self._redis.get(f"{key}:gen") or b""
            self.fetches += 1
            with lane("cards"):  # a number's lookup is its card's data, whoever asks first
                result = await self._fetch(phone)
            ttl = self.ttl_s if result.entities else self.negative_ttl_s
            await self._set_if_gen(keys=[key, f"{key}:gen"], args=[gen, _enc.encode(result), ttl])
            return result
        finally:
            await self._unlock(keys=[f"{key}:lock"], args=[token])

    async def _wait_for_other(self, key: str) -> Lookup | None:
        """Another replica is asking the CRM: its answer, or None if its lock went away
        without one (it failed: ask ourselves). Polls; bounded by the lock's life."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_ms / 1000
        while loop.time() < deadline:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(key)
            pipe.exists(f"{key}:lock")
            value, locked = await pipe.execute()
            if value is not None:
                self.hits += 1
                return _dec.decode(value)
            if not locked:
                return None
            await asyncio.sleep(self.wait_step_s)
        return None
