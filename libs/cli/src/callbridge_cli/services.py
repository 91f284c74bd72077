"""CLI commands that run services: ingest, run (the embedded suite)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
