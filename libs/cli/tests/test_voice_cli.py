"""callbridge voice-bot check: dialog files validated from the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from callbridge_cli.main import cli

SAMPLE = Path(__file__).resolve().parents[3] / "services" / "voice-bot" / "dialogs"


def test_check_accepts_the_sample_dialog() -> None:
    result = CliRunner().invoke(cli, ["voice-bot", "check", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "sample: 9 steps ok" in result.output


def test_check_names_the_broken_step(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - {id: a, do: say, text: hi, next: nowhere}\n")
    result = CliRunner().invoke(cli, ["voice-bot", "check", str(bad)])
    assert result.exit_code == 1
    assert "step 'a' goes to unknown ['nowhere']" in result.output
