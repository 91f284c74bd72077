"""Idempotency records: what a write with key ``k`` produced, kept in Redis.

CRMs without a native idempotency key (contacts, deals, tasks everywhere; Bitrix24 finish)
are protected by recording the outcome under the command's key right after the request
succeeds; a redelivered command finds the record and returns the same id without a request.
(A crash between the request and the record can still repeat a write: documented.)
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

__all__ = ["Memo"]


class Memo:
    """At most ``max_in_flight`` Redis commands at once: a burst of thousands of commands
    waits here for a connection instead of exhausting the client's pool."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        ttl_s: int = 30 * 86400,
        max_in_flight: int = 32,
    ) -> None:
        self._redis, self._prefix, self._ttl = redis, prefix, ttl_s
        self.redis, self.prefix = redis, prefix
        self._slots = asyncio.Semaphore(max_in_flight)

    def _key(self, action: str, key: str) -> str:
        return f"{self._prefix}{action}:{key}"

    async def get(self, action: str, key: str) -> str | None:
        async with self._slots:
            raw = await self._redis.get(self._key(action, key))
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def put(self, action: str, key: str, value: str) -> None:
        async with self._slots:
            await self._redis.set(self._key(action, key), value, ex=self._ttl)

    async def claim(self, action: str, key: str, ttl_s: float) -> bool:
        """Take the right to do ``action`` for ``key`` (``SET NX``, ``ttl_s``); False if
        someone holds it (they will :meth:`put` the result)."""
        async with self._slots:
            return bool(
                await self._redis.set(
                    self._key(f"{action}:claim", key), b"1", nx=True, px=int(ttl_s * 1000)
                )
            )

    async def release(self, action: str, key: str) -> None:
        async with self._slots:
            await self._redis.delete(self._key(f"{action}:claim", key))
