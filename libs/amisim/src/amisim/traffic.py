"""Traffic: calls at a configured rate and concurrency, and a firehose mode for benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from ._ids import IdSource, bind
from ._template import Template, load_template
from .calls import Call, render
from .pbx import PbxError

if TYPE_CHECKING:
    from .pbx import Pbx
    from .server import Simulator

__all__ = [
    "SCENARIOS",
    "TrafficConfig",
    "TrafficGenerator",
    "blast",
    "blast_chunks",
    "render_call",
    "render_events",
]

#: Default scenario mix (relative weights).
SCENARIOS: Mapping[str, float] = {
    "inbound_answered": 30,
    "inbound_missed": 10,
    "inbound_busy": 5,
    "inbound_group": 10,
    "inbound_queue": 10,
    "outbound": 20,
    "click_to_call": 5,
    "blind_transfer_ami": 5,
    "attended_transfer_ami": 5,
    # composed scenarios (amisim.compose): about a sixth of the calls
    "internal": 5,
    "hold": 5,
    "dial_timeout": 3,
    "queue_abandon": 3,
    "redirect_transfer": 2,
    "pickup": 2,
}


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """``rate`` calls/s (0: back to back), at most ``concurrency`` at once, ``max_calls`` in all."""

    rate: float = 1.0
    concurrency: int = 10
    max_calls: int | None = None
    mix: Mapping[str, float] = field(default_factory=lambda: dict(SCENARIOS))
    speed: float | None = None  # None: the simulator's
    #: Outside numbers to draw each call's ``phone`` from (e.g. a demo CRM's contacts);
    #: empty: a fresh random number per call.
    phones: Sequence[str] = ()
    #: False (a PBX without call waiting): no call rings, or is placed from, an extension
    #: already in a call — the generator waits for enough idle extensions. True: a second
    #: call may ring an operator who is talking.
    call_waiting: bool = False


class TrafficGenerator:
    """Starts calls on a PBX per :class:`TrafficConfig`; ``run()`` returns when all ended."""

    def __init__(self, pbx: Pbx, config: TrafficConfig) -> None:
        self.pbx = pbx
        self.config = config
        self.started = 0
        self.completed = 0
        #: Calls not started because too few extensions were idle (each retried later).
        self.deferred = 0
        self._slots = asyncio.Semaphore(max(1, config.concurrency))
        self._names = list(config.mix)
        self._weights = [float(w) for w in config.mix.values()]

    async def run(self) -> int:
        """Generate calls until ``max_calls`` (forever if None); returns calls completed."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        calls: list[Call] = []
        while self.config.max_calls is None or self.started < self.config.max_calls:
            await self._slots.acquire()
            calls = [c for c in calls if not c.done]
            call = self._start_one()
            if call is None:
                self._slots.release()
                await self._until_one_ends(calls)
                continue
            calls.append(call)
            if self.config.rate > 0:
                next_at += 1.0 / self.config.rate
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        await asyncio.gather(*(c.wait() for c in calls))
        return self.completed

    def _start_one(self) -> Call | None:
        """A call of the mix; None while too few extensions are idle for the one drawn."""
        rng = self.pbx.ids.rng
        name = rng.choices(self._names, self._weights)[0]
        values = {"phone": rng.choice(self.config.phones)} if self.config.phones else None
        try:
            call = self.pbx.start_call(
                name, values, speed=self.config.speed, idle_only=not self.config.call_waiting
            )
        except PbxError:
            if self.config.call_waiting:
                raise
            self.deferred += 1
            return None
        self.started += 1
        self.pbx.spawn(self._release_when_done(call), f"traffic-{call.id}")
        return call

    async def _until_one_ends(self, calls: list[Call]) -> None:
        """Wait for a call to end (the pause before trying again), at most a second."""
        live = [asyncio.ensure_future(c.wait()) for c in calls if not c.done]
        if not live:
            await asyncio.sleep(0.05)  # channels of a call not ours (Originate) linger
            return
        try:
            await asyncio.wait(live, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in live:
                task.cancel()

    async def _release_when_done(self, call: Call) -> None:
        try:
            await call.wait()
            self.completed += 1
        finally:
            self._slots.release()


@cache
def _whole(template: Template) -> bytes:
    return "".join(phase.fmt for phase in template.phases).encode()


def render_call(
    name: str,
    values: Mapping[str, str] | None = None,
    *,
    seed: int | None = None,
    start: float = 1_800_000_000.0,
) -> list[tuple[float, bytes]]:
    """One call of scenario ``name`` as (offset in seconds, wire frame) pairs, without a
    server: ``values`` fix placeholders (``phone``, ``did``, ``ext1`` ...), the rest is fresh
    (from ``seed``); the call starts at ``start`` (unix seconds)."""
    template = load_template(name)
    ids = IdSource(seed=seed)
    given = dict(values or {})
    wanted = [k for k in template.extensions if k not in given]
    free = [e for e in ("100", "101", "102") if e not in given.values()]
    given.update(zip(wanted, ids.rng.sample(free, len(wanted)), strict=True))
    return render(template.phases, bind(template, ids, start, given))


def render_events(
    n_events: int,
    *,
    mix: Mapping[str, float] | None = None,
    extensions: Sequence[str] = ("100", "101", "102"),
    seed: int | None = None,
    chunk_bytes: int = 256 * 1024,
    start: float | None = None,
) -> Iterator[bytes]:
    """Exactly ``n_events`` realistic event frames as wire bytes, in chunks of about
    ``chunk_bytes`` ending on frame boundaries. Calls follow each other (fresh ids each,
    a virtual clock 50 ms apart); the frames of one call are rendered in one step."""
    weights = dict(mix or SCENARIOS)
    templates = [load_template(name) for name in weights]
    chances = list(weights.values())
    ids = IdSource(seed=seed)
    clock = time.time() if start is None else start
    pending: list[bytes] = []
    size, left = 0, n_events
    while left > 0:
        template = ids.rng.choices(templates, chances)[0]
        exts = ids.rng.sample(list(extensions), len(template.extensions))
        values = bind(template, ids, clock, dict(zip(template.extensions, exts, strict=True)))
        data = _whole(template) % {k.encode(): v.encode() for k, v in values.items()}
        if template.frame_count > left:
            data = b"".join(f + b"\r\n\r\n" for f in data.split(b"\r\n\r\n")[:left])
        left -= min(left, template.frame_count)
        clock += 0.05
        pending.append(data)
        size += len(data)
        if size >= chunk_bytes:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


async def blast(
    sim: Simulator,
    n_events: int,
    *,
    mix: Mapping[str, float] | None = None,
    seed: int | None = None,
    chunk_bytes: int = 256 * 1024,
) -> int:
    """Write ``n_events`` freshly rendered events (see :func:`render_events`) to every
    logged-in session with events on, as fast as the sockets take them. Returns bytes sent."""
    chunks = render_events(
        n_events, mix=mix, extensions=sim.pbx.extensions, seed=seed, chunk_bytes=chunk_bytes
    )
    return await blast_chunks(sim, chunks)


async def blast_chunks(sim: Simulator, chunks: Iterable[bytes]) -> int:
    """Write pre-rendered ``chunks`` (e.g. ``list(render_events(n))``) to every logged-in
    session with events on, draining after each chunk. Filters and the live-channel table
    are bypassed. Returns bytes sent per session."""
    total = 0
    for chunk in chunks:
        targets = [s for s in sim.sessions if s.authenticated and s.events_on and not s.closing]
        for session in targets:
            session.writer.write(chunk)
        await asyncio.gather(*(s.writer.drain() for s in targets))
        total += len(chunk)
    return total
