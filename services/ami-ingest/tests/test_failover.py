"""Two replicas: only the lease holder connects and publishes; when it dies (SIGKILL), the
standby takes over within a few seconds with a new session and a sync entry."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import redis.asyncio as aioredis

from ami_ingest.testing import SECRET, frames_of, read_until, running, settings_for, syncs
from amisim import Capture, Simulator
from cbstreams import PbxKeys


async def test_the_standby_takes_over_within_a_few_seconds_of_the_active_dying(
    load: Callable[[str], Capture], redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    async with Simulator(secret=SECRET, replay=load("inbound_answered")) as sim:
        env = {
            **os.environ,
            "CB_REDIS_URL": redis_url,
            "CB_KEY_PREFIX": redis_prefix,
            "CB_INSTANCE": "a",
            "CB_HTTP__PORT": "-1",
            "CB_PBX__MAIN__HOST": sim.host,
            "CB_PBX__MAIN__PORT": str(sim.port),
            "CB_PBX__MAIN__USERNAME": "crm",
            "CB_PBX__MAIN__SECRET": SECRET,
            "CB_PBX__MAIN__AUTH": "plain",
        }
        active = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ami_ingest",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await read_until(redis_client, keys.ami, lambda e: bool(syncs(e)))
            settings = replace(settings_for(redis_url, redis_prefix, sim), instance="b")
            async with running(settings) as standby:
                assert str(await redis_client.get(keys.lease())).startswith("b'a#1.")
                assert standby.pbxs[0].state == "standby"
                assert len(sim.sessions) == 1  # only the active replica is connected

                killed_at = time.monotonic()
                active.send_signal(signal.SIGKILL)
                entries = await read_until(redis_client, keys.ami, lambda e: len(syncs(e)) >= 2)
                took = time.monotonic() - killed_at
                assert str(await redis_client.get(keys.lease())).startswith("b'b#2.")
        finally:
            if active.returncode is None:
                active.kill()
            await active.wait()
    # TTL 3 s + the hand-over grace 1.5 s (the lapsed owner may come back) + a poll
    assert took < 7.0, f"takeover took {took:.1f}s"
    first, second = (s[b"sess"] for s in syncs(entries))
    assert first != second
    assert frames_of(entries, second)  # the standby publishes its own session
