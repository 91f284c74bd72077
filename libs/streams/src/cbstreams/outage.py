"""Redis outages as an ordinary state: one :class:`RedisLink` per service says whether Redis
answers, logs the outage once (not per retry) and its end once, and paces retries with
jittered exponential backoff. Health endpoints and metrics read :attr:`RedisLink.up`.

    link = RedisLink("call-tracker")
    while not stop.is_set():
        try:
            await step()
            link.ok()
        except StreamUnavailable as exc:
            await link.failed(exc, stop)   # logs once, sleeps the backoff (or until stop)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from .exceptions import StreamUnavailable, redis_errors

__all__ = ["RedisLink", "wait_for_redis"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisLink:
    """The state of one service's connection to Redis, shared by its loops."""

    def __init__(
        self,
        name: str,
        *,
        base_s: float = 0.05,
        max_s: float = 2.0,
        settle_s: float = 2.0,
        on_change: Callable[[bool], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.base_s, self.max_s, self.settle_s = base_s, max_s, settle_s
        self.up = True
        self.down_since: float | None = None
        self.outages = 0
        self._recovered_at: float | None = None
        self._quiet = False
        self._on_change = on_change
        self._failures = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def ok(self) -> None:
        """A Redis call succeeded: log the end of an outage once."""
        self._failures = 0
        if self.up:
            return
        now = time.monotonic()
        took = now - (self.down_since or now)
        self.up, self.down_since, self._recovered_at = True, None, now
        if self._quiet:
            return
        log.info("redis reachable again", extra={"service": self.name, "down_s": round(took, 2)})
        if self._on_change is not None:
            self._on_change(True)

    def delay(self) -> float:
        """The next backoff: full jitter over ``base * 2**failures``, capped at ``max_s``."""
        cap = min(self.max_s, self.base_s * 2 ** min(self._failures, 16))
        return self._rng.uniform(cap / 2, cap)

    def down(self, exc: BaseException) -> float:
        """A Redis call failed: log the outage once; the seconds to wait before retrying.

        Right after a recovery, pooled connections that died with the old server fail once
        each: such failures within ``settle_s`` of the recovery are part of the same outage
        (not logged again) unless they go on for longer than ``settle_s``."""
        now = time.monotonic()
        if self.up:
            self.up, self.down_since = False, now
            self._quiet = (
                self._recovered_at is not None and now - self._recovered_at < self.settle_s
            )
            if not self._quiet:
                self._announce(exc)
        elif self._quiet and now - (self.down_since or now) >= self.settle_s:
            self._quiet = False
            self._announce(exc)
        delay = self.delay()
        self._failures += 1
        return delay

    def _announce(self, exc: BaseException) -> None:
        self.outages += 1
        log.warning(
            "redis unreachable: waiting for it",
            extra={"service": self.name, "error": f"{type(exc).__name__}: {exc}"},
        )
        if self._on_change is not None:
            self._on_change(False)

    async def failed(self, exc: BaseException, stop: asyncio.Event | None = None) -> None:
        """:meth:`down`, then wait the backoff (returns early when ``stop`` is set)."""
        delay = self.down(exc)
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stop.wait()

    async def retry(
        self, call: Callable[[], Awaitable[T]], stop: asyncio.Event | None = None
    ) -> T | None:
        """``await call()`` until it does not raise StreamUnavailable; None if ``stop`` came
        first. Redis errors raised by redis-py inside ``call`` count as StreamUnavailable."""
        while stop is None or not stop.is_set():
            try:
                with redis_errors():
                    value = await call()
            except StreamUnavailable as exc:
                await self.failed(exc, stop)
                continue
            self.ok()
            return value
        return None


async def wait_for_redis(
    redis: aioredis.Redis, link: RedisLink, stop: asyncio.Event | None = None
) -> bool:
    """Return once Redis answers PING (logging once that we wait); False if ``stop`` first.
    A service calls this before its first command, so a suite started before Redis waits."""
    return await link.retry(redis.ping, stop) is not None
