"""CLI commands of the voice-bot: serve FastAGI, and check dialog files."""

from __future__ import annotations

from pathlib import Path

import click

from voice_bot.dialog import load_dialog
from voice_bot.exceptions import DialogError
from voice_bot.main import load_dialogs, serve
from voice_bot.settings import VoiceBotSettings, load

from .common import config_option, load_or_fail, serve_until_signal

__all__ = ["COMMANDS"]

_config = config_option


def _settings(config: Path | None) -> VoiceBotSettings:
    return load_or_fail(load, config)


@click.group("voice-bot", invoke_without_command=True)
@_config
@click.pass_context
def voice_bot(ctx: click.Context, config: Path | None) -> None:
    """Serve the voice-bot (FastAGI on :4573, the call's audio over AudioSocket on :4574;
    dialplan: AGI(agi://host:4573/dialog))."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config)
    serve_until_signal(settings, lambda stop: serve(settings, stop))


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
