"""CLI commands of crm-sync: run it, list / re-drive / drop dead letters, re-drive finished
calls, look a number up."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import msgspec

from cbcrm.effective import choose
from cbcrm.exceptions import CrmError
from cbcrm.phones import to_e164
from cbrecords import RecordStore
from cbruntime import Secret
from cbstreams import connect
from cbstreams.deadletter import DeadLetters
from crm_sync.adapters import open_adapter
from crm_sync.auth import AuthKeys
from crm_sync.main import CrmSyncService, build_sync
from crm_sync.redrive import Redriven, redrive_calls
from crm_sync.settings import CrmSyncSettings, load

from .common import config_option, load_or_fail, serve_until_signal
from .debug import parse_time

COMMANDS: list[click.Command] = []
T = TypeVar("T")


def _settings(config: Path | None) -> CrmSyncSettings:
    return load_or_fail(load, config)


def _dead(settings: CrmSyncSettings, use: Callable[[DeadLetters], Awaitable[T]]) -> T:
    async def main() -> T:
        redis = connect(settings.redis_url)
        try:
            return await use(DeadLetters(redis, settings.dead_stream))
        finally:
            await redis.aclose()

    return asyncio.run(main())


@click.group("crm-sync")
def crm_sync() -> None:
    """crm-sync: call events -> CRM (planner + executors), dead letters, lookups."""


@crm_sync.command("run")
@config_option
def run(config: Path | None) -> None:
    """Run the planner and an executor against the configured CRM adapter."""
    settings = _settings(config)
    serve_until_signal(settings, CrmSyncService(settings).run)


@crm_sync.group("dead")
def dead() -> None:
    """Dead letters (cb:dead): commands that failed for good."""


@dead.command("list")
@config_option
@click.option("--count", default=50, show_default=True)
def dead_list(config: Path | None, count: int) -> None:
    """One JSON line per dead entry (payload as text)."""
    for entry in _dead(_settings(config), lambda d: d.list(count)):
        row = msgspec.structs.asdict(entry)
        row["payload"] = {k.decode(): v.decode(errors="replace") for k, v in entry.payload.items()}
        click.echo(msgspec.json.encode(row).decode())


@dead.command("redrive")
@config_option
@click.argument("dead_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead entry.")
@click.option("--reason", default="", help="Entries whose reason contains this text.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]),
    help="Entries dead at or after this UTC time.",
)
def dead_redrive(
    config: Path | None,
    dead_ids: tuple[str, ...],
    everything: bool,
    reason: str,
    since: dt.datetime | None,
) -> None:
    """Put dead entries back on their stream (after fixing the cause): the DEAD_IDS given,
    or every entry matching --all / --reason / --since (filters combine)."""
    chosen = everything or reason or since is not None
    if bool(dead_ids) == bool(chosen):
        raise click.UsageError("give DEAD_IDS, or --all / --reason / --since (not both)")
    since_ms = int(since.replace(tzinfo=dt.UTC).timestamp() * 1000) if since else 0

    async def redrive(d: DeadLetters) -> list[tuple[str, bytes | None]]:
        ids = list(dead_ids) or [
            e.dead_id for e in await d.select(reason=reason, since_ms=since_ms)
        ]
        return [(i, await d.redrive(i)) for i in ids]

    done = _dead(_settings(config), redrive)
    for dead_id, new_id in done:
        click.echo(f"{dead_id} -> {new_id.decode() if new_id else 'not found'}")
    if chosen:
        click.echo(f"{len(done)} re-driven")


@dead.command("drop")
@config_option
@click.argument("dead_ids", nargs=-1, required=True)
def dead_drop(config: Path | None, dead_ids: tuple[str, ...]) -> None:
    """Delete dead entries for good."""
    for dead_id in dead_ids:
        gone = _dead(_settings(config), lambda d, i=dead_id: d.drop(i))  # type: ignore[misc]
        click.echo(f"{dead_id} {'dropped' if gone else 'not found'}")


@crm_sync.command("redrive")
@config_option
@click.option("--calls", "call_ids", multiple=True, help="A call id (repeat for several).")
@click.option("--since", help="Calls that started from: ISO 8601 or unix seconds.")
@click.option("--until", help="Calls that started until: ISO 8601 or unix seconds.")
@click.option("--pbx", help="The PBX of the calls (default: every PBX for --since/--until; "
              "the only one configured for --calls).")  # fmt: skip
@click.option(
    "--records-prefix",
    default=None,
    help="Key prefix of the call records (default: the config's key_prefix).",
)
@click.option(
    "--calls-stream",
    default=None,
    help="The tracker's calls stream (default: the config's calls_stream).",
)
def redrive(config: Path | None, call_ids: tuple[str, ...], since: str | None,
            until: str | None, pbx: str | None, records_prefix: str | None,
            calls_stream: str | None) -> None:  # fmt: skip
    """Re-plan the CRM commands of finished calls (after a CRM outage or a rule change)
    through the planner, with the same idempotency keys: nothing is written twice; calls
    already in the CRM are reported as such. One JSON line per call."""
    if not call_ids and since is None and until is None:
        raise click.UsageError("name calls (--calls) or a window (--since/--until)")
    settings = _settings(config)
    prefix = records_prefix or settings.key_prefix

    async def main() -> list[Redriven]:
        service = CrmSyncService(settings)
        redis = service.redis
        try:
            adapter = await open_adapter(settings, redis)
            try:
                publisher = service.publisher()
                planner = service.planner(build_sync(redis, adapter, settings), publisher)
                store = RecordStore(redis, prefix)
                if call_ids:
                    calls = [(pbx or "main", c) for c in call_ids]
                else:
                    found = await store.window(pbx, parse_time(since) or 0,
                                               parse_time(until) or 2**62)  # fmt: skip
                    calls = [(r.pbx, r.call_id) for r in found]
                return await redrive_calls(
                    redis, planner, publisher, calls, prefix=prefix,
                    calls_stream=calls_stream or settings.calls_stream,
                    dead_stream=settings.dead_stream,
                )  # fmt: skip
            finally:
                await adapter.aclose()
        finally:
            await redis.aclose()

    results = asyncio.run(main())
    for result in results:
        click.echo(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
    counts = Counter(r.outcome for r in results)
    click.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no calls", err=True)


@crm_sync.command("auth")
@config_option
@click.argument("crm", type=click.Choice(["amocrm", "bitrix24", "megaplan"]))
@click.option("--code", envvar="CB_AUTH_CODE", help="A new authorization code (amoCRM, Bitrix24).")
def auth(config: Path | None, crm: str, code: str | None) -> None:
    """Re-authorise a CRM on a running system: exchange a new authorization code (amoCRM,
    Bitrix24; codes live minutes) or sign in again with the configured password (Megaplan).
    Stored tokens are replaced and the circuit opened by dead credentials closes: the
    waiting commands go out (docs/crm-sync.md, Re-authorisation)."""
    settings = dataclasses.replace(_settings(config), adapter=crm)
    if crm == "megaplan":
        if code:
            raise click.UsageError("Megaplan signs in with megaplan.password, not a code")
    elif not code:
        raise click.UsageError(f"{crm}: give the new authorization code (--code)")
    else:
        section = getattr(settings, crm)
        settings = dataclasses.replace(
            settings, **{crm: dataclasses.replace(section, auth_code=Secret(code))}
        )

    async def main() -> None:
        redis = connect(settings.redis_url)
        try:
            keys = AuthKeys(settings.key_prefix, crm)
            if crm == "megaplan":  # forget the tokens: the client signs in again
                await redis.delete(f"{settings.key_prefix}crm:megaplan:tokens", keys.dead)
            adapter = await open_adapter(settings, redis)
            try:
                await adapter.users()  # one request with the new credentials
            finally:
                await adapter.aclose()
        finally:
            await redis.aclose()

    try:
        asyncio.run(main())
    except CrmError as exc:
        raise click.ClickException(f"{crm}: not authorised: {exc}") from None
    click.echo(f"{crm}: authorised")


@crm_sync.command("lookup")
@config_option
@click.argument("number")
def lookup(config: Path | None, number: str) -> None:
    """Ask the configured CRM about a number (no cache): the effective entity and why."""
    settings = _settings(config)

    async def main() -> None:
        redis = connect(settings.redis_url)
        try:
            adapter = await open_adapter(settings, redis)
            try:
                found = await adapter.lookup(to_e164(number, settings.region))
            finally:
                await adapter.aclose()
        finally:
            await redis.aclose()
        chosen = choose(found, settings.effective)
        click.echo(msgspec.json.encode({"lookup": found, "effective": chosen}).decode())

    asyncio.run(main())


COMMANDS.append(crm_sync)
