"""A slow raw consumer pauses the socket (bounded memory) without being taken for dead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from aioami import AMIClient, AMIConfig, FrameBatch
from aioami.testing import AMIPeer, ScriptedAMI, wait_until

MakeConfig = Callable[..., AMIConfig]
MAX_BUFFER = 64 * 1024
ONE_READ = 256 * 1024  # asyncio reads at most this much per data_received
COUNT = 30_000  # ~13 MB: more than loopback socket buffers hold
PAD = "x" * 400


async def flood(peer: AMIPeer) -> None:
    for n in range(COUNT):
        peer.send({"Event": "Flood", "N": str(n), "Pad": PAD})
        if n % 100 == 99:
            await peer.writer.drain()
    await peer.writer.drain()


def numbers(frames: list[bytes]) -> list[int]:
    return [int(f.split(b"\r\n")[1][3:]) for f in frames if f.startswith(b"Event: Flood")]


async def test_a_slow_consumer_pauses_reading_and_resumes_below_half(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    config = make_config(max_buffer_bytes=MAX_BUFFER, ping_interval=0.05, ping_timeout=0.05)
    async with AMIClient(config) as ami:
        batches = ami.raw_batches()
        first = await anext(batches)  # registers the consumer
        peer = server.peers[0]
        writer = asyncio.create_task(flood(peer))
        await wait_until(lambda: ami.stats.paused)
        assert ami.stats.buffered_bytes <= MAX_BUFFER + ONE_READ
        # paused for many ping intervals: the peer must not be declared dead
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(peer.closed.wait(), 0.5)
        assert not writer.done()  # the server is blocked: we stopped reading

        got: list[int] = []
        peak = 0
        async with asyncio.timeout(20):
            async for item in batches:
                peak = max(peak, ami.stats.buffered_bytes)
                if isinstance(item, FrameBatch):
                    got += numbers(item.frames)
                if got and got[-1] == COUNT - 1:
                    break
        await writer
        assert isinstance(first, FrameBatch)
        assert got == list(range(COUNT))
        assert peak <= MAX_BUFFER + ONE_READ
        assert not ami.stats.paused
        assert ami.stats.keepalive_failures == 0
        assert ami.session == 1
        assert (await ami.send_action("Ping"))["Ping"] == "Pong"


async def test_without_a_consumer_frames_are_dropped_beyond_the_bound_and_counted(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async with AMIClient(make_config(max_buffer_bytes=MAX_BUFFER)) as ami:
        await flood(server.peers[0])
        await ami.send_action("Ping")  # every flood frame has been read by now
        assert not ami.stats.paused
        assert ami.stats.dropped_events > 0
        assert ami.stats.buffered_bytes <= MAX_BUFFER + ONE_READ
        kept: list[int] = []
        batches = ami.raw_batches()
        async with asyncio.timeout(5):
            while ami.stats.buffered_bytes > 0:
                item = await anext(batches)
                if isinstance(item, FrameBatch):
                    kept += numbers(item.frames)
    assert kept == list(range(len(kept)))  # the oldest are kept, in order
    assert len(kept) + ami.stats.dropped_events == COUNT
