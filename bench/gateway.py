"""api-gateway benchmark: dialplan routing lookups and operator card push, over real HTTP.

Usage: ``uv run python bench/gateway.py [--route-rate N] [--route-seconds S] [--samples N]
[--ami-rate N]``. A private redis-server; the gateway on a real uvicorn on 127.0.0.1. Prints
``name=value`` lines:

* ``route_lookup_p50_ms`` / ``route_lookup_p99_ms`` / ``route_lookup_rate``: ``GET /v1/route``
  of a cached number (allow-listed source address, as the dialplan's ``CURL()``), paced
  open-loop at ``--route-rate`` per second for ``--route-seconds`` by a client in its own
  process (the PBX is another host), latency per request as that client sees it: request
  written -> response read, over keep-alive connections.
* ``card_push_p50_ms`` / ``card_push_p99_ms``: the whole suite in this process — the AMI
  simulator -> ami-ingest -> call-tracker -> api-gateway — with background AMI traffic at
  ``--ami-rate`` events/s (amisim's realistic mix, to extensions 101-103, paced every few ms).
  An operator session of extension 100 holds a WebSocket to the gateway. Each sample: the
  simulator starts an inbound call ringing 100; the time from the simulator writing the
  ``DialBegin`` to ``PJSIP/100`` to the socket until 100's WebSocket has the ``card.show``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing
import random
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

import redis.asyncio as aioredis
import websockets

import cbruntime
from ami_ingest.testing import SECRET, running, settings_for
from amisim import Simulator, blast_chunks, render_events
from api_gateway.main import serve
from api_gateway.services.routing import RedisRouteCache
from api_gateway.services.sessions import SessionStore
from api_gateway.settings import FeedSettings, GatewaySettings, RouteSettings, TenantSettings
from call_tracker.main import TrackerService
from call_tracker.settings import PbxTopology, TrackerSettings
from cbstreams import PbxKeys, connect
from cbstreams.localredis import local_redis_server

PREFIX = "bench:"
TENANT = "acme"
OPERATOR = "100"
BACKGROUND_EXTENSIONS = ("101", "102", "103")
ROUTE_NUMBERS = 1000


def gateway_settings(url: str) -> GatewaySettings:
    return GatewaySettings(
        redis_url=url,
        key_prefix=PREFIX,
        port=0,
        log_json=False,
        tenants={TENANT: TenantSettings(pbx=["main"])},
        route=RouteSettings(fallback="600", allow={"127.0.0.0/8": TENANT}),
        feeds=FeedSettings(calls_stream=f"{PREFIX}calls", crm_stream=f"{PREFIX}crm:events"),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def number(i: int) -> str:
    return f"7916{i:07d}"


def extension_of(i: int) -> str:
    return str(200 + i % 50)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def gateway_running(settings: GatewaySettings) -> AsyncIterator[str]:
    """``api_gateway.main.serve`` — the production entry point — on a free loopback port."""
    settings = replace(settings, port=free_port())
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, started))
    try:
        async with asyncio.timeout(20):
            await started.wait()
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# Routing ---------------------------------------------------------------------------------------
@dataclass
class RouteResult:
    latencies: list[float] = field(default_factory=list)
    wrong: int = 0
    errors: int = 0
    elapsed: float = 0.0


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, as lean as a load generator's: the request bytes
    written at once, the response read by its Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, target: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: gw\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def route_load(
    host: str, port: int, rate: float, seconds: float, warmup: float, connections: int = 32
) -> RouteResult:
    """Open loop: request ``i`` is due at ``t0 + i / rate`` whatever the earlier ones do. It
    takes an idle keep-alive connection, opens one while fewer than ``connections`` are
    open (a PBX has a bounded number of channels running CURL), else waits for one: that
    wait counts in its latency."""
    result = RouteResult()
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    opened: list[HttpConnection] = []

    async def take() -> HttpConnection:
        if idle.empty() and len(opened) < connections:
            opened.append(await HttpConnection.open(host, port))
            return opened[-1]
        return await idle.get()

    async def one(i: int, counted: bool) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(5):
                conn = await take()
                status, body = await conn.get(f"/v1/route?number={number(i % ROUTE_NUMBERS)}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            result.errors += 1
            return
        took = time.perf_counter() - started
        idle.put_nowait(conn)
        if status != 200 or body != extension_of(i % ROUTE_NUMBERS).encode():
            result.wrong += 1
        if counted:
            result.latencies.append(took)

    total = int(rate * (warmup + seconds))
    skip = int(rate * warmup)
    loop = asyncio.get_running_loop()
    measured_from = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as tg:
            t0 = loop.time()
            for i in range(total):
                delay = t0 + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if i == skip:
                    measured_from = time.perf_counter()
                tg.create_task(one(i, i >= skip))
        result.elapsed = time.perf_counter() - measured_from
    finally:
        for conn in opened:
            conn.close()
    return result


def route_client(host: str, port: int, rate: float, seconds: float, out: Connection) -> None:
    """The child process: the load, its figures sent back through ``out`` (always)."""
    figures: tuple[list[float], int, int, float] = ([], 0, 0, 1.0)
    gc.collect()
    gc.freeze()  # this process imported the whole suite: no full GC passes over it mid-load
    try:
        result = asyncio.run(route_load(host, port, rate, seconds, warmup=1.0))
        figures = (result.latencies, result.wrong, result.errors, result.elapsed)
    finally:
        out.send(figures)
        out.close()


async def bench_route(url: str, rate: float, seconds: float) -> None:
    settings = gateway_settings(url)
    redis = connect(url)
    cache = RedisRouteCache(redis, PREFIX)
    for i in range(ROUTE_NUMBERS):
        await cache.put(TENANT, number(i), extension_of(i))
    async with gateway_running(settings) as base:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        host, port = base.removeprefix("http://").split(":")
        child = ctx.Process(
            target=route_client, args=(host, int(port), rate, seconds, send), daemon=True
        )
        cpu = time.process_time()
        child.start()
        send.close()
        # the child's answer arrives while this loop keeps serving it
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(receive.fileno(), ready.set)
        try:
            async with asyncio.timeout(seconds + 60):
                await ready.wait()
        finally:
            loop.remove_reader(receive.fileno())
        latencies, wrong, errors, elapsed = receive.recv()
        cpu = time.process_time() - cpu
        child.join(10)
    await redis.aclose()
    print(f"route_lookup_requests={len(latencies)}")
    print(f"route_lookup_rate={len(latencies) / elapsed:.0f}")
    print(f"route_lookup_wrong_answers={wrong}")
    print(f"route_lookup_errors={errors}")
    print(f"route_lookup_p50_ms={percentile(latencies, 0.50) * 1000:.2f}")
    print(f"route_lookup_p99_ms={percentile(latencies, 0.99) * 1000:.2f}")
    print(f"route_lookup_p999_ms={percentile(latencies, 0.999) * 1000:.2f}")
    print(f"route_lookup_max_ms={max(latencies) * 1000:.2f}")
    print(f"route_lookup_over_5ms={sum(t > 0.005 for t in latencies)}")
    served = rate * (seconds + 1.0)  # warm-up included
    print(f"route_server_cpu_ms_per_request={cpu / served * 1000:.3f}")


# Card push -------------------------------------------------------------------------------------
@dataclass
class Background:
    """AMI traffic written to the simulator's sessions, paced to ``rate`` events/s."""

    sim: Simulator
    rate: float
    limit_s: float
    sent: int = 0
    elapsed: float = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        chunks = render_events(
            int(self.rate * self.limit_s) + 1000,
            extensions=BACKGROUND_EXTENSIONS,
            chunk_bytes=8 * 1024,  # ~15 events: a write every ~8 ms at 2,000/s
            start=time.time() - 30 * 86_400,  # Uniqueids apart from the simulator's own calls
            seed=20261127,
        )
        started = time.perf_counter()
        for chunk in chunks:
            if stop.is_set() or time.perf_counter() - started > self.limit_s:
                break
            await blast_chunks(self.sim, [chunk])
            self.sent += chunk.count(b"\r\n\r\n")
            ahead = self.sent / self.rate - (time.perf_counter() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        self.elapsed = time.perf_counter() - started


class RingClock:
    """When the simulator wrote each ``DialBegin`` to the operator's channel: wraps the
    simulated PBX's ``emit`` (which writes the frames to every session's socket at once)."""

    def __init__(self, sim: Simulator, extension: str) -> None:
        self.rung: dict[str, float] = {}
        self._dest = f"\r\nDestChannel: PJSIP/{extension}-".encode()
        original = sim.pbx.emit

        def emit(frames: list[bytes], owner: object | None = None) -> None:
            now = time.perf_counter()
            for frame in frames:
                if frame.startswith(b"Event: DialBegin\r\n") and self._dest in frame:
                    self.rung[_header(frame, b"DestLinkedid")] = now
            original(frames, owner)

        sim.pbx.emit = emit  # type: ignore[method-assign]


def _header(frame: bytes, name: bytes) -> str:
    start = frame.index(b"\r\n" + name + b": ") + len(name) + 4
    return frame[start : frame.index(b"\r\n", start)].decode()


class CardWatcher:
    """The operator's WebSocket: when each ``card.show`` arrived, by call id."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.messages = 0
        self._waiters: dict[str, asyncio.Future[float]] = {}

    def expect(self, call_id: str) -> asyncio.Future[float]:
        future = asyncio.get_running_loop().create_future()
        self._waiters[call_id] = future
        return future

    async def run(self, ws: websockets.ClientConnection) -> None:
        async for raw in ws:
            now = time.perf_counter()
            self.messages += 1
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") != "card.show":
                continue
            self.arrived[message["call_id"]] = now
            waiter = self._waiters.pop(message["call_id"], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)


async def until(cond: Callable[[], Awaitable[bool]], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not await cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {limit_s}s")
        await asyncio.sleep(0.02)


@dataclass
class CardResult:
    latencies: list[float]
    missed: int
    foreign: int
    background_rate: float
    ami_entries: int
    call_events: int


async def bench_cards(url: str, samples: int, ami_rate: float, limit_s: float) -> CardResult:
    keys = PbxKeys("main", PREFIX)
    tracking = TrackerSettings(
        redis_url=url,
        key_prefix=PREFIX,
        calls_stream=f"{PREFIX}calls",
        instance="bench",
        log_json=False,
        pbx={"main": PbxTopology()},
    )
    gateway = gateway_settings(url)
    redis = connect(url)
    async with (
        Simulator(secret=SECRET, speed=0) as sim,
        running(settings_for(url, PREFIX, sim)),
        cbruntime.running(TrackerService(tracking)),
        gateway_running(gateway) as base,
    ):
        await until(lambda: _has_entries(redis, keys.ami), 20, "ami-ingest did not log in")
        clock = RingClock(sim, OPERATOR)
        sessions = SessionStore(redis, PREFIX)
        _, token = await sessions.issue(TENANT, "op100", OPERATOR, 3600, "bench")
        ws_url = base.replace("http://", "ws://") + f"/v1/feeds/events?token={token}"
        watcher = CardWatcher()
        stop = asyncio.Event()
        background = Background(sim, ami_rate, limit_s)
        latencies: list[float] = []
        missed = 0
        ours: set[str] = set()
        async with websockets.connect(ws_url) as ws, asyncio.TaskGroup() as tg:
            tg.create_task(watcher.run(ws))
            load = tg.create_task(background.run(stop))
            await asyncio.sleep(2.0)  # the background reaches its steady rate first
            rng = random.Random(7)
            warmup = max(3, samples // 20)
            ends = time.monotonic() + limit_s - 5
            for i in range(samples + warmup):
                if time.monotonic() > ends:
                    break
                call = sim.start_call(
                    "inbound_missed", ext1=OPERATOR, pause_before="HangupRequest", speed=0
                )
                call_id = call.values["linkedid"]
                ours.add(call_id)
                card = watcher.expect(call_id)
                try:
                    async with asyncio.timeout(5):
                        arrived = await card
                except TimeoutError:
                    missed += 1
                else:
                    if i >= warmup:
                        latencies.append(arrived - clock.rung[call_id])
                call.fast_forward()  # the caller gives up: HangupRequest, DialEnd, Hangup
                async with asyncio.timeout(5):
                    await call.wait()
                await asyncio.sleep(rng.uniform(0.05, 0.15))  # arrivals spread in time
            stop.set()
            await load
            await ws.close()
        entries = int(await redis.xlen(keys.ami))
        events = int(await redis.xlen(tracking.calls_stream))
    await redis.aclose()
    return CardResult(
        latencies=latencies,
        missed=missed,
        foreign=len(set(watcher.arrived) - ours),
        background_rate=background.sent / background.elapsed,
        ami_entries=entries,
        call_events=events,
    )


async def _has_entries(redis: aioredis.Redis, key: str) -> bool:
    return int(await redis.xlen(key)) > 0


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # route fallbacks are counted, not logged
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route-rate", type=float, default=1000.0)
    parser.add_argument("--route-seconds", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--ami-rate", type=float, default=2000.0)
    parser.add_argument("--card-limit-s", type=float, default=60.0)
    args = parser.parse_args()
    with local_redis_server(tcp=True) as url:
        asyncio.run(bench_route(url, args.route_rate, args.route_seconds))
        cards = asyncio.run(bench_cards(url, args.samples, args.ami_rate, args.card_limit_s))
    print(f"card_push_background_ami_events_per_s={cards.background_rate:.0f}")
    print(f"card_push_samples={len(cards.latencies)}")
    print(f"card_push_missed={cards.missed}")
    print(f"card_push_foreign_cards={cards.foreign}")
    print(f"card_push_ami_entries={cards.ami_entries}")
    print(f"card_push_call_events={cards.call_events}")
    if cards.latencies:
        print(f"card_push_p50_ms={statistics.median(cards.latencies) * 1000:.2f}")
        print(f"card_push_p99_ms={percentile(cards.latencies, 0.99) * 1000:.2f}")
        print(f"card_push_max_ms={max(cards.latencies) * 1000:.2f}")


if __name__ == "__main__":
    main()
