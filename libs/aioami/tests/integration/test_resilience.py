"""Keepalive, reconnects with backoff, never re-sent actions, hostile frames."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from aioami import AMIClient, AMIConfig, ConnectionLost, FrameBatch, Message
from aioami.testing import AMIPeer, ScriptedAMI, wait_until

MakeConfig = Callable[..., AMIConfig]


async def test_keepalive_detects_a_silent_peer_and_reconnects(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    server.answer_ping = False
    async with AMIClient(make_config(ping_interval=0.2, ping_timeout=0.2)) as ami:
        await wait_until(lambda: len(server.received("Ping")) >= 1)
        server.answer_ping = True
        await server.wait_peers(2)
        await wait_until(lambda: ami.session == 2)
        assert (await ami.send_action("Ping"))["Ping"] == "Pong"
    assert ami.stats.keepalive_failures == 1
    assert ami.stats.reconnects == 1


async def test_reconnect_backs_off_exponentially_with_jitter_up_to_the_cap(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    config = make_config(reconnect_initial=0.04, reconnect_max=0.16)
    async with AMIClient(config) as ami:
        server.refuse = 4
        server.peers[0].close()
        await server.wait_peers(2)
        await ami.wait_connected(timeout=5)
        assert ami.session == 2
    gaps = [b - a for a, b in zip(server.connect_times[1:], server.connect_times[2:], strict=False)]
    # delays drawn from [d/2, d] for d = 0.04, 0.08, 0.16, 0.16, 0.16 (plus connect time)
    assert len(gaps) == 4
    for gap, d in zip(gaps, [0.08, 0.16, 0.16, 0.16], strict=True):
        assert d / 2 * 0.9 <= gap <= d + 0.5
    assert ami.stats.reconnects == 1


async def test_an_originate_in_flight_fails_with_connection_lost_and_is_never_resent(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async def hang_up_on_it(peer: AMIPeer, msg: Message) -> None:
        peer.close()

    server.handlers["originate"] = hang_up_on_it
    async with AMIClient(make_config()) as ami:
        with pytest.raises(ConnectionLost, match=r"Originate.*not re-sent"):
            await ami.send_action("Originate", {"Channel": "PJSIP/100", "Exten": "200"})
        await server.wait_peers(2)
        await ami.wait_connected(timeout=5)
        await ami.send_action("Ping")  # a round trip on the new connection
        await ami.send_action("Ping")
    assert len(server.received("Originate")) == 1


@pytest.mark.parametrize(
    ("frame", "limits"),
    [
        (b"Event: Big\r\nData: " + b"x" * 10_000 + b"\r\n\r\n", {"max_frame_bytes": 4096}),
        (b"Event: Many\r\n" + b"H: v\r\n" * 60 + b"\r\n", {"max_headers": 50}),
        (b"\x00\xff garbage without end " * 400, {"max_frame_bytes": 4096}),
    ],
    ids=["oversized", "too-many-headers", "garbage"],
)
async def test_a_hostile_frame_drops_the_connection_and_the_client_reconnects(
    server: ScriptedAMI,
    make_config: MakeConfig,
    caplog: pytest.LogCaptureFixture,
    frame: bytes,
    limits: dict[str, int],
) -> None:
    async with AMIClient(make_config(**limits)) as ami:
        batches = ami.raw_batches()
        server.peers[0].send({"Event": "Before"}, frame)
        peer = await server.wait_peers(2)
        await wait_until(lambda: ami.session == 2)
        peer.send({"Event": "After"})
        frames: list[bytes] = []
        async with asyncio.timeout(5):
            async for item in batches:
                if isinstance(item, FrameBatch):
                    frames += item.frames
                if b"Event: After" in frames:
                    break
    assert ami.stats.frame_errors == 1
    assert b"Event: Before" in frames
    assert all(len(f) < 4096 for f in frames)
    assert any(r.levelno == logging.ERROR and r.name == "aioami" for r in caplog.records)
