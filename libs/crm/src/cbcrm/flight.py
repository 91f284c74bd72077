"""Single flight per phone number for everything that creates a CRM entity, across the
executors of one process and every replica: whoever holds ``{prefix}crm:flight:{E.164}``
looks the number up again and creates only what is still missing (a creator drops the
number's cached lookup before letting go), so N concurrent calls from one new number make
one contact and one deal.

The hold is a :class:`cbstreams.Lease` (``SET NX PX``, renewed while held, released only by
its owner); a holder that dies loses it after ``ttl_ms``. Within a process, callers of one
number queue on an ``asyncio.Lock`` first, so only one of them polls Redis. A caller that
cannot get the number within ``wait_s`` raises :class:`CrmTransientError` (tried again later,
nothing lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from cbstreams import Lease

from .exceptions import CrmTransientError

__all__ = ["NumberFlight"]


class NumberFlight:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "cb:",
        ttl_ms: int = 15_000,
        wait_s: float = 30.0,
        poll_s: float = 0.02,
        name: str = "flight",
    ) -> None:
        self._redis, self._base = redis, f"{prefix}crm:{name}:"
        self.ttl_ms, self.wait_s, self.poll_s = ttl_ms, wait_s, poll_s
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}
        self._owner = secrets.token_hex(8)

    def key(self, phone: str) -> str:
        return f"{self._base}{phone}"

    @contextlib.asynccontextmanager
    async def hold(self, phone: str, *, wait_s: float | None = None) -> AsyncIterator[None]:
        """Hold ``phone`` for the block (this process first, then across replicas); waits
        at most ``wait_s`` (default: the flight's) before :class:`CrmTransientError`."""
        wait = self.wait_s if wait_s is None else wait_s
        lock, users = self._local.get(phone, (asyncio.Lock(), 0))
        self._local[phone] = (lock, users + 1)
        try:
            async with asyncio.timeout(wait):
                await lock.acquire()
        except TimeoutError:
            self._leave(phone)
            raise CrmTransientError(
                f"number {phone} busy in another call", retry_after=1.0
            ) from None
        try:
            async with self._lease(phone, wait):
                yield
        finally:
            lock.release()
            self._leave(phone)

    def _leave(self, phone: str) -> None:
        lock, users = self._local[phone]
        if users <= 1:
            del self._local[phone]
        else:
            self._local[phone] = (lock, users - 1)

    @contextlib.asynccontextmanager
    async def _lease(self, phone: str, wait_s: float) -> AsyncIterator[None]:
        lease = Lease(self._redis, self.key(phone), f"{self._owner}:{id(asyncio.current_task())}",
                      ttl_ms=self.ttl_ms)  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline, step = loop.time() + wait_s, self.poll_s
        while not await lease.acquire():
            if loop.time() >= deadline:
                raise CrmTransientError(f"number {phone} busy on another replica", retry_after=1.0)
            await asyncio.sleep(step)
            step = min(step * 2, 0.25)
        keeper = asyncio.create_task(self._keep(lease))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await lease.release()

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            with contextlib.suppress(Exception):
                await lease.renew()
