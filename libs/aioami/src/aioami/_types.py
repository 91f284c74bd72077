"""The data types of the client's contract: config, items of the feeds, results, stats.

Defined here so that the connection code can use them without importing ``client``; they are
re-exported by ``aioami.client`` and ``aioami``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

from ._framing import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_HEADERS
from .message import Message

__all__ = ["AMIConfig", "ActionResult", "ClientStats", "FrameBatch", "Snapshot"]


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
    """Counters of one client, across reconnects. ``dropped_events`` counts events dropped
    for a slow ``events()`` subscriber and raw frames dropped while no ``raw_batches()``
    consumer was registered and the buffer was full."""

    frames_in: int = 0
    bytes_in: int = 0
    reconnects: int = 0
    frame_errors: int = 0
    keepalive_failures: int = 0
    dropped_events: int = 0
    paused: bool = False
    buffered_bytes: int = 0
