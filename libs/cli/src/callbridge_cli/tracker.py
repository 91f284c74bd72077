"""CLI commands of the call-tracker: run it, replay a capture through it, list call records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from call_tracker.main import TrackerService
from call_tracker.reducer.topology import Topology
from call_tracker.replay import capture_entries, replay
from call_tracker.settings import load
from cbcontracts import encode_event, encode_record
from cbrecords import CdrQuery, query_records
from cbstreams import connect

from .common import config_option, load_or_fail, serve_until_signal

COMMANDS: list[click.Command] = []


@click.group("tracker")
def tracker() -> None:
    """call-tracker: calls out of raw AMI events."""


@tracker.command("run")
@config_option
def run(config: Path | None) -> None:
    """Run the tracker for every configured PBX (leased: one active per PBX)."""
    settings = load_or_fail(load, config)
    serve_until_signal(settings, TrackerService(settings).run)


@tracker.command("replay")
@click.argument("capture", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trunk", "trunks", multiple=True, default=("trunk",), show_default=True)
@click.option("--ended-only", is_flag=True, help="Print only call.ended events.")
def replay_capture(capture: Path, trunks: tuple[str, ...], ended_only: bool) -> None:
    """Print the call events a capture (NAME.ami + NAME.times.jsonl) gives, one JSON a line."""
    topology = Topology(pbx="replay", trunks=frozenset(trunks))
    for event in replay(capture_entries(capture), topology):
        if not ended_only or event.__struct_config__.tag == "call.ended":
            click.echo(encode_event(event).decode())


@tracker.command("calls")
@click.option("--redis-url", envvar="CB_REDIS_URL", default="redis://127.0.0.1:6379/0")
@click.option("--prefix", default="cb:", show_default=True)
@click.option("--number")
@click.option("--extension")
@click.option("--result")
@click.option("--limit", default=20, show_default=True)
@click.option("--cursor")
def calls(
    redis_url: str,
    prefix: str,
    number: str | None,
    extension: str | None,
    result: str | None,
    limit: int,
    cursor: str | None,
) -> None:
    """List call records, newest first (prints the next cursor last)."""

    async def main() -> None:
        redis = connect(redis_url)
        try:
            query = CdrQuery(
                number=number, extension=extension, result=result, limit=limit, cursor=cursor
            )
            page = await query_records(redis, query, prefix=prefix)
        finally:
            await redis.aclose()
        for record in page.records:
            click.echo(encode_record(record).decode())
        if page.next_cursor:
            click.echo(f"next cursor: {page.next_cursor}")

    asyncio.run(main())


COMMANDS.append(tracker)
