"""aioami — an asyncio client for the Asterisk Manager Interface."""

from ._framing import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_HEADERS, FrameSplitter, event_name
from .client import (
    ActionResult,
    AMIClient,
    AMIConfig,
    ClientStats,
    FrameBatch,
    Snapshot,
    tls_context,
)
from .exceptions import (
    ActionError,
    ActionTimeout,
    AMIError,
    AuthenticationError,
    ConnectionLost,
    FrameError,
    NotConnected,
)
from .message import Message, parse_frame, parse_frames

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_MAX_HEADERS",
    "AMIClient",
    "AMIConfig",
    "AMIError",
    "ActionError",
    "ActionResult",
    "ActionTimeout",
    "AuthenticationError",
    "ClientStats",
    "ConnectionLost",
    "FrameBatch",
    "FrameError",
    "FrameSplitter",
    "Message",
    "NotConnected",
    "Snapshot",
    "event_name",
    "parse_frame",
    "parse_frames",
    "tls_context",
]
