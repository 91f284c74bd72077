"""One AMI connection: banner, action loop, event delivery with per-session filters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from aioami import FrameError, FrameSplitter, Message, parse_frame

from .filters import EventFilter

if TYPE_CHECKING:
    from .server import Simulator

__all__ = ["Session"]

log = logging.getLogger("amisim")

Handler = Callable[["Session", Message], Awaitable[None]]

#: A client whose unsent backlog exceeds this is disconnected, like Asterisk's writetimeout.
MAX_BACKLOG = 64 * 1024 * 1024


class Session:
    """Server side of one client connection."""

    def __init__(
        self, sim: Simulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.username: str | None = None
        self.events_on = True
        self.filter = EventFilter()
        self.challenge: str | None = None
        self.closing = False
        self._held: list[bytes] | None = None
        self._exclusive = asyncio.Lock()
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def __repr__(self) -> str:
        return f"<Session {self.peer} user={self.username}>"

    @property
    def authenticated(self) -> bool:
        return self.username is not None

    async def run(self, dispatch: Handler, banner: bytes) -> None:
        """Serve the connection until the client leaves, logs off or is dropped."""
        splitter = FrameSplitter(expect_banner=False)
        self.send(banner)
        try:
            while not self.closing:
                data = await self.reader.read(65536)
                if not data:
                    break
                for raw in splitter.feed(data):
                    await self._handle(dispatch, parse_frame(raw))
                    if self.closing:
                        break
                await self.writer.drain()
        except (ConnectionError, FrameError) as exc:
            log.debug("session %s ended: %s", self.peer, exc)
        finally:
            await self.close()

    async def _handle(self, dispatch: Handler, msg: Message) -> None:
        self.sim.received_actions.append(_masked(msg))
        await dispatch(self, msg)

    def send(self, data: bytes) -> None:
        """Write bytes to the client now (or after a replay that owns the socket)."""
        if self._held is not None:
            self._held.append(data)
        elif not self.writer.is_closing():
            self.writer.write(data)
            if self.writer.transport.get_write_buffer_size() > MAX_BACKLOG:
                log.warning("session %s too slow, disconnecting", self.peer)
                self.abort()

    def deliver(self, frames: Sequence[bytes], joined: bytes) -> None:
        """Send events if this session wants them; ``joined`` is the frames concatenated."""
        if not (self.authenticated and self.events_on) or self.closing:
            return
        if self.filter:
            joined = b"".join(f for f in frames if self.filter.allows(f.decode("utf-8", "replace")))
        if joined:
            self.send(joined)

    async def write_exclusive(self, pieces: Sequence[tuple[float, bytes]]) -> None:
        """Write ``pieces`` (delay before, bytes) one by one with a drain after each; other
        output to this session waits until they are all written."""
        async with self._exclusive:
            await self._write_pieces(pieces)

    async def _write_pieces(self, pieces: Sequence[tuple[float, bytes]]) -> None:
        self._held = []
        try:
            for delay, piece in pieces:
                if delay > 0:
                    await asyncio.sleep(delay)
                self.writer.write(piece)
                await self.writer.drain()
        finally:
            held, self._held = self._held, None
            self.send(b"".join(held))

    def abort(self) -> None:
        """Drop the connection at once (an outage, or a client too slow to keep up)."""
        self.closing = True
        self.writer.transport.abort()

    async def close(self) -> None:
        """Flush what is buffered (5 s at most) and close."""
        self.closing = True
        self.sim.sessions.discard(self)
        self.writer.close()
        try:
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        except (ConnectionError, OSError, TimeoutError):
            self.writer.transport.abort()


_SECRET_KEYS = frozenset({"secret", "key"})


def _masked(msg: Message) -> Message:
    """The action as tests may see it: Login's Secret/Key replaced by ``***``."""
    if not any(k.lower() in _SECRET_KEYS for k in msg):
        return msg
    return Message.from_pairs(
        [(k, "***" if k.lower() in _SECRET_KEYS else v) for k, v in msg.pairs()]
    )
