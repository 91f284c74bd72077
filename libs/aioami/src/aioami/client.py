"""The AMI client: one supervised connection to one Asterisk, actions, events and raw frames.

The contract's data types (AMIConfig, FrameBatch, Snapshot, ActionResult, ClientStats) live
in ``_types`` and are re-exported here; the connection machinery is in ``_protocol`` and
``_connect``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Mapping

from . import _connect
from ._actions import ActionIds, Pending, command_output
from ._feeds import EventHub, RawFeed
from ._protocol import AMIProtocol
from ._types import ActionResult, AMIConfig, ClientStats, FrameBatch, Snapshot
from .exceptions import ActionError, NotConnected
from .message import Message

__all__ = [
    "AMIClient",
    "AMIConfig",
    "ActionResult",
    "ClientStats",
    "FrameBatch",
    "Snapshot",
    "tls_context",
]

log = logging.getLogger("aioami")


def tls_context(*, cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client TLS context. ``verify=False`` is the explicit opt-out of certificate checks."""
    if verify:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class AMIClient:
    """A supervised AMI connection.

    ``async with AMIClient(cfg) as ami:`` connects and logs in (the first connection is
    awaited; later ones are made by the supervisor with jittered exponential backoff).
    ``session`` counts successful logins (1, 2, …): a change means a gap in events.
    """

    def __init__(self, config: AMIConfig) -> None:
        self.config = config
        self.stats = ClientStats()
        self.session = 0
        self.banner = ""
        self._ids = ActionIds()
        self._raw = RawFeed(self.stats, config.max_buffer_bytes, self._set_reading)
        self._hub = EventHub(self.stats)
        self._proto: AMIProtocol | None = None
        self._ready = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"<AMIClient {cfg.host}:{cfg.port} user={cfg.username!r} "
            f"session={self.session} connected={self.connected}>"
        )

    async def __aenter__(self) -> AMIClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect and log in (raises AuthenticationError / OSError on the first attempt),
        then keep the connection alive until ``close()``."""
        if self._supervisor is not None or self._closing:
            raise RuntimeError("AMIClient.start() may be called once")
        proto = await self._connect()
        self._supervisor = asyncio.create_task(self._supervise(proto), name="aioami-supervisor")

    async def close(self) -> None:
        """Logoff (best effort), close, fail pending actions with ConnectionLost."""
        if self._closing:
            return
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        proto, self._proto = self._proto, None
        self._ready.clear()
        if proto is not None:
            await _connect.logoff(proto)
        self._raw.close()
        self._hub.close()

    @property
    def connected(self) -> bool:
        proto = self._proto
        return proto is not None and not proto.closed.done() and not self._closing

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if self._closing:
            raise NotConnected("the client is closed")
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            raise NotConnected(f"no AMI session within {timeout} s") from None

    async def send_action(
        self,
        action: str,
        headers: Mapping[str, str | list[str]] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Message:
        """Send one action and return its response. A list value sends the key repeatedly
        (``Variable``). ``ActionError`` on ``Response: Error``; ``ConnectionLost`` if the
        connection drops first (never re-sent); ``ActionTimeout`` after ``timeout``."""
        return _checked(await self._call(action, headers, timeout))

    async def send_list_action(
        self,
        action: str,
        headers: Mapping[str, str | list[str]] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ActionResult:
        """An EventList action (CoreShowChannels, QueueStatus, …): response + events until
        the one carrying ``EventList: Complete``."""
        pending = await self._call(action, headers, timeout, is_list=True)
        return ActionResult(_checked(pending), pending.events)

    async def command(self, command: str, *, timeout: float | None = None) -> str:  # noqa: ASYNC109
        """``Action: Command``; the CLI output, from either the ``Output:`` form or the
        legacy ``Response: Follows … --END COMMAND--`` form."""
        pending = await self._call("Command", {"Command": command}, timeout)
        return command_output(_checked(pending))

    def events(self, pattern: str = "*") -> AsyncIterator[Message]:
        """Parsed events whose name matches the fnmatch ``pattern`` (case-insensitive),
        from the moment of this call; a subscriber more than 10,000 events behind loses
        the newest ones (``stats.dropped_events``)."""
        return self._hub.subscribe(pattern)

    def raw_batches(self) -> AsyncIterator[FrameBatch | Snapshot]:
        """The ingest path: every frame that is not a reply to one of our own actions,
        unparsed, in order, with a Snapshot after each (re)connect. Consuming slowly makes
        the client stop reading the socket (backpressure) once ``max_buffer_bytes`` are held.
        One consumer at a time; while none is iterating, frames are held up to
        ``max_buffer_bytes`` from the start, then dropped (``stats.dropped_events``)."""
        return self._raw.iterate()

    # -- internals ---------------------------------------------------------------------------

    async def _call(
        self,
        action: str,
        headers: Mapping[str, str | list[str]] | None,
        limit: float | None,
        *,
        is_list: bool = False,
    ) -> Pending:
        proto = self._proto
        if proto is None or not self.connected:
            raise NotConnected(f"no AMI session to {self.config.host}:{self.config.port}")
        limit = self.config.action_timeout if limit is None else limit
        return await _connect.call(proto, action, headers, limit, is_list=is_list)

    def _new_protocol(self) -> AMIProtocol:
        feeds = (self._raw, self._hub)
        return AMIProtocol(
            self.config, session=self.session + 1, stats=self.stats, feeds=feeds, ids=self._ids
        )

    async def _connect(self) -> AMIProtocol:
        proto = await _connect.open_connection(self.config, self._new_protocol)
        self.session, self.banner = proto.session, proto.banner.result()
        self._proto = proto
        proto.on_lost = self._ready.clear
        if self._raw.paused:
            proto.set_reading(False)
        self._ready.set()
        cfg = self.config
        log.info(
            "aioami: session %d with %s as %r (%s)",
            self.session,
            proto.peer,
            cfg.username,
            self.banner,
        )
        return proto

    async def _supervise(self, proto: AMIProtocol) -> None:
        while True:
            await self._serve(proto)
            self._proto = None
            log.warning("aioami: session %d with %s ended", proto.session, proto.peer)
            proto = await self._reconnect()

    async def _serve(self, proto: AMIProtocol) -> None:
        """Run keepalive and the snapshot until the connection ends; owns their tasks."""
        cfg = self.config
        tasks = [asyncio.create_task(_connect.keepalive(proto, cfg, self.stats))]
        if cfg.snapshot_action:
            tasks.append(asyncio.create_task(_connect.snapshot(proto, cfg, cfg.snapshot_action)))
        try:
            await asyncio.shield(proto.closed)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _reconnect(self) -> AMIProtocol:
        cfg = self.config
        for delay in _connect.backoff(cfg.reconnect_initial, cfg.reconnect_max):
            await asyncio.sleep(delay)
            try:
                proto = await self._connect()
            except Exception as exc:
                log.warning("aioami: reconnect to %s:%d failed: %r", cfg.host, cfg.port, exc)
                continue
            self.stats.reconnects += 1
            return proto
        raise AssertionError("backoff() never ends")

    def _set_reading(self, on: bool) -> None:
        if self._proto is not None:
            self._proto.set_reading(on)


def _checked(pending: Pending) -> Message:
    response = pending.response
    assert response is not None  # noqa: S101 - a finished Pending has its response
    if response.response == "Error":
        reason = response.get("Message") or "no message"
        raise ActionError(f"{pending.action} failed: {reason}", response)
    return response
