"""Redacting AMI frames for a bug report: phone numbers, names and secrets replaced
consistently (the same value gives the same replacement throughout one export), so that the
redacted capture replays to a call of the same structure.

* numbers: every run of 5+ digits (an optional ``+`` before) that is not part of an id
  (``1795740925.12``), a channel's sequence (``-00000001``) or a word, in any header but the
  id and time headers: the same length, the same first digit, the rest derived from a keyed
  hash (a random key per export: nothing to reverse); extensions (shorter) stay;
* names: ``…Name`` headers of parties (CallerIDName, ConnectedLineName, …) become
  ``Person N`` in order of appearance; ``<unknown>`` stays;
* secrets: headers such as Secret, Password, Key, Token, Authorization become ``REDACTED``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["Redactor"]

_NUMBER = re.compile(r"(?<![\w.\-])\+?\d{5,}(?![\w.])")
_KEEP = ("uniqueid", "linkedid", "timestamp", "actionid", "bridge", "seq", "privilege")
_NAMES = re.compile(r"^(?:Dest|Orig|Transferee|Transferer|Second)?\w*(?:CallerIDName|"
                    r"ConnectedLineName|MemberName|Agent\w*Name|CallerName)$", re.I)  # fmt: skip
_SECRETS = re.compile(r"secret|password|passwd|token|authorization|^key$|auth|credential", re.I)


class Redactor:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(16)
        self._numbers: dict[str, str] = {}
        self._taken: set[str] = set()
        self._names: dict[str, str] = {}

    def number(self, value: str) -> str:
        known = self._numbers.get(value)
        if known is not None:
            return known
        plus, digits = ("+", value[1:]) if value.startswith("+") else ("", value)
        n = 0
        while True:
            mac = hmac.new(self._key, f"{digits}/{n}".encode(), hashlib.sha256).digest()
            fake = digits[0] + "".join(str(b % 10) for b in mac[: len(digits) - 1])
            if fake != digits and fake not in self._taken:
                break
            n += 1
        self._taken.add(fake)
        self._numbers[value] = plus + fake
        return plus + fake

    def name(self, value: str) -> str:
        if not value or value == "<unknown>":
            return value
        if value not in self._names:
            self._names[value] = f"Person {len(self._names) + 1}"
        return self._names[value]

    def value(self, header: str, value: str) -> str:
        """The redacted value of one header."""
        low = header.lower()
        if _SECRETS.search(header):
            return "REDACTED" if value else value
        if _NAMES.match(header):
            return self.name(value)
        if any(k in low for k in _KEEP):
            return value
        return _NUMBER.sub(lambda m: self.number(m[0]), value)

    def frame(self, raw: bytes) -> bytes:
        """A frame (``Header: value`` lines joined by CRLF) with its values redacted."""
        lines = raw.decode("utf-8", "surrogateescape").split("\r\n")
        out = []
        for line in lines:
            header, sep, value = line.partition(": ")
            out.append(f"{header}{sep}{self.value(header, value)}" if sep else line)
        return "\r\n".join(out).encode("utf-8", "surrogateescape")

    def header_map(self, headers: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        """A sync snapshot's header map, redacted the same way."""
        return {
            h: [self.value(h, x) for x in v] if isinstance(v, list) else self.value(h, v)
            for h, v in headers.items()
        }
