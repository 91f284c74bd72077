"""Real Redis for tests: ``REDIS_URL`` if set, else a ``redis-server`` this session starts on
a unix socket, else a testcontainers Redis where a Docker engine answers.

Readiness is PING answering under a deadline, never a log line. Every test gets its own key
prefix (``redis_prefix``); nothing is ever flushed, so a shared ``REDIS_URL`` is safe.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from .client import connect
from .localredis import RedisProcess, local_redis_server, redis_process, wait_for_ping


@contextlib.contextmanager
def _container_redis() -> Iterator[str]:
    from testcontainers.redis import RedisContainer

    with RedisContainer() as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(6379)
        url = f"redis://{host}:{port}/0"
        wait_for_ping(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis that answers PING."""
    url = os.environ.get("REDIS_URL")
    if url:
        wait_for_ping(url)
        yield url
        return
    if shutil.which("redis-server"):
        with local_redis_server() as local:
            yield local
        return
    try:
        with _container_redis() as container:
            yield container
    except Exception as exc:  # docker missing or not running
        pytest.fail(f"no Redis: set REDIS_URL, install redis-server, or run Docker ({exc})")


@pytest.fixture
def redis_prefix() -> str:
    """A fresh key prefix for this test, e.g. ``t3f2a…:``. Use it for every key you create."""
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio client (bytes responses) built like production ones (``cbstreams.connect``:
    cancellable, no auto-retry). Deletes only this test's keys afterwards."""
    client = connect(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def restartable_redis() -> Iterator[RedisProcess]:
    """A private redis-server for this test only (AOF ``everysec``, a free TCP port), which the
    test may stop, kill and start again: for outage tests. Never the shared session Redis."""
    with redis_process() as server:
        yield server
