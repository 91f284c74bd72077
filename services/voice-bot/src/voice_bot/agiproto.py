"""The FastAGI wire format, pure: environment lines, command lines, reply lines.

Asterisk sends ``agi_network: yes``, ``agi_network_script: …``, the ``agi_*`` environment,
then an empty line. Each command is one ``\\n``-terminated line (arguments with spaces or
quotes are double-quoted); each answer is ``200 result=<r>[ (<data>)][ endpos=<n>]``, or
``510 …`` (unknown command), ``511 …`` (dead channel), ``520 …`` (bad syntax; the multi-line
form ``520-…`` / usage lines / ``520 End of proper usage.``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import msgspec

__all__ = [
    "AgiEnv",
    "Reply",
    "Status",
    "format_command",
    "parse_env_line",
    "parse_reply",
    "quote",
]

_REPLY = re.compile(
    r"^200 result=(?P<result>\S*)(?: \((?P<data>.*?)\))?(?: endpos=(?P<endpos>-?\d+))?\s*$"
)


class AgiEnv(msgspec.Struct, frozen=True, kw_only=True):
    """What Asterisk told us about the call. ``unknown`` caller values are kept literally."""

    values: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name if name.startswith("agi_") else f"agi_{name}", default)

    @property
    def script(self) -> str:
        """``agi_network_script``: the path part of ``agi://host/<script>?k=v``."""
        return self.get("network_script")

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")

    @property
    def channel(self) -> str:
        return self.get("channel")

    @property
    def callerid(self) -> str:
        value = self.get("callerid")
        return "" if value == "unknown" else value

    @property
    def args(self) -> list[str]:
        """``agi_arg_1..N`` in order."""
        out, n = [], 1
        while f"agi_arg_{n}" in self.values:
            out.append(self.values[f"agi_arg_{n}"])
            n += 1
        return out


def parse_env_line(line: str) -> tuple[str, str] | None:
    """``agi_x: value`` -> ``("agi_x", "value")``; None for the terminating empty line."""
    line = line.rstrip("\r\n")
    if not line:
        return None
    name, sep, value = line.partition(":")
    if not sep or not name.startswith("agi_"):
        raise ValueError(f"not an AGI environment line: {line[:80]!r}")
    return name, value.strip()


def quote(arg: str) -> str:
    """An argument as Asterisk's AGI parser reads it: quoted when it has spaces or quotes
    (or is empty), with ``"`` and ``\\`` escaped."""
    if arg and not re.search(r'[\s"\\]', arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(*words: str) -> bytes:
    """``format_command("STREAM FILE", "hello", "")`` -> ``b'STREAM FILE hello ""\\n'``.
    The first word is the command itself and goes unquoted."""
    if any(c in w for w in words for c in "\r\n"):
        raise ValueError("an AGI argument cannot contain a line break")
    return (" ".join([words[0], *(quote(w) for w in words[1:])]) + "\n").encode()


class Reply(msgspec.Struct, frozen=True):
    """``200 result=<result> (<data>) endpos=<endpos>``; ``result`` kept as sent (GET DATA
    digits may have leading zeros; it may be empty)."""

    result: str
    data: str = ""
    endpos: int | None = None

    @property
    def code(self) -> int:
        """``result`` as an integer (-1 hangup/error); 0 when empty."""
        try:
            return int(self.result)
        except ValueError:
            return 0

    @property
    def digit(self) -> str:
        """The DTMF digit a STREAM FILE / RECORD FILE / WAIT FOR DIGIT result encodes."""
        return chr(self.code) if self.code > 0 else ""


class Status(NamedTuple):
    """A non-200 status line; ``more``: the ``520-`` form, more lines follow."""

    code: int
    text: str
    more: bool = False


def parse_reply(line: str) -> Reply | Status:
    """A 200 reply, or the :class:`Status` of any other status line."""
    line = line.rstrip("\r\n")
    m = _REPLY.match(line)
    if m:
        endpos = m["endpos"]
        return Reply(m["result"], m["data"] or "", int(endpos) if endpos is not None else None)
    code = line[:3]
    if len(line) >= 3 and code.isdigit():
        return Status(int(code), line[4:].strip(), line[3:4] == "-")
    raise ValueError(f"not an AGI reply: {line[:80]!r}")
