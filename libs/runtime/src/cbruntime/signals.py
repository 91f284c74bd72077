"""SIGINT/SIGTERM -> a stop event, for a graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

__all__ = ["run_until_signal", "stop_on_signals"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def stop_on_signals(
    stop: asyncio.Event, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[asyncio.Event]:
    """Set ``stop`` on the first of ``signals``; a second one raises KeyboardInterrupt.

    Must be entered from the running loop's thread. Handlers are removed on exit.
    """
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("second signal, exiting now", extra={"signal": sig.name})
            raise KeyboardInterrupt
        log.info("stopping", extra={"signal": sig.name})
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield stop
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """``asyncio.run(main(stop))`` where ``stop`` is set by SIGINT/SIGTERM."""

    async def runner() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await main(stop)

    asyncio.run(runner())
