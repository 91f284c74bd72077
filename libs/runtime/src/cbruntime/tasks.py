"""Running a service (anything with ``async run(stop)``) for the length of a block."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

__all__ = ["Service", "running"]


class Service(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


S = TypeVar("S", bound=Service)


@asynccontextmanager
async def running(service: S, *, stop_timeout_s: float = 10.0) -> AsyncIterator[S]:
    """``service.run(stop)`` in a task until the block ends; then ``stop`` is set and the task
    must finish within ``stop_timeout_s`` (its errors surface here)."""
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, stop_timeout_s)
