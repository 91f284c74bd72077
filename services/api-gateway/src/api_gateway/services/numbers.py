"""Validating what goes into an Originate: the operator's extension and the client's number,
with the toll-fraud deny-list. (cbcrm has no phones module yet; when it lands, E.164
normalisation should come from there.)"""

from __future__ import annotations

import re

from ..errors import ApiError
from ..settings import OriginateSettings

__all__ = ["NumberPolicy"]

_SEPARATORS = re.compile(r"[\s().-]")


class NumberPolicy:
    def __init__(self, settings: OriginateSettings) -> None:
        self._ext = re.compile(settings.extension_pattern)
        self._deny = tuple(p.lstrip("+") for p in settings.deny_prefixes if p.lstrip("+"))
        self._min, self._max = settings.min_digits, settings.max_digits

    def extension(self, ext: str) -> str:
        if not self._ext.fullmatch(ext):
            raise ApiError(
                422,
                "invalid-extension",
                "Invalid extension",
                f"extension {ext[:20]!r} does not match the configured extension pattern",
            )
        return ext

    def number(self, raw: str) -> str:
        """The dialable number (digits, with a leading ``+`` kept), or a 422/403 problem."""
        compact = _SEPARATORS.sub("", raw)
        plus = compact.startswith("+")
        digits = compact[1:] if plus else compact
        if not digits.isascii() or not digits.isdigit():
            raise ApiError(
                422, "invalid-number", "Invalid number", "a number has digits, '+' and spaces only"
            )
        if not self._min <= len(digits) <= self._max:
            raise ApiError(
                422,
                "invalid-number",
                "Invalid number",
                f"a number has {self._min} to {self._max} digits",
            )
        for prefix in self._deny:
            if digits.startswith(prefix):
                raise ApiError(
                    403,
                    "number-denied",
                    "Number denied",
                    f"numbers starting with {prefix} are blocked by the deny-list (toll fraud)",
                    extra={"denied_prefix": prefix},
                )
        return ("+" if plus else "") + digits
