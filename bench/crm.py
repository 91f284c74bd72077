"""crm-sync benchmark: cached lookups and calls logged end to end in the built-in CRM.

Usage: ``uv run python bench/crm.py [--lookups N] [--calls N]``. Uses ``REDIS_URL`` or a
private redis-server. Prints ``name=value`` lines:

* ``crm_lookup_cached_per_s`` / ``crm_lookup_cached_p99_ms``: ``LookupCache.get`` of a cached
  number (16 concurrent callers for the rate; one at a time for the latency);
* ``crm_calls_logged_per_s``: finished calls on ``cb:calls`` -> planner -> ``cb:crm:commands``
  -> executor -> a call log row in the built-in CRM (SQLite file, WAL), until the last one;
* ``crm_calls_logged_per_s_fake``: the same through the amoCRM adapter (built from settings:
  OAuth, Redis tokens and limiter) against the fake amoCRM on 127.0.0.1 with its rate limit
  off (and ours far above it), until the fake holds every call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cbcrm.adapter import CrmAdapter
from cbcrm.builtin import BuiltinCrm
from cbcrm.fakes import FakeAmoCrm
from cbcrm.lookup import LookupCache
from cbruntime import Secret
from cbstreams import connect
from cbstreams.localredis import local_redis_server
from crm_sync.main import CrmSyncService
from crm_sync.remote_settings import AmoSyncSettings, RemoteLimits
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, ExecutorSettings
from crm_sync.testing import CallScript, publish_calls

PHONES = ["+79161234567", "+79031112233", "+79265554433", "+74951234567"]


@contextlib.asynccontextmanager
async def redis_url() -> AsyncIterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with local_redis_server() as url:
        yield url


async def bench_lookups(url: str, crm: BuiltinCrm, n: int) -> None:
    redis = connect(url)
    try:
        cache = LookupCache(redis, crm.lookup, crm="bench", prefix=f"bench{time.time_ns()}:")
        for phone in PHONES:
            await cache.get(phone)
        lat = []
        for i in range(n // 4):
            t0 = time.perf_counter()
            await cache.get(PHONES[i % 4])
            lat.append(time.perf_counter() - t0)
        lat.sort()

        async def worker(k: int) -> None:
            for i in range(n // 16):
                await cache.get(PHONES[(i + k) % 4])

        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for k in range(16):
                tg.create_task(worker(k))
        rate = (n // 16) * 16 / (time.perf_counter() - t0)
        print(f"crm_lookup_cached_per_s={rate:.0f}")
        print(f"crm_lookup_cached_p99_ms={lat[int(len(lat) * 0.99)] * 1000:.3f}")
    finally:
        await redis.aclose()


def call_settings(url: str, p: str, **kw: Any) -> CrmSyncSettings:
    return CrmSyncSettings(
        redis_url=url, key_prefix=p, instance="bench", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events",
        dead_stream=f"{p}dead", block_ms=50, batch=500, log_json=False,
        builtin=BuiltinSettings(path=":memory:"),
        executor=ExecutorSettings(workers=32, batch=256), **kw,
    )  # fmt: skip


async def bench_calls(
    url: str,
    settings: CrmSyncSettings,
    crm: CrmAdapter | None,
    count: Callable[[], Awaitable[int]],
    n: int,
    name: str,
) -> None:
    """``n`` calls through the service (``crm`` = None: it builds its adapter itself) until
    ``count()`` grew by ``n``."""
    p = settings.key_prefix
    redis = connect(url)
    events: list[Any] = []
    for i in range(n):
        s = CallScript(f"b{i}", PHONES[i % 4])
        events += [s.started(), s.ended("answered", 30, answered_by="100", extension="100",
                                        rang=("100",), talk_seconds=25)]  # fmt: skip
    before = await count()
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(CrmSyncService(settings, adapter=crm).run(stop))
            t0 = time.perf_counter()
            for start in range(0, len(events), 1000):
                await publish_calls(redis, settings.calls_stream, events[start : start + 1000])
            while await count() < before + n:  # noqa: ASYNC110 - rows in SQLite / the fake
                await asyncio.sleep(0.01)
            rate = n / (time.perf_counter() - t0)
            stop.set()
        print(f"{name}={rate:.0f}")
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{p}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def bench_fake_amocrm(url: str, n: int) -> None:
    async with FakeAmoCrm(rate=0) as amo:
        st = amo.state
        user = st.add_user("Bench", admin=True)
        for phone in PHONES:
            st.add_contact(f"Contact {phone}", [phone], responsible=user)
        amo_settings = AmoSyncSettings(
            base_url=amo.url, client_id=st.client_id, client_secret=Secret(st.client_secret),
            redirect_uri=st.redirect_uri, auth_code=Secret(st.issue_code()),
            extensions={str(user): "100"}, limits=RemoteLimits(rate=100_000, burst=10_000),
        )  # fmt: skip
        p = f"bench{time.time_ns()}:"
        settings = call_settings(url, p, adapter="amocrm", amocrm=amo_settings)

        async def count() -> int:
            return len(st.calls)

        await bench_calls(url, settings, None, count, n, "crm_calls_logged_per_s_fake")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        crm = await BuiltinCrm.open(f"{tmp}/crm.sqlite3")
        try:
            async with redis_url() as url:
                await bench_lookups(url, crm, args.lookups)
                settings = call_settings(url, f"bench{time.time_ns()}:")
                await bench_calls(
                    url, settings, crm, crm.call_count, args.calls, "crm_calls_logged_per_s"
                )
                await bench_fake_amocrm(url, args.calls)
        finally:
            await crm.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=40_000)
    parser.add_argument("--calls", type=int, default=5_000)
    asyncio.run(main(parser.parse_args()))
