"""The embedded suite in one process: the AMI simulator making calls to extensions 100-102
with the demo CRM's numbers (and serving their presence over SIP), ami-ingest, the
call-tracker, crm-sync on the built-in CRM, the presence service subscribed to the
simulator, and the api-gateway serving the operator's page — each service by its own
class, on one Redis.

``callbridge run`` and the browser tests both use :func:`embedded_stack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import secrets
import socket
import struct
import time
import wave
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import redis.asyncio as aioredis
import uvicorn

from ami_ingest import HttpSettings, IngestService, IngestSettings, PbxSettings
from amisim import Simulator, TrafficConfig, TrafficGenerator
from api_gateway.main import create_app
from api_gateway.server import make_server
from api_gateway.services.sessions import SignIn
from api_gateway.settings import (
    CrmSettings,
    FeedSettings,
    GatewaySettings,
    RecordingSettings,
    TenantSettings,
)
from api_gateway.state import Services, open_services
from call_tracker.main import TrackerService
from call_tracker.settings import PbxTopology, TrackerSettings
from cbruntime import Secret, listen_socket
from cbstreams import PbxKeys, RedisLink, TailReader
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings
from crm_sync.settings import RecordingSettings as CrmRecordings
from presence.main import PresenceService
from presence.settings import PbxPresence, PresenceSettings

__all__ = [
    "DEMO_PHONES",
    "DEMO_USERS",
    "MONITOR_DIR",
    "Stack",
    "StackConfig",
    "embedded_stack",
    "write_tone",
]

#: The numbers the simulated callers use: the built-in CRM's demo contacts and companies
#: (a duplicate contact, a shared office number) and two numbers the CRM does not know.
DEMO_PHONES = (
    "79161234567",  # contact 3 (of company 1)
    "79031112233",  # contact 4 (of company 2)
    "79265554433",  # contact 5 and its duplicate, contact 6
    "79857776655",  # contact 7
    "74951234567",  # company 1's office, shared with contact 3
    "78123334455",  # company 2
    "79990001122",  # unknown
    "79857770000",  # unknown
)
#: The built-in CRM's users and their extensions.
DEMO_USERS = {"100": "Анна Смирнова", "101": "Борис Петров", "102": "Вера Иванова"}  # noqa: RUF001
#: Where the simulated Asterisk's MixMonitor writes (the file names its calls carry).
MONITOR_DIR = "/opt/asterisk/var/spool/asterisk/monitor"
PBX = "main"


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    redis_url: str
    recordings: Path  # a directory for the demo's recordings (generated WAV tones)
    prefix: str = "cb:"
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port; a taken port falls back to a free one
    tenant: str = "demo"
    rate: float = 0.2  # simulated calls per second; 0: none (tests place their own)
    concurrency: int = 4
    speed: float = 0.25  # the simulator's pace: 0.25 = four times slower than captured
    phones: Sequence[str] = DEMO_PHONES
    crm_path: str = ":memory:"
    sim_secret: str = field(default_factory=lambda: secrets.token_urlsafe(12))


@dataclass(frozen=True, kw_only=True)
class Stack:
    config: StackConfig
    sim: Simulator
    url: str  # the gateway's base URL
    gateway: GatewaySettings
    services: Services
    ingest: IngestService
    presence: PresenceService
    traffic: TrafficGenerator | None

    async def signin_link(
        self, extension: str, user: str | None = None, *, supervisor: bool = False
    ) -> str:
        """A one-time sign-in link for the operator at ``extension`` (``supervisor``: the
        session also sees the team)."""
        signin = SignIn(
            tenant=self.config.tenant,
            user=user or DEMO_USERS.get(extension, f"operator {extension}"),
            extension=extension,
            session_ttl_s=self.gateway.feeds.session_ttl_s,
            issued_by="callbridge run",
            supervisor=supervisor,
        )
        code, _ = await self.services.sessions.issue_code(signin, self.gateway.feeds.signin_ttl_s)
        return f"{self.url}/ui/#code={code}"


def _bind(host: str, port: int) -> socket.socket:
    """The gateway's socket (TCP_NODELAY comes with IPPROTO_TCP); a taken port: any."""
    try:
        return listen_socket(host, port)
    except OSError:
        if port == 0:
            raise
        return listen_socket(host, 0)


def _settings(config: StackConfig, url: str, port: int, link_secret: str) -> GatewaySettings:
    p = config.prefix
    return GatewaySettings(
        redis_url=config.redis_url,
        key_prefix=p,
        host=config.host,
        port=port,
        public_url=url,
        log_json=False,
        tenants={config.tenant: TenantSettings(pbx=[PBX])},
        recordings=RecordingSettings(
            root=str(config.recordings), pbx_dir=MONITOR_DIR, link_secret=Secret(link_secret)
        ),
        feeds=FeedSettings(calls_stream=f"{p}calls", crm_stream=f"{p}crm:events", block_ms=1000),
        crm=CrmSettings(
            commands_stream=f"{p}crm:commands",
            builtin_path="" if config.crm_path == ":memory:" else config.crm_path,
        ),
    )


def _crm_settings(config: StackConfig, url: str, link_secret: str) -> CrmSyncSettings:
    p = config.prefix
    return CrmSyncSettings(
        redis_url=config.redis_url,
        key_prefix=p,
        instance="embedded",
        calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands",
        events_stream=f"{p}crm:events",
        dead_stream=f"{p}dead",
        adapter="builtin",
        block_ms=200,
        builtin=BuiltinSettings(path=config.crm_path, seed=True),
        recordings=CrmRecordings(base_url=url, secret=Secret(link_secret)),
        log_json=False,
    )


async def _serve(server: uvicorn.Server, sock: socket.socket, stop: asyncio.Event) -> None:
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(sockets=[sock]))
        await stop.wait()
        server.should_exit = True


@contextlib.asynccontextmanager
async def embedded_stack(config: StackConfig) -> AsyncIterator[Stack]:
    """Everything running until the block ends; then stopped, in order, within seconds."""
    config.recordings.mkdir(parents=True, exist_ok=True)
    link_secret = secrets.token_urlsafe(32)
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    url = f"http://{config.host}:{port}"
    gateway = _settings(config, url, port, link_secret)
    stop = asyncio.Event()
    async with (
        Simulator(secret=config.sim_secret, speed=config.speed, sip_port=0) as sim,
        open_services(gateway) as services,
    ):
        ingest = IngestService(_ingest_settings(config, sim))
        tracker = TrackerService(
            TrackerSettings(
                redis_url=config.redis_url,
                key_prefix=config.prefix,
                calls_stream=f"{config.prefix}calls",
                instance="embedded",
                log_json=False,
                pbx={PBX: PbxTopology(tenant=config.tenant)},
            )
        )
        crm = CrmSyncService(_crm_settings(config, url, link_secret))
        presence = PresenceService(_presence_settings(config, sim))
        server = make_server(create_app(gateway, services), lifespan="off", grace_s=1)
        traffic = None
        if config.rate > 0:
            pace = TrafficConfig(
                rate=config.rate, concurrency=config.concurrency, phones=config.phones
            )
            traffic = TrafficGenerator(sim.pbx, pace)
        ami = PbxKeys(PBX, config.prefix).ami
        recorder = DemoRecordings(services.redis, ami, config.recordings)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(ingest.run(stop))
            tg.create_task(tracker.run(stop))
            tg.create_task(crm.run(stop))
            tg.create_task(presence.run(stop))
            tg.create_task(_serve(server, sock, stop))
            extra: list[asyncio.Task[object]] = [tg.create_task(recorder.run())]
            await _until(lambda: server.started, "the api-gateway did not start")
            await _until_ingesting(services.redis, ami)
            await _until_presence(services.redis, PbxKeys(PBX, config.prefix), sim)
            if traffic is not None:
                extra.append(tg.create_task(traffic.run()))
            try:
                yield Stack(
                    config=config,
                    sim=sim,
                    url=url,
                    gateway=gateway,
                    services=services,
                    ingest=ingest,
                    presence=presence,
                    traffic=traffic,
                )
            finally:
                for task in extra:
                    task.cancel()
                stop.set()
    sock.close()


def _presence_settings(config: StackConfig, sim: Simulator) -> PresenceSettings:
    """The presence service subscribing to the simulator's SIP presence server (UDP)."""
    return PresenceSettings(
        redis_url=config.redis_url,
        key_prefix=config.prefix,
        instance="embedded",
        log_json=False,
        pbx={
            PBX: PbxPresence(
                host=sim.host,
                port=sim.sip_port,
                transport="udp",
                extensions=list(sim.pbx.extensions),
                local_host=sim.host,
            )
        },
    )


def _ingest_settings(config: StackConfig, sim: Simulator) -> IngestSettings:
    return IngestSettings(
        redis_url=config.redis_url,
        key_prefix=config.prefix,
        instance="embedded",
        http=HttpSettings(port=-1),
        log_json=False,
        pbx={
            PBX: PbxSettings(
                host=sim.host,
                port=sim.port,
                username=sim.username,
                secret=Secret(config.sim_secret),
                auth="md5",
            )
        },
    )


async def _until(check: Callable[[], bool], what: str, limit_s: float = 15.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.01)


async def _until_ingesting(redis: aioredis.Redis, ami: str, limit_s: float = 15.0) -> None:
    """ami-ingest is logged in: its first entry (the channel snapshot) is on the stream."""
    deadline = time.monotonic() + limit_s
    while not await redis.xlen(ami):
        if time.monotonic() > deadline:
            raise TimeoutError("ami-ingest did not log in to the simulator")
        await asyncio.sleep(0.02)


async def _until_presence(
    redis: aioredis.Redis, keys: PbxKeys, sim: Simulator, limit_s: float = 15.0
) -> None:
    """The presence service has every extension's first state on the view."""
    deadline = time.monotonic() + limit_s
    while await redis.hlen(keys.presence_view) < len(sim.pbx.extensions):
        if time.monotonic() > deadline:
            raise TimeoutError("the presence service did not hear the simulator's extensions")
        await asyncio.sleep(0.02)


class DemoRecordings:
    """What a PBX's MixMonitor would write: for every ``MIXMONITOR_FILENAME`` the simulated
    calls set (read from the raw AMI stream), a short playable WAV under ``root``."""

    def __init__(self, redis: aioredis.Redis, ami_stream: str, root: Path) -> None:
        self._redis = redis
        self._stream = ami_stream
        self._root = root

    async def run(self) -> None:
        """Until cancelled; a Redis outage is waited out (cbstreams.TailReader)."""
        tail = TailReader(self._redis, {self._stream: "0-0"}, count=500,
                          link=RedisLink("demo recordings"))  # fmt: skip
        while True:
            for _, _, fields in await tail.read():
                name = _mixmonitor_file(fields)
                if name:
                    await asyncio.to_thread(self.write, name)

    def write(self, name: str) -> Path | None:
        path = PurePosixPath(name)
        if not path.is_relative_to(MONITOR_DIR):
            return None
        target = self._root / path.relative_to(MONITOR_DIR)
        if target.resolve().is_relative_to(self._root.resolve()) and not target.exists():
            seconds = 4 + int(hashlib.sha256(name.encode()).hexdigest(), 16) % 12
            write_tone(target, seconds)
        return target


def _mixmonitor_file(fields: dict[bytes, bytes]) -> str:
    if fields.get(b"ev") != b"VarSet" or b"MIXMONITOR_FILENAME" not in fields.get(b"raw", b""):
        return ""
    for line in fields[b"raw"].decode("utf-8", "replace").split("\r\n"):
        if line.startswith("Value: "):
            return line[len("Value: ") :]
    return ""


def write_tone(path: Path, seconds: int, rate: int = 8000) -> None:
    """A mono 16-bit WAV of ``seconds``: two alternating soft tones, like a quiet call."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytearray()
    for n in range(seconds * rate):
        pitch = 440.0 if (n // rate) % 2 == 0 else 550.0
        frames += struct.pack("<h", int(3000 * math.sin(2 * math.pi * pitch * n / rate)))
    partial = path.with_suffix(".part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    partial.replace(path)
