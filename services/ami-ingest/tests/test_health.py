"""ami-ingest serves its health and Prometheus metrics over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import redis.asyncio as aioredis

from ami_ingest.settings import HttpSettings
from ami_ingest.testing import SECRET, expected_frames, frames_of, read_until, running, settings_for
from amisim import Capture, Simulator
from cbstreams import PbxKeys


def _sample(metrics: str, name: str) -> float:
    line = next(x for x in metrics.splitlines() if x.startswith(f'callbridge_{name}{{pbx="main"}}'))
    return float(line.rsplit(" ", 1)[1])


async def test_health_and_metrics_report_the_connection_and_every_published_frame(
    load: Callable[[str], Capture],
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
) -> None:
    capture = load("inbound_answered")
    want = expected_frames(capture)
    key = PbxKeys("main", prefix=redis_prefix).ami
    async with Simulator(secret=SECRET, replay=capture) as sim:
        settings = settings_for(redis_url, redis_prefix, sim, http=HttpSettings(port=0))
        async with running(settings) as service, httpx.AsyncClient() as http:
            await read_until(redis_client, key, lambda e: len(frames_of(e)) >= len(want))
            assert service.http is not None
            await service.http.wait_started()
            health = await http.get(f"{service.http.url}/healthz")
            metrics = (await http.get(f"{service.http.url}/metrics")).text
    assert health.status_code == 200
    assert _sample(metrics, "ami_connected") == 1
    assert _sample(metrics, "ingest_lease_held") == 1
    assert _sample(metrics, "ami_frames_in_total") >= len(want)
    assert _sample(metrics, "ingest_published_total") >= len(want) + 1  # + the sync entry
    assert _sample(metrics, "ingest_backpressure") == 0
