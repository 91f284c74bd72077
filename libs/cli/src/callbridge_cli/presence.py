"""CLI command of the presence service: watch extensions over SIP SUBSCRIBE/NOTIFY."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from cbruntime import RuntimeSetupError, run_until_signal, setup_logging
from presence.main import PresenceService
from presence.settings import load

__all__ = ["COMMANDS"]


@click.command("presence")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CB_CONFIG",
    help="TOML settings file (CB_* variables override it).",
)
def presence(config: Path | None) -> None:
    """Watch extensions by SIP SUBSCRIBE/NOTIFY -> cb:{pbx}:presence (docs/presence.md)."""
    try:
        settings = load(config)
    except RuntimeSetupError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(PresenceService(settings).run)


COMMANDS: list[click.Command] = [presence]
