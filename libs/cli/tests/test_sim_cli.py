"""The simulator CLI commands: capture against a running simulator; secrets never printed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from amisim import Simulator
from callbridge_cli.main import cli

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
