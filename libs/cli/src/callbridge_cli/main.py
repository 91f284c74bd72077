"""The ``callbridge`` command: one entry point for every service and tool."""

from __future__ import annotations

import click

from . import crm, debug, doctor, gateway, presence, services, sim, tracker, voice


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="callbridge-cli")
def cli() -> None:
    """callbridge: Asterisk <-> CRM integration suite."""


for _command in (
    *sim.COMMANDS,
    *services.COMMANDS,
    *tracker.COMMANDS,
    *gateway.COMMANDS,
    *crm.COMMANDS,
    *voice.COMMANDS,
    *presence.COMMANDS,
    *debug.COMMANDS,
    *doctor.COMMANDS,
):
    cli.add_command(_command)
