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
* ``crm_card_data_p99_ms_under_burst_{amocrm,bitrix24}``: a 300-call burst (three waves of
  100 a second, from 10 numbers whose lookups are cached, each call ringing an operator and
  ending 10 s after it started, two replicas) against the fake with the CRM's real limits
  (amoCRM 7/s, Bitrix24 2/s 50 deep) and crm-sync's default limiters: p99 of call.started ->
  the caller's ``crm.card`` on ``cb:crm:events`` (both stream ids: Redis's clock);
* ``crm_burst_drain_s_{amocrm,bitrix24}``: from the first call.started until the CRM holds
  every one of the 300 calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from cbcontracts import encode_event
from cbcontracts.crm import CardData, decode_crm_event
from cbcrm.adapter import CrmAdapter
from cbcrm.builtin import BuiltinCrm
from cbcrm.fakes import FakeAmoCrm, FakeBitrix24
from cbcrm.lookup import LookupCache
from cbcrm.rules import RulesConfig
from cbruntime import Secret
from cbstreams import connect
from cbstreams.localredis import local_redis_server
from crm_sync.main import CrmSyncService
from crm_sync.remote_settings import AmoSyncSettings, B24SyncSettings, RemoteLimits
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


BURST, WAVES, TALK_S = 300, 3, 10.0
KNOWN = [f"+7916{n:07d}" for n in range(10)]


def _ms(entry_id: bytes) -> int:
    return int(entry_id.split(b"-")[0])


async def bench_burst(url: str, crm: str) -> None:
    """The burst against ``crm`` (amocrm | bitrix24); prints its two figures."""
    fake: FakeAmoCrm | FakeBitrix24 = FakeAmoCrm() if crm == "amocrm" else FakeBitrix24()
    async with fake:
        p = f"bench{time.time_ns()}:"
        if isinstance(fake, FakeAmoCrm):
            st = fake.state
            users = [st.add_user(f"Operator {n}", admin=n == 0) for n in range(5)]
            for n, phone in enumerate(KNOWN):
                st.add_contact(f"Client {n}", [phone], responsible=users[n % 5])
            section: dict[str, Any] = {"amocrm": AmoSyncSettings(
                base_url=fake.url, client_id=st.client_id,
                client_secret=Secret(st.client_secret), redirect_uri=st.redirect_uri,
                auth_code=Secret(st.issue_code()),
                extensions={str(u): str(100 + i) for i, u in enumerate(users)})}  # fmt: skip

            def logged() -> int:
                return len({c["uniq"] for c in st.calls if str(c["uniq"]).startswith("x.")})
        else:
            b24 = fake.state
            users = [b24.add_user(f"Operator {n}", str(100 + n)) for n in range(5)]
            for n, phone in enumerate(KNOWN):
                b24.add_entity("contacts", f"Client {n}", [phone], responsible=users[n % 5])
            section = {"bitrix24": B24SyncSettings(
                portal_url=fake.url, oauth_url=fake.url, client_id=fake.client_id,
                client_secret=Secret(fake.client_secret), auth_code=Secret(fake.issue_code()),
                application_token=Secret(fake.application_token))}  # fmt: skip

            def logged() -> int:
                return len(b24.finished)

        settings = dataclasses.replace(
            call_settings(url, p, adapter=crm, **section),
            executor=ExecutorSettings(workers=64), batch=100, block_ms=20,
            rules=RulesConfig(default_user_id=str(users[0])),
        )  # fmt: skip
        redis = connect(url)
        stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tg:
                for r in range(2):
                    replica = dataclasses.replace(settings, instance=f"bench{r}")
                    tg.create_task(CrmSyncService(replica).run(stop))
                warm = [CallScript(f"w.{i}", ph).started() for i, ph in enumerate(KNOWN)]
                await publish_calls(redis, settings.calls_stream, warm)
                while await _cards(redis, settings) < len(warm):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                scripts = [CallScript(f"x.{i}", KNOWN[i % 10]) for i in range(BURST)]
                started_ids: dict[str, int] = {}
                t0, starts = time.monotonic(), []
                per = BURST // WAVES
                for w in range(WAVES):
                    wave = scripts[w * per : (w + 1) * per]
                    for i, s in enumerate(wave):
                        [eid] = await _xadd(redis, settings, [s.started()])
                        started_ids[s.call_id] = _ms(eid)
                        await publish_calls(redis, settings.calls_stream,
                                            [s.ringing(str(100 + i % 5), 0.1)])  # fmt: skip
                    starts += [(time.monotonic(), s) for s in wave]
                    await asyncio.sleep(1.0)
                for at, s in starts:
                    await asyncio.sleep(max(0.0, at + TALK_S - time.monotonic()))
                    ext = str(100 + int(s.call_id[2:]) % 5)
                    await publish_calls(redis, settings.calls_stream, [
                        s.answered(ext, 1.0), s.ended("answered", TALK_S, answered_by=ext,
                                                      extension=ext, rang=(ext,))])  # fmt: skip
                while logged() < BURST:  # noqa: ASYNC110 - the fake's state
                    await asyncio.sleep(0.05)
                drain = time.monotonic() - t0
                stop.set()
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(settings.events_stream)
            )
            lat = sorted(
                _ms(i) - started_ids[c.call_id]
                for i, f in rows
                if isinstance(c := decode_crm_event(f[b"data"]), CardData)
                and c.call_id in started_ids
            )
            print(f"crm_card_data_p99_ms_under_burst_{crm}={lat[int(len(lat) * 0.99) - 1]}")
            print(f"crm_burst_drain_s_{crm}={drain:.1f}")
        finally:
            keys = [k async for k in redis.scan_iter(match=f"{p}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


async def _xadd(redis: Any, settings: CrmSyncSettings, events: list[Any]) -> list[bytes]:
    return [await redis.xadd(settings.calls_stream, {b"data": encode_event(e)}) for e in events]


async def _cards(redis: Any, settings: CrmSyncSettings) -> int:
    rows: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(settings.events_stream)
    return sum(isinstance(decode_crm_event(f[b"data"]), CardData) for _, f in rows)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        crm = await BuiltinCrm.open(f"{tmp}/crm.sqlite3")
        try:
            async with redis_url() as url:
                if args.burst_only:
                    for name in ("amocrm", "bitrix24"):
                        await bench_burst(url, name)
                    return
                await bench_lookups(url, crm, args.lookups)
                settings = call_settings(url, f"bench{time.time_ns()}:")
                await bench_calls(
                    url, settings, crm, crm.call_count, args.calls, "crm_calls_logged_per_s"
                )
                await bench_fake_amocrm(url, args.calls)
                for name in ("amocrm", "bitrix24"):
                    await bench_burst(url, name)
        finally:
            await crm.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=40_000)
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--burst-only", action="store_true", help="only the 300-call bursts")
    asyncio.run(main(parser.parse_args()))
