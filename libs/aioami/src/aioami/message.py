"""Parsed AMI messages: a frame's headers as an ordered, case-insensitive multi-map of str.

``parse_frame`` is pure and the full-parse hot path: one decode per frame, one regex pass,
and a dict built in C. The rare shapes (repeated keys such as ``ChanVariable`` or ``Output``,
continuation lines without ``Key:``, the legacy ``Response: Follows`` CLI text) take a slower
path that keeps every value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

__all__ = ["Message", "parse_frame"]

_HEADER = re.compile(r"([^:\r\n]+): ?([^\r\n]*)")
_FOLLOWS = "Response: Follows"
_END_COMMAND = "--END COMMAND--"


class Message(Mapping[str, str]):
    """One AMI message. ``msg["Channel"]`` gives the first value of a key (any letter case);
    ``msg.getall("Variable")`` gives every value of a repeated key, in order."""

    __slots__ = ("_first", "_lower", "_pairs")

    def __init__(self, first: dict[str, str], pairs: list[tuple[str, str]] | None = None) -> None:
        self._first = first
        self._pairs = pairs
        self._lower: dict[str, str] | None = None

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> Message:
        first: dict[str, str] = {}
        for key, value in pairs:
            first.setdefault(key, value)
        return cls(first, pairs if len(first) < len(pairs) else None)

    # Mapping protocol ---------------------------------------------------------------------
    def __getitem__(self, key: str) -> str:
        try:
            return self._first[key]
        except KeyError:
            return self._folded()[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, key: object) -> bool:
        return key in self._first or (isinstance(key, str) and key.lower() in self._folded())

    def __repr__(self) -> str:
        return f"Message({self.pairs()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self.pairs() == other.pairs()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    # AMI helpers ---------------------------------------------------------------------------
    def getall(self, key: str) -> list[str]:
        """Every value of ``key`` in frame order (empty list if absent)."""
        if self._pairs is None:
            value = self.get(key)
            return [] if value is None else [value]
        low = key.lower()
        return [v for k, v in self._pairs if k.lower() == low]

    def pairs(self) -> list[tuple[str, str]]:
        """All headers in frame order, repeated keys included."""
        return list(self._first.items()) if self._pairs is None else list(self._pairs)

    @property
    def event(self) -> str | None:
        return self._first.get("Event")

    @property
    def response(self) -> str | None:
        return self._first.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def _folded(self) -> dict[str, str]:
        if self._lower is None:
            lower: dict[str, str] = {}
            for key, value in self.pairs():
                lower.setdefault(key.lower(), value)
            self._lower = lower
        return self._lower


def parse_frame(frame: bytes) -> Message:
    """Parse one raw frame (as produced by :class:`~aioami.FrameSplitter`) into a Message.

    Bytes that are not UTF-8 are replaced (U+FFFD), never fatal; the raw frame keeps them.
    """
    text = frame.decode("utf-8", "replace")
    pairs = _HEADER.findall(text)
    first = dict(pairs)
    if len(first) == len(pairs) and text.count("\n") + 1 == len(pairs):
        return Message(first)
    return _parse_slow(text)


def _parse_slow(text: str) -> Message:
    """Repeated keys, continuation lines, legacy command output."""
    pairs: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    legacy = text.startswith(_FOLLOWS)
    in_output = False
    for line in lines:
        if in_output:
            if line != _END_COMMAND:
                pairs.append(("Output", line))
            continue
        match = _HEADER.fullmatch(line)
        if match is not None and not (legacy and pairs and _is_output_start(pairs, line)):
            pairs.append((match[1], match[2]))
        elif legacy:
            in_output = True
            if line != _END_COMMAND:
                pairs.append(("Output", line))
        elif pairs:
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value}\n{line}")
        elif line:
            pairs.append(("", line))
    return Message.from_pairs(pairs)


def _is_output_start(pairs: list[tuple[str, str]], line: str) -> bool:
    """In a legacy Follows frame, headers stop after ActionID/Privilege; CLI text follows."""
    known = {"Response", "Privilege", "ActionID"}
    return line.split(":", 1)[0] not in known
