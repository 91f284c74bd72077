"""Parsed AMI messages: a frame's headers as an ordered, case-insensitive multi-map of str.

``parse_frames`` is pure and the full-parse hot path: a C speedup (``_speedups.c``) where it
was built, else a pure-Python path made of C string methods. The rare shapes (repeated keys
such as ``ChanVariable`` or ``Output``, continuation lines without ``Key:``, the legacy
``Response: Follows`` CLI text) take a careful line-by-line path that keeps every value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["Message", "parse_frame", "parse_frames", "parse_frames_py"]

_parse_fast: Callable[[list[bytes], type[Message]], list[Message | None]] | None
try:
    from ._speedups import parse_fast as _parse_fast
except ImportError:  # built without a C compiler: the pure-Python path serves
    _parse_fast = None

_HEADER = re.compile(r"([^:\r\n]+): ?([^\r\n]*)")
_FOLLOWS = "Response: Follows"
_END_COMMAND = "--END COMMAND--"
_LEGACY_HEADERS = frozenset({"Response", "Privilege", "ActionID"})


class Message(dict[str, str]):
    """One AMI message: a dict of the frame's headers in frame order (first value of a
    repeated key). Lookup by ``msg["channel"]`` falls back to any letter case;
    ``msg.getall("Variable")`` gives every value of a repeated key, in order.

    A plain dict subclass so that the full parse builds it in C (see ``parse_frame``).
    """

    __slots__ = ("_pairs",)
    _pairs: list[tuple[str, str]]  # set only when a key repeats

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> Message:
        msg = cls()
        for key, value in pairs:
            msg.setdefault(key, value)
        if len(msg) < len(pairs):
            msg._pairs = pairs
        return msg

    def __missing__(self, key: str) -> str:
        low = key.lower()
        for name, value in self.items():
            if name.lower() == low:
                return value
        raise KeyError(key)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        return isinstance(key, str) and self.get(key) is not None

    def getall(self, key: str) -> list[str]:
        """Every value of ``key`` in frame order (empty list if absent)."""
        low = key.lower()
        return [v for k, v in self.pairs() if k.lower() == low]

    def pairs(self) -> list[tuple[str, str]]:
        """All headers in frame order, repeated keys included."""
        try:
            return list(self._pairs)
        except AttributeError:
            return list(self.items())

    @property
    def event(self) -> str | None:
        return dict.get(self, "Event")

    @property
    def response(self) -> str | None:
        return dict.get(self, "Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def __repr__(self) -> str:
        return f"Message({self.pairs()!r})"


def parse_frame(frame: bytes) -> Message:
    """Parse one raw frame (as produced by :class:`~aioami.FrameSplitter`) into a Message.

    Bytes that are not UTF-8 are replaced (U+FFFD), never fatal; the raw frame keeps them.
    """
    return parse_frames((frame,))[0]


def parse_frames(frames: Iterable[bytes]) -> list[Message]:
    """Parse a batch of raw frames (one socket read) in order.

    Uses the C speedup (``aioami._speedups``) where it was built, else the pure-Python path;
    both give the same Messages. Frames the fast paths cannot prove simple (repeated keys,
    continuation lines, legacy command output, …) are parsed line by line.
    """
    if _parse_fast is None:
        return parse_frames_py(frames)
    batch = frames if isinstance(frames, list) else list(frames)
    out: list[Message | None] = _parse_fast(batch, Message)
    if None in out:
        for i, msg in enumerate(out):
            if msg is None:
                out[i] = _parse_slow(batch[i].decode("utf-8", "replace"))
    return out  # type: ignore[return-value]  # no None is left


def parse_frames_py(frames: Iterable[bytes]) -> list[Message]:
    """The pure-Python parser (the reference the C speedup is tested against).

    Fast path, built from C string methods: split every ``": "`` and CRLF, pair the pieces
    into a dict. It is right exactly when each line holds one ``": "`` and keys are unique,
    which the two counts prove (pieces == 2 x keys, keys == lines; a bare LF inside a value
    breaks the second, so such frames take the careful path too); any other frame is
    re-parsed line by line.
    """
    out: list[Message] = []
    append = out.append
    for frame in frames:
        try:
            text = frame.decode()
        except UnicodeDecodeError:
            text = frame.decode("utf-8", "replace")
        parts = text.replace(": ", "\r\n").split("\r\n")
        it = iter(parts)
        msg = Message(zip(it, it, strict=False))  # odd count: caught below
        if (
            len(parts) != 2 * len(msg)
            or text.count("\n") + 1 != len(msg)  # one-char count: the cheaper scan
            or (text[:1] == "R" and text.startswith(_FOLLOWS))
        ):
            msg = _parse_slow(text)
        append(msg)
    return out


def _parse_slow(text: str) -> Message:
    """Repeated keys, continuation lines, legacy command output."""
    if text.startswith(_FOLLOWS):
        return _parse_legacy_command(text)
    pairs: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _HEADER.fullmatch(line)
        if match is not None:
            pairs.append((match[1], match[2]))
        elif pairs:
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value}\n{line}")
        elif line:
            pairs.append(("", line))
    return Message.from_pairs(pairs)


def _parse_legacy_command(text: str) -> Message:
    """``Response: Follows`` (Asterisk <= 13): a few headers, then raw CLI text up to
    ``--END COMMAND--``; each CLI line becomes an ``Output`` value, as in the modern form."""
    pairs: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is used after the loop
        match = _HEADER.fullmatch(line)
        if match is None or match[1] not in _LEGACY_HEADERS:
            break
        pairs.append((match[1], match[2]))
    else:
        index = len(lines)
    for line in lines[index:]:
        if line.endswith(_END_COMMAND):
            if line[: -len(_END_COMMAND)]:
                pairs.append(("Output", line[: -len(_END_COMMAND)]))
            break
        pairs.append(("Output", line))
    return Message.from_pairs(pairs)
