"""Serving a capture verbatim.

What replay sends, exactly: the client gets the capture's own banner line, then the
simulator's answer to *its* Login (echoing its ActionID), then ``capture.data[login_end:]``:
every byte of the capture after the recorder's login response, up to and including the
final ``Response: Goodbye``. A client that logs in with the recorder's ActionID therefore
receives the capture file byte for byte. With ``chunks=True`` the bytes are written in the
capture's original socket-read pieces (a drain after each); with ``speed > 0`` the pieces
keep the original gaps divided by ``speed``; chunked pieces are at least ``MIN_GAP`` apart
so that a prompt reader sees them as separate reads (as far as TCP allows).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .capfile import capture_paths, frame_spans, read_jsonl

__all__ = ["Capture", "Piece"]

#: (seconds to wait before writing, bytes to write)
Piece = tuple[float, bytes]

#: Least pause between two chunked pieces (seconds).
MIN_GAP = 0.001


@dataclass(frozen=True, slots=True)
class Capture:
    """A recorded AMI stream with its frame times and socket-read boundaries."""

    data: bytes
    frames: list[tuple[float, int, int]]  # (t, offset, length)
    chunks: list[tuple[float, int, int]] | None

    @classmethod
    def load(cls, path: str | Path) -> Capture:
        """Load ``NAME.ami`` (and ``NAME.times.jsonl`` / ``NAME.chunks.jsonl`` if present)."""
        ami, times, chunks = capture_paths(path)
        data = ami.read_bytes()
        if times.exists():
            frames = [  # rows of length 0 (an export's sync entries) carry no bytes
                (float(r["t"]), int(r["offset"]), int(r["length"]))
                for r in read_jsonl(times)
                if int(r["length"]) > 0
            ]
        else:
            frames = [(0.0, off, n) for off, n in frame_spans(data)[0]]
        rows = read_jsonl(chunks) if chunks.exists() else None
        chunk_list = (
            [(float(r["t"]), int(r["offset"]), int(r["length"])) for r in rows] if rows else None
        )
        return cls(data, frames, chunk_list)

    @property
    def banner(self) -> bytes:
        return self.data[: self.data.index(b"\r\n") + 2]

    @property
    def login_end(self) -> int:
        """Offset just after the recorder's login response (the first Response frame)."""
        for _, offset, length in self.frames:
            if self.data.startswith(b"Response: ", offset):
                return offset + length
        return len(self.banner)

    def replayed_frames(self) -> list[bytes]:
        """Every frame a replay sends after the recorder's login, without its CRLFCRLF."""
        start = self.login_end
        return [self.data[off : off + n - 4] for _, off, n in self.frames if off >= start]

    def after_login(self, *, chunks: bool = True, speed: float = 0.0) -> list[Piece]:
        """The pieces replay writes after its own login response, in order."""
        start = self.login_end
        source = self.chunks if chunks and self.chunks else self.frames
        if not chunks and speed <= 0:
            return [(0.0, self.data[start:])]
        pieces: list[Piece] = []
        last_t = next((t for t, off, n in self.frames if off + n == start), None)
        for t, offset, length in source:
            lo, hi = max(offset, start), min(offset + length, len(self.data))
            if lo >= hi:
                continue
            gap = (t - last_t) / speed if speed > 0 and last_t is not None else 0.0
            floor = MIN_GAP if chunks and pieces else 0.0
            pieces.append((max(gap, floor), self.data[lo:hi]))
            last_t = t
        return pieces
