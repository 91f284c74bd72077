"""Each service killed mid-load and started again, and an AMI drop: ami-ingest, call-tracker
and crm-sync as separate services (the ones ``callbridge run --config`` runs) on a private
Redis, the AMI simulator as the PBX. Afterwards every call made is recorded once with its
result, logged once in the built-in CRM, nothing pending, nothing dead: each service resumed
exactly where its checkpoint or consumer group said."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from ami_ingest import IngestService
from amisim import Simulator, TrafficConfig, TrafficGenerator
from call_tracker.main import TrackerService
from callbridge_cli.suite import SuiteSettings, load_suite
from cbcontracts import CallEnded, decode_event
from cbcrm.builtin import BuiltinCrm
from cbruntime import Service
from cbstreams import connect
from cbstreams.localredis import RedisProcess
from crm_sync.main import CrmSyncService

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "config" / "callbridge.example.toml"
PER_PHASE = 5


class Running:
    """A service in its own task, which the test may kill (cancel: no clean stop) and start
    again as a fresh instance."""

    def __init__(self, make: Callable[[], Service]) -> None:
        self.make = make
        self.stop = asyncio.Event()
        self.service = make()
        self.task = asyncio.create_task(self.service.run(self.stop))

    async def kill_and_restart(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.service = self.make()
        self.task = asyncio.create_task(self.service.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _settings(url: str, sim: Simulator, tmp: Path) -> SuiteSettings:
    env = {"CB_REDIS_URL": url, "CB_LOG_JSON": "false", "CB_PBX__MAIN__HOST": sim.host,
           "CB_PBX__MAIN__PORT": str(sim.port), "CB_PBX__MAIN__USERNAME": sim.username,
           "CB_PBX__MAIN__SECRET": "s3cret", "CB_HTTP__PORT": "-1", "CB_METRICS_PORT": "-1",
           "CB_BUILTIN__PATH": str(tmp / "crm.sqlite3"),
           "CB_RECORDINGS__ROOT": str(tmp)}  # fmt: skip
    return load_suite(EXAMPLE, environ=env)


async def test_each_service_killed_mid_load_and_an_ami_drop_lose_and_double_nothing(
    restartable_redis: RedisProcess, tmp_path: Path
) -> None:
    redis = connect(restartable_redis.url)
    async with Simulator(secret="s3cret", speed=8.0) as sim:
        s = _settings(restartable_redis.url, sim, tmp_path)
        ingest = Running(lambda: IngestService(s.ingest))
        tracker = Running(lambda: TrackerService(s.tracker))
        crm = Running(lambda: CrmSyncService(s.crm_sync))
        made = 0

        async def ended() -> list[CallEnded]:
            rows = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange("cb:calls"))
            return [e for _, f in rows if isinstance(e := decode_event(f[b"data"]), CallEnded)]

        async def recorded(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len({e.call_id for e in await ended()}) >= n

            return check

        async def syncs() -> int:
            rows: Any = await redis.xrange("cb:{main}:ami")
            return sum(1 for _, f in rows if f[b"ev"] == b"callbridge.sync")

        async def phase(during: Callable[[], Awaitable[None]] | None = None) -> None:
            nonlocal made
            mix = {"inbound_answered": 1.0}
            config = TrafficConfig(rate=3.0, concurrency=4, max_calls=PER_PHASE, mix=mix)
            traffic = TrafficGenerator(sim.pbx, config)
            load = asyncio.create_task(traffic.run())
            if during is not None:
                await until(await recorded(made + 1), "no call recorded in this phase")
                await during()
            await asyncio.wait_for(load, 40)
            made += traffic.completed
            await until(await recorded(made), f"not all {made} calls recorded")

        try:
            await until(lambda: _gt(syncs, 0), "ami-ingest did not log in")
            await phase(tracker.kill_and_restart)  # the tracker, mid-call
            await phase(crm.kill_and_restart)  # crm-sync (planner and executor), mid-call
            sim.drop_connections()  # the AMI connection drops: ingest reconnects and syncs
            await until(lambda: _gt(syncs, 1), "no new AMI session after the drop")
            await ingest.kill_and_restart()  # ami-ingest: a new process, a new session
            await until(lambda: _gt(syncs, 2), "the restarted ami-ingest did not log in")
            await phase()

            async def settled() -> bool:
                p: Any = await redis.xpending("cb:crm:commands", "crm-executor")
                q: Any = await redis.xpending("cb:calls", "crm-sync")
                return (
                    p["pending"] == 0 and q["pending"] == 0 and (await _crm_calls(tmp_path) >= made)
                )

            await until(settled, "not every call reached the CRM")
        finally:
            for service in (crm, tracker, ingest):
                await service.close()
        records = await ended()
        crm_db = await BuiltinCrm.open(str(tmp_path / "crm.sqlite3"), seed=False)
        try:
            logged = [c["call_id"] for c in await crm_db.calls()]
        finally:
            await crm_db.aclose()
        sess = {f[b"sess"] for _, f in cast(list[Any], await redis.xrange("cb:{main}:ami"))}
        dead = await redis.xlen("cb:dead")
        await redis.aclose()
    assert made == 3 * PER_PHASE
    assert len(records) == made  # every call recorded, once
    assert {e.result for e in records} == {"answered"}
    assert sorted(logged) == sorted(e.call_id for e in records)  # logged once each
    assert dead == 0
    assert len(sess) == 3  # three AMI sessions: the first, after the drop, after the restart


async def _gt(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() > n


async def _crm_calls(tmp: Path) -> int:
    crm = await BuiltinCrm.open(str(tmp / "crm.sqlite3"), seed=False)
    try:
        return await crm.call_count()
    finally:
        await crm.aclose()
