"""AudioSocket: the call's audio both ways over TCP, so the bot needs no disk shared with
Asterisk.

The wire format (Asterisk's ``res_audiosocket``): each message is a 3-byte header — kind (1
byte) and payload length (2 bytes, big-endian) — then the payload. Kinds: ``0x00`` hangup
(no payload), ``0x01`` the stream's UUID (16 bytes), ``0x03`` a DTMF digit (1 ASCII byte;
Asterisk 20.13+/22.3+), ``0x10`` audio (signed 16-bit little-endian mono PCM, 8 kHz; Asterisk
sends 20 ms = 320 bytes per frame), ``0xff`` an error (optional code). Asterisk's
``AudioSocket(uuid,host:port)`` connects to us and sends the UUID first; the bot pairs the
stream with the FastAGI call that started it (it chose the UUID) and sends prompt audio back
paced in real time, 20 ms per frame (Asterisk writes what it gets to the channel at once).

The server has the FastAGI server's exposure rules: ``allow_from``, a bounded frame size, a
deadline for the UUID frame, and an unknown UUID closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cbruntime import address_allowed, parse_networks

__all__ = [
    "FRAME_BYTES",
    "KIND_AUDIO",
    "KIND_DTMF",
    "KIND_ERROR",
    "KIND_HANGUP",
    "KIND_UUID",
    "AudioSocketServer",
    "AudioStream",
    "Message",
    "encode",
    "read_message",
]

log = logging.getLogger(__name__)

KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
FRAME_MS = 20
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
MAX_PAYLOAD = 8000  # 0.5 s of audio: more in one message is not Asterisk talking
_HEADER = struct.Struct(">BH")


@dataclass(frozen=True)
class Message:
    kind: int
    payload: bytes = b""


def encode(kind: int, payload: bytes = b"") -> bytes:
    if not 0 <= kind <= 0xFF or len(payload) > 0xFFFF:
        raise ValueError("AudioSocket kind is one byte and a payload at most 65535 bytes")
    return _HEADER.pack(kind, len(payload)) + payload


async def read_message(reader: asyncio.StreamReader, max_payload: int = MAX_PAYLOAD) -> Message:
    """One message; :class:`EOFError` when the peer closed, ValueError if it is oversized."""
    try:
        head = await reader.readexactly(3)
        kind, size = _HEADER.unpack(head)
        if size > max_payload:
            raise ValueError(f"AudioSocket payload of {size} bytes (max {max_payload})")
        return Message(kind, await reader.readexactly(size) if size else b"")
    except asyncio.IncompleteReadError:
        raise EOFError("AudioSocket closed") from None


class AudioStream:
    """One call's AudioSocket: ``frames`` (caller audio, 8 kHz slin, as it arrives), ``dtmf``
    (digits), ``closed`` (hangup or the socket closed); :meth:`send_audio` plays PCM paced in
    real time and stops at once when :meth:`stop_playing` is called (barge-in)."""

    def __init__(self, stream_id: uuid.UUID) -> None:
        self.id = stream_id
        self.frames: asyncio.Queue[bytes] = asyncio.Queue(maxsize=500)  # 10 s of audio
        self.dtmf: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
        self.closed = asyncio.Event()
        self.connected = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._stop = asyncio.Event()
        self.first_audio_at: float | None = None  # loop time the last prompt's audio began

    def attach(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.connected.set()

    def stop_playing(self) -> None:
        self._stop.set()

    async def send_audio(self, pcm: bytes) -> float:
        """Play ``pcm`` frame by frame at 20 ms intervals; the seconds played (less than the
        whole when :meth:`stop_playing` cut it short or the call ended)."""
        if self._writer is None:
            raise EOFError("AudioSocket not connected")
        self._stop.clear()
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.first_audio_at = start
        sent = 0
        # a few frames ahead keep Asterisk's side fed without building a backlog
        lead = 3
        for off in range(0, len(pcm), FRAME_BYTES):
            if self._stop.is_set() or self.closed.is_set():
                break
            frame = pcm[off : off + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            try:
                self._writer.write(encode(KIND_AUDIO, frame))
                await self._writer.drain()
            except ConnectionError:
                self.closed.set()
                break
            sent += 1
            due = start + (sent - lead) * FRAME_MS / 1000
            delay = due - loop.time()
            if delay > 0:
                stop = asyncio.ensure_future(self._stop.wait())
                try:
                    await asyncio.wait({stop}, timeout=delay)
                finally:
                    stop.cancel()
        return sent * FRAME_MS / 1000

    async def hangup(self) -> None:
        """End the stream: Asterisk's AudioSocket() returns and the dialplan (or the FastAGI
        call that ran it) goes on."""
        if self._writer is not None and not self._writer.is_closing():
            with contextlib.suppress(ConnectionError):
                self._writer.write(encode(KIND_HANGUP))
                await self._writer.drain()
            self._writer.close()
        self.closed.set()


class AudioSocketServer:
    """Accepts Asterisk's AudioSocket connections and hands each to the call that expects
    its UUID (:meth:`expect`)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 4574,
        allow_from: Sequence[str] = ("127.0.0.1", "::1"),
        uuid_timeout_s: float = 5.0,
        max_pending: int = 16,
    ) -> None:
        self.host, self.port = host, port
        self.allow_from = parse_networks(allow_from)
        self.uuid_timeout_s, self.max_pending = uuid_timeout_s, max_pending
        # connections that have not sent their UUID yet, oldest first: a new one beyond
        # max_pending closes the oldest, so idle sockets cannot keep calls from connecting
        self._pending: dict[asyncio.StreamWriter, None] = {}
        self.paired = 0  # connections handed to their call (for tests and metrics)
        self.paired_changed = asyncio.Event()
        self.ready = asyncio.Event()
        self._expected: dict[uuid.UUID, AudioStream] = {}
        self.refused = 0

    def expect(self) -> AudioStream:
        """A new stream id for ``AudioSocket(<id>,host:port)``; its stream once connected."""
        stream = AudioStream(uuid.uuid4())
        self._expected[stream.id] = stream
        return stream

    def forget(self, stream: AudioStream) -> None:
        self._expected.pop(stream.id, None)

    async def serve(self, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._accept, self.host, self.port, limit=16_384)
        self.port = server.sockets[0].getsockname()[1]
        log.info("AudioSocket listening on %s:%d", self.host, self.port)
        self.ready.set()
        try:
            await stop.wait()
        finally:
            server.close()
            for stream in list(self._expected.values()):
                stream.closed.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) and peer else None
        stream: AudioStream | None = None
        try:
            if not address_allowed(host, self.allow_from):
                self.refused += 1
                log.warning("refusing AudioSocket from %s: not in allow_from", host)
                return
            if len(self._pending) >= self.max_pending:
                oldest = next(iter(self._pending))
                del self._pending[oldest]
                oldest.close()
                self.refused += 1
            self._pending[writer] = None
            try:
                async with asyncio.timeout(self.uuid_timeout_s):
                    first = await read_message(reader)
            finally:
                self._pending.pop(writer, None)
            if first.kind != KIND_UUID or len(first.payload) != 16:
                raise ValueError(f"expected a UUID message, got kind {first.kind:#x}")
            stream = self._expected.pop(uuid.UUID(bytes=first.payload), None)
            if stream is None:
                self.refused += 1
                log.warning("AudioSocket with an unknown UUID from %s: closed", host)
                return
            stream.attach(writer)
            self.paired += 1
            self.paired_changed.set()
            await self._pump(reader, stream)
        except (TimeoutError, ValueError, EOFError, ConnectionError) as exc:
            if stream is None:
                self.refused += 1
            log.info("AudioSocket from %s ended: %s", host, exc or type(exc).__name__)
        finally:
            if stream is not None:
                stream.closed.set()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _pump(self, reader: asyncio.StreamReader, stream: AudioStream) -> None:
        while True:
            msg = await read_message(reader)
            if msg.kind == KIND_AUDIO:
                if stream.frames.full():  # nobody listening: keep the newest audio
                    stream.frames.get_nowait()
                stream.frames.put_nowait(msg.payload)
            elif msg.kind == KIND_DTMF and msg.payload:
                with contextlib.suppress(asyncio.QueueFull):
                    stream.dtmf.put_nowait(chr(msg.payload[0]))
            elif msg.kind in (KIND_HANGUP, KIND_ERROR):
                log.info("AudioSocket %s: %s", stream.id, "hangup" if msg.kind == 0 else
                         f"error {msg.payload.hex()}")  # fmt: skip
                return
