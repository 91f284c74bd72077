"""The voice-bot's one exception tree."""

from __future__ import annotations

__all__ = [
    "AgiClosed",
    "AgiCommandError",
    "AgiDeadChannel",
    "AgiError",
    "AgiHangup",
    "AgiTimeout",
    "AgiUsageError",
    "DialogError",
    "VoiceBotError",
]


class VoiceBotError(Exception):
    """Root of every voice-bot error."""


class AgiError(VoiceBotError):
    """The FastAGI conversation failed."""


class AgiHangup(AgiError):
    """The caller hung up (Asterisk sent ``HANGUP`` or a command answered -1 after it)."""


class AgiDeadChannel(AgiHangup):
    """``511 Command Not Permitted on a dead channel or intercept routine``."""


class AgiClosed(AgiError):
    """Asterisk closed the socket."""


class AgiTimeout(AgiError):
    """Asterisk did not send a line within the read timeout."""


class AgiCommandError(AgiError):
    """``510 Invalid or unknown command`` (or another non-200 code)."""

    def __init__(self, code: int, message: str, command: str = "") -> None:
        super().__init__(f"{code} {message} (command: {command})" if command else message)
        self.code, self.message, self.command = code, message, command


class AgiUsageError(AgiCommandError):
    """``520`` invalid syntax; ``usage`` holds the usage text of the multi-line form."""

    def __init__(self, message: str, usage: str = "", command: str = "") -> None:
        super().__init__(520, message, command)
        self.usage = usage


class DialogError(VoiceBotError):
    """A dialog file is invalid (bad YAML, unknown step, schema error)."""
