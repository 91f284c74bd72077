"""CLI command of the presence service: watch extensions over SIP SUBSCRIBE/NOTIFY."""

from __future__ import annotations

from pathlib import Path

import click

from presence.main import PresenceService
from presence.settings import load

from .common import config_option, load_or_fail, serve_until_signal

__all__ = ["COMMANDS"]


@click.command("presence")
@config_option
def presence(config: Path | None) -> None:
    """Watch extensions by SIP SUBSCRIBE/NOTIFY -> cb:{pbx}:presence (docs/presence.md)."""
    settings = load_or_fail(load, config)
    serve_until_signal(settings, PresenceService(settings).run)


COMMANDS: list[click.Command] = [presence]
