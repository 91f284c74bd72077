"""Test helpers for ami-ingest: settings for a simulator, a running service, reading the raw
stream under a deadline. Used by this package's tests and by suite-level tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Protocol

import redis.asyncio as aioredis

import cbruntime
from cbruntime import Secret
from cbstreams import RedisLink, TailReader

from .main import IngestService
from .settings import HttpSettings, IngestSettings, PbxSettings

__all__ = [
    "SECRET",
    "Entries",
    "frames_of",
    "read_until",
    "running",
    "settings_for",
    "snap",
    "syncs",
    "until",
]

SECRET = "s3cret"  # noqa: S105 - the simulator's test secret
Entries = list[tuple[bytes, dict[bytes, bytes]]]


class _Endpoint(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


def settings_for(redis_url: str, prefix: str, sim: _Endpoint, **over: Any) -> IngestSettings:
    """One PBX ``main`` at ``sim`` (user ``crm``, secret ``SECRET``), instance ``a``, no HTTP."""
    pbx = PbxSettings(
        host=sim.host,
        port=sim.port,
        username="crm",
        secret=Secret(SECRET),
        auth="plain",
        ping_interval=30.0,
    )
    base = IngestSettings(
        redis_url=redis_url,
        key_prefix=prefix,
        instance="a",
        http=HttpSettings(port=-1),
        pbx={"main": pbx},
    )
    return replace(base, **over)


@asynccontextmanager
async def running(settings: IngestSettings) -> AsyncIterator[IngestService]:
    """An IngestService running in a task until the block ends (then stopped cleanly)."""
    async with cbruntime.running(IngestService(settings)) as service:
        yield service


async def read_until(
    redis: aioredis.Redis,
    key: str,
    done: Callable[[Entries], bool],
    timeout: float = 20.0,  # noqa: ASYNC109 - a deadline for the whole read, asserted
) -> Entries:
    """XREAD BLOCK the stream from its start until ``done(entries)`` (through Redis restarts:
    cbstreams.TailReader); fails after ``timeout``."""
    entries: Entries = []
    tail = TailReader(redis, {key: "0-0"}, count=1000, block_ms=200, link=RedisLink("test"))
    end = time.monotonic() + timeout
    while not done(entries):
        left = end - time.monotonic()
        assert left > 0, f"condition not met within {timeout}s; {len(entries)} entries read"  # noqa: S101
        entries.extend((entry_id, fields) for _, entry_id, fields in await tail.read())
    return entries


async def until(
    cond: Callable[[], Awaitable[bool] | bool],
    timeout: float = 20.0,  # noqa: ASYNC109 - a deadline, asserted
) -> None:
    """Poll ``cond`` under a deadline (a short tick between polls, never a blind wait)."""
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        assert time.monotonic() < end, "condition not met in time"  # noqa: S101
        await asyncio.sleep(0.02)


def frames_of(entries: Entries, sess: bytes | None = None) -> list[bytes]:
    """The ``raw`` of every non-sync entry (of session ``sess`` if given), in order."""
    return [
        d[b"raw"]
        for _, d in entries
        if d[b"ev"] != b"callbridge.sync" and (sess is None or d[b"sess"] == sess)
    ]


def syncs(entries: Entries) -> list[dict[bytes, bytes]]:
    return [d for _, d in entries if d[b"ev"] == b"callbridge.sync"]


def snap(entry: dict[bytes, bytes]) -> list[dict[str, Any]]:
    """The decoded ``snap`` field of a sync entry."""
    value: list[dict[str, Any]] = json.loads(entry[b"snap"])
    return value
