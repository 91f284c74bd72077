"""cbruntime.running: a service runs for the length of a block, then stops; its errors surface."""

from __future__ import annotations

import asyncio

import pytest

from cbruntime import running


class _Service:
    def __init__(self, fail: bool = False) -> None:
        self.started = asyncio.Event()
        self.stopped = False
        self.fail = fail

    async def run(self, stop: asyncio.Event) -> None:
        self.started.set()
        await stop.wait()
        if self.fail:
            raise RuntimeError("broken on the way out")
        self.stopped = True


async def test_the_service_runs_inside_the_block_and_stops_when_it_ends() -> None:
    async with running(_Service()) as service:
        await asyncio.wait_for(service.started.wait(), 5)
        assert not service.stopped
    assert service.stopped


async def test_an_error_of_the_service_surfaces_when_the_block_ends() -> None:
    with pytest.raises(RuntimeError, match="broken on the way out"):
        async with running(_Service(fail=True)) as service:
            await asyncio.wait_for(service.started.wait(), 5)
