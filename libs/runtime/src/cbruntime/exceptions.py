"""The one exception tree of cbruntime."""

from __future__ import annotations

__all__ = ["RuntimeSetupError", "SettingsError"]


class RuntimeSetupError(Exception):
    """Root of every cbruntime error."""


class SettingsError(RuntimeSetupError):
    """Settings could not be loaded: unreadable file, bad TOML, or a value of the wrong type.

    The message names the offending key, never its value (it may be a secret).
    """
