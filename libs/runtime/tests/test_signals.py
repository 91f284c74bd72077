"""SIGINT/SIGTERM stop a service gracefully; one Ctrl-C delivered twice is still one."""

from __future__ import annotations

import asyncio
import os
import signal

from cbruntime import stop_on_signals


async def test_a_signal_delivered_twice_at_once_sets_stop_and_does_not_abort() -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # e.g. the terminal's and uv's forward
        await asyncio.wait_for(stop.wait(), 5)
        for _ in range(3):  # let both handlers run: no KeyboardInterrupt may escape
            await asyncio.sleep(0)
    assert stop.is_set()


async def test_sigterm_sets_stop() -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
