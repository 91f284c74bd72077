"""The ``callbridge`` command exposes every service and tool, and its help is true."""

from click.testing import CliRunner

from callbridge_cli.main import cli

COMMANDS = ("run", "ingest", "simulator", "serve-capture", "replay", "export", "capture", "doctor")


def test_callbridge_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert f"  {command} " in result.output, f"{command} missing from --help"


def test_every_command_has_its_own_help() -> None:
    for command in COMMANDS:
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage:" in result.output
