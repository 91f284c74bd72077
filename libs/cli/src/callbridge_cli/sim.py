"""CLI commands around the AMI simulator: simulator, serve-capture, capture.

Secrets come from options or the environment and are never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click

from amisim import (
    SCENARIOS,
    Capture,
    Simulator,
    TrafficConfig,
    TrafficGenerator,
    capture,
    template_names,
)
from amisim.capture import CaptureError

COMMANDS: list[click.Command] = []


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run until done or Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main)


def _server_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _mix(spec: str | None) -> dict[str, float]:
    """``inbound_answered=3,outbound`` -> weights (1 when not given)."""
    if not spec:
        return dict(SCENARIOS)
    mix = {}
    for item in spec.split(","):
        name, _, weight = item.strip().partition("=")
        if name not in template_names():
            known = ", ".join(SCENARIOS)
            raise click.BadParameter(
                f"unknown scenario {name!r} (one of {known})", param_hint="--mix"
            )
        try:
            mix[name] = float(weight or 1)
        except ValueError:
            raise click.BadParameter(
                f"bad weight {weight!r} for {name}", param_hint="--mix"
            ) from None
        if not 0 <= mix[name] < float("inf"):
            raise click.BadParameter(f"bad weight {weight!r} for {name}", param_hint="--mix")
    if not any(mix.values()):
        raise click.BadParameter("every weight is 0", param_hint="--mix")
    return mix


def _callers(spec: str | None) -> tuple[str, ...]:
    """``--callers``: numbers separated by commas, or a file of them (one a line, ``#``
    comments); empty: a fresh random number per call."""
    if not spec:
        return ()
    path = Path(spec)
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        items = [line.split("#", 1)[0].strip() for line in lines]
    else:
        items = [item.strip() for item in spec.split(",")]
    numbers = tuple(item for item in items if item)
    for number in numbers:
        digits = number.removeprefix("+")
        if not digits.isdigit() or not 3 <= len(digits) <= 20:
            raise click.BadParameter(f"not a phone number: {number[:30]!r}", param_hint="--callers")
    if not numbers:
        raise click.BadParameter(f"no numbers in {spec[:60]!r}", param_hint="--callers")
    return tuple(n.removeprefix("+") for n in numbers)


def _listening(sim: Simulator, what: str) -> None:
    scheme = "tls" if sim.tls else "tcp"
    click.echo(f"{what} listening on {scheme}://{sim.host}:{sim.port} (user {sim.username})")


_common = [
    click.option("--host", default="127.0.0.1", show_default=True),
    click.option("--port", default=5038, show_default=True, type=int),
    click.option("--username", default="crm", show_default=True),
    click.option(
        "--secret",
        envvar="CB_SIM_SECRET",
        default="crmsecret",
        show_default="test secret, or CB_SIM_SECRET",
    ),
    click.option("--tls-cert", type=click.Path(exists=True, path_type=Path)),
    click.option("--tls-key", type=click.Path(exists=True, path_type=Path)),
]


def _with_common(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@click.command("simulator")
@_with_common
@click.option("--rate", default=0.5, show_default=True, help="Calls per second (0: none).")
@click.option("--concurrency", default=10, show_default=True)
@click.option("--max-calls", type=int, help="Stop generating after this many calls.")
@click.option("--speed", default=1.0, show_default=True, help="Timing factor; 0 = no waits.")
@click.option(
    "--mix",
    "--scenarios",
    "mix",
    metavar="NAME=WEIGHT,...",
    help="The scenario mix, e.g. inbound_answered=3,inbound_group=1,outbound=1 "
    "(a weight left out is 1; default: every scenario, amisim.SCENARIOS).",
)
@click.option(
    "--callers",
    metavar="FILE|LIST",
    help="The outside numbers calls come from (and outbound calls go to): a comma list "
    "(79161234567,79031112233) or a file with one number a line; default: random numbers.",
)
@click.option("--extensions", default="100,101,102", show_default=True)
@click.option(
    "--call-waiting/--no-call-waiting",
    default=False,
    show_default=True,
    help="Whether a call may ring an operator already in a call (otherwise the traffic "
    "waits for an idle one, as a PBX answers busy).",
)
@click.option(
    "--sip-port",
    default=5060,
    show_default=True,
    type=int,
    help="UDP port of the SIP presence server (SUBSCRIBE dialog/presence for the "
    "extensions, for the presence service); negative: none.",
)
def simulator_command(**opts: Any) -> None:
    """Run a fake Asterisk (AMI, and SIP presence) with generated call traffic until
    Ctrl-C."""
    _run(_simulate(opts))


async def _simulate(opts: dict[str, Any]) -> None:
    mix, callers = _mix(opts["mix"]), _callers(opts["callers"])
    sim = Simulator(
        host=opts["host"],
        port=opts["port"],
        username=opts["username"],
        secret=opts["secret"],
        ssl_context=_server_tls(opts["tls_cert"], opts["tls_key"]),
        extensions=tuple(opts["extensions"].split(",")),
        speed=opts["speed"],
        auth_fail_delay=1.0,
        sip_port=opts["sip_port"] if opts["sip_port"] >= 0 else None,
    )
    async with sim:
        _listening(sim, "simulator")
        if sim.presence is not None:
            click.echo(f"SIP presence on udp://{sim.host}:{sim.sip_port}")
        if opts["rate"] > 0:
            config = TrafficConfig(
                rate=opts["rate"],
                concurrency=opts["concurrency"],
                max_calls=opts["max_calls"],
                mix=mix,
                phones=callers,
                call_waiting=opts["call_waiting"],
            )
            sim.tasks.spawn(TrafficGenerator(sim.pbx, config).run(), "traffic")
        await sim.serve_forever()


@click.command("serve-capture")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_with_common
@click.option(
    "--chunks/--no-chunks",
    default=True,
    show_default=True,
    help="Write in the capture's original socket-read pieces.",
)
@click.option("--speed", default=1.0, show_default=True, help="Timing factor; 0 = no waits.")
def replay_command(file: Path, **opts: Any) -> None:
    """Serve capture FILE (NAME.ami) to every AMI client that logs in (the simulator).

    Formerly `callbridge replay FILE.ami`; `callbridge replay` now replays the Redis
    stream through the call-tracker."""
    _run(_replay(file, opts))


async def _replay(file: Path, opts: dict[str, Any]) -> None:
    sim = Simulator(
        host=opts["host"],
        port=opts["port"],
        username=opts["username"],
        secret=opts["secret"],
        ssl_context=_server_tls(opts["tls_cert"], opts["tls_key"]),
        replay=Capture.load(file),
        replay_chunks=opts["chunks"],
        replay_speed=opts["speed"],
    )
    async with sim:
        _listening(sim, f"replay of {file.name}")
        await sim.serve_forever()


@click.command("capture")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5038, show_default=True, type=int)
@click.option("--username", required=True)
@click.option("--secret", envvar="CB_AMI_SECRET", required=True, show_default="CB_AMI_SECRET")
@click.option("--tls", is_flag=True, help="Connect with TLS.")
@click.option("--tls-ca", type=click.Path(exists=True, path_type=Path), help="CA file to trust.")
@click.option(
    "--out",
    "basename",
    required=True,
    type=click.Path(path_type=Path),
    help="Writes BASENAME.ami, .times.jsonl, .chunks.jsonl.",
)
@click.option("--duration", type=float, help="Seconds to record after login.")
@click.option("--max-frames", type=int, help="Frames to record after the login response.")
def capture_command(**opts: Any) -> None:
    """Record a live AMI stream in the captures' format, then log off."""
    if opts["duration"] is None and opts["max_frames"] is None:
        raise click.UsageError("give --duration or --max-frames")
    context = ssl.create_default_context(cafile=opts["tls_ca"]) if opts["tls"] else None
    try:
        result = asyncio.run(
            capture(
                opts["host"],
                opts["port"],
                opts["username"],
                opts["secret"],
                opts["basename"],
                ssl_context=context,
                duration=opts["duration"],
                max_frames=opts["max_frames"],
            )
        )
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"captured {result.frames} frames, {result.size} bytes -> {result.ami}")


COMMANDS += [simulator_command, replay_command, capture_command]
