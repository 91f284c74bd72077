"""Prints name=value figures: StreamPublisher vs a bare pipelined redis-py XADD loop, and
the cost of trimming on every XADD vs periodically (run it with ``uv run python <this file>``)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from cbstreams import StreamPublisher, Trimmer, connect
from cbstreams.localredis import local_redis_server

N, BATCH, RUNS = 100_000, 1000, 5
FRAME = b"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/100-00000001\r\n" * 6


def _entries(i: int) -> list[list[bytes | int]]:
    return [[b"raw", FRAME, b"ev", b"VarSet", b"rx", 1795740923858887 + i, b"sess", 1]] * BATCH


async def bare(r: aioredis.Redis, key: str, trim: bool) -> None:
    for i in range(N // BATCH):
        pipe = r.pipeline(transaction=False)
        for entry in _entries(i):
            if trim:
                pipe.execute_command("XADD", key, "MINID", "~", "0", "*", *entry)
            else:
                pipe.execute_command("XADD", key, "*", *entry)
        await pipe.execute()


async def ours(r: aioredis.Redis, key: str) -> None:
    pub = StreamPublisher(r, key, Trimmer(3_600_000, every_s=1.0))
    for i in range(N // BATCH):
        await pub.publish(_entries(i))


async def measure(r: aioredis.Redis, name: str, fn: Callable[[str], Awaitable[None]]) -> float:
    rates = []
    for run in range(RUNS):
        key = f"bench:{name}:{run}"
        t0 = time.perf_counter()
        await fn(key)
        rates.append(N / (time.perf_counter() - t0))
        await r.delete(key)
    rate = statistics.median(rates)
    print(f"{name}_entries_per_s={rate:.0f}")  # noqa: T201
    return rate


async def main(url: str) -> None:
    r = connect(url)
    await bare(r, "bench:warmup", False)
    await r.delete("bench:warmup")
    base = await measure(r, "bare_pipeline", lambda k: bare(r, k, False))
    trim_each = await measure(r, "bare_pipeline_minid_each_xadd", lambda k: bare(r, k, True))
    pub = await measure(r, "stream_publisher_periodic_trim", lambda k: ours(r, k))
    print(f"publisher_vs_bare={pub / base:.2f}")  # noqa: T201
    print(f"trim_each_xadd_vs_bare={trim_each / base:.2f}")  # noqa: T201
    await r.aclose()


if __name__ == "__main__":
    with local_redis_server() as url:
        asyncio.run(main(url))
