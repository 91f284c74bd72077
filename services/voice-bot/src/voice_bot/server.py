"""The FastAGI server: one coroutine per call, owned by a TaskGroup; graceful shutdown.

On stop it stops accepting, lets the calls in progress finish for up to ``drain_s``, then
cancels the rest. A call's errors (hangup, timeouts, bugs) end that call only: they are
logged, the socket is closed, and the dialplan continues after ``AGI()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .agi import AgiChannel, read_env
from .exceptions import AgiError, AgiHangup

__all__ = ["CallHandler", "FastAgiServer"]

log = logging.getLogger(__name__)

CallHandler = Callable[[AgiChannel], Awaitable[None]]


class FastAgiServer:
    def __init__(
        self,
        handler: CallHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        read_timeout_s: float = 10.0,
        env_timeout_s: float = 5.0,
        drain_s: float = 30.0,
        max_calls: int = 200,
    ) -> None:
        self.handler, self.host, self.port = handler, host, port
        self.read_timeout_s, self.env_timeout_s = read_timeout_s, env_timeout_s
        self.drain_s, self.max_calls = drain_s, max_calls
        self.ready = asyncio.Event()
        self.calls: set[asyncio.Task[None]] = set()
        self.finished = 0  # calls ended (any way), for tests and metrics
        self._idle = asyncio.Event()
        self._idle.set()
        self._tg: asyncio.TaskGroup | None = None

    async def serve(self, stop: asyncio.Event) -> None:
        """Accept calls until ``stop`` is set, then drain."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            server = await asyncio.start_server(self._accept, self.host, self.port, limit=65536)
            self.port = server.sockets[0].getsockname()[1]
            log.info("FastAGI listening on %s:%d", self.host, self.port)
            self.ready.set()
            try:
                await stop.wait()
            finally:
                server.close()
                await self._drain()
                await server.wait_closed()

    async def _drain(self) -> None:
        if self.calls:
            log.info("draining %d calls (at most %g s)", len(self.calls), self.drain_s)
        try:
            async with asyncio.timeout(self.drain_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning(
                "cancelling %d calls still running after %g s", len(self.calls), self.drain_s
            )
            for task in self.calls:
                task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tg is None or len(self.calls) >= self.max_calls:
            log.warning("refusing a FastAGI connection: %d calls", len(self.calls))
            writer.close()
            return
        task = self._tg.create_task(self._call(reader, writer))
        self.calls.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.calls.discard(task)
        self.finished += 1
        if not self.calls:
            self._idle.set()

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel: AgiChannel | None = None
        try:
            env = await read_env(reader, self.env_timeout_s)
            channel = AgiChannel(reader, writer, env, read_timeout_s=self.read_timeout_s)
            await self.handler(channel)
        except AgiHangup as exc:
            log.info("call ended by hangup: %s", exc)
        except AgiError as exc:
            log.warning("call ended: %s: %s", type(exc).__name__, exc)
        except Exception:
            log.exception("call handler failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
