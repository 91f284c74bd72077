"""Replay sends: the capture's banner, our Login reply, then capture.data[login_end:]."""

from __future__ import annotations

from pathlib import Path

import pytest

from amisim import Capture, Simulator
from amisim.testing import Client

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ["inbound_busy", "inbound_missed"]


def _recorded_login_id(capture: Capture) -> str:
    head = capture.data[: capture.login_end].decode()
    return head.split("ActionID: ", 1)[1].split("\r\n", 1)[0]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("chunks", [True, False])
async def test_login_with_the_recorded_action_id_receives_the_capture_byte_for_byte(
    name: str, chunks: bool
) -> None:
    capture = Capture.load(FIXTURES / f"{name}.ami")
    async with Simulator(secret="x", replay=capture, replay_chunks=chunks) as sim:
        conn = await Client.connect(sim.host, sim.port)
        conn.send("Login", ActionID=_recorded_login_id(capture), Username="crm", Secret="x")
        await conn.wait_for(lambda: len(conn.raw) >= len(capture.data))
        assert bytes(conn.raw) == capture.data
        assert conn.messages[-1].response == "Goodbye"
        await conn.close()


async def test_chunked_pieces_follow_the_original_read_boundaries() -> None:
    capture = Capture.load(FIXTURES / "inbound_missed.ami")
    pieces = capture.after_login(chunks=True)
    assert b"".join(p for _, p in pieces) == capture.data[capture.login_end :]
    assert capture.chunks is not None
    start = capture.login_end
    expected = [off + n - max(off, start) for _, off, n in capture.chunks if off + n > start]
    assert [len(p) for _, p in pieces] == expected
    assert len(pieces) > 1


async def test_timed_replay_keeps_the_gaps_divided_by_speed() -> None:
    capture = Capture.load(FIXTURES / "inbound_missed.ami")
    assert capture.chunks is not None
    pieces = capture.after_login(chunks=True, speed=100.0)
    total = sum(delay for delay, _ in pieces)
    login_t = next(t for t, off, n in capture.frames if off + n == capture.login_end)
    recorded = capture.chunks[-1][0] - login_t
    assert total == pytest.approx(recorded / 100.0, abs=0.001 * len(pieces))
    assert all(delay >= 0.001 for delay, _ in pieces[1:])


async def test_chunked_replay_arrives_in_several_reads(sim: Simulator, client: Client) -> None:
    capture = Capture.load(FIXTURES / "inbound_missed.ami")
    before = len(client.raw)
    reads_before = len(client.reads)
    await sim.replay(capture, chunks=True)
    await client.wait_for(lambda: len(client.raw) - before >= len(capture.data) - capture.login_end)
    assert bytes(client.raw[before:]) == capture.data[capture.login_end :]
    assert len(client.reads) - reads_before > 1


async def test_replay_to_a_logged_in_session_holds_back_other_output(
    sim: Simulator, client: Client
) -> None:
    capture = Capture.load(FIXTURES / "inbound_busy.ami")
    before = len(client.raw)
    client.send("Ping", ActionID="during")
    await sim.replay(capture)
    await client.first(lambda m: m.action_id == "during")
    body = capture.data[capture.login_end :]
    assert body in bytes(client.raw[before:])  # contiguous: the Ping reply is not inside
