"""ami-ingest serves its health and Prometheus metrics over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import redis.asyncio as aioredis

from ami_ingest.settings import HttpSettings
from ami_ingest.testing import (
    SECRET,
    frames_of,
    read_until,
    running,
    settings_for,
    until,
)
from amisim import Capture, Simulator
from cbstreams import PbxKeys


def _sample(metrics: str, name: str) -> float:
    """The value of ``callbridge_<name>{pbx="main"}``; -1 while it has no sample yet."""
    prefix = f'callbridge_{name}{{pbx="main"}}'
    lines = [x for x in metrics.splitlines() if x.startswith(prefix)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else -1.0


async def test_health_and_metrics_report_the_connection_and_every_published_frame(
    load: Callable[[str], Capture],
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
) -> None:
    capture = load("inbound_answered")
    want = capture.replayed_frames()
    key = PbxKeys("main", prefix=redis_prefix).ami
    async with Simulator(secret=SECRET, replay=capture) as sim:
        settings = settings_for(redis_url, redis_prefix, sim, http=HttpSettings(port=0))
        async with running(settings) as service, httpx.AsyncClient() as http:
            await read_until(redis_client, key, lambda e: len(frames_of(e)) >= len(want))
            assert service.http is not None
            await service.http.wait_started()
            health = await http.get(f"{service.http.url}/healthz")
            url = f"{service.http.url}/metrics"
            scraped: list[str] = []

            async def caught_up() -> bool:
                # counters move right after the XADD returns, gauges every 0.5 s: scrape
                # until both have seen this stream (a condition under a deadline)
                scraped[:] = [(await http.get(url)).text]
                published = _sample(scraped[0], "ingest_published_total")
                return published >= len(want) + 1 and _sample(scraped[0], "ami_connected") == 1

            await until(caught_up, timeout=10)
            metrics = scraped[0]
    assert health.status_code == 200
    assert _sample(metrics, "ami_connected") == 1
    assert _sample(metrics, "ingest_lease_held") == 1
    assert _sample(metrics, "ami_frames_in_total") >= len(want)
    assert _sample(metrics, "ingest_published_total") >= len(want) + 1  # + the sync entry
    assert _sample(metrics, "ingest_backpressure") == 0
