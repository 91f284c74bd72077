"""CLI commands of the voice-bot: serve FastAGI, and check dialog files."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from cbruntime import RuntimeSetupError, run_until_signal, setup_logging
from voice_bot.dialog import load_dialog
from voice_bot.exceptions import DialogError
from voice_bot.main import load_dialogs, serve
from voice_bot.settings import VoiceBotSettings, load

__all__ = ["COMMANDS"]

_config = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CB_CONFIG",
    help="TOML settings file (CB_* variables override it).",
)


def _settings(config: Path | None) -> VoiceBotSettings:
    try:
        return load(config)
    except RuntimeSetupError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("voice-bot", invoke_without_command=True)
@_config
@click.pass_context
def voice_bot(ctx: click.Context, config: Path | None) -> None:
    """Serve the voice-bot (FastAGI on :4573, the call's audio over AudioSocket on :4574;
    dialplan: AGI(agi://host:4573/dialog))."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config)
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(lambda stop: serve(settings, stop))


@voice_bot.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@_config
def check(paths: tuple[Path, ...], config: Path | None) -> None:
    """Validate dialog files (default: the configured dialogs directory)."""
    try:
        dirs = paths or (_settings(config).dialogs_dir,)
        for path in dirs:
            dialogs = load_dialogs(path) if path.is_dir() else {path.stem: load_dialog(path)}
            for name, dialog in dialogs.items():
                click.echo(f"{name}: {len(dialog.steps)} steps ok")
    except DialogError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS: list[click.Command] = [voice_bot]
