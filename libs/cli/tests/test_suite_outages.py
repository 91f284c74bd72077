"""Redis outages with the whole suite running (``callbridge run --config``, the AMI simulator
as the PBX, the built-in CRM), against a private redis-server with AOF that the test stops
and starts: every call made is recorded once with its result and logged once in the CRM,
nothing is left pending or dead, the suite keeps running and says it is not ready meanwhile.
The same across a failover to a replica and across a Redis that comes back empty. And a suite
started before its Redis waits for it, saying so, without a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import httpx

from amisim import Simulator, TrafficConfig, TrafficGenerator
from callbridge_cli.suite import load_suite, running_suite
from cbcontracts import CallEnded, decode_event
from cbcrm.builtin import BuiltinCrm
from cbstreams import RedisLink, connect
from cbstreams.localredis import RedisProcess

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "config" / "callbridge.example.toml"
CALLS = 12


def suite_env(redis_url: str, sim: Simulator, tmp: Path) -> dict[str, str]:
    return {
        "CB_REDIS_URL": redis_url,
        "CB_LOG_JSON": "false",
        "CB_PBX__MAIN__HOST": sim.host,
        "CB_PBX__MAIN__PORT": str(sim.port),
        "CB_PBX__MAIN__USERNAME": sim.username,
        "CB_PBX__MAIN__SECRET": "s3cret",
        "CB_HTTP__PORT": "-1",
        "CB_PORT": "0",
        "CB_BUILTIN__PATH": str(tmp / "crm.sqlite3"),
        "CB_RECORDINGS__ROOT": str(tmp),
    }


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_redis_restart_mid_load_loses_and_doubles_nothing(
    restartable_redis: RedisProcess, tmp_path: Path
) -> None:
    redis = connect(restartable_redis.url)
    link = RedisLink("test")
    async with Simulator(secret="s3cret", speed=8.0) as sim:
        settings = load_suite(EXAMPLE, environ=suite_env(restartable_redis.url, sim, tmp_path))
        traffic = TrafficGenerator(sim.pbx, TrafficConfig(
            rate=4.0, concurrency=6, max_calls=CALLS, mix={"inbound_answered": 1}))  # fmt: skip

        async def ended() -> list[CallEnded]:
            got = await link.retry(lambda: redis.xrange("cb:calls"))  # through the restart
            rows = cast(list[tuple[bytes, dict[bytes, bytes]]], got)
            events = [decode_event(f[b"data"]) for _, f in rows]
            return [e for e in events if isinstance(e, CallEnded)]

        async def some_ended() -> bool:
            return len(await ended()) >= 2

        try:
            async with (
                running_suite(settings) as suite,
                httpx.AsyncClient(base_url=suite.url, timeout=5) as http,
            ):
                load = asyncio.create_task(traffic.run())
                await until(some_ended, "no call recorded before the outage")
                restartable_redis.stop()  # mid-load: calls keep coming from the PBX
                assert (await http.get("/readyz")).status_code == 503
                ingest = suite.ingest.pbxs[0]
                await until(_async(lambda: not ingest.lease.held), "the lease did not lapse")
                await asyncio.to_thread(restartable_redis.start)
                await asyncio.wait_for(load, 60)
                assert traffic.completed == CALLS

                async def all_recorded() -> bool:
                    return len({e.call_id for e in await ended()}) >= CALLS

                await until(all_recorded, "not every call was recorded")

                async def all_logged_and_nothing_pending() -> bool:
                    p: Any = await redis.xpending("cb:crm:commands", "crm-executor")
                    q: Any = await redis.xpending("cb:calls", "crm-sync")
                    return (
                        p["pending"] == 0 and q["pending"] == 0
                        and await _crm_calls(tmp_path) >= CALLS
                    )  # fmt: skip

                await until(all_logged_and_nothing_pending, "not every call reached the CRM")
                assert (await http.get("/readyz")).status_code == 200
                assert suite.ingest.link.outages == 1  # logged once, not per retry
            records = await ended()
            assert len(records) == CALLS  # once each
            assert len({e.call_id for e in records}) == CALLS
            assert {e.result for e in records} == {"answered"}
            crm = await BuiltinCrm.open(str(tmp_path / "crm.sqlite3"), seed=False)
            try:
                logged = [c["call_id"] for c in await crm.calls()]
            finally:
                await crm.aclose()
            assert sorted(logged) == sorted(e.call_id for e in records)  # once each
            assert await redis.xlen("cb:dead") == 0
        finally:
            await redis.aclose()


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run


async def _crm_calls(tmp: Path) -> int:
    crm = await BuiltinCrm.open(str(tmp / "crm.sqlite3"), seed=False)
    try:
        return await crm.call_count()
    finally:
        await crm.aclose()


async def test_the_suite_started_before_redis_waits_for_it_saying_so_without_a_traceback(
    tmp_path: Path,
) -> None:
    server = RedisProcess(tmp_path)  # not started yet: nothing listens on its port
    async with Simulator(secret="s3cret", speed=8.0) as sim:
        env = {**os.environ, **suite_env(server.url, sim, tmp_path), "CB_LOG_LEVEL": "INFO"}
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "callbridge"), "run", "--config", str(EXAMPLE),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        err = bytearray()
        redis = connect(server.url)
        try:
            assert proc.stderr is not None

            async def read_err(marker: bytes) -> bool:
                assert proc.stderr is not None
                while marker not in err:
                    line = await proc.stderr.readline()
                    if not line:
                        return False
                    err.extend(line)
                return True

            await asyncio.wait_for(read_err(b"redis unreachable: waiting for it"), 30)
            assert proc.returncode is None  # still running, waiting
            await asyncio.to_thread(server.start)
            traffic = TrafficGenerator(sim.pbx, TrafficConfig(
                rate=0, concurrency=1, max_calls=1, mix={"inbound_answered": 1}))  # fmt: skip
            await traffic.run()

            async def recorded() -> bool:
                return bool(await redis.exists("cb:calls")) and bool(await redis.xlen("cb:calls"))

            await until(recorded, "no call event after Redis came up")
            assert proc.returncode is None
            proc.send_signal(signal.SIGINT)
            rest = await asyncio.wait_for(proc.communicate(), 20)
            err.extend(rest[1])
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await redis.aclose()
            server.stop()
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "ExceptionGroup" not in text
    assert text.count("redis unreachable: waiting for it") <= 4  # once per service, not per retry


async def test_redis_losing_its_data_is_noticed_and_nothing_is_doubled(
    restartable_redis: RedisProcess, tmp_path: Path
) -> None:
    """Redis comes back empty (no persistence, or a lost disk): the leases come back as new
    generations, so ami-ingest starts a new AMI session (a fresh snapshot), the tracker starts
    from an empty checkpoint and crm-sync re-creates its groups. Calls before and after are
    each logged once in the CRM."""
    redis = connect(restartable_redis.url)
    link = RedisLink("test")
    async with Simulator(secret="s3cret", speed=8.0) as sim:
        settings = load_suite(EXAMPLE, environ=suite_env(restartable_redis.url, sim, tmp_path))

        async def calls(n: int) -> None:
            traffic = TrafficGenerator(sim.pbx, TrafficConfig(
                rate=0, concurrency=3, max_calls=n, mix={"inbound_answered": 1}))  # fmt: skip
            await asyncio.wait_for(traffic.run(), 40)

        async def settled(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                async def pending() -> int:
                    p: Any = await redis.xpending("cb:crm:commands", "crm-executor")
                    return int(p["pending"])

                return await link.retry(pending) == 0 and await _crm_calls(tmp_path) >= n

            return check

        try:
            async with running_suite(settings) as suite:
                await calls(3)
                await until(await settled(3), "the first calls did not reach the CRM")
                sessions_before = suite.ingest.pbxs[0].lease.generation
                restartable_redis.stop()
                restartable_redis.wipe()
                await asyncio.to_thread(restartable_redis.start)

                async def new_session() -> bool:
                    rows: Any = await link.retry(lambda: redis.xrange("cb:{main}:ami"))
                    return any(f[b"ev"] == b"callbridge.sync" for _, f in rows or [])

                await until(new_session, "ami-ingest did not start a new AMI session")
                assert suite.ingest.pbxs[0].lease.generation >= 1
                await calls(3)
                await until(await settled(6), "the calls after the loss did not reach the CRM")
                assert sessions_before == 1
        finally:
            await redis.aclose()
    crm = await BuiltinCrm.open(str(tmp_path / "crm.sqlite3"), seed=False)
    try:
        logged = [c["call_id"] for c in await crm.calls()]
    finally:
        await crm.aclose()
    assert len(logged) == 6
    assert len(set(logged)) == 6  # none twice


class Proxy:
    """A TCP forwarder standing for the address the services know Redis by (a virtual IP or a
    proxy in front of a Sentinel-managed pair): :meth:`switch` points it at another server and
    drops every open connection, as a failover does."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._open |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, RuntimeError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._open -= {writer, up_writer}

    def switch(self, target: int) -> None:
        self.target = target
        for writer in list(self._open):
            writer.close()

    async def close(self) -> None:
        self.switch(0)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def test_a_redis_failover_to_its_replica_mid_load_loses_and_doubles_nothing(
    restartable_redis: RedisProcess, tmp_path: Path
) -> None:
    """A planned failover: the primary is stopped (Redis 7 waits for its replica to catch up),
    the replica is promoted, and the address the services use now leads to it."""
    (tmp_path / "replica").mkdir()
    replica = RedisProcess(tmp_path / "replica")
    replica.start()
    primary = connect(restartable_redis.url)
    proxy = Proxy(restartable_redis.port)
    await proxy.start()
    url = f"redis://127.0.0.1:{proxy.port}/0"
    redis = connect(url)
    link = RedisLink("test")
    standby = connect(replica.url)
    try:
        await standby.replicaof("127.0.0.1", restartable_redis.port)
        async with Simulator(secret="s3cret", speed=8.0) as sim:
            settings = load_suite(EXAMPLE, environ=suite_env(url, sim, tmp_path))
            traffic = TrafficGenerator(sim.pbx, TrafficConfig(
                rate=4.0, concurrency=6, max_calls=CALLS, mix={"inbound_answered": 1}))  # fmt: skip

            async def ended() -> list[CallEnded]:
                got = await link.retry(lambda: redis.xrange("cb:calls"))
                rows = cast(list[tuple[bytes, dict[bytes, bytes]]], got)
                return [e for _, f in rows if isinstance(e := decode_event(f[b"data"]), CallEnded)]

            async def some_ended() -> bool:
                return len(await ended()) >= 2

            async with running_suite(settings) as suite:
                load = asyncio.create_task(traffic.run())
                await until(some_ended, "no call recorded before the failover")
                restartable_redis.stop()  # the primary goes away (after its replica caught up)
                await standby.replicaof("NO", "ONE")
                proxy.switch(replica.port)
                await asyncio.wait_for(load, 60)

                async def settled() -> bool:
                    async def pending() -> int:
                        p: Any = await redis.xpending("cb:crm:commands", "crm-executor")
                        q: Any = await redis.xpending("cb:calls", "crm-sync")
                        return int(p["pending"]) + int(q["pending"])

                    return (
                        len({e.call_id for e in await ended()}) >= CALLS
                        and await link.retry(pending) == 0
                        and await _crm_calls(tmp_path) >= CALLS
                    )

                await until(settled, "not every call was recorded and logged")
                assert suite.ingest.link.outages == 1
            records = await ended()
        crm = await BuiltinCrm.open(str(tmp_path / "crm.sqlite3"), seed=False)
        try:
            logged = [c["call_id"] for c in await crm.calls()]
        finally:
            await crm.aclose()
        assert len(records) == CALLS
        assert {e.result for e in records} == {"answered"}
        assert sorted(logged) == sorted(e.call_id for e in records)
        assert await redis.xlen("cb:dead") == 0
    finally:
        for client in (redis, primary, standby):
            await client.aclose()
        await proxy.close()
        replica.stop()
