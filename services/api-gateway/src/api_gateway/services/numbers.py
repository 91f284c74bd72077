"""Validating what goes into an Originate: the operator's extension and the client's number.

The number is normalised once (``cbcrm.phones``, E.164 under ``originate.region``) before any
check, so the toll-fraud deny-list sees ``00882…``, ``810 882…``, ``+882…`` and ``8 809…`` (the
Russian national form of ``+7 809``) as the numbers they are. Order: a possible number (422),
not denied (403), valid in its country's numbering plan (422, so nonsense such as
``80 375…`` that a PBX might still route is never dialled). The PBX dials the E.164 form.
Short all-digit numbers (up to 5 digits) are internal and dialled as given.
"""

from __future__ import annotations

import re

from cbcrm.exceptions import InvalidPhone
from cbcrm.phones import normalize

from ..errors import ApiError
from ..settings import OriginateSettings

__all__ = ["NumberPolicy"]

_ALLOWED = re.compile(r"^\+?[0-9\s().-]+$")


def _prefix(configured: str) -> str:
    """A configured prefix as E.164 digits (``+882`` and ``00882`` both mean ``882``)."""
    digits = configured.strip().lstrip("+")
    return digits[2:] if digits.startswith("00") else digits


def _invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid-number", "Invalid number", detail)


class NumberPolicy:
    def __init__(self, settings: OriginateSettings) -> None:
        self._ext = re.compile(settings.extension_pattern)
        self._deny = tuple(p for p in map(_prefix, settings.deny_prefixes) if p)
        self._region = settings.region
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
        """The number to dial (E.164, or a short internal number), or a 422/403 problem."""
        if not _ALLOWED.match(raw):
            raise _invalid("a number has digits, '+' and spaces only")
        digits = re.sub(r"\D", "", raw)
        if not self._min <= len(digits) <= self._max + 3:  # + room for 810 / 00
            raise _invalid(f"a number has {self._min} to {self._max} digits")
        try:
            phone = normalize(raw, self._region)
        except InvalidPhone:
            raise _invalid("not a possible phone number") from None
        if not phone.is_external:
            return phone.extension
        self._check_denied(phone.e164[1:])
        try:
            normalize(phone.e164, self._region, strict=True)
        except InvalidPhone:
            raise _invalid("not a number of its country's numbering plan") from None
        return phone.e164

    def _check_denied(self, e164_digits: str) -> None:
        for prefix in self._deny:
            if e164_digits.startswith(prefix):
                raise ApiError(
                    403,
                    "number-denied",
                    "Number denied",
                    f"numbers starting with +{prefix} are blocked by the deny-list (toll fraud)",
                    extra={"denied_prefix": prefix},
                )
