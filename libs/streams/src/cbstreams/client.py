"""Building the Redis client that cbstreams code expects."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["connect"]


def connect(
    url: str, *, connect_timeout: float = 2.0, max_connections: int | None = None
) -> aioredis.Redis:
    """A bytes-mode client for ``url`` that never re-sends a command on its own and whose
    commands can always be cancelled.

    * redis-py's default retry re-sends a pipeline after a connection error, which can append
      a batch twice; callers here retry explicitly and know what already landed.
    * redis-py's default 5 s ``socket_timeout`` wraps every send in ``asyncio.wait_for``,
      which on Python 3.11 can swallow a task's cancellation (the task then never stops:
      a TaskGroup waits forever). No socket timeout; TCP keepalive finds dead peers.
    * ``max_connections`` bounds the pool (redis-py's default: 100); a client whose commands
      block (``XREAD BLOCK`` per subscriber) needs one connection per waiting reader.
    """
    options: dict[str, Any] = {} if url.startswith("unix:") else {"socket_keepalive": True}
    if max_connections is not None:
        options["max_connections"] = max_connections
    return aioredis.Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=None,
        socket_connect_timeout=connect_timeout,
        **options,
    )
