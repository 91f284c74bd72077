"""presence figures (``uv run python -m bench.presence``: as a module, since run as a
file this script's name would shadow the presence package) on a real Asterisk 22
(../shared/asterisk) watching N extensions (default 200, ``--extensions``) through one
resource list of 50 per package (Asterisk sends no NOTIFY over 64 KB, ~1 KB an
extension), with a private
redis-server (or REDIS_URL). Each extension's hint is a custom device the bench switches
over AMI (``DEVICE_STATE(Custom:lampNNN)`` = INUSE, then NOT_INUSE), one change at a time.
Prints ``name=value`` lines:

* ``presence_p50_ms`` / ``presence_p99_ms`` — from the AMI Setvar that changes the state to
  the change arriving on the api-gateway's presence feed (a WebSocket of an ``events:read``
  key): Asterisk's NOTIFY, our parse, Redis XADD, the gateway's XREAD and the socket;
* ``presence_redis_p50_ms`` / ``_p99_ms`` — the same to the entry on
  ``{prefix}{pbx}:presence`` (read back by a blocking XREAD);
* ``ami_extensionstatus_p50_ms`` / ``_p99_ms`` — the same changes as Asterisk's own AMI
  ``ExtensionStatus`` events reach an AMI client: what a user would watch instead;
* ``presence_subscriptions`` — SUBSCRIBE dialogs the service needed for N extensions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import websockets

from aioami import AMIClient
from api_gateway.main import serve
from api_gateway.settings import TenantSettings
from api_gateway.state import open_services
from api_gateway.testing import settings_for
from cbcontracts.presence import decode_presence
from cbruntime import Secret
from cbstreams import PbxKeys, connect
from cbstreams.localredis import local_redis_server
from pbxlab.asterisk import free_port, kit_dir, start_asterisk
from presence.main import PresenceService
from presence.settings import PbxPresence, PresenceSettings

HERE = Path(__file__).resolve().parent
BASE_CONF = HERE.parent / "services" / "presence" / "tests" / "asterisk"
FIRST = 3000
#: Extensions per resource list: Asterisk sends no NOTIFY over 64 KB (~1 KB each).
LIST_SIZE = 50


def write_conf(target: Path, n: int) -> None:
    """The test PBX config plus N lamp extensions in the hints and in two lists."""
    target.mkdir(parents=True)
    for f in BASE_CONF.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    exts = [str(FIRST + i) for i in range(n)]
    hints = "".join(f"exten => {e},hint,Custom:lamp{e}\n" for e in exts)
    with (target / "extensions.conf").open("a") as ext_conf:
        ext_conf.write("\n[presence-hints]\n" + hints)
    with (target / "pjsip.conf").open("a") as pjsip:
        for k, chunk in enumerate(chunks(exts)):
            items = "".join(f"list_item = {e}\n" for e in chunk)
            for event in ("dialog", "presence"):
                pjsip.write(f"\n[bench-{event}-{k}]\ntype = resource_list\nevent = {event}\n")
                pjsip.write(f"{items}notification_batch_interval = 0\n")


def chunks(exts: list[str], size: int = LIST_SIZE) -> list[list[str]]:
    return [exts[i : i + size] for i in range(0, len(exts), size)]


@contextlib.asynccontextmanager
async def redis_url() -> AsyncIterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with local_redis_server() as url:
        yield url


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(n: int, rounds: int) -> None:
    if kit_dir() is None:
        raise SystemExit("bench/presence.py needs ../shared/asterisk")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        conf = tmp / "conf"
        write_conf(conf, n)
        ast = start_asterisk(
            "22", tmp / "ast", conf,
            defines={"SIP_TCP_PORT": free_port(), "SIP_TLS_PORT": free_port(),
                     "TLS_CERT": "/nonexistent", "TLS_KEY": "/nonexistent",
                     "WATCHER_SECRET": "bench-secret"},
        )  # fmt: skip
        try:
            async with redis_url() as url:
                await run(ast.sip_port, ast.ami_config(), url, n, rounds)
        finally:
            ast.stop()


async def run(sip_port: int, ami_config: object, url: str, n: int, rounds: int) -> None:
    exts = [str(FIRST + i) for i in range(n)]
    prefix = f"bench-presence-{os.getpid()}:"
    settings = PresenceSettings(
        redis_url=url,
        key_prefix=prefix,
        pbx={
            "lab": PbxPresence(
                port=sip_port, username="watcher", password=Secret("bench-secret"),
                extensions=exts,
                lists={
                    event: [f"bench-{event}-{k}" for k in range(len(chunks(exts)))]
                    for event in ("dialog", "presence")
                },
            )
        },
    )  # fmt: skip
    redis = connect(url)
    stream = PbxKeys("lab", prefix).presence
    svc = PresenceService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    ours: list[float] = []
    theirs: list[float] = []
    arrived: dict[tuple[str, str, str], float] = {}  # (source, ext, state) -> perf_counter
    feed_ms: list[float] = []
    feed_open = asyncio.Event()

    async def tail_feed(url: str) -> None:
        async with websockets.connect(url, open_timeout=20, max_size=None) as ws:
            async for text in ws:
                message = json.loads(text)
                if message.get("type") == "presence.snapshot":
                    feed_open.set()
                elif message.get("type") == "presence.state":
                    st = message["state"]
                    arrived[("feed", st["extension"], st["state"])] = time.perf_counter()

    async def tail_stream(last: bytes) -> None:
        while True:
            reply: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] = await redis.xread(
                {stream: last}, block=1000, count=100
            )  # type: ignore[assignment]
            for _key, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    p = decode_presence(fields[b"data"])
                    arrived[("ours", p.extension, p.state)] = time.perf_counter()

    async def tail_ami(ami: AMIClient) -> None:
        async for ev in ami.events("ExtensionStatus"):
            state = {"1": "in_call", "0": "idle"}.get(ev.get("Status") or "", "other")
            arrived[("ami", ev.get("Exten") or "", state)] = time.perf_counter()

    try:
        async with AMIClient(ami_config) as ami:  # type: ignore[arg-type]
            deadline = time.monotonic() + 60
            while await redis.hlen(PbxKeys("lab", prefix).presence_view) < n:
                if time.monotonic() > deadline:
                    raise SystemExit("the presence view never filled")
                await asyncio.sleep(0.05)
            newest: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrevrange(stream, count=1)  # type: ignore[assignment]
            gateway = replace(
                settings_for(url, prefix),
                tenants={"bench": TenantSettings(pbx=["lab"])},
                port=free_port(),
            )
            stop_gw, started = asyncio.Event(), asyncio.Event()
            gw_task = asyncio.create_task(serve(gateway, stop_gw, started))
            await asyncio.wait_for(started.wait(), 20)
            async with open_services(gateway) as services:
                _, token = await services.keys.create("bench", ("events:read",))
            feed_url = f"ws://127.0.0.1:{gateway.port}/v1/feeds/presence?token={token}"
            tails = [
                asyncio.create_task(tail_stream(newest[0][0])),
                asyncio.create_task(tail_ami(ami)),
                asyncio.create_task(tail_feed(feed_url)),
            ]
            await asyncio.wait_for(feed_open.wait(), 20)  # the feed's snapshot, then it follows
            for r in range(rounds):
                value = "INUSE" if r % 2 == 0 else "NOT_INUSE"
                want = "in_call" if value == "INUSE" else "idle"
                for ext in exts:
                    for source in ("ours", "ami", "feed"):
                        arrived.pop((source, ext, want), None)
                    t0 = time.perf_counter()
                    await ami.send_action(
                        "Setvar", {"Variable": f"DEVICE_STATE(Custom:lamp{ext})", "Value": value}
                    )
                    until = time.monotonic() + 10
                    while any((src, ext, want) not in arrived for src in ("ours", "ami", "feed")):
                        if time.monotonic() > until:
                            raise SystemExit(f"no change of {ext} to {want} within 10 s")
                        await asyncio.sleep(0.0005)
                    ours.append((arrived[("ours", ext, want)] - t0) * 1000)
                    theirs.append((arrived[("ami", ext, want)] - t0) * 1000)
                    feed_ms.append((arrived[("feed", ext, want)] - t0) * 1000)
            for t in tails:
                t.cancel()
            stop_gw.set()
            await gw_task
        subs = len(svc.watchers[0].subscriptions)
    finally:
        stop.set()
        await task
        await redis.aclose()
    print(f"presence_extensions={n}")
    print(f"presence_changes={len(ours)}")
    print(f"presence_subscriptions={subs}")
    print(f"presence_p50_ms={statistics.median(feed_ms):.1f}")
    print(f"presence_p99_ms={pct(feed_ms, 99):.1f}")
    print(f"presence_redis_p50_ms={statistics.median(ours):.1f}")
    print(f"presence_redis_p99_ms={pct(ours, 99):.1f}")
    print(f"ami_extensionstatus_p50_ms={statistics.median(theirs):.1f}")
    print(f"ami_extensionstatus_p99_ms={pct(theirs, 99):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extensions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.extensions, args.rounds))
