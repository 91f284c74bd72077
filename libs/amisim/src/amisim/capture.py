"""Recording a live AMI stream in the capture format (see :mod:`amisim.capfile`).

The socket is read directly (``read(65536)``), so the ``.ami`` bytes and the
``.chunks.jsonl`` read boundaries are what really arrived. The recorder logs in with
ActionID ``rec-<epoch>-1``, records for ``duration`` seconds, ``max_frames`` frames
after its login response or until the ``until`` event is set, then logs off
(``rec-<epoch>-2``) and reads up to the Goodbye.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._wire import frame
from .capfile import capture_paths, frame_record, frame_spans, write_jsonl

__all__ = ["CaptureError", "CaptureResult", "capture"]

_GOODBYE_TIMEOUT = 10.0


class CaptureError(Exception):
    """The capture could not be made (connection or login failed)."""


@dataclass(slots=True)
class _Recorder:
    data: bytearray = field(default_factory=bytearray)
    frames: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    _pos: int = 0

    def feed(self, chunk: bytes) -> None:
        t = time.time()
        self.chunks.append({"t": t, "offset": len(self.data), "length": len(chunk)})
        self.data += chunk
        spans, self._pos = frame_spans(self.data, self._pos)
        self.frames += [frame_record(t, self.data, off, n) for off, n in spans]

    def response(self, action_id: str) -> dict[str, Any] | None:
        return next((f for f in self.frames if f.get("actionid") == action_id), None)


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """Where the capture went and what it holds."""

    ami: Path
    times: Path
    chunks: Path
    frames: int
    size: int


async def capture(
    host: str,
    port: int,
    username: str,
    secret: str,
    out: str | Path,
    *,
    ssl_context: ssl.SSLContext | None = None,
    duration: float | None = None,
    max_frames: int | None = None,
    until: asyncio.Event | None = None,
    logged_in: asyncio.Event | None = None,
) -> CaptureResult:
    """Connect, log in, record, log off; write ``out.ami``/``.times.jsonl``/``.chunks.jsonl``.
    ``logged_in`` is set once the login succeeded (start the calls to record then); setting
    ``until`` ends the recording (every event Asterisk raised before is in it: Asterisk
    writes a session's queued events before its reply to the Logoff)."""
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
    except OSError as exc:
        raise CaptureError(f"cannot connect to {host}:{port}: {exc}") from exc
    rec = _Recorder()
    stamp = int(time.time())
    try:
        await _login(reader, writer, rec, username, secret, f"rec-{stamp}-1")
        if logged_in is not None:
            logged_in.set()
        await _record(reader, rec, duration, max_frames, until)
        writer.write(f"Action: Logoff\r\nActionID: rec-{stamp}-2\r\n\r\n".encode())
        await writer.drain()
        await _read_until(
            reader, rec, lambda: rec.response(f"rec-{stamp}-2") is not None, _GOODBYE_TIMEOUT
        )
    finally:
        writer.close()
    return _write(rec, out)


async def _login(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    rec: _Recorder,
    username: str,
    secret: str,
    action_id: str,
) -> None:
    await _read_until(reader, rec, lambda: bool(rec.frames), 10.0)
    login = [
        ("Action", "Login"),
        ("ActionID", action_id),
        ("Username", username),
        ("Secret", secret),
    ]
    writer.write(frame(login))
    await writer.drain()
    await _read_until(reader, rec, lambda: rec.response(action_id) is not None, 10.0)
    reply = rec.response(action_id)
    if reply is None or reply.get("response") != "Success":
        raise CaptureError("login failed")


async def _record(
    reader: asyncio.StreamReader,
    rec: _Recorder,
    duration: float | None,
    max_frames: int | None,
    until: asyncio.Event | None,
) -> None:
    first = next(i for i, f in enumerate(rec.frames) if f.get("response")) + 1
    done = (
        (lambda: len(rec.frames) - first >= max_frames)
        if max_frames is not None
        else (lambda: False)
    )
    if until is None:
        await _read_until(reader, rec, done, duration, eof_ok=True)
        return
    reading = asyncio.ensure_future(_read_until(reader, rec, done, duration, eof_ok=True))
    stopped = asyncio.ensure_future(until.wait())
    try:
        await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    if reading.done() and not reading.cancelled() and reading.exception() is not None:
        raise reading.exception()  # type: ignore[misc]


async def _read_until(
    reader: asyncio.StreamReader,
    rec: _Recorder,
    done: Callable[[], bool],
    limit: float | None,
    *,
    eof_ok: bool = False,
) -> None:
    try:
        async with asyncio.timeout(limit):
            while not done():
                chunk = await reader.read(65536)
                if not chunk:
                    if eof_ok:
                        return
                    raise CaptureError("connection closed by the server")
                rec.feed(chunk)
    except TimeoutError:
        if not eof_ok and not done():
            raise CaptureError("timed out waiting for the server") from None


def _write(rec: _Recorder, out: str | Path) -> CaptureResult:
    ami, times, chunks = capture_paths(Path(str(out) + ".ami"))
    ami.parent.mkdir(parents=True, exist_ok=True)
    ami.write_bytes(bytes(rec.data))
    write_jsonl(times, rec.frames)
    write_jsonl(chunks, rec.chunks)
    return CaptureResult(ami, times, chunks, len(rec.frames), len(rec.data))
