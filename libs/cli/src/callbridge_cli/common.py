"""What every service command of the CLI shares: the ``--config`` option, loading a
service's settings (a setup error is a clean CLI error, never a traceback), and running a
service until SIGINT/SIGTERM with its own logging."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar

import click

from cbruntime import RuntimeSetupError, run_until_signal, setup_logging

__all__ = ["config_option", "load_or_fail", "serve_until_signal"]

S = TypeVar("S")

config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CB_CONFIG",
    help="TOML settings file (CB_* variables override it).",
)


class Logged(Protocol):
    @property
    def log_level(self) -> str: ...
    @property
    def log_json(self) -> bool: ...


def load_or_fail(
    load: Callable[[Path | None], S],
    config: Path | None,
    errors: tuple[type[Exception], ...] = (RuntimeSetupError,),
) -> S:
    """``load(config)``; a setup error becomes a ClickException naming what is wrong."""
    try:
        return load(config)
    except errors as exc:
        raise click.ClickException(str(exc)) from None


def serve_until_signal(settings: Logged, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Set up the settings' logging, then run ``main(stop)`` until a signal sets ``stop``."""
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(main)
