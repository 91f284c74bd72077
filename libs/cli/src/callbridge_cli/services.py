"""CLI commands that run services: ingest, run (the embedded suite)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ami_ingest import HttpSettings, IngestError, IngestService, IngestSettings, PbxSettings
from ami_ingest import load as load_ingest_settings
from amisim import Simulator, TrafficConfig, TrafficGenerator
from call_tracker.main import TrackerService
from call_tracker.settings import PbxTopology, TrackerSettings
from cbruntime import RuntimeSetupError, Secret, run_until_signal, setup_logging
from cbstreams.localredis import LocalRedisError, local_redis_server, wait_for_ping

COMMANDS: list[click.Command] = []


@click.command("ingest")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CB_CONFIG",
    help="TOML settings file (CB_* environment variables override it).",
)
def ingest(config: Path | None) -> None:
    """Run ami-ingest: AMI frames to Redis Streams, actions back to the PBX."""
    try:
        settings = load_ingest_settings(config)
    except (RuntimeSetupError, IngestError) as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(IngestService(settings).run)


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


async def _report(
    service: IngestService, tracker: TrackerSettings, traffic: TrafficGenerator, every: float
) -> None:
    pbx = service.pbxs[0]
    m = service.metrics
    while True:
        await asyncio.sleep(every)
        length = await service.redis.xlen(pbx.keys.ami)
        calls = await service.redis.xlen(tracker.calls_stream)
        click.echo(
            f"[{pbx.name}] {pbx.state}: calls {traffic.completed}/{traffic.started} done, "
            f"frames in {m.frames_in.labels(pbx.name)._value.get():.0f}, "
            f"published {m.published.labels(pbx.name)._value.get():.0f}, "
            f"{pbx.keys.ami} length {length}, {tracker.calls_stream} length {calls}"
        )


async def _embedded(stop: asyncio.Event, redis_url: str, rate: float, every: float) -> None:
    secret = secrets.token_urlsafe(12)
    async with Simulator(secret=secret, speed=1.0) as sim:
        click.echo(f"AMI simulator: tcp://{sim.host}:{sim.port} (user {sim.username})")
        settings = IngestSettings(
            redis_url=redis_url,
            instance="embedded",
            http=HttpSettings(port=0),
            log_json=False,
            pbx={
                "main": PbxSettings(
                    host=sim.host,
                    port=sim.port,
                    username=sim.username,
                    secret=Secret(secret),
                    auth="md5",
                )
            },
        )
        service = IngestService(settings)
        tracking = TrackerSettings(
            redis_url=redis_url, instance="embedded", log_json=False, pbx={"main": PbxTopology()}
        )
        traffic = TrafficGenerator(sim.pbx, TrafficConfig(rate=rate, concurrency=10))
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(service.run(stop)),
                tg.create_task(TrackerService(tracking).run(stop)),
                tg.create_task(traffic.run()),
            ]
            if service.http is not None:
                await service.http.wait_started()
                click.echo(f"ami-ingest health/metrics: {service.http.url}/metrics")
            click.echo(f"raw AMI stream: {service.pbxs[0].keys.ami}")
            click.echo(f"call events: {tracking.calls_stream} (Ctrl-C stops)")
            tasks.append(tg.create_task(_report(service, tracking, traffic, every)))
            await stop.wait()
            for task in tasks[2:]:
                task.cancel()
    click.echo("stopped")


@click.command("run")
@click.option("--redis-url", envvar="CB_REDIS_URL", help="Redis to use; else a local one.")
@click.option("--rate", default=0.5, show_default=True, help="Simulated calls per second.")
@click.option("--every", default=5.0, show_default=True, help="Seconds between reports.")
def run(redis_url: str | None, rate: float, every: float) -> None:
    """Run the embedded default: Redis, the AMI simulator making calls, ami-ingest and the
    call-tracker."""
    setup_logging(os.environ.get("CB_LOG_LEVEL", "WARNING"), json=False, stream=sys.stderr)
    with _redis(redis_url) as url, contextlib.suppress(KeyboardInterrupt):
        run_until_signal(lambda stop: _embedded(stop, url, rate, every))


COMMANDS += [ingest, run]
