"""The ``callbridge tracker`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from callbridge_cli.main import cli

CAPTURE = Path(__file__).resolve().parents[3].parent / "shared" / "captures" / "outbound.ami"


def test_tracker_help_lists_its_commands() -> None:
    result = CliRunner().invoke(cli, ["tracker", "--help"])
    assert result.exit_code == 0
    for command in ("run", "replay", "calls"):
        assert command in result.output


@pytest.mark.skipif(not CAPTURE.exists(), reason="no captures beside the repo")
def test_tracker_replay_prints_the_calls_of_a_capture() -> None:
    result = CliRunner().invoke(cli, ["tracker", "replay", str(CAPTURE), "--ended-only"])
    assert result.exit_code == 0
    ended = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["direction"], e["external"], e["result"]) for e in ended] == [
        ("outbound", "79031112233", "answered")
    ]
