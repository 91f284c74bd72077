"""aioami — an asyncio client for the Asterisk Manager Interface."""

from ._framing import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_HEADERS, FrameSplitter, event_name
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
    "AMIError",
    "ActionError",
    "ActionTimeout",
    "AuthenticationError",
    "ConnectionLost",
    "FrameError",
    "FrameSplitter",
    "Message",
    "NotConnected",
    "event_name",
    "parse_frame",
    "parse_frames",
]
