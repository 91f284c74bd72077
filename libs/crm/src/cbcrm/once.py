"""Exactly-once steps: a Redis record of each done step's result, by idempotency key.

``run(key, fn)`` returns the recorded result if the step was done, else runs ``fn`` and
records its result (``SET NX EX``). A crash after ``fn`` and before the record re-runs the
step on redelivery; that second request carries the same key to the CRM adapter (amoCRM
``uniq``, Bitrix24 ``EXTERNAL_CALL_ID``, the built-in CRM's idempotency table), which is what
closes that gap. Keys: ``{prefix}crm:done:{key}``, kept ``ttl_s`` (7 days).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import msgspec
import redis.asyncio as aioredis

__all__ = ["Once"]

T = TypeVar("T")


class Once:
    def __init__(self, redis: aioredis.Redis, *, prefix: str = "cb:", ttl_s: int = 7 * 86_400):
        self._redis = redis
        self._base = f"{prefix}crm:done:"
        self.ttl_s = ttl_s

    def key(self, key: str) -> str:
        return f"{self._base}{key}"

    async def result(self, key: str) -> bytes | None:
        """The recorded result of ``key``, or None if not done."""
        return cast(bytes | None, await self._redis.get(self.key(key)))

    async def results(self, *keys: str) -> list[bytes | None]:
        """The recorded results of ``keys`` (one round trip)."""
        return cast(list[bytes | None], await self._redis.mget([self.key(k) for k in keys]))

    async def record(self, key: str, result: bytes) -> bool:
        """Record ``key`` as done; False if it already was."""
        return bool(await self._redis.set(self.key(key), result, nx=True, ex=self.ttl_s))

    async def run(self, key: str, fn: Callable[[], Awaitable[T]], typ: type[T]) -> T:
        if (done := await self.result(key)) is not None:
            return msgspec.json.decode(done, type=typ)
        result = await fn()
        await self.record(key, msgspec.json.encode(result))
        return result
