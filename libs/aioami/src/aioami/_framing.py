"""AMI framing: bytes in, frames out. Pure, no I/O.

AMI (see docs/ami.md) is a banner line followed by frames of ``Key: Value`` lines, each
frame ended by an empty line. A frame is handed out as its bytes exactly as received,
*without* the ``CRLF CRLF`` that ends it: the wire form of frame ``f`` is ``f + b"\\r\\n\\r\\n"``.

Quirks handled here, so that nothing above has to know about them:

* several frames in one read and a frame split across reads (any boundary);
* stray blank lines between frames (dropped; they belong to no frame);
* the legacy ``Response: Follows`` of Asterisk <= 13, whose raw CLI text may itself contain
  blank lines: the frame runs to ``--END COMMAND--``;
* a peer that ends lines with a bare LF (detected once, from the banner);
* hostile peers: a frame longer than ``max_frame_bytes`` or with more than ``max_headers``
  lines raises :class:`~aioami.exceptions.FrameError`; the buffer never grows past the bound.
  The good frames of that same read that came before the offending one are kept in
  ``salvaged`` (rare path), so that an error does not lose them.
"""

from __future__ import annotations

from itertools import repeat
from typing import NoReturn

from .exceptions import FrameError

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "DEFAULT_MAX_HEADERS", "FrameSplitter", "event_name"]

DEFAULT_MAX_FRAME_BYTES = 256 * 1024
DEFAULT_MAX_HEADERS = 1024

_FOLLOWS = b"Response: Follows"
_END_COMMAND = b"--END COMMAND--"
_MAX_BANNER = 256


class FrameSplitter:
    """Incremental splitter. ``feed()`` returns the frames completed by ``data``, in order."""

    __slots__ = (
        "_buf",
        "_eol",
        "_legacy",
        "_sep",
        "banner",
        "max_frame_bytes",
        "max_headers",
        "salvaged",
    )

    def __init__(
        self,
        *,
        expect_banner: bool = True,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_headers: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.max_headers = max_headers
        #: The banner line (without its line end) once received; ``None`` before.
        self.banner: bytes | None = None if expect_banner else b""
        #: After a FrameError: the complete frames of that read before the offending data.
        self.salvaged: list[bytes] = []
        self._buf = b""
        self._eol = b"\r\n"
        self._sep = b"\r\n\r\n"
        #: Whether the peer may send ``Response: Follows`` (AMI < 3, Asterisk <= 13). Unknown
        #: until the banner says otherwise, so assumed.
        self._legacy = True

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data if self._buf else data
        if self.banner is None:
            buf = self._take_banner(buf)
            if self.banner is None:
                return []
        sep = self._sep
        if sep not in buf:
            self._check_partial(buf, [])
            self._buf = buf
            return []
        frames = buf.split(sep)
        rest = frames.pop()
        if min(frames)[:1] <= b"\r":  # some frame is empty or starts with a line end
            frames = self._drop_blank_lines(frames)
        if self._legacy and _FOLLOWS in buf:
            frames, rest = self._join_follows(frames, rest)
        self._check_frames(frames)
        self._check_partial(rest, frames)
        self._buf = rest
        return frames

    # -- the rare paths -------------------------------------------------------------------

    def _take_banner(self, buf: bytes) -> bytes:
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > _MAX_BANNER:
                raise FrameError(f"no banner line within {_MAX_BANNER} bytes")
            self._buf = buf
            return buf
        line = buf[:end]
        if line.endswith(b"\r"):
            line = line[:-1]
        else:
            self._eol, self._sep = b"\n", b"\n\n"
        self.banner = line
        self._legacy = _ami_major(line) < 3
        return buf[end + 1 :]

    def _drop_blank_lines(self, frames: list[bytes]) -> list[bytes]:
        eol = self._eol
        out = []
        for frame in frames:
            while frame.startswith(eol):
                frame = frame[len(eol) :]
            if frame:
                out.append(frame)
        return out

    def _join_follows(self, frames: list[bytes], rest: bytes) -> tuple[list[bytes], bytes]:
        """Re-join a legacy ``Response: Follows`` frame that the blank-line split cut apart."""
        out: list[bytes] = []
        pending: bytes | None = None
        for frame in frames:
            if pending is not None:
                pending += self._sep + frame
                if pending.endswith(_END_COMMAND):
                    out.append(pending)
                    pending = None
            elif frame.startswith(_FOLLOWS) and not frame.endswith(_END_COMMAND):
                pending = frame
            else:
                out.append(frame)
        if pending is not None:
            rest = pending + self._sep + rest
        return out, rest

    def _check_partial(self, rest: bytes, frames: list[bytes]) -> None:
        if len(rest) > self.max_frame_bytes:
            self._fail(frames, f"frame exceeds {self.max_frame_bytes} bytes")

    def _check_frames(self, frames: list[bytes]) -> None:
        if not frames:
            return
        longest = max(map(len, frames))
        if longest > self.max_frame_bytes:
            self._fail(frames, f"frame exceeds {self.max_frame_bytes} bytes")
        if longest // len(self._eol) < self.max_headers:
            return  # too short to hold that many line ends: skip counting them
        lines = max(map(bytes.count, frames, repeat(self._eol)))
        if lines >= self.max_headers:
            self._fail(frames, f"frame has more than {self.max_headers} header lines")

    def _fail(self, frames: list[bytes], reason: str) -> NoReturn:
        """Keep the frames before the first offending one, drop the buffer, raise."""
        good = []
        for frame in frames:
            if len(frame) > self.max_frame_bytes or frame.count(self._eol) >= self.max_headers:
                break
            good.append(frame)
        self.salvaged = good
        self._buf = b""
        raise FrameError(reason)


def _ami_major(banner: bytes) -> int:
    """``b"Asterisk Call Manager/11.0.0"`` -> 11; 0 when the banner says no version."""
    version = banner.rpartition(b"/")[2].split(b".", 1)[0]
    return int(version) if version.isdigit() else 0


def event_name(frame: bytes) -> bytes:
    """The event name of a raw frame (``b"Newchannel"``), or ``b""`` for a non-event frame.

    Only the first line is looked at: this is the ingest hot path.
    """
    if not frame.startswith(b"Event: "):
        return b""
    end = frame.find(b"\n", 7)
    if end < 0:
        return frame[7:]
    return frame[7 : end - 1] if frame[end - 1] == 13 else frame[7:end]
