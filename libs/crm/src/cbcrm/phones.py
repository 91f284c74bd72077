"""Phone numbers: E.164 normalisation (``phonenumbers``), internal extensions, search forms.

A caller id from a PBX or a number typed into a CRM comes in many shapes: ``8 (916) 123-45-67``,
``+79161234567``, ``79161234567``, ``9161234567``, ``+7 495 123-45-67 доб. 123``. Every one of
them becomes one E.164 string (``+79161234567``) under a configurable default region (``RU``).
Short all-digit strings (up to ``max_internal_digits``, 5 by default) are PBX extensions,
never external phones. Anything else raises :class:`~cbcrm.exceptions.InvalidPhone`.

CRMs search differently: amoCRM matches the trailing digits of a stored number (its call
popup uses the last 8), Bitrix24 and Megaplan a full number in one of several spellings.
:func:`search_forms` gives the spellings to try, most specific first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from .exceptions import InvalidPhone

__all__ = [
    "DEFAULT_REGION",
    "Phone",
    "SearchStyle",
    "is_internal",
    "normalize",
    "search_forms",
    "to_e164",
    "trailing_digits",
]

DEFAULT_REGION = "RU"
SearchStyle = Literal["all", "e164", "digits", "trailing", "national"]

_JUNK = re.compile(r"[\s().\-/]")
#: ``00`` is the international call prefix of most of the world (Russia's is ``810``, which
#: ``phonenumbers`` reads from the region); ``+00…`` is the same typed after a plus.
_IDD_00 = re.compile(r"^\+?00(?=[1-9])")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Phone:
    """A normalised number: ``internal`` (an extension such as ``101``) or ``external``
    (``e164`` set, with the extension dialled after it, if any, in ``extension``)."""

    kind: Literal["external", "internal"]
    e164: str = ""
    extension: str = ""

    @property
    def is_external(self) -> bool:
        return self.kind == "external"


def is_internal(raw: str, max_internal_digits: int = 5) -> bool:
    """True for a short all-digit string: a PBX extension, not an outside number."""
    compact = _JUNK.sub("", raw)
    return compact.isdigit() and 0 < len(compact) <= max_internal_digits


def normalize(
    raw: str,
    region: str = DEFAULT_REGION,
    *,
    max_internal_digits: int = 5,
    strict: bool = False,
) -> Phone:
    """``raw`` as a :class:`Phone`. ``strict`` also requires a number valid in its country's
    numbering plan (not only a possible length). Raises :class:`InvalidPhone`."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("empty phone number")
    if is_internal(text, max_internal_digits):
        return Phone(kind="internal", extension=_JUNK.sub("", text))
    compact = _JUNK.sub("", text)
    if _IDD_00.match(compact):
        text = "+" + _IDD_00.sub("", compact)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {_mask(text)} ({exc._msg})") from None
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    if not ok:
        raise InvalidPhone(f"not a possible phone number: {_mask(text)}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(kind="external", e164=e164, extension=number.extension or "")


def to_e164(raw: str, region: str = DEFAULT_REGION, *, max_internal_digits: int = 5) -> str:
    """The E.164 form of an external number; :class:`InvalidPhone` for extensions and junk."""
    phone = normalize(raw, region, max_internal_digits=max_internal_digits)
    if not phone.is_external:
        raise InvalidPhone(f"internal extension, not an external number: {phone.extension}")
    return phone.e164


def trailing_digits(e164: str, count: int = 10) -> str:
    """The last ``count`` digits (amoCRM's popup matches on the last 8)."""
    return "".join(_DIGITS.findall(e164))[-count:]


def search_forms(e164: str, style: SearchStyle = "all") -> list[str]:
    """Spellings of ``e164`` to search a CRM with, most specific first, without repeats.

    ``e164`` ``+79161234567``; ``digits`` ``79161234567``; ``national`` ``89161234567`` (Russia's
    trunk prefix 8, for numbers stored the old way); ``trailing`` ``9161234567`` (the national
    significant number: amoCRM's ``query`` is a substring match, so it finds every spelling).
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"not an E.164 number: {_mask(e164)}") from None
    nsn = phonenumbers.national_significant_number(number)
    cc = str(number.country_code)
    forms: dict[str, list[str]] = {
        "e164": [f"+{cc}{nsn}"],
        "digits": [f"{cc}{nsn}"],
        "national": [f"8{nsn}"] if cc == "7" else [],
        "trailing": [nsn],
    }
    if style != "all":
        return forms[style]
    order = ("e164", "digits", "national", "trailing")
    return list(dict.fromkeys(f for name in order for f in forms[name]))


def _mask(text: str) -> str:
    """Enough of a number to debug with, not the whole of a personal number."""
    return text if len(text) <= 4 else f"{text[:2]}…{text[-2:]}"
