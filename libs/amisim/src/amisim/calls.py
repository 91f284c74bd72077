"""A running call: a scenario template's frames played on the simulator's clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from aioami import event_name

from ._template import Phase, Template

__all__ = ["Call", "Host", "render"]

Timed = list[tuple[float, bytes]]
_ids = itertools.count(1)


class Host(Protocol):
    """What a call needs from the simulator."""

    def emit(self, frames: list[bytes], owner: object | None = None) -> None: ...

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str | None = None
    ) -> asyncio.Task[Any]: ...


def render(phases: Sequence[Phase], values: dict[str, str], *, relative: bool = False) -> Timed:
    """Wire frames (blank line included) with their offsets; ``relative`` to the first phase."""
    base = phases[0].start if relative and phases else 0.0
    out: Timed = []
    for phase in phases:
        frames = phase.render(values)
        out += [(at - base, f + b"\r\n\r\n") for at, f in zip(phase.offsets, frames, strict=True)]
    return out


class Call:
    """One scenario run. ``speed`` scales the capture's timing (0: no waiting at all);
    ``pause_before`` holds the call (once) before the next event of that name until
    ``resume()``."""

    def __init__(
        self,
        host: Host,
        template: Template,
        values: dict[str, str],
        *,
        speed: float = 1.0,
        pause_before: str | None = None,
    ) -> None:
        self.id = next(_ids)
        self.host = host
        self.template = template
        self.values = values
        self.speed = speed
        self.pause_before = pause_before
        self.answered = asyncio.Event()  # OriginateResponse emitted
        self.paused = asyncio.Event()
        self._resume = asyncio.Event()
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.altered = False  # interrupted by an action: no longer the scenario as captured

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.template.name} linkedid={self.values.get('linkedid')}>"

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def wait(self) -> None:
        """Wait until the call has ended."""
        await self._done.wait()

    def fast_forward(self) -> None:
        """Play the rest of the call without waiting."""
        self.speed = 0.0
        self._wake.set()
        self.resume()

    def resume(self) -> None:
        self.pause_before = None
        self._resume.set()

    def play(self, frames: Timed) -> None:
        """Start playing ``frames`` (replacing whatever was playing)."""
        self._task = self.host.spawn(self._play(frames), name=f"call-{self.id}")

    async def interrupt(self) -> None:
        """Stop playing; the call's channels stay as they are."""
        self.altered = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def finish(self) -> None:
        self._done.set()

    async def _play(self, frames: Timed) -> None:
        loop = asyncio.get_running_loop()
        t0, at0 = loop.time(), frames[0][0] if frames else 0.0
        batch: list[bytes] = []
        batch_at = at0
        for at, data in frames:
            if at != batch_at:
                self._flush(batch)
                await self._wait_until(t0 + (at - at0) / self.speed if self.speed else 0.0)
                batch_at = at
            if self.pause_before is not None and event_name(data) == self.pause_before.encode():
                self._flush(batch)
                await self._hold()
            batch.append(data)
        self._flush(batch)
        self.finish()

    def _flush(self, batch: list[bytes]) -> None:
        if batch:
            self.host.emit(batch, self)
            if any(f.startswith(b"Event: OriginateResponse\r\n") for f in batch):
                self.answered.set()
            batch.clear()

    async def _wait_until(self, deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time() if self.speed else 0.0
        if delay <= 0:
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _hold(self) -> None:
        self.pause_before = None
        self.paused.set()
        await self._resume.wait()
        self.paused.clear()
