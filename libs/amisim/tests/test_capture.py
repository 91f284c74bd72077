"""Capturing a live AMI stream in the shared capture format, and replaying the result."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import trustme

from amisim import Capture, Simulator, capture, load_template
from amisim.testing import Client

SECRET = "s3cret"


async def _until_logged_in(sim: Simulator) -> None:
    """Poll under a deadline: the capture client is not ours to hook into."""
    async with asyncio.timeout(10):
        while not any(s.authenticated for s in sim.sessions):  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _assert_tiles(rows: list[dict[str, object]], size: int) -> None:
    offset = 0
    for row in rows:
        assert row["offset"] == offset
        offset += int(str(row["length"]))
    assert offset == size


async def _record_call(sim: Simulator, out: Path, ssl_context: ssl.SSLContext | None = None) -> int:
    frames = 2 + load_frames("inbound_answered")
    task = asyncio.create_task(
        capture(sim.host, sim.port, "crm", SECRET, out, ssl_context=ssl_context, max_frames=frames)
    )
    await _until_logged_in(sim)
    await sim.play("inbound_answered")
    result = await task
    return result.frames


def load_frames(name: str) -> int:
    return load_template(name).frame_count


async def test_capture_files_are_consistent_with_each_other(sim: Simulator, tmp_path: Path) -> None:
    frames = await _record_call(sim, tmp_path / "call")
    data = (tmp_path / "call.ami").read_bytes()
    times, chunks = _rows(tmp_path / "call.times.jsonl"), _rows(tmp_path / "call.chunks.jsonl")
    assert data.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n")
    assert data.endswith(
        b"Response: Goodbye\r\nActionID: "
        + str(times[-1]["actionid"]).encode()
        + b"\r\nMessage: Thanks for all the fish.\r\n\r\n"
    )
    _assert_tiles(times, len(data))
    _assert_tiles(chunks, len(data))
    assert len(times) == frames
    assert times[0]["banner"] == "Asterisk Call Manager/11.0.0"
    assert [set(r) for r in times[:3]] == [
        {"t", "event", "banner", "offset", "length"},
        {"t", "event", "response", "actionid", "offset", "length"},
        {"t", "event", "offset", "length"},
    ]
    for row in times[2:-1]:
        raw = data[int(str(row["offset"])) : int(str(row["offset"])) + int(str(row["length"]))]
        assert raw.startswith(f"Event: {row['event']}\r\n".encode())
        assert raw.endswith(b"\r\n\r\n")
    stamps = [float(str(r["t"])) for r in times]
    assert stamps == sorted(stamps)


async def test_a_capture_replays_byte_for_byte(sim: Simulator, tmp_path: Path) -> None:
    await _record_call(sim, tmp_path / "call")
    recorded = Capture.load(tmp_path / "call.ami")
    login_id = recorded.data[: recorded.login_end].split(b"ActionID: ")[1].split(b"\r\n")[0]
    async with Simulator(secret="x", replay=recorded) as replayer:
        conn = await Client.connect(replayer.host, replayer.port)
        conn.send("Login", ActionID=login_id.decode(), Username="crm", Secret="x")
        await conn.wait_for(lambda: len(conn.raw) >= len(recorded.data))
        assert bytes(conn.raw) == recorded.data
        await conn.close()


async def test_simulator_and_capture_speak_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with Simulator(secret=SECRET, speed=0, ssl_context=server_ctx) as sim:
        assert sim.tls
        conn = await Client.connect(sim.host, sim.port, ssl_context=client_ctx)
        assert (await conn.login(SECRET))["Message"] == "Authentication accepted"
        await conn.close()
        frames = await _record_call(sim, tmp_path / "tls", ssl_context=client_ctx)
    assert frames == len(_rows(tmp_path / "tls.times.jsonl"))
    assert b"Event: Hangup\r\n" in (tmp_path / "tls.ami").read_bytes()


async def test_a_capture_runs_from_its_login_until_told_to_stop(
    sim: Simulator, tmp_path: Path
) -> None:
    logged_in, until = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        capture(sim.host, sim.port, "crm", SECRET, tmp_path / "c", logged_in=logged_in, until=until)
    )
    async with asyncio.timeout(10):
        await logged_in.wait()
    await sim.play("inbound_answered")
    until.set()
    result = await asyncio.wait_for(task, 10)
    names = [row.get("event") for row in _rows(result.times)]
    assert names.count("Hangup") >= 2
    assert _rows(result.times)[-1]["response"] == "Goodbye"
