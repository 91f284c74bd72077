"""SIP messages (RFC 3261 §7): parse and build, with every input bounded.

A message is a start line, header fields and an optional body. Parsing never trusts the
peer: the whole message, the header count, a header line and the body each have a limit
(`Limits`), and anything malformed raises `SipParseError` naming what was wrong.
Header names are matched case-insensitively and compact forms (``i``, ``v``, ``o``…) are
expanded, so ``msg.headers.get("call-id")`` finds ``i: abc`` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "STREAM_LIMITS",
    "Headers",
    "Limits",
    "Request",
    "Response",
    "SipMessage",
    "SipParseError",
    "StreamFramer",
    "parse",
    "parse_params",
]

#: RFC 3261 §7.3.3 and the event/refer extensions' compact forms.
COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
}


class SipParseError(ValueError):
    """The bytes are not a SIP message we accept (malformed or over a limit)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a peer may send; a message over any of them is refused."""

    max_message: int = 65_535
    max_headers: int = 64
    max_header_line: int = 8_192
    max_body: int = 60_000


DEFAULT_LIMITS = Limits()
#: On TCP/TLS a resource list's full-state NOTIFY grows with the list (about 1 KB per
#: extension and package): a stream transport allows up to 1 MiB per message.
STREAM_LIMITS = Limits(max_message=1 << 20, max_body=(1 << 20) - 16_384)


class Headers:
    """Header fields in order, looked up case-insensitively (compact forms expanded)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(n, v) for n, v in items]

    @staticmethod
    def key(name: str) -> str:
        low = name.strip().lower()
        return COMPACT.get(low, low)

    def get(self, name: str, default: str | None = None) -> str | None:
        k = self.key(name)
        for n, v in self._items:
            if self.key(n) == k:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        k = self.key(name)
        return [v for n, v in self._items if self.key(n) == k]

    def add(self, name: str, value: str) -> None:
        if any(c in value for c in "\r\n") or any(c in name for c in "\r\n:"):
            raise ValueError(f"header {name!r} would break the message framing")
        self._items.append((name, value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        k = self.key(name)
        self._items = [(n, v) for n, v in self._items if self.key(n) != k]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class Request:
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def encode(self) -> bytes:
        return _encode(self.start_line(), self.headers, self.body)


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def encode(self) -> bytes:
        return _encode(self.start_line(), self.headers, self.body)


SipMessage = Request | Response


def _encode(start: str, headers: Headers, body: bytes) -> bytes:
    lines = [start]
    lines += [f"{n}: {v}" for n, v in headers if Headers.key(n) != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("no end of headers (CRLF CRLF)")
    return data[:end], data[end + 4 :]


def _header_lines(head: str, limits: Limits) -> Iterator[str]:
    """Lines of the header section with continuation lines (RFC 3261 §7.3.1) unfolded."""
    current: str | None = None
    count = 0
    for raw in head.split("\r\n"):
        if len(raw) > limits.max_header_line:
            raise SipParseError(f"a header line is over {limits.max_header_line} bytes")
        if raw[:1] in (" ", "\t"):
            if current is None:
                raise SipParseError("continuation line without a header")
            current += " " + raw.strip()
            if len(current) > limits.max_header_line:
                raise SipParseError(f"a header is over {limits.max_header_line} bytes")
            continue
        if current is not None:
            yield current
        count += 1
        if count > limits.max_headers:
            raise SipParseError(f"more than {limits.max_headers} header fields")
        current = raw
    if current is not None:
        yield current


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> SipMessage:
    """One whole message (a UDP datagram, or a frame cut by `StreamFramer`)."""
    if len(data) > limits.max_message:
        raise SipParseError(f"message of {len(data)} bytes is over {limits.max_message}")
    head_bytes, rest = _split_head(data)
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("header section is not UTF-8") from exc
    start, _, fields = head.partition("\r\n")
    headers = Headers()
    if fields:
        for line in _header_lines(fields, limits):
            name, sep, value = line.partition(":")
            name = name.strip()
            if not sep or not name or any(c in name for c in " \t"):
                raise SipParseError(f"malformed header line {line[:40]!r}")
            headers.add(name, value.strip())
    length_text = headers.get("content-length")
    if length_text is None:
        body = rest
    else:
        if not length_text.isdigit() or len(length_text) > 9:
            raise SipParseError(f"bad Content-Length {length_text[:20]!r}")
        length = int(length_text)
        if length > len(rest):
            raise SipParseError(f"body shorter ({len(rest)}) than Content-Length {length}")
        body = rest[:length]
    if len(body) > limits.max_body:
        raise SipParseError(f"body of {len(body)} bytes is over {limits.max_body}")
    return _start_line(start, headers, body)


def _start_line(start: str, headers: Headers, body: bytes) -> SipMessage:
    parts = start.split(" ", 2)
    if start.startswith("SIP/"):
        if len(parts) < 2 or parts[0] != "SIP/2.0":
            raise SipParseError(f"bad status line {start[:40]!r}")
        code = parts[1]
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise SipParseError(f"bad status code {code[:10]!r}")
        return Response(int(code), parts[2] if len(parts) > 2 else "", headers, body)
    if len(parts) != 3 or parts[2] != "SIP/2.0" or not parts[0].isalpha() or not parts[1]:
        raise SipParseError(f"bad request line {start[:40]!r}")
    return Request(parts[0].upper(), parts[1], headers, body)


def parse_params(text: str, *, max_params: int = 32) -> dict[str, str]:
    """``;expires=600;reason="x"`` (or ``a=1, b="2"`` for auth) into a lower-cased dict."""
    out: dict[str, str] = {}
    for item in _split_unquoted(text, ";,"):
        item = item.strip()
        if not item:
            continue
        if len(out) >= max_params:
            raise SipParseError(f"more than {max_params} parameters")
        name, _, value = item.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[name.strip().lower()] = value
    return out


def _split_unquoted(text: str, seps: str) -> Iterator[str]:
    """Split on any of ``seps`` outside double quotes and angle brackets."""
    start, quoted, angle, escaped = 0, False, False, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        elif ch in seps and not quoted and not angle:
            yield text[start:i]
            start = i + 1
    yield text[start:]


class StreamFramer:
    """Cuts a TCP/TLS byte stream into messages (Content-Length is mandatory there).

    Bounded: a peer that sends more than ``limits.max_message`` bytes without completing a
    message gets `SipParseError` (and the connection should be dropped).
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            # RFC 5626 keepalives (CRLF CRLF, CRLF) between messages are skipped.
            while self._buf[:2] == b"\r\n":
                del self._buf[:2]
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self.limits.max_message:
                    raise SipParseError("header section over the message limit")
                return out
            length = _content_length(bytes(self._buf[:end]))
            total = end + 4 + length
            if total > self.limits.max_message:
                raise SipParseError(f"message of {total} bytes is over the limit")
            if len(self._buf) < total:
                return out
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and Headers.key(name.decode("latin-1")) == "content-length":
            text = value.strip()
            if not text.isdigit() or len(text) > 9:
                raise SipParseError("bad Content-Length")
            return int(text)
    raise SipParseError("no Content-Length on a stream transport")
