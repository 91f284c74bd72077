"""Running the scenario matrix: per Asterisk version a few lanes, each its own lab PBX, the
scenarios of a lane one after another (so each recording holds one scenario only), every
lane at the same time.

``attach(lab, lane)`` (optional) is an async context manager per lane giving
:class:`LaneHooks`: what runs beside the lab (e.g. callbridge) — ``before()`` each scenario,
``restart()`` when a scenario asks for it, ``settle(run, token)`` after it, to read what the
system under test made of it into ``run.got``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

from .lab import Lab, start_lab
from .matrix import SCENARIOS, Monitor, Run, Scenario, run_scenario

__all__ = ["Attach", "LaneHooks", "lanes_of", "run_matrix"]


class LaneHooks(Protocol):
    async def before(self) -> Any: ...
    async def restart(self, during: Callable[[], Awaitable[object]] | None) -> None: ...
    async def settle(self, run: Run, token: Any) -> None: ...


Attach = Callable[[Lab, str], AbstractAsyncContextManager[LaneHooks]]


def lanes_of(version: str, only: Sequence[str], lanes: int) -> list[list[Scenario]]:
    """The scenarios of ``version`` (a variant: ``"22"``, ``"20"``, ``"20-pjsip"``; all, or
    those in ``only``) dealt round-robin to lanes."""
    chosen = [
        s for name, s in SCENARIOS.items() if (not only or name in only) and version in s.versions
    ]
    lanes = lanes if len(chosen) > 12 else 1  # a short list is not worth another PBX
    return [chosen[i::lanes] for i in range(lanes) if chosen[i::lanes]]


@contextlib.asynccontextmanager
async def _no_hooks(lab: Lab, lane: str) -> AsyncIterator[None]:
    yield None


async def _lane(
    version: str,
    lane: str,
    scenarios: list[Scenario],
    workdir: Path,
    cache: Path,
    out: Path | None,
    attach: Attach | None,
    on_run: Callable[[Run], None],
) -> list[Run]:
    starting = asyncio.ensure_future(
        asyncio.to_thread(start_lab, version, workdir / lane, cache_dir=cache)
    )
    try:
        lab = await asyncio.shield(starting)
    except asyncio.CancelledError:  # the start goes on in its thread: stop what it started
        started = await starting
        await asyncio.to_thread(started.stop)
        raise
    runs: list[Run] = []
    try:
        hooks_cm = attach(lab, lane) if attach is not None else _no_hooks(lab, lane)
        async with lab.ami() as ami, Monitor(ami) as monitor, hooks_cm as hooks:
            for scn in scenarios:
                token = await hooks.before() if hooks is not None else None
                restart = hooks.restart if hooks is not None else None
                run = await run_scenario(lab, monitor, scn, out=out, restart=restart)
                run.lane = lane
                if hooks is not None and not run.error:
                    try:
                        await hooks.settle(run, token)
                    except Exception as exc:  # reported with the run
                        run.error = f"settle: {type(exc).__name__}: {exc}"
                runs.append(run)
                on_run(run)
    finally:
        await lab.kill_sipps()
        await asyncio.to_thread(lab.stop)
    return runs


async def run_matrix(
    versions: Sequence[str],
    workdir: Path,
    *,
    out: Path | None = None,
    only: Sequence[str] = (),
    lanes: int = 2,
    attach: Attach | None = None,
    on_run: Callable[[Run], None] = lambda run: None,
) -> list[Run]:
    """Every chosen scenario on every version; recordings to ``out/ast<version>/`` when
    ``out`` is given. Returns the runs (also passed to ``on_run`` as each one ends)."""
    cache = workdir / "cache"
    jobs = []
    for version in versions:
        dest = out / f"ast{version}" if out is not None else None
        for i, scenarios in enumerate(lanes_of(version, only, lanes)):
            lane = f"ast{version.replace('-', '')}{'abcdefgh'[i]}"
            jobs.append(_lane(version, lane, scenarios, workdir, cache, dest, attach, on_run))
    results = await asyncio.gather(*jobs)
    return [run for runs in results for run in runs]
