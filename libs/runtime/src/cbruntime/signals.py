"""SIGINT/SIGTERM -> a stop event, for a graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

__all__ = ["run_until_signal", "stop_on_signals"]

log = logging.getLogger(__name__)
_INSIST_AFTER_S = 1.0


@contextlib.contextmanager
def stop_on_signals(
    stop: asyncio.Event, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[asyncio.Event]:
    """Set ``stop`` on the first of ``signals``; a second one, a second or more later, raises
    KeyboardInterrupt (a person insisting). One Ctrl-C often arrives twice at once -- from the
    terminal to the whole process group and forwarded by a parent such as ``uv run`` -- and
    that must not turn a graceful stop into an abrupt one.

    Must be entered from the running loop's thread. Handlers are removed on exit.
    """
    loop = asyncio.get_running_loop()
    first: list[float] = []

    def on_signal(sig: signal.Signals) -> None:
        if first and loop.time() - first[0] >= _INSIST_AFTER_S:
            log.warning("second signal, exiting now", extra={"signal": sig.name})
            raise KeyboardInterrupt
        if first:
            return  # the same Ctrl-C, delivered twice
        first.append(loop.time())
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
