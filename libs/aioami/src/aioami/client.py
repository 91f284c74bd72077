"""The AMI client: one supervised connection to one Asterisk, actions, events and raw frames.

API CONTRACT (stub written first so that ami-ingest and the simulator can be built in
parallel; the implementation fills the bodies and must keep these names and types).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ._framing import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_HEADERS
from .message import Message

__all__ = ["AMIClient", "AMIConfig", "ActionResult", "ClientStats", "FrameBatch", "Snapshot"]


@dataclass(frozen=True, kw_only=True)
class AMIConfig:
    """Everything a connection needs. ``secret`` never appears in repr, logs or errors."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str
    secret: str = field(repr=False)
    auth: Literal["plain", "md5"] = "plain"
    #: ``Events:`` header of Login: "on", "off" or a class list such as "call,cdr".
    events: str = "on"
    #: None = plain TCP. An SSLContext = TLS with that context. Use ``tls_context()`` to
    #: build one: verification is on unless ``verify=False`` is asked for explicitly.
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    #: Keepalive: a Ping every ``ping_interval`` s; no reply within ``ping_timeout`` s
    #: = dead peer, the connection is dropped and re-made.
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS
    #: Bytes of received-but-unconsumed frames held before the socket stops being read.
    max_buffer_bytes: int = 16 * 1024 * 1024
    #: List action run after every (re)connect whose result is delivered in-band to
    #: ``raw_batches()`` as a :class:`Snapshot`; None disables it.
    snapshot_action: str | None = "CoreShowChannels"


def tls_context(*, cafile: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client TLS context. ``verify=False`` is the explicit opt-out of certificate checks."""
    raise NotImplementedError


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Frames of one socket read, in arrival order; ``frames`` are raw (see _framing)."""

    session: int
    rx_us: int
    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The ``snapshot_action`` result of session ``session``, at its place in the stream."""

    session: int
    rx_us: int
    banner: str
    response: Message
    events: list[Message]


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A list action's reply: the response and its events up to ``…Complete`` (included)."""

    response: Message
    events: list[Message]


@dataclass(slots=True)
class ClientStats:
    frames_in: int = 0
    bytes_in: int = 0
    reconnects: int = 0
    frame_errors: int = 0
    keepalive_failures: int = 0
    dropped_events: int = 0
    paused: bool = False
    buffered_bytes: int = 0


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

    async def __aenter__(self) -> AMIClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect and log in (raises AuthenticationError / OSError on the first attempt),
        then keep the connection alive until ``close()``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Logoff (best effort), close, fail pending actions with ConnectionLost."""
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    async def wait_connected(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    async def send_action(
        self,
        action: str,
        headers: Mapping[str, str | list[str]] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        """Send one action and return its response. A list value sends the key repeatedly
        (``Variable``). ``ActionError`` on ``Response: Error``; ``ConnectionLost`` if the
        connection drops first (never re-sent); ``ActionTimeout`` after ``timeout``."""
        raise NotImplementedError

    async def send_list_action(
        self,
        action: str,
        headers: Mapping[str, str | list[str]] | None = None,
        *,
        timeout: float | None = None,
    ) -> ActionResult:
        """An EventList action (CoreShowChannels, QueueStatus, …): response + events until
        the one carrying ``EventList: Complete``."""
        raise NotImplementedError

    async def command(self, command: str, *, timeout: float | None = None) -> str:
        """``Action: Command``; the CLI output, from either the ``Output:`` form or the
        legacy ``Response: Follows … --END COMMAND--`` form."""
        raise NotImplementedError

    def events(self, pattern: str = "*") -> AsyncIterator[Message]:
        """Parsed events whose name matches the fnmatch ``pattern`` (case-insensitive)."""
        raise NotImplementedError

    def raw_batches(self) -> AsyncIterator[FrameBatch | Snapshot]:
        """The ingest path: every frame that is not a reply to one of our own actions,
        unparsed, in order, with a Snapshot after each (re)connect. Consuming slowly makes
        the client stop reading the socket (backpressure) once ``max_buffer_bytes`` are held."""
        raise NotImplementedError
