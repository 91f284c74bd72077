"""The chaos harness: the suite as separate processes against the AMI simulator, faults at
seeded random moments, and afterwards every outcome checked against the simulator's truth.

Processes (each ``callbridge … --config FILE``, its output in the work
directory): ami-ingest twice (``ingest-a``, ``ingest-b``: one active by the lease),
call-tracker, crm-sync twice (planner + executor each; the built-in CRM in one SQLite file),
the api-gateway; a private ``redis-server`` with AOF (``cbstreams.localredis.RedisProcess``).
In this process: the simulator with its traffic generator, click-to-call through the gateway
every 2 s (``Pbx.played``, ``amisim.PlayedCall``: the truth of every call), operator
WebSockets for extensions 100 to 102 and an integrator WebSocket, all resuming with their
cursor whenever they lose the gateway.

Faults: SIGKILL of the active ingest replica, of call-tracker, of a crm-sync process, of the
gateway (its WebSockets open); the AMI connection dropped by the PBX; Redis stopped and started
again. Each killed process is started again after a short seeded pause; a process that exits
on its own is counted (``service_exits``) and started again, as a supervisor would.

Afterwards, waiting on each condition under a deadline: the tracker has no live call left,
every feed client has seen every call end, nothing is pending. Then the figures
(:class:`Report`): a call the PBX made while no AMI connection existed at all, from its start
to its end, cannot be seen by anyone and is counted apart (``calls_unseen``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis
import redis.exceptions
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from amisim import PlayedCall, Simulator, TrafficConfig, TrafficGenerator
from api_gateway.services.feeds import id_key
from api_gateway.services.keystore import KeyStore
from api_gateway.services.sessions import SessionStore
from cbcontracts import decode_record
from cbrecords import RecordKeys, member
from cbruntime import listen_socket
from cbstreams import PbxKeys, connect
from cbstreams.localredis import RedisProcess

__all__ = ["FAULTS", "ChaosConfig", "Report", "run_chaos"]

PBX = "main"
PREFIX = "cb:"
SECRET = "chaos-secret"
FAULTS = (
    "kill_ingest",
    "kill_tracker",
    "kill_crm_sync",
    "kill_gateway",
    "drop_ami",
    "restart_redis",
)
#: The ``callbridge`` command of this environment (beside the interpreter).
CALLBRIDGE = str(Path(sys.executable).parent / "callbridge")
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


@dataclass(frozen=True, kw_only=True)
class ChaosConfig:
    calls: int = 60
    rate: float = 3.0  # calls started per second
    concurrency: int = 12
    speed: float = 4.0  # the captures' timing, 4x faster
    faults: int = 6
    seed: int = 1
    settle_s: float = 45.0  # deadline of each closing condition
    originate_every_s: float = 2.0  # click-to-call through the gateway (POST /v1/calls)
    operators: tuple[str, ...] = ("100", "101", "102")


@dataclass
class Report:
    calls_made: int = 0
    calls_unseen: int = 0
    calls_recorded: int = 0
    calls_lost: int = 0
    calls_doubled: int = 0
    calls_wrong: int = 0
    crm_logged: int = 0
    crm_missing: int = 0
    crm_doubled: int = 0
    live_left_open: int = 0
    cards_left_open: int = 0
    cards_shown_twice: int = 0
    pending_left: int = 0
    dead_letters: int = 0
    feed_gaps_unmarked: int = 0
    feed_resumes: int = 0
    originates_sent: int = 0
    originates_queued: int = 0
    service_exits: int = 0
    rss_growth_pct_max: float = 0.0
    schedule: list[str] = field(default_factory=list)
    details: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    FIGURES = (
        "calls_made",
        "calls_unseen",
        "calls_recorded",
        "calls_lost",
        "calls_doubled",
        "calls_wrong",
        "crm_logged",
        "crm_missing",
        "crm_doubled",
        "live_left_open",
        "cards_left_open",
        "cards_shown_twice",
        "pending_left",
        "dead_letters",
        "feed_gaps_unmarked",
        "feed_resumes",
        "originates_sent",
        "originates_queued",
        "service_exits",
        "rss_growth_pct_max",
    )

    def lines(self) -> list[str]:
        out = [f"{name}={getattr(self, name)}" for name in self.FIGURES]
        out += [f"fault={entry}" for entry in self.schedule]
        return out


# Processes -------------------------------------------------------------------------------


class Service:
    """One service process, restartable; RSS sampled per incarnation."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.killing = False
        self.exits: list[int] = []
        self.rss: list[list[tuple[float, int]]] = []  # per incarnation: (t, kB)

    def start(self) -> None:
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        self.killing = False
        self.rss.append([])

    def kill(self) -> None:
        """SIGKILL (the harness's fault: not counted as an exit)."""
        if self.proc is not None and self.proc.poll() is None:
            self.killing = True
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.killing = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited_on_its_own(self) -> bool:
        if self.proc is None or self.proc.poll() is None or self.killing:
            return False
        self.exits.append(self.proc.returncode)
        self.proc = None
        return True

    def sample_rss(self) -> None:
        if not self.running or self.proc is None:
            return
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.rss[-1].append((time.monotonic(), int(line.split()[1])))

    def rss_growth_pct(self, min_life_s: float = 12.0) -> float:
        """Per incarnation that lived long enough: last sample against the one at a third
        of its life (start-up and warm-up excluded); the largest."""
        worst = 0.0
        for samples in self.rss:
            if len(samples) < 4 or samples[-1][0] - samples[0][0] < min_life_s:
                continue
            t0, t1 = samples[0][0], samples[-1][0]
            base = next(kb for t, kb in samples if t >= t0 + (t1 - t0) / 3)
            worst = max(worst, (samples[-1][1] - base) * 100.0 / base)
        return round(worst, 1)


def _toml(values: dict[str, Any], table: str = "") -> str:
    plain = {k: v for k, v in values.items() if not isinstance(v, dict)}
    nested = {k: v for k, v in values.items() if isinstance(v, dict)}
    lines = [f"[{table}]"] if table and plain else []
    lines += [f"{k} = {json.dumps(v)}" for k, v in plain.items()]
    for key, sub in nested.items():
        lines.append(_toml(sub, f"{table}.{key}" if table else key))
    return "\n".join(lines) + "\n"


class Suite:
    """The service processes of one chaos run, and their configuration files."""

    def __init__(self, workdir: Path, redis_url: str, sim: Simulator, gateway_port: int) -> None:
        self.workdir = workdir
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        common = {"redis_url": redis_url, "key_prefix": PREFIX, "log_json": True}
        env = {**os.environ, "CB_PBX__MAIN__SECRET": SECRET}
        env.pop("CB_REDIS_URL", None)
        self.crm_db = workdir / "crm.sqlite3"
        configs: dict[str, tuple[list[str], dict[str, Any]]] = {}
        for replica in ("a", "b"):
            configs[f"ingest-{replica}"] = (
                ["ingest"],
                {
                    **common,
                    "instance": f"ingest-{replica}",
                    "http": {"port": -1},
                    "pbx": {
                        PBX: {
                            "host": sim.host,
                            "port": sim.port,
                            "username": sim.username,
                            "auth": "md5",
                        }
                    },
                },
            )
            configs[f"crm-sync-{replica}"] = (
                ["crm-sync", "run"],
                {
                    **common,
                    "instance": f"crm-sync-{replica}",
                    "calls_stream": f"{PREFIX}calls",
                    "commands_stream": f"{PREFIX}crm:commands",
                    "events_stream": f"{PREFIX}crm:events",
                    "dead_stream": f"{PREFIX}dead",
                    "adapter": "builtin",
                    "block_ms": 200,
                    "builtin": {"path": str(self.crm_db), "seed": True},
                    "recordings": {"base_url": self.gateway_url},
                },
            )
        configs["tracker"] = (
            ["tracker", "run"],
            {**common, "instance": "tracker", "calls_stream": f"{PREFIX}calls", "pbx": {PBX: {}}},
        )
        configs["gateway"] = (
            ["gateway"],
            {
                **common,
                "host": "127.0.0.1",
                "port": gateway_port,
                "public_url": self.gateway_url,
                "tenants": {"acme": {"pbx": [PBX]}},
                "feeds": {
                    "calls_stream": f"{PREFIX}calls",
                    "crm_stream": f"{PREFIX}crm:events",
                    "block_ms": 1000,
                },
            },
        )
        self.services: dict[str, Service] = {}
        for name, (command, values) in configs.items():
            path = workdir / f"{name}.toml"
            path.write_text(_toml(values))
            argv = [CALLBRIDGE, *command, "--config", str(path)]
            self.services[name] = Service(name, argv, workdir, env)

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __getitem__(self, name: str) -> Service:
        return self.services[name]


# Feed clients ----------------------------------------------------------------------------


class FeedClient:
    """A WebSocket feed client that resumes with ``?since=`` the last id it got."""

    def __init__(self, name: str, url: str, headers: dict[str, str] | None = None) -> None:
        self.name = name
        self.url = url
        self.headers = headers or {}
        self.since: str | None = None
        self.connects = 0
        self.gaps: list[dict[str, Any]] = []
        self.snapshots = 0
        # operator: the cards open now; integrator: every call's event seqs
        self.open: dict[str, dict[str, Any]] = {}
        self.shown_twice = 0
        self.twice: list[str] = []
        self.ended: set[str] = set()
        self.seqs: dict[str, set[int]] = defaultdict(set)
        self.last_seq: dict[str, int] = {}
        self.event_ids: set[str] = set()
        self.doubled = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            url = self.url + (f"&since={self.since}" if self.since else "")
            try:
                async with websockets.connect(
                    url, additional_headers=self.headers, open_timeout=5, close_timeout=1
                ) as ws:
                    self.connects += 1
                    async with asyncio.TaskGroup() as tg:
                        closer = tg.create_task(_close_on(stop, ws))
                        async for raw in ws:
                            self.handle(json.loads(raw))
                        closer.cancel()
            except* (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    def handle(self, message: dict[str, Any]) -> None:
        if message.get("id"):
            self.since = message["id"]
        kind = message["type"]
        if "event" in message:  # the integrator's feed: every call and CRM event
            self.integrator(kind, message["event"])
        elif kind == "gap":
            self.gaps.append(message)
        elif kind == "snapshot":
            self.snapshots += 1
            self.open = {c["call_id"]: c for c in message["cards"]}
        elif kind == "card.show":
            if message["call_id"] in self.open:
                self.shown_twice += 1
                self.twice.append(
                    f"{self.name}: {message['call_id']} after connect {self.connects},"
                    f" {self.snapshots} snapshots, first at {self.open[message['call_id']]['id']}"
                    f", again at {message['id']}"
                )
            self.open[message["call_id"]] = message
        elif kind in ("card.hide", "call.ended"):
            self.open.pop(message["call_id"], None)

    def integrator(self, kind: str, event: dict[str, Any]) -> None:
        if kind.startswith("call."):
            if event["event_id"] in self.event_ids:
                self.doubled += 1
                return
            self.event_ids.add(event["event_id"])
            self.seqs[event["call_id"]].add(event["seq"])
            if kind == "call.ended":
                self.ended.add(event["call_id"])
                self.last_seq[event["call_id"]] = event["seq"]


async def _close_on(stop: asyncio.Event, ws: websockets.ClientConnection) -> None:
    await stop.wait()
    await ws.close()


# AMI connectivity ------------------------------------------------------------------------


class AmiWatch:
    """When any logged-in AMI session with events existed (sampled every 20 ms)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.down: list[tuple[float, float]] = []  # unix s intervals without a session
        self._since: float | None = time.time()

    def connected(self) -> bool:
        return any(s.authenticated and s.events_on and not s.closing for s in self.sim.sessions)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.time()
            if self.connected():
                if self._since is not None:
                    self.down.append((self._since, now))
                    self._since = None
            elif self._since is None:
                self._since = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
        if self._since is not None:
            self.down.append((self._since, time.time()))

    def unseen(self, call: PlayedCall) -> bool:
        return any(a - 0.05 <= call.started_at and call.ended_at <= b + 0.05 for a, b in self.down)

    def overlap(self, call: PlayedCall) -> float:
        return sum(max(0.0, min(b, call.ended_at) - max(a, call.started_at)) for a, b in self.down)


# The run ---------------------------------------------------------------------------------


async def _until(check: Callable[[], Any], deadline_s: float, every_s: float = 0.2) -> bool:
    """Poll ``check`` (sync or async) until truthy or the deadline; whether it held."""
    end = time.monotonic() + deadline_s
    while True:
        with contextlib.suppress(*REDIS_ERRORS):
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return True
        if time.monotonic() > end:
            return False
        await asyncio.sleep(every_s)


def _free_port() -> int:
    sock = listen_socket("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@contextlib.asynccontextmanager
async def _tasks() -> AsyncIterator[tuple[asyncio.TaskGroup, asyncio.Event]]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        try:
            yield tg, stop
        finally:
            stop.set()


async def run_chaos(config: ChaosConfig, workdir: Path, log: Callable[[str], None]) -> Report:
    """One chaos run in ``workdir``; ``log`` gets progress lines."""
    rng = random.Random(config.seed)
    report = Report()
    with RedisProcess(workdir / "redis") as server:
        redis = connect(server.url)
        try:
            async with Simulator(secret=SECRET, speed=config.speed, seed=config.seed) as sim:
                suite = Suite(workdir, server.url, sim, _free_port())
                await _run(config, rng, report, server, redis, sim, suite, log)
        finally:
            await redis.aclose()
    return report


async def _run(
    config: ChaosConfig,
    rng: random.Random,
    report: Report,
    server: RedisProcess,
    redis: aioredis.Redis,
    sim: Simulator,
    suite: Suite,
    log: Callable[[str], None],
) -> None:
    keys = PbxKeys(PBX, PREFIX)
    for service in suite:
        service.start()
    try:
        ok = await _until(lambda: redis.exists(keys.lease("ingest")), 60)
        assert ok, "no ingest replica took the lease"
        ok = await _until(lambda: _gateway_up(suite.gateway_url), 60)
        assert ok, "the gateway did not start"
        _, key = await KeyStore(redis, PREFIX).create("acme", ("events:read",))
        _, originator = await KeyStore(redis, PREFIX).create("acme", ("calls:originate",))
        ws_base = suite.gateway_url.replace("http://", "ws://") + "/v1/feeds/events?x=1"
        clients = [FeedClient("integrator", ws_base, {"Authorization": f"Bearer {key}"})]
        for ext in config.operators:
            _, token = await SessionStore(redis, PREFIX).issue("acme", f"u{ext}", ext, 86400, "c")
            clients.append(FeedClient(f"operator-{ext}", f"{ws_base}&token={token}"))
        traffic = TrafficGenerator(
            sim.pbx,
            TrafficConfig(
                rate=config.rate,
                concurrency=config.concurrency,
                max_calls=config.calls,
                # overlapping calls on 3 operators: the load of a PBX with call waiting
                call_waiting=True,
            ),
        )
        watch = AmiWatch(sim)
        async with _tasks() as (tg, stop):
            tg.create_task(watch.run(stop))
            tg.create_task(_supervise(suite, stop, report, log))
            for client in clients:
                tg.create_task(client.run(stop))
            await _until(lambda: all(c.connects for c in clients), 30)
            started_at = time.time()
            run = tg.create_task(traffic.run())
            span = config.calls / config.rate
            faults = tg.create_task(
                _faults(config, rng, span, report, server, redis, sim, suite, log)
            )
            clicks = tg.create_task(_originates(config, rng, suite.gateway_url, originator, report))
            await run
            await faults
            clicks.cancel()
            await _until(lambda: not sim.pbx.calls, 60)
            log(f"traffic done: {len(sim.pbx.played)} calls in {time.time() - started_at:.0f} s")
            await _settle(config, redis, suite, clients, sim.pbx.played, watch, log)
            ended = await _records(report, redis, sim.pbx.played, watch)
            _figures(report, clients, ended, sim.pbx.played)
            _crm(report, suite.crm_db, sim.pbx.played, watch)
            report.pending_left, report.dead_letters = await _pending(redis)
            report.live_left_open = int(await redis.hlen(RecordKeys(PREFIX).live(PBX)))
            report.service_exits = sum(len(s.exits) for s in suite)
            report.rss_growth_pct_max = max(s.rss_growth_pct() for s in suite)
    finally:
        for service in suite:
            service.stop()


async def _gateway_up(url: str) -> bool:
    import httpx

    async with httpx.AsyncClient(timeout=2) as http:
        try:
            status: int = (await http.get(url + "/healthz")).status_code
            return status == 200
        except httpx.HTTPError:
            return False


async def _supervise(
    suite: Suite, stop: asyncio.Event, report: Report, log: Callable[[str], None]
) -> None:
    """Restart a process that exited on its own (as a supervisor would); sample RSS."""
    tick = 0
    while not stop.is_set():
        for service in suite:
            if service.exited_on_its_own():
                log(f"{service.name} exited on its own (rc={service.exits[-1]}); restarting")
                report.details["service_exits"].append(f"{service.name} rc={service.exits[-1]}")
                service.start()
            if tick % 5 == 0:
                service.sample_rss()
        tick += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def _faults(
    config: ChaosConfig,
    rng: random.Random,
    span: float,
    report: Report,
    server: RedisProcess,
    redis: aioredis.Redis,
    sim: Simulator,
    suite: Suite,
    log: Callable[[str], None],
) -> None:
    kinds = [FAULTS[i % len(FAULTS)] for i in range(config.faults)]
    rng.shuffle(kinds)
    times = sorted(rng.uniform(1.0, max(2.0, span * 0.9)) for _ in kinds)
    t0 = time.monotonic()
    crm_turn = 0
    for at, kind in zip(times, kinds, strict=True):
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        pause = round(rng.uniform(0.2, 1.5), 2)
        target = kind
        if kind == "kill_ingest":
            owner = await _lease_owner(redis, PbxKeys(PBX, PREFIX).lease("ingest"))
            target = f"kill {owner or 'ingest-a'}"
            await _kill_and_restart(suite[owner or "ingest-a"], pause)
        elif kind == "kill_tracker":
            await _kill_and_restart(suite["tracker"], pause)
        elif kind == "kill_crm_sync":
            name = f"crm-sync-{'ab'[crm_turn % 2]}"
            crm_turn += 1
            target = f"kill {name}"
            await _kill_and_restart(suite[name], pause)
        elif kind == "kill_gateway":
            await _kill_and_restart(suite["gateway"], pause)
        elif kind == "drop_ami":
            sim.drop_connections()
        elif kind == "restart_redis":
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(pause)
            await asyncio.to_thread(server.start)
        entry = f"t={at:.1f}s {target} pause={pause}s"
        report.schedule.append(entry)
        log(f"fault {entry}")


async def _originates(
    config: ChaosConfig, rng: random.Random, base: str, key: str, report: Report
) -> None:
    """Click-to-call through the gateway (POST /v1/calls -> actions stream -> ami-ingest ->
    Originate), every ``originate_every_s``, whatever is failing at the time."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while True:
            await asyncio.sleep(config.originate_every_s)
            body = {
                "extension": rng.choice(config.operators),
                "number": f"7916{rng.randrange(10**7):07d}",
            }
            report.originates_sent += 1
            with contextlib.suppress(httpx.HTTPError):
                if (await http.post("/v1/calls", json=body, headers=headers)).status_code == 202:
                    report.originates_queued += 1


async def _lease_owner(redis: aioredis.Redis, key: str) -> str | None:
    with contextlib.suppress(*REDIS_ERRORS):
        owner = await redis.get(key)
        if owner:
            text = cast(bytes, owner).decode()
            for name in ("ingest-a", "ingest-b"):
                if text.startswith(name):
                    return name
    return None


async def _kill_and_restart(service: Service, pause: float) -> None:
    service.kill()
    await asyncio.sleep(pause)
    service.start()


async def _settle(
    config: ChaosConfig,
    redis: aioredis.Redis,
    suite: Suite,
    clients: list[FeedClient],
    played: list[PlayedCall],
    watch: AmiWatch,
    log: Callable[[str], None],
) -> None:
    """Wait (each under the deadline) for the pipeline to drain."""
    cdr = RecordKeys(PREFIX)
    ids = [p.call_id for p in played if not watch.unseen(p)]

    async def recorded() -> bool:
        async with redis.pipeline(transaction=False) as pipe:
            for call in ids:
                pipe.exists(cdr.record(member(PBX, call)))
            found: list[int] = await pipe.execute()
        return sum(found) == len(ids)

    async def drained() -> bool:
        pending, _ = await _pending(redis)
        return pending == 0

    async def no_live() -> bool:
        return int(await redis.hlen(RecordKeys(PREFIX).live(PBX))) == 0

    conditions: list[tuple[str, Callable[[], Any]]] = [
        ("no live call", no_live),
        ("every call recorded", recorded),
        ("nothing pending", drained),
        ("integrator saw every recorded call end", lambda: _integrator_caught_up(redis, clients)),
        ("no card open", lambda: not any(c.open for c in clients)),
    ]
    for what, check in conditions:
        held = await _until(check, config.settle_s)
        log(f"settle: {what}: {'yes' if held else 'NO (deadline)'}")


async def _integrator_caught_up(redis: aioredis.Redis, clients: list[FeedClient]) -> bool:
    rows = cast(list[tuple[bytes, Any]], await redis.xrevrange(f"{PREFIX}calls", count=1))
    if not rows:
        return True
    newest = id_key(rows[0][0].decode())
    since = clients[0].since
    return since is not None and id_key(since.split("_")[0]) >= newest


def _figures(
    report: Report, clients: list[FeedClient], ended: set[str], played: list[PlayedCall]
) -> None:
    """The feeds' figures; ``ended``: the calls whose ``call.ended`` is in the stream."""
    report.calls_made = len(played)
    report.cards_left_open = sum(len(c.open) for c in clients[1:])
    report.cards_shown_twice = sum(c.shown_twice for c in clients[1:])
    scenario = {p.call_id: p.scenario for p in played}
    for client in clients[1:]:
        for entry in client.twice:
            call = entry.split(": ", 1)[1].split(" ", 1)[0]
            report.details["cards_shown_twice"].append(f"{entry} ({scenario.get(call)})")
    report.feed_resumes = sum(max(0, c.connects - 1) for c in clients)
    for client in clients[1:]:
        for call in client.open:
            report.details["cards_left_open"].append(f"{client.name}: {call}")
    integrator = clients[0]
    holes = 0
    if not integrator.gaps:
        for call in ended:
            seqs = integrator.seqs.get(call, set())
            last = integrator.last_seq.get(call)
            if last is None or seqs != set(range(1, last + 1)):
                holes += 1
                report.details["feed_gaps_unmarked"].append(f"{call}: {sorted(seqs)} / {last}")
    report.feed_gaps_unmarked = holes + integrator.doubled


async def _records(
    report: Report, redis: aioredis.Redis, played: list[PlayedCall], watch: AmiWatch
) -> set[str]:
    """The record figures; returns the calls whose ``call.ended`` is in the calls stream."""
    cdr = RecordKeys(PREFIX)
    ended: dict[str, int] = defaultdict(int)
    start = "-"
    while True:
        rows = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await redis.xrange(f"{PREFIX}calls", min=start, count=2000),
        )
        for _, fields in rows:
            event = json.loads(fields[b"data"])
            if event["type"] == "call.ended":
                ended[event["call_id"]] += 1
        if len(rows) < 2000:
            break
        start = "(" + rows[-1][0].decode()
    truth = {p.call_id: p for p in played}
    report.calls_doubled = sum(1 for c, n in ended.items() if n > 1)
    report.calls_doubled += sum(1 for c in ended if c not in truth)  # a call split in two
    for call, n in ended.items():
        if n > 1 or call not in truth:
            report.details["calls_doubled"].append(f"{call}: {n} call.ended")
    for p in played:
        raw = await redis.get(cdr.record(member(PBX, p.call_id)))
        if raw is None:
            if watch.unseen(p):
                report.calls_unseen += 1
            else:
                report.calls_lost += 1
                report.details["calls_lost"].append(f"{p.call_id} {p.scenario}")
            continue
        report.calls_recorded += 1
        wrong = _wrong(decode_record(raw), p, watch)
        if wrong:
            report.calls_wrong += 1
            report.details["calls_wrong"].append(f"{p.call_id} {p.scenario}: {wrong}")
    return set(ended)


def _wrong(record: Any, p: PlayedCall, watch: AmiWatch) -> str:
    """What of the record differs from the truth ('' if nothing)."""
    errors = []
    if record.result != p.result:
        errors.append(f"result {record.result} != {p.result}")
    if record.direction != p.direction:
        errors.append(f"direction {record.direction} != {p.direction}")
    if p.answered_by and record.answered_by != p.answered_by:
        errors.append(f"answered_by {record.answered_by!r} != {p.answered_by!r}")
    slack = 1.5 + watch.overlap(p)  # whole seconds; an AMI gap hides when things happened
    for name, got, want in (
        ("ring", record.ring_seconds, p.ring_s),
        ("talk", record.talk_seconds, p.talk_s),
    ):
        if abs(got - want) > slack:
            errors.append(f"{name} {got}s != {want:.1f}s")
    return "; ".join(errors)


def _crm(report: Report, db: Path, played: list[PlayedCall], watch: AmiWatch) -> None:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT call_id, extension, direction, COUNT(*) FROM calls "
            "GROUP BY call_id, extension, direction"
        ).fetchall()
    logged = {row[0] for row in rows}
    report.crm_logged = len(logged & {p.call_id for p in played})
    for call_id, ext, _, count in rows:
        if count > 1:
            report.crm_doubled += 1
            report.details["crm_doubled"].append(f"{call_id} ext {ext}: {count} rows")
    wrong = {
        line.split(" ", 1)[0]
        for line in report.details["calls_wrong"] + report.details["calls_lost"]
    }
    for p in played:
        if p.call_id in wrong:  # the CRM follows the record; counted in calls_wrong/lost
            continue
        if p.direction != "internal" and p.call_id not in logged and not watch.unseen(p):
            report.crm_missing += 1
            report.details["crm_missing"].append(f"{p.call_id} {p.scenario}")


async def _pending(redis: aioredis.Redis) -> tuple[int, int]:
    """Entries pending in every consumer group of every stream; dead letters."""
    pending = 0
    cursor = 0
    streams: list[Any] = []
    while True:
        cursor, found = await redis.scan(cursor, match=f"{PREFIX}*", count=1000, _type="stream")
        streams += found
        if cursor == 0:
            break
    for stream in streams:
        for group in await redis.xinfo_groups(stream):
            pending += int(group["pending"])
    dead = int(await redis.xlen(f"{PREFIX}dead"))
    return pending, dead
