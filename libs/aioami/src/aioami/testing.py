"""A small scripted AMI server on 127.0.0.1 for tests (not a simulator: see ``amisim``).

Answers Challenge/Login (plain and MD5), Ping, Logoff, Command and CoreShowChannels out of
the box; any action can be scripted with ``server.handlers["originate"] = handler``. Every
action received, on any connection, is kept in ``server.actions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from ._framing import FrameSplitter
from .message import Message, parse_frame

__all__ = ["AMIPeer", "Handler", "ScriptedAMI", "encode_frame", "wait_until"]

Fields = Mapping[str, str] | Iterable[tuple[str, str]]
Handler = Callable[["AMIPeer", Message], Awaitable[None]]


def encode_frame(fields: Fields) -> bytes:
    """``Key: Value`` lines and the blank line; an iterable of pairs may repeat keys."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in pairs) + b"\r\n"


async def wait_until(predicate: Callable[[], bool], deadline_s: float = 5.0) -> None:
    """Poll ``predicate`` under a deadline (TimeoutError when it never holds)."""
    async with asyncio.timeout(deadline_s):
        while not predicate():  # noqa: ASYNC110 - polling a condition, with a deadline
            await asyncio.sleep(0.005)


class AMIPeer:
    """The server side of one client connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.challenge = ""
        self.logged_in = False
        self.closed = asyncio.Event()

    def send(self, *frames: Fields | bytes) -> None:
        self.writer.write(b"".join(f if isinstance(f, bytes) else encode_frame(f) for f in frames))

    def reply(self, action: Message, response: str = "Success", **fields: str) -> None:
        head = {"Response": response, "ActionID": action.get("ActionID") or ""}
        self.send(head | fields)

    def close(self) -> None:
        self.writer.close()


class ScriptedAMI:
    """``async with ScriptedAMI(secret=...) as server:`` then connect to ``server.port``."""

    def __init__(
        self,
        *,
        secret: str,
        username: str = "crm",
        banner: bytes = b"Asterisk Call Manager/9.0.0\r\n",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.username, self.secret, self.banner, self.tls = username, secret, banner, tls
        self.handlers: dict[str, Handler] = {
            "challenge": self._challenge,
            "login": self._login,
            "ping": self._ping,
            "logoff": self._logoff,
            "command": self._command,
            "coreshowchannels": self._core_show_channels,
        }
        self.peers: list[AMIPeer] = []
        self.actions: list[Message] = []
        self.connect_times: list[float] = []
        #: Close this many next connections at once, without a banner.
        self.refuse = 0
        self.answer_ping = True
        self.legacy_command = False
        self.commands: dict[str, str] = {}
        self.channels: list[dict[str, str]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None  # noqa: S101 - started
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> ScriptedAMI:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None  # noqa: S101 - started
        self._server.close()
        for peer in self.peers:
            peer.writer.transport.abort()
        if self._tasks:  # they end on their own once their socket is gone
            await asyncio.wait(self._tasks, timeout=5.0)
        await self._server.wait_closed()

    def received(self, action: str) -> list[Message]:
        return [m for m in self.actions if (m.get("Action") or "").lower() == action.lower()]

    async def wait_peers(self, count: int, deadline_s: float = 5.0) -> AMIPeer:
        """The ``count``-th logged-in connection, once it exists."""
        await wait_until(lambda: sum(p.logged_in for p in self.peers) >= count, deadline_s)
        return [p for p in self.peers if p.logged_in][count - 1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - a callback of start_server runs in a task
        self._tasks.add(task)
        peer = AMIPeer(writer)
        self.connect_times.append(time.monotonic())
        try:
            if self.refuse > 0:
                self.refuse -= 1
                return
            self.peers.append(peer)
            writer.write(self.banner)
            await self._read_actions(reader, peer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            peer.closed.set()
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def _read_actions(self, reader: asyncio.StreamReader, peer: AMIPeer) -> None:
        splitter = FrameSplitter(expect_banner=False)
        while data := await reader.read(65536):
            for frame in splitter.feed(data):
                msg = parse_frame(frame)
                self.actions.append(msg)
                handler = self.handlers.get((msg.get("Action") or "").lower(), self._unknown)
                await handler(peer, msg)
                await peer.writer.drain()

    # -- default behaviour ---------------------------------------------------------------------

    async def _challenge(self, peer: AMIPeer, msg: Message) -> None:
        peer.challenge = str(time.monotonic_ns() % 10**9)
        peer.reply(msg, Challenge=peer.challenge)

    async def _login(self, peer: AMIPeer, msg: Message) -> None:
        if msg.get("Username") == self.username and self._secret_ok(peer, msg):
            peer.logged_in = True
            peer.reply(msg, Message="Authentication accepted")
            peer.send({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"})
        else:
            peer.reply(msg, "Error", Message="Authentication failed")
            peer.close()

    def _secret_ok(self, peer: AMIPeer, msg: Message) -> bool:
        if (msg.get("AuthType") or "").lower() != "md5":
            return msg.get("Secret") == self.secret
        want = hashlib.md5((peer.challenge + self.secret).encode(), usedforsecurity=False)
        return bool(peer.challenge) and msg.get("Key") == want.hexdigest()

    async def _ping(self, peer: AMIPeer, msg: Message) -> None:
        if self.answer_ping:
            peer.reply(msg, Ping="Pong", Timestamp=f"{time.time():.6f}")

    async def _logoff(self, peer: AMIPeer, msg: Message) -> None:
        peer.reply(msg, "Goodbye", Message="Thanks for all the fish.")
        peer.close()

    async def _command(self, peer: AMIPeer, msg: Message) -> None:
        text = self.commands.get(msg.get("Command") or "", "No such command")
        action_id = msg.get("ActionID") or ""
        if self.legacy_command:  # Asterisk <= 13: raw CLI text with bare LF line ends
            legacy = f"Response: Follows\r\nPrivilege: Command\r\nActionID: {action_id}\r\n"
            peer.send(f"{legacy}{text}\n--END COMMAND--\r\n\r\n".encode())
            return
        output = [("Output", line) for line in text.split("\n")]
        head = [("Response", "Success"), ("ActionID", action_id)]
        peer.send([*head, ("Message", "Command output follows"), *output])

    async def _core_show_channels(self, peer: AMIPeer, msg: Message) -> None:
        action_id = msg.get("ActionID") or ""
        peer.reply(msg, EventList="start", Message="Channels will follow")
        for channel in self.channels:
            peer.send({"Event": "CoreShowChannel", "ActionID": action_id, **channel})
        done = {"Event": "CoreShowChannelsComplete", "ActionID": action_id}
        peer.send(done | {"EventList": "Complete", "ListItems": str(len(self.channels))})

    async def _unknown(self, peer: AMIPeer, msg: Message) -> None:
        action = msg.get("Action")
        peer.reply(msg, "Error", Message=f"Invalid/unknown command: {action}.")
