"""CLI commands that run services: ingest, run (the embedded suite)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

from ami_ingest import IngestError, IngestService
from ami_ingest import load as load_ingest_settings
from cbruntime import RuntimeSetupError, run_until_signal, setup_logging
from cbstreams import RedisLink
from cbstreams.localredis import LocalRedisError, local_redis_server, wait_for_ping

from .common import config_option, load_or_fail, serve_until_signal
from .stack import DEMO_USERS, Stack, StackConfig, embedded_stack
from .suite import SuiteSettings, load_suite, running_suite

COMMANDS: list[click.Command] = []


@click.command("ingest")
@config_option
def ingest(config: Path | None) -> None:
    """Run ami-ingest: AMI frames to Redis Streams, actions back to the PBX."""
    settings = load_or_fail(load_ingest_settings, config, (RuntimeSetupError, IngestError))
    serve_until_signal(settings, IngestService(settings).run)


@contextlib.contextmanager
def _redis(url: str | None) -> Iterator[str]:
    """``url`` if it answers PING, else a private redis-server on a free port."""
    if url:
        try:
            wait_for_ping(url, deadline_s=1.0)
        except LocalRedisError:
            click.echo(f"redis: {url} does not answer; starting a local redis-server")
        else:
            click.echo(f"redis: using {url}")
            yield url
            return
    with local_redis_server(tcp=True) as local:
        click.echo(f"redis: started a local redis-server at {local} (data not kept)")
        yield local


async def _report(stack: Stack, every: float) -> None:
    service = stack.ingest
    pbx = service.pbxs[0]
    m = service.metrics
    calls_stream = stack.gateway.feeds.calls_stream
    redis = stack.services.redis
    link = RedisLink("report")
    while True:
        await asyncio.sleep(every)
        lengths = await link.retry(  # an outage: wait (logged once), the services wait too
            lambda: asyncio.gather(redis.xlen(pbx.keys.ami), redis.xlen(calls_stream))
        )
        length, calls = lengths or (0, 0)
        traffic = stack.traffic
        done = f"{traffic.completed}/{traffic.started}" if traffic else "0/0"
        click.echo(
            f"[{pbx.name}] {pbx.state}: calls {done} done, "
            f"frames in {m.frames_in.labels(pbx.name)._value.get():.0f}, "
            f"published {m.published.labels(pbx.name)._value.get():.0f}, "
            f"{pbx.keys.ami} length {length}, {calls_stream} length {calls}"
        )


async def _embedded(stop: asyncio.Event, config: StackConfig, every: float) -> None:
    async with embedded_stack(config) as stack:
        sim = stack.sim
        click.echo(f"AMI simulator: tcp://{sim.host}:{sim.port} (user {sim.username})")
        click.echo(f"raw AMI stream: {stack.ingest.pbxs[0].keys.ami}")
        click.echo(f"call events: {stack.gateway.feeds.calls_stream}")
        click.echo(f"crm-sync: the built-in CRM, demo data, on {stack.gateway.feeds.crm_stream}")
        click.echo(f"api-gateway: {stack.url} (API docs {stack.url}/docs)")
        click.echo(f"recordings: {config.recordings}")
        for ext in ("101", "102"):
            click.echo(f"operator {ext} ({DEMO_USERS[ext]}): {await stack.signin_link(ext)}")
        click.echo("")
        click.echo(f"Open as operator 100 ({DEMO_USERS['100']}): {await stack.signin_link('100')}")
        click.echo("(each sign-in link works once; Ctrl-C stops everything)")
        click.echo("")
        async with asyncio.TaskGroup() as tg:
            report = tg.create_task(_report(stack, every))
            await stop.wait()
            report.cancel()
    click.echo("stopped")


async def _configured(stop: asyncio.Event, settings: SuiteSettings) -> None:
    async with running_suite(settings) as suite:
        for line in suite.lines():
            click.echo(line)
        click.echo("(Ctrl-C stops everything)")
        await stop.wait()
    click.echo("stopped")


@click.command("run")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Run against a real PBX and CRM: one TOML file with [ingest], [tracker], "
    "[crm_sync] and [gateway] tables (deploy/config/callbridge.example.toml). "
    "Without it: the embedded demo.",
)
@click.option("--redis-url", envvar="CB_REDIS_URL", help="Redis to use; else a local one.")
@click.option("--rate", default=0.2, show_default=True, help="Simulated calls per second.")
@click.option(
    "--speed", default=0.25, show_default=True, help="Simulated call pace (1 = as captured)."
)
@click.option("--port", default=8080, show_default=True, help="The page's port (taken: any).")
@click.option("--every", default=5.0, show_default=True, help="Seconds between reports.")
def run(
    config: Path | None, redis_url: str | None, rate: float, speed: float, port: int, every: float
) -> None:
    """Run the embedded default: Redis, the AMI simulator making calls, ami-ingest, the
    call-tracker, crm-sync on the built-in CRM and the api-gateway with the operator's page
    on 127.0.0.1; prints the sign-in link for operator 100.

    With --config FILE.toml: the same services in one process against the PBX and CRM the
    file names (no simulator, no demo data; the other options are ignored)."""
    if config is not None:
        try:
            settings = load_suite(config)
        except RuntimeSetupError as exc:
            raise click.ClickException(str(exc)) from None
        gw = settings.gateway
        setup_logging(gw.log_level, json=gw.log_json, stream=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            run_until_signal(lambda stop: _configured(stop, settings))
        return
    setup_logging(os.environ.get("CB_LOG_LEVEL", "WARNING"), json=False, stream=sys.stderr)
    with (
        _redis(redis_url) as url,
        tempfile.TemporaryDirectory(prefix="callbridge-") as tmp,
        contextlib.suppress(KeyboardInterrupt),
    ):
        demo = StackConfig(
            redis_url=url,
            recordings=Path(tmp) / "recordings",
            crm_path=str(Path(tmp) / "crm.sqlite3"),
            rate=rate,
            speed=speed,
            port=port,
        )
        run_until_signal(lambda stop: _embedded(stop, demo, every))


COMMANDS += [ingest, run]
