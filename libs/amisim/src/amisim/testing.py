"""A minimal AMI client for tests: asyncio streams + ``aioami.FrameSplitter``.

It records every parsed frame and every raw read, and waits on conditions under a
deadline (never sleeps). Independent of the full aioami client on purpose.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from aioami import FrameSplitter, Message, parse_frame

__all__ = ["Client", "by_linkedid"]


class Client:
    """Test-side AMI connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.splitter = FrameSplitter()
        self.messages: list[Message] = []
        self.raw = bytearray()
        self.reads: list[bytes] = []
        self.eof = False
        self._changed = asyncio.Event()
        self._ids = 0
        self._pump = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> Client:
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
        return cls(reader, writer)

    async def _read(self) -> None:
        while data := await self.reader.read(65536):
            self.raw += data
            self.reads.append(data)
            self.messages += [parse_frame(f) for f in self.splitter.feed(data)]
            self._changed.set()
        self.eof = True
        self._changed.set()

    def send(self, action: str, **headers: str) -> str:
        self._ids += 1
        action_id = headers.pop("ActionID", f"t-{self._ids}")
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id

    async def wait_for(self, check: Callable[[], bool], limit: float = 10.0) -> None:
        async with asyncio.timeout(limit):
            while not check():
                self._changed.clear()
                await self._changed.wait()

    async def first(self, pred: Callable[[Message], bool], limit: float = 10.0) -> Message:
        await self.wait_for(lambda: any(pred(m) for m in self.messages), limit)
        return next(m for m in self.messages if pred(m))

    async def action(self, action: str, **headers: str) -> Message:
        action_id = self.send(action, **headers)
        return await self.first(lambda m: m.response is not None and m.action_id == action_id)

    async def login(self, secret: str, username: str = "crm") -> Message:
        return await self.action("Login", Username=username, Secret=secret)

    def events(self, name: str | None = None) -> list[Message]:
        return [
            m for m in self.messages if m.event is not None and (name is None or m.event == name)
        ]

    async def close(self) -> None:
        self.writer.close()
        self._pump.cancel()
        await asyncio.gather(self._pump, return_exceptions=True)


def by_linkedid(messages: list[Message], linkedid: str) -> list[Message]:
    """The call's events: those naming ``linkedid`` as Linkedid or DestLinkedid."""
    return [m for m in messages if linkedid in (m.get("Linkedid"), m.get("DestLinkedid"))]
