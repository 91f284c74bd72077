"""The one exception tree of aioami. Everything the client raises derives from AMIError."""

from __future__ import annotations

__all__ = [
    "AMIError",
    "ActionError",
    "ActionTimeout",
    "AuthenticationError",
    "ConnectionLost",
    "FrameError",
    "NotConnected",
]


class AMIError(Exception):
    """Root of every aioami error."""


class FrameError(AMIError):
    """The peer sent bytes that break AMI framing or our bounds (size, header count)."""


class AuthenticationError(AMIError):
    """Login was refused. The message never contains the secret."""


class NotConnected(AMIError):
    """An action was sent while no AMI session is established."""


class ConnectionLost(AMIError):
    """The connection dropped while an action waited for its response.

    The action is *not* re-sent: it may or may not have been executed by Asterisk
    (a re-sent Originate is a second phone call).
    """


class ActionTimeout(AMIError):
    """No response to an action within its deadline."""


class ActionError(AMIError):
    """Asterisk answered ``Response: Error``; ``response`` holds the whole reply."""

    def __init__(self, message: str, response: object = None) -> None:
        super().__init__(message)
        self.response = response
