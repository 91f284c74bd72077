"""Support commands over the Redis streams: ``replay`` (a window of the raw stream through
the current tracker, diffed against the stored records), ``export`` (a window or a call to a
capture file, optionally redacted), ``calls explain`` (frames, decisions, crm-sync's trail).

They read the tracker's settings file (``--config``: Redis, key prefix, each PBX's trunks and
inbound contexts), or ``--redis-url`` / ``--prefix`` / ``--trunk`` without one.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import click
import msgspec

from call_tracker.explain import frame_decider
from call_tracker.export import export_capture
from call_tracker.redact import Redactor
from call_tracker.reducer.topology import Topology
from call_tracker.settings import load as load_tracker
from call_tracker.window import ReplayResult, Window, replay_window
from cbrecords import CrmStreams, Explanation, explain_call
from cbruntime import RuntimeSetupError
from cbstreams import PbxKeys, connect

COMMANDS: list[click.Command] = []


def parse_time(value: str | None) -> int | None:
    """``2026-12-02T10:00:00Z`` (ISO 8601, UTC if no zone) or unix seconds -> unix µs."""
    if value is None:
        return None
    try:
        return int(float(value) * 1_000_000)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not a time: {value!r} (ISO 8601 or unix seconds)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1_000_000)


def _target(opts: dict[str, Any]) -> tuple[str, str, Topology]:
    """(redis url, key prefix, the PBX's topology) from --config or the options."""
    pbx = opts["pbx"]
    if opts["config"] is not None:
        try:
            settings = load_tracker(opts["config"])
        except RuntimeSetupError as exc:
            raise click.ClickException(str(exc)) from None
        topologies = {t.pbx: t for t in settings.topologies()}
        if pbx not in topologies:
            raise click.ClickException(f"PBX {pbx!r} is not in {opts['config']}")
        return settings.redis_url, settings.key_prefix, topologies[pbx]
    topology = Topology(pbx=pbx, trunks=frozenset(opts["trunks"]),
                        inbound_contexts=frozenset(opts["contexts"]))  # fmt: skip
    return opts["redis_url"], opts["prefix"], topology


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     envvar="CB_CONFIG", help="The tracker's TOML settings (Redis, prefix, "
                     "PBXs); else the options below."),
        click.option("--pbx", default="main", show_default=True, help="Which PBX's stream."),
        click.option("--redis-url", envvar="CB_REDIS_URL", default="redis://127.0.0.1:6379/0",
                     show_default=True),
        click.option("--prefix", default="cb:", show_default=True, help="Key prefix."),
        click.option("--trunk", "trunks", multiple=True, default=("trunk",), show_default=True,
                     help="Trunk endpoint (without --config)."),
        click.option("--inbound-context", "contexts", multiple=True,
                     default=("from-trunk",), show_default=True,
                     help="Inbound context (without --config)."),
        click.option("--since", help="Window start: ISO 8601 or unix seconds."),
        click.option("--until", help="Window end: ISO 8601 or unix seconds."),
        click.option("--from-id", help="Window start: a stream entry id."),
        click.option("--to-id", help="Window end: a stream entry id."),
        click.option("--call", "call_id", help="One call (its call_id = Linkedid)."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def _window(opts: dict[str, Any]) -> Window:
    return Window(since=parse_time(opts["since"]), until=parse_time(opts["until"]),
                  start_id=opts["from_id"], end_id=opts["to_id"],
                  call_id=opts["call_id"])  # fmt: skip


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def render_table(result: ReplayResult) -> str:
    lines = [f"{result.entries} entries replayed; {len(result.stored)} stored calls, "
             f"{len(result.replayed)} replayed; {len(result.diffs)} differences"]  # fmt: skip
    if result.partial:
        lines.append(f"left out, begun before the window: {', '.join(result.partial)}")
    if result.open:
        lines.append(f"left out, still open at the end: {', '.join(result.open)}")
    if result.diffs:
        rows = [("call", "field", "stored", "replayed")] + [
            (d.call_id, d.field, _cell(d.stored), _cell(d.replayed)) for d in result.diffs
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for n, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def result_json(result: ReplayResult) -> dict[str, Any]:
    return {
        "since": result.since,
        "until": result.until,
        "entries": result.entries,
        "stored": len(result.stored),
        "replayed": len(result.replayed),
        "partial": result.partial,
        "open": result.open,
        "scratch": result.scratch,
        "diffs": msgspec.to_builtins(result.diffs),
    }


@click.command("replay")
@click.argument("capture", required=False, metavar="")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--keep-scratch", is_flag=True, help="Keep the scratch keys (their prefix is "
              "printed) instead of deleting them.")  # fmt: skip
@click.option("--tail-s", default=3600, show_default=True,
              help="Read at most this far past the window for its calls to end.")  # fmt: skip
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")  # fmt: skip
def replay_command(capture: str | None, as_json: bool, keep_scratch: bool, tail_s: int,
                   progress: bool | None, **opts: Any) -> None:  # fmt: skip
    """Replay a window of cb:{PBX}:ami through this version's call-tracker and diff the
    calls it gives against the stored call records, field by field.

    The window is --since/--until, --from-id/--to-id, or --call ID (nothing: the whole
    stream); calls that started in it are compared. The replay writes only under a scratch
    prefix ({prefix}replay:RANDOM:), deleted afterwards; live keys are only read.
    Exit status 1 when the calls differ.

    (To serve a capture file to AMI clients through the simulator, the former
    `callbridge replay FILE.ami`, use `callbridge serve-capture FILE.ami`.)
    """
    if capture is not None:
        raise click.UsageError(
            f"callbridge replay reads the Redis stream now. To serve {capture} to AMI clients "
            f"through the simulator: callbridge serve-capture {capture}; to print the call "
            f"events it gives: callbridge tracker replay {capture}"
        )
    url, prefix, topology = _target(opts)
    window = _window(opts)
    show = sys.stderr.isatty() if progress is None else progress

    async def main() -> ReplayResult:
        redis = connect(url)
        try:
            if not show:
                return await replay_window(redis, topology, window, prefix=prefix,
                                           tail_s=tail_s, keep=keep_scratch)  # fmt: skip
            stream = PbxKeys(topology.pbx, prefix).ami
            first = cast(list[tuple[bytes, Any]], await redis.xrange(stream, count=1))
            last = cast(list[tuple[bytes, Any]], await redis.xrevrange(stream, count=1))
            lo = int(first[0][0].split(b"-")[0]) if first else 0
            hi = int(last[0][0].split(b"-")[0]) if last else 0
            if window.since is not None:
                lo = max(lo, window.since // 1000)
            if window.until is not None:
                hi = min(hi, window.until // 1000)
            with click.progressbar(length=max(1, hi - lo), label="replaying",
                                   file=sys.stderr) as bar:  # fmt: skip
                done = [lo]

                def advance(ms: int) -> None:
                    step = min(ms, hi) - done[0]
                    if step > 0:
                        bar.update(step)
                        done[0] += step

                return await replay_window(redis, topology, window, prefix=prefix,
                                           tail_s=tail_s, keep=keep_scratch,
                                           progress=advance)  # fmt: skip
        finally:
            await redis.aclose()

    try:
        result = asyncio.run(main())
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result_json(result), ensure_ascii=False))
    else:
        click.echo(render_table(result))
    if result.diffs:
        sys.exit(1)


@click.command("export")
@_common
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="NAME (or NAME.ami): writes NAME.ami, NAME.times.jsonl, "
              "NAME.chunks.jsonl.")  # fmt: skip
@click.option("--redact", is_flag=True, help="Replace phone numbers, names and secrets "
              "(consistently: the capture still replays to a call of the same shape).")  # fmt: skip
def export_command(out: Path, redact: bool, **opts: Any) -> None:
    """Export a window of cb:{PBX}:ami, or one call (--call: its frames, its related
    channels and the sync entries around it), to a capture file — for a bug report, or a
    test fixture (`callbridge tracker replay NAME.ami`)."""
    url, prefix, topology = _target(opts)

    async def main() -> Any:
        redis = connect(url)
        try:
            return await export_capture(
                redis, topology.pbx, out, prefix=prefix, since=parse_time(opts["since"]),
                until=parse_time(opts["until"]), start_id=opts["from_id"],
                end_id=opts["to_id"], call_id=opts["call_id"],
                redact=Redactor() if redact else None,
            )  # fmt: skip
        finally:
            await redis.aclose()

    try:
        result = asyncio.run(main())
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.ami} ({result.frames} frames, {result.syncs} sync entries), "
               f"{result.times.name}, {result.chunks.name}")  # fmt: skip


def render_explanation(exp: Explanation) -> str:
    lines = [f"call {exp.call_id} on {exp.pbx}: {exp.state}"]
    if exp.record is not None:
        r = exp.record
        lines.append(f"  {r.direction} {r.result}: caller {r.caller or '?'}, called "
                     f"{r.called or '?'}, rang {', '.join(r.rang) or '-'}, answered by "
                     f"{r.answered_by or '-'}")  # fmt: skip
    lines.append("")
    lines.append("frames (entry id, event, channel) and the tracker's decisions:")
    for step in exp.frames:
        at = datetime.fromtimestamp(step.at / 1e6, UTC).strftime("%H:%M:%S.%f")[:-3]
        lines.append(f"  {step.id}  {at}  {step.event}  {step.channel}".rstrip())
        lines += [f"      - {d}" for d in step.decisions]
    lines.append("")
    lines.append("crm-sync:")
    if not exp.crm:
        lines.append("  nothing found on the CRM streams for this call")
    lines += [f"  [{step.kind}] {step.what}" for step in exp.crm]
    return "\n".join(lines)


@click.group("calls")
def calls_group() -> None:
    """Calls: explain how one was built and what crm-sync did with it."""


@calls_group.command("explain")
@click.argument("call_id")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CB_CONFIG",
    help="The tracker's TOML settings (Redis, prefix, PBXs).",
)
@click.option("--pbx", default="main", show_default=True)
@click.option(
    "--redis-url", envvar="CB_REDIS_URL", default="redis://127.0.0.1:6379/0", show_default=True
)
@click.option("--prefix", default="cb:", show_default=True, help="Key prefix.")
@click.option("--trunk", "trunks", multiple=True, default=("trunk",), show_default=True)
@click.option(
    "--inbound-context", "contexts", multiple=True, default=("from-trunk",), show_default=True
)
@click.option("--calls-stream", default=None, help="Default: {prefix}calls.")
@click.option("--crm-commands", default=None, help="Default: {prefix}crm:commands.")
@click.option("--crm-events", default=None, help="Default: {prefix}crm:events.")
@click.option("--dead", default=None, help="Default: {prefix}dead.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain_command(call_id: str, as_json: bool, **opts: Any) -> None:  # fmt: skip
    """The frames that built call CALL_ID and, for each, the tracker's decision (what it
    changed: leg created, ringing, answered by, transfer, result and why) and the call
    events emitted; then what crm-sync did: lookup result and reason, commands, the CRM's
    responses, failures, dead letters."""
    url, prefix, topology = _target({**opts, "since": None})
    streams = CrmStreams(commands=opts["crm_commands"] or f"{prefix}crm:commands",
                         events=opts["crm_events"] or f"{prefix}crm:events",
                         dead=opts["dead"] or f"{prefix}dead")  # fmt: skip

    async def main() -> Explanation:
        redis = connect(url)
        try:
            return await explain_call(
                redis, topology.pbx, call_id, prefix=prefix,
                calls_stream=opts["calls_stream"] or f"{prefix}calls", crm=streams,
                decisions=frame_decider(topology),
            )  # fmt: skip
        finally:
            await redis.aclose()

    try:
        exp = asyncio.run(main())
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(msgspec.json.encode(exp).decode())
    else:
        click.echo(render_explanation(exp))


COMMANDS += [replay_command, export_command, calls_group]
