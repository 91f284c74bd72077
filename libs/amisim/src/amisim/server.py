"""The simulator: an AMI server (TCP or TLS) in front of a simulated PBX."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from aioami import Message
from cbsip import Credentials

from . import actions
from ._tasks import TaskSet
from ._wire import BANNER, frame
from .calls import Call
from .channels import LiveChannel
from .pbx import Pbx
from .replay import Capture
from .session import Session
from .sipserver import PresenceServer

__all__ = ["Simulator"]


class Simulator:
    """A fake Asterisk 22 speaking AMI. Use ``async with Simulator() as sim:``.

    ``speed`` scales every call's capture timing (1 = real time, 0 = no waiting);
    ``replay``: a capture served to each client right after it logs in (see
    :meth:`Capture.after_login`) instead of the simulator's FullyBooted.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "crm",
        secret: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        extensions: tuple[str, ...] = ("100", "101", "102"),
        speed: float = 1.0,
        seed: int | None = None,
        auth_fail_delay: float = 0.0,
        replay: Capture | None = None,
        replay_chunks: bool = True,
        replay_speed: float = 0.0,
        sip_port: int | None = None,
        sip_credentials: Credentials | None = None,
    ) -> None:
        self.username = username
        self.secret = secret if secret is not None else os.environ.get("CB_SIM_SECRET", "crmsecret")
        self.auth_fail_delay = auth_fail_delay
        self.received_actions: list[Message] = []
        self.sessions: set[Session] = set()
        self.tasks = TaskSet()
        self.pbx = Pbx(
            self._broadcast, self.tasks.spawn, extensions=extensions, speed=speed, seed=seed
        )
        self._bind = (host, port)
        self._ssl = ssl_context
        self._replay = (replay, replay_chunks, replay_speed) if replay is not None else None
        self._server: asyncio.Server | None = None
        #: The SIP presence server (``sip_port``: None = none, 0 = any free port).
        self.presence: PresenceServer | None = None
        if sip_port is not None:
            self.presence = PresenceServer(
                self.pbx.table, self.pbx.extensions, credentials=sip_credentials
            )
            self.pbx.watchers.append(self.presence.changed)
        self._sip_port = sip_port or 0
        self._started = time.monotonic()

    # Lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        host, port = self._bind
        self._server = await asyncio.start_server(self._accept, host, port, ssl=self._ssl)
        if self.presence is not None:
            await self.presence.start(host, self._sip_port)
        self._started = time.monotonic()

    async def stop(self) -> None:
        """Stop listening, drop every client, cancel every call."""
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self.presence is not None:
            self.presence.close()
        await self.tasks.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        """Serve until cancelled (Ctrl-C in the CLI)."""
        if self._server is None:
            raise RuntimeError("start() first")
        await self._server.serve_forever()

    @property
    def host(self) -> str:
        return str(self._sockname()[0])

    @property
    def port(self) -> int:
        return int(self._sockname()[1])

    @property
    def sip_port(self) -> int:
        """The UDP port of the SIP presence server (started with ``sip_port``)."""
        if self.presence is None or self.presence.transport is None:
            raise RuntimeError("simulator started without a SIP presence server")
        return self.presence.address[1]

    @property
    def tls(self) -> bool:
        return self._ssl is not None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started

    def _sockname(self) -> Any:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("simulator not started")
        return self._server.sockets[0].getsockname()

    # Sessions --------------------------------------------------------------------------------
    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        banner = self._replay[0].banner if self._replay is not None else BANNER
        self.tasks.spawn(session.run(actions.dispatch, banner), f"session-{session.peer}")

    async def logged_in(self, session: Session) -> None:
        """After a successful Login: FullyBooted (or the replay), then SuccessfulAuth."""
        if self._replay is not None:
            capture, chunks, speed = self._replay
            await session.write_exclusive(capture.after_login(chunks=chunks, speed=speed))
            return
        uptime = str(int(self.uptime))
        session.send(
            frame(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                ]
            )
        )
        self.security_event("SuccessfulAuth", session, session.username or "")

    def security_event(self, event: str, session: Session, account: str) -> None:
        """A security-class event about an AMI login, delivered to every session."""
        now = time.time()
        tv = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now * 1000) % 1000:03d}+0000"
        )
        pairs = [
            ("Event", event),
            ("Privilege", "security,all"),
            ("EventTV", tv),
            ("Severity", "Informational" if event == "SuccessfulAuth" else "Error"),
            ("Service", "AMI"),
            ("EventVersion", "1" if event == "SuccessfulAuth" else "2"),
            ("AccountID", account),
            ("SessionID", f"0x{id(session):x}"),
            ("LocalAddress", f"IPV4/TCP/{self.host}/{self.port}"),
            ("RemoteAddress", "IPV4/TCP/" + session.peer.replace(":", "/")),
            ("UsingPassword", "0"),
            ("SessionTV", tv),
        ]
        self.pbx.emit([frame(pairs)])

    def _broadcast(self, frames: list[bytes], joined: bytes) -> None:
        for session in list(self.sessions):
            session.deliver(frames, joined)

    def drop_connections(self) -> None:
        """Abort every client connection at once, as in a network outage."""
        for session in list(self.sessions):
            session.abort()
        self.sessions.clear()

    # Calls -------------------------------------------------------------------------------------
    def start_call(
        self,
        scenario: str,
        *,
        speed: float | None = None,
        pause_before: str | None = None,
        **values: Any,
    ) -> Call:
        """Start a call of ``scenario`` and return at once. ``values`` fix placeholders
        (``phone="79161234567"``, ``did=...``, ``ext1="101"``); the rest is fresh."""
        given = {key: str(value) for key, value in values.items()}
        return self.pbx.start_call(scenario, given, speed=speed, pause_before=pause_before)

    async def play(self, scenario: str, *, speed: float | None = None, **values: Any) -> Call:
        """Run one call of ``scenario`` to its end (see :meth:`start_call`)."""
        call = self.start_call(scenario, speed=speed, **values)
        await call.wait()
        return call

    def live_channels(self) -> list[LiveChannel]:
        return list(self.pbx.table)

    async def replay(
        self, path: str | Path | Capture, *, chunks: bool = True, speed: float = 0.0
    ) -> None:
        """Send a capture (see :meth:`Capture.after_login`) to every logged-in session."""
        capture = path if isinstance(path, Capture) else Capture.load(path)
        pieces = capture.after_login(chunks=chunks, speed=speed)
        async with asyncio.TaskGroup() as group:
            for session in [s for s in self.sessions if s.authenticated]:
                group.create_task(session.write_exclusive(pieces))
