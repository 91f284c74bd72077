"""Redis unreachable: frames are buffered, then the AMI client is no longer read
(backpressure, reported in metrics); once Redis is back every frame is published in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from ami_ingest.testing import (
    SECRET,
    frames_of,
    read_until,
    running,
    settings_for,
    syncs,
    until,
)
from amisim import Capture, Simulator
from cbstreams import PbxKeys, connect
from cbstreams.localredis import redis_process


async def test_no_frame_is_lost_while_redis_is_down_and_backpressure_is_reported(
    load: Callable[[str], Capture],
) -> None:
    capture = load("attended_transfer_ami")
    want = capture.replayed_frames()
    keys = PbxKeys("main", prefix="outage:")
    with redis_process(fsync="always") as server:
        client = connect(server.url)
        async with Simulator(secret=SECRET, speed=0) as sim:
            settings = replace(settings_for(server.url, "outage:", sim), buffer_max_bytes=8192)
            async with running(settings) as service:
                await read_until(client, keys.ami, lambda e: bool(syncs(e)))
                server.stop()
                feed = asyncio.create_task(sim.replay(capture, chunks=True))
                blocked = service.metrics.backpressure.labels("main")
                await until(lambda: blocked._value.get() == 1.0)
                assert service.pbxs[0].buffer is not None
                assert service.pbxs[0].buffer.full
                await asyncio.to_thread(server.start)
                entries = await read_until(
                    client, keys.ami, lambda e: frames_of(e)[-1:] == want[-1:], timeout=30
                )
                await feed
                await until(lambda: blocked._value.get() == 0.0)
        await client.aclose()
    after_sync = next(i for i, (_, d) in enumerate(entries) if d[b"ev"] == b"callbridge.sync")
    assert frames_of(entries[after_sync + 1 :]) == want
    assert len({d[b"sess"] for _, d in entries}) == 1


async def test_two_replicas_across_a_redis_restart_publish_every_frame_once_in_order(
    load: Callable[[str], Capture],
) -> None:
    """The issue's 783/954-frame loss: the active replica's lease lapses during the outage and
    the standby (polling faster than the active renews) used to take it, and the active's
    buffer was dropped. Now the lapsed owner gets a hand-over grace: it re-takes the lease
    with the same generation and publishes every frame it received, in order, exactly once;
    the standby stays a standby."""
    capture = load("attended_transfer_ami")
    want = capture.replayed_frames()
    keys = PbxKeys("main", prefix="two:")
    with redis_process(fsync="always") as server:
        client = connect(server.url)
        async with Simulator(secret=SECRET, speed=0) as sim:
            a_settings = settings_for(server.url, "two:", sim, lease_ttl_ms=1000, lease_renew_s=0.3,
                                      standby_poll_s=0.05, lease_handover_grace_ms=600)  # fmt: skip
            async with running(a_settings) as a:
                await read_until(client, keys.ami, lambda e: bool(syncs(e)))
                async with running(replace(a_settings, instance="b")) as b:
                    await until(lambda: b.pbxs[0].lease.link.up)  # b polls as a standby
                    server.stop()
                    await sim.replay(capture, chunks=True)
                    frames_in = a.metrics.frames_in.labels("main")
                    await until(lambda: frames_in._value.get() >= len(want))
                    await until(lambda: not a.pbxs[0].lease.held)  # lapsed by a's own clock
                    assert not a.ready()  # /readyz: 503
                    assert a.metrics.redis_up.labels("main")._value.get() == 0
                    assert a.pbxs[0].buffer is not None
                    assert a.pbxs[0].buffer.bytes > 0
                    await asyncio.to_thread(server.start)
                    entries = await read_until(
                        client, keys.ami, lambda e: frames_of(e)[-1:] == want[-1:], timeout=30
                    )
                    token = await client.get(keys.lease())
                    assert a.ready()
                    assert b.pbxs[0].state == "standby"
                    assert a.link.outages == 1  # one outage, logged once
        await client.aclose()
    after_sync = next(i for i, (_, d) in enumerate(entries) if d[b"ev"] == b"callbridge.sync")
    assert frames_of(entries[after_sync + 1 :]) == want  # all of them, in order, once
    assert len(syncs(entries)) == 1
    assert len({d[b"sess"] for _, d in entries}) == 1
    # the same generation: nobody else published in between
    assert str(token).startswith("b'a#1.")
