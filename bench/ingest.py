"""AMI ingest benchmark: parsing vs panoramisk, the raw path, end to end, and the XADD limit.

Usage: ``uv run python bench/ingest.py [--events N]`` (default 1,000,000). Every figure comes
from one run on the same generated stream (amisim's realistic call scenarios, noise
included), cut into 64 KiB reads as a socket would deliver it. Prints ``name=value`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from panoramisk.ami_protocol import AMIProtocol

from aioami import FrameSplitter, event_name, parse_frames
from ami_ingest.testing import SECRET, running, settings_for
from amisim import Simulator, blast_chunks, render_events
from cbstreams import PbxKeys, connect
from cbstreams.localredis import local_redis_server

READ_BYTES = 64 * 1024
PIPELINE = 1000


BANNER = b"Asterisk Call Manager/11.0.0\r\n"  # Asterisk 22, as in the captures


def make_stream(n_events: int) -> list[bytes]:
    """A connection's bytes: the banner, then ``n_events`` frames, cut into fixed-size reads
    (frames split across them)."""
    data = BANNER + b"".join(render_events(n_events, seed=20261127))
    return [data[i : i + READ_BYTES] for i in range(0, len(data), READ_BYTES)]


async def stream_length(client: aioredis.Redis, key: str) -> int:
    return int(await client.xlen(key))


async def wait_for_length(client: aioredis.Redis, key: str, length: int, limit_s: float) -> None:
    """Poll XLEN until it reaches ``length`` (a condition under a deadline)."""
    deadline = time.monotonic() + limit_s
    while await stream_length(client, key) < length:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} did not reach {length} entries within {limit_s}s")
        await asyncio.sleep(0.01)


async def ingest_end_to_end(url: str, reads: list[bytes], n_events: int) -> float:
    """Simulator -> TCP loopback -> aioami -> ami-ingest -> Redis, until every frame is in."""
    prefix = "bench:"
    async with Simulator(secret=SECRET) as sim:
        settings = settings_for(url, prefix, sim)
        key = PbxKeys("main", prefix).ami
        client = connect(url)
        try:
            async with running(settings):
                await wait_for_length(client, key, 1, 20)  # logged in: the sync entry is there
                before = await stream_length(client, key)
                start = time.perf_counter()
                # the simulator sent its own banner at login: blast the frames only
                await blast_chunks(sim, [reads[0][len(BANNER) :], *reads[1:]])
                await wait_for_length(client, key, before + n_events, 300)
                elapsed = time.perf_counter() - start
            await client.delete(key)
        finally:
            await client.aclose()
    return n_events / elapsed


def rate(n: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def parse_panoramisk(reads: list[bytes]) -> None:
    """panoramisk 1.4's own protocol class, fed the reads as its transport would."""

    class _Transport:
        def write(self, data: bytes) -> None: ...
        def close(self) -> None: ...

    class _Factory:
        def dispatch(self, message: object) -> None: ...

    proto = AMIProtocol()
    proto.connection_made(_Transport())
    proto.factory = _Factory()
    for data in reads:
        proto.data_received(data)


def parse_aioami(reads: list[bytes]) -> None:
    """Full parse: every frame to a header map (aioami.Message)."""
    splitter = FrameSplitter()
    for data in reads:
        parse_frames(splitter.feed(data))


def raw_aioami(reads: list[bytes]) -> None:
    """The ingest path: frames untouched, only the event name extracted."""
    splitter = FrameSplitter()
    for data in reads:
        for frame in splitter.feed(data):
            event_name(frame)


def entries(reads: list[bytes]) -> list[tuple[bytes, ...]]:
    """The stream entries ingest writes for these frames (raw, ev, rx, sess)."""
    splitter = FrameSplitter()
    rx = str(int(time.time() * 1e6)).encode()
    out: list[tuple[bytes, ...]] = []
    for data in reads:
        for frame in splitter.feed(data):
            out.append((b"raw", frame, b"ev", event_name(frame), b"rx", rx, b"sess", b"1"))
    return out


async def xadd_limit(url: str, key: str, items: list[tuple[bytes, ...]]) -> float:
    """The same entries XADDed by a bare pipelined redis-py loop (1000 per round-trip)."""
    client = connect(url)
    try:
        start = time.perf_counter()
        for i in range(0, len(items), PIPELINE):
            pipe = client.pipeline(transaction=False)
            for item in items[i : i + PIPELINE]:
                pipe.execute_command("XADD", key, "*", *item)
            await pipe.execute()
        elapsed = time.perf_counter() - start
        await client.delete(key)
        return len(items) / elapsed
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.events
    reads = make_stream(n)
    print(f"events={n}")
    print(f"stream_bytes={sum(map(len, reads))}")
    pano = rate(n, lambda: parse_panoramisk(reads))
    parse = rate(n, lambda: parse_aioami(reads))
    raw = rate(n, lambda: raw_aioami(reads))
    print(f"panoramisk_parse_events_per_s={pano:.0f}")
    print(f"aioami_parse_events_per_s={parse:.0f}")
    print(f"aioami_raw_frames_per_s={raw:.0f}")
    print(f"aioami_parse_vs_panoramisk={parse / pano:.2f}")
    print(f"aioami_raw_vs_panoramisk={raw / pano:.2f}")
    with local_redis_server(tcp=True) as url:
        limit = asyncio.run(xadd_limit(url, "bench:{pbx}:xadd", entries(reads)))
        ingest = asyncio.run(ingest_end_to_end(url, reads, n))
    print(f"ingest_events_per_s={ingest:.0f}")
    print(f"xadd_limit_events_per_s={limit:.0f}")
    print(f"ingest_vs_xadd_limit={ingest / limit:.2f}")


if __name__ == "__main__":
    main()
