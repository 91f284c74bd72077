"""The simulator CLI commands: capture against a running simulator; secrets never printed."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from amisim import Simulator
from amisim.testing import Client
from callbridge_cli.main import cli
from callbridge_cli.sim import _callers, _mix

SECRET = "cli-s3cret"


@pytest.fixture
def running_sim() -> Iterator[Simulator]:
    """A simulator served from its own thread and event loop."""
    loop = asyncio.new_event_loop()
    sim = Simulator(secret=SECRET, speed=0)
    loop.run_until_complete(sim.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield sim
    asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_capture_command_records_files_and_never_prints_the_secret(
    running_sim: Simulator, tmp_path: Path
) -> None:
    out = tmp_path / "cap"
    args = [
        "capture",
        "--port",
        str(running_sim.port),
        "--username",
        "crm",
        "--out",
        str(out),
        "--max-frames",
        "2",
    ]
    result = CliRunner().invoke(cli, args, env={"CB_AMI_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    assert "captured 5 frames" in result.output
    assert SECRET not in result.output
    assert (tmp_path / "cap.ami").read_bytes().endswith(b"Thanks for all the fish.\r\n\r\n")


def test_capture_command_needs_a_bound(tmp_path: Path) -> None:
    args = ["capture", "--username", "crm", "--secret", SECRET, "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "--duration or --max-frames" in result.output
    assert SECRET not in result.output


def test_capture_command_reports_a_failed_login(running_sim: Simulator, tmp_path: Path) -> None:
    args = [
        "capture",
        "--port",
        str(running_sim.port),
        "--username",
        "crm",
        "--secret",
        "wrong",
        "--out",
        str(tmp_path / "x"),
        "--max-frames",
        "1",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "login failed" in result.output


def test_simulator_help_documents_the_callers_the_mix_and_presence() -> None:
    result = CliRunner().invoke(cli, ["simulator", "--help"])
    assert result.exit_code == 0
    for option in ("--callers FILE|LIST", "--mix", "--call-waiting", "--sip-port"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--mix", "inbound_answered=3,nonsense=1"], "unknown scenario 'nonsense'"),
        (["--mix", "inbound_answered=x"], "bad weight 'x'"),
        (["--mix", "inbound_answered=0"], "every weight is 0"),
        (["--callers", "79161234567,call-me"], "not a phone number: 'call-me'"),
    ],
)
def test_simulator_refuses_a_bad_mix_or_callers_before_starting(
    args: list[str], error: str
) -> None:
    result = CliRunner().invoke(cli, ["simulator", "--port", "0", "--sip-port", "-1", *args])
    assert result.exit_code == 2
    assert error in result.output
    assert "listening" not in result.output


def test_callers_from_a_list_or_a_file_and_the_mix_with_weights(tmp_path: Path) -> None:
    assert _callers("79161234567, +79031112233") == ("79161234567", "79031112233")
    numbers = tmp_path / "callers.txt"
    numbers.write_text("# the demo CRM's contacts\n79161234567\n\n74951234567  # office\n")
    assert _callers(str(numbers)) == ("79161234567", "74951234567")
    assert _mix("inbound_answered=3,inbound_group,outbound=0.5") == {
        "inbound_answered": 3.0,
        "inbound_group": 1.0,
        "outbound": 0.5,
    }


async def test_the_simulator_command_plays_the_mix_from_the_callers_with_presence() -> None:
    """The command itself, in a subprocess: its calls come from --callers and follow --mix,
    and its SIP presence server answers."""
    exe = Path(sys.executable).parent / "callbridge"
    ami_port, sip_port = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    callers = {"79161234567", "79031112233"}
    args = ["simulator", "--port", str(ami_port), "--sip-port", str(sip_port),
            "--secret", SECRET, "--rate", "20", "--speed", "0",
            "--mix", "inbound_answered", "--callers", ",".join(sorted(callers))]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(str(exe), *args, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert b"listening" in await asyncio.wait_for(proc.stdout.readline(), 20)
        line = await asyncio.wait_for(proc.stdout.readline(), 5)
        assert f"SIP presence on udp://127.0.0.1:{sip_port}".encode() in line
        client = await Client.connect("127.0.0.1", ami_port)
        try:
            await client.login(SECRET)

            def trunk_calls() -> list[str]:
                news = client.events("Newchannel")
                return [m["CallerIDNum"] for m in news if m["Channel"].startswith("PJSIP/trunk")]

            await client.wait_for(lambda: len(trunk_calls()) >= 5)
            assert set(trunk_calls()) <= callers
            assert {m["Event"] for m in client.events()} & {"QueueCallerJoin", "DialBegin"}
            assert not client.events("QueueCallerJoin")  # only inbound_answered
        finally:
            await client.close()
        assert await _sip_options(sip_port) == b"SIP/2.0 200 OK"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _sip_options(port: int) -> bytes:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Probe(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not got.done():
                got.set_result(data.split(b"\r\n", 1)[0])

    transport, _ = await loop.create_datagram_endpoint(Probe, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(
            b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\n"
            b"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: c1\r\n"
            b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        return await asyncio.wait_for(got, 5)
    finally:
        transport.close()
