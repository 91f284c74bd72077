"""Exactly-once steps: a Redis record of each done step's result, by idempotency key.

``run(key, fn)`` returns the recorded result if the step was done, else runs ``fn`` and
records its result (``SET NX EX``). A crash after ``fn`` and before the record re-runs the
step on redelivery; that second request carries the same key to the CRM adapter (amoCRM
``uniq``, Bitrix24 ``EXTERNAL_CALL_ID``, the built-in CRM's idempotency table), which is what
closes that gap. Keys: ``{prefix}crm:done:{key}``, kept ``ttl_s`` (7 days).

:class:`StepBook` is the batched form used by crm-sync's executors: the records a batch of
commands may need are read with one ``MGET`` up front, and the new ones are written with the
batch's acks (one pipeline, records before acks). The gap is the same — a crash before that
write repeats steps whose records were not written yet, with the same keys to the adapter.

**In flight.** A step that creates something without a native idempotency key (a contact,
a deal) is run with a ``reconcile`` function: before its request, a durable marker
``{prefix}crm:inflight:{key}`` is written at once (``SET NX``, not with the batch). Finding
the marker already there means an earlier attempt may have reached the CRM without its
result being recorded (a timeout, a crash): ``reconcile()`` searches the CRM first and its
find becomes the step's result; only if it finds nothing is the request sent again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar, cast

import msgspec
import redis.asyncio as aioredis

__all__ = ["Once", "Reconcile", "StepBook", "Steps"]

T = TypeVar("T")
Reconcile = Callable[[], Awaitable[T | None]]


class Once:
    def __init__(self, redis: aioredis.Redis, *, prefix: str = "cb:", ttl_s: int = 7 * 86_400):
        self._redis = redis
        self.prefix = prefix
        self._base = f"{prefix}crm:done:"
        self._inflight = f"{prefix}crm:inflight:"
        self.ttl_s = ttl_s

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

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

    async def begin(self, key: str) -> bool:
        """Mark ``key`` in flight before its request; False if an earlier attempt did."""
        return bool(await self._redis.set(f"{self._inflight}{key}", b"1", nx=True, ex=self.ttl_s))

    async def run(
        self,
        key: str,
        fn: Callable[[], Awaitable[T]],
        typ: type[T],
        reconcile: Reconcile[T] | None = None,
    ) -> T:
        if (done := await self.result(key)) is not None:
            return msgspec.json.decode(done, type=typ)
        result = await _attempt(self, key, fn, reconcile)
        await self.record(key, msgspec.json.encode(result))
        return result


async def _attempt(
    once: Once, key: str, fn: Callable[[], Awaitable[T]], reconcile: Reconcile[T] | None
) -> T:
    if reconcile is not None and not await once.begin(key):
        found = await reconcile()
        if found is not None:
            return found
    return await fn()


class Steps(Protocol):
    """What :class:`~cbcrm.sync.CallSync` needs to run steps exactly once."""

    async def results(self, *keys: str) -> list[bytes | None]: ...
    async def run(
        self,
        key: str,
        fn: Callable[[], Awaitable[T]],
        typ: type[T],
        reconcile: Reconcile[T] | None = None,
    ) -> T: ...


class StepBook:
    """Step records of a batch: read in advance, written later by the caller (``written``)."""

    def __init__(self, once: Once) -> None:
        self.once = once
        self.known: dict[str, bytes | None] = {}
        self.written: list[tuple[str, bytes]] = []

    async def prefetch(self, keys: Iterable[str], extra: Iterable[str] = ()) -> list[bytes | None]:
        """One MGET of the records ``keys`` (remembered) and of any other ``extra`` keys
        (full Redis key names, returned after the records, not remembered)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self.known]
        others = list(extra)
        names = [self.once.key(k) for k in wanted] + others
        if not names:
            return []
        values = cast(list[bytes | None], await self.once.redis.mget(names))
        self.known.update(zip(wanted, values, strict=False))
        return values[len(wanted) :]

    def record(self, key: str, result: bytes) -> None:
        """``key`` is done with ``result``: to be written with the batch."""
        self.known[key] = result
        self.written.append((key, result))

    async def results(self, *keys: str) -> list[bytes | None]:
        missing = [k for k in keys if k not in self.known]
        if missing:
            await self.prefetch(missing)
        return [self.known[k] for k in keys]

    async def run(
        self,
        key: str,
        fn: Callable[[], Awaitable[T]],
        typ: type[T],
        reconcile: Reconcile[T] | None = None,
    ) -> T:
        [done] = await self.results(key)
        if done is not None:
            return msgspec.json.decode(done, type=typ)
        result = await _attempt(self.once, key, fn, reconcile)
        self.record(key, msgspec.json.encode(result))
        return result
