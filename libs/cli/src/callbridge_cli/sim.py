"""CLI commands around the AMI simulator: simulator, replay, capture."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
