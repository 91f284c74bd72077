"""The FastAGI server: one coroutine per call, owned by a TaskGroup; graceful shutdown.

On stop it stops accepting, lets the calls in progress finish for up to ``drain_s``, then
cancels the rest. A call's errors (hangup, timeouts, bugs) end that call only: they are
logged, the socket is closed, and the dialplan continues after ``AGI()``.

Exposure (FastAGI has no authentication of its own): a connection from an address outside
``allow_from`` is closed before anything is read. Every input is bounded: a line at most
``max_line_bytes`` (the stream reader's limit, so memory per connection stays bounded),
the environment at most ``max_env_lines`` lines / ``max_env_bytes`` bytes within
``env_timeout_s``, at most ``max_pending`` connections still sending their environment (a
new one evicts the oldest of them, so idle sockets cannot lock out real calls) and at most
``max_calls`` calls past it; a call whose PBX stops answering is ended after
``read_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cbruntime import address_allowed, parse_networks

from .agi import AgiChannel, read_env
from .exceptions import AgiError, AgiHangup

__all__ = ["CallHandler", "FastAgiServer", "Limits"]

log = logging.getLogger(__name__)

CallHandler = Callable[[AgiChannel], Awaitable[None]]
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds on what one peer may send (see the module's docstring)."""

    max_line_bytes: int = 8192
    max_env_lines: int = 200
    max_env_bytes: int = 32_768
    max_pending: int = 16


class _Once:
    """A warning logged at most once per ``every_s`` per key (a flood is one line a minute)."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s, self._last = every_s, dict[str, float]()

    def __call__(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -self.every_s) >= self.every_s:
            self._last[key] = now
            log.warning(msg, *args)


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
        allow_from: Sequence[str] = LOOPBACK,
        limits: Limits | None = None,
    ) -> None:
        self.handler, self.host, self.port = handler, host, port
        self.read_timeout_s, self.env_timeout_s = read_timeout_s, env_timeout_s
        self.drain_s, self.max_calls = drain_s, max_calls
        self.allow_from = parse_networks(allow_from)
        self.limits = limits or Limits()
        self.ready = asyncio.Event()
        self.calls: set[asyncio.Task[None]] = set()  # every connection's task (for draining)
        # connections still in their environment, oldest first (with their writer: a task
        # cancelled before it ran never reaches its finally, so eviction closes the socket)
        self._pending: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.active = 0  # calls past their environment (counted against max_calls)
        self.finished = 0  # calls ended (any way), for tests and metrics
        self.refused = 0  # connections refused (address, capacity, evicted, oversized)
        self._warn = _Once()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tg: asyncio.TaskGroup | None = None

    @property
    def pending(self) -> int:
        """Connections still sending their environment."""
        return len(self._pending)

    async def serve(self, stop: asyncio.Event) -> None:
        """Accept calls until ``stop`` is set, then drain."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            server = await asyncio.start_server(
                self._accept, self.host, self.port, limit=self.limits.max_line_bytes
            )
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
        peer = writer.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) and peer else None
        if self._tg is None or not address_allowed(host, self.allow_from):
            self.refused += 1
            self._warn("address", "refusing FastAGI from %s: not in allow_from", host)
            writer.close()
            return
        if len(self._pending) >= self.limits.max_pending:
            oldest = next(iter(self._pending))
            self._pending.pop(oldest).close()
            oldest.cancel()
            self.refused += 1
            self._warn(
                "pending",
                "%d FastAGI connections without an environment: dropping the oldest",
                self.limits.max_pending,
            )
        task = self._tg.create_task(self._call(reader, writer))
        self.calls.add(task)
        self._pending[task] = writer
        self._idle.clear()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.calls.discard(task)
        self._pending.pop(task, None)
        self.finished += 1
        if not self.calls:
            self._idle.set()

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel: AgiChannel | None = None
        counted = False
        try:
            lim = self.limits
            env = await read_env(
                reader, self.env_timeout_s, max_lines=lim.max_env_lines, max_bytes=lim.max_env_bytes
            )
            task = asyncio.current_task()
            if task is not None:
                self._pending.pop(task, None)
            if self.active >= self.max_calls:
                self.refused += 1
                self._warn("calls", "refusing a FastAGI call: %d calls", self.active)
                return
            self.active, counted = self.active + 1, True
            channel = AgiChannel(reader, writer, env, read_timeout_s=self.read_timeout_s)
            await self.handler(channel)
        except AgiHangup as exc:
            log.info("call ended by hangup: %s", exc)
        except AgiError as exc:
            if channel is None:
                self.refused += 1
                self._warn("env", "FastAGI connection dropped: %s", exc)
            else:
                log.warning("call ended: %s: %s", type(exc).__name__, exc)
        except Exception:
            log.exception("call handler failed")
        finally:
            if counted:
                self.active -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
