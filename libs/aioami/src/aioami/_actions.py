"""Actions on the wire: encoding, ActionIDs, and the bookkeeping of one pending action."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
from collections.abc import Mapping

from .message import Message

__all__ = ["ActionIds", "Pending", "command_output", "encode_action", "md5_key"]

Headers = Mapping[str, str | list[str]]

_FINAL_LIST_STATES = ("complete", "cancelled")


class ActionIds:
    """ActionIDs unique to one client: ``aioami-<random>-<n>``. ``marker`` is the byte string
    every frame answering one of them contains, so that frames can be screened with ``in``."""

    def __init__(self) -> None:
        self.prefix = f"aioami-{secrets.token_hex(4)}-"
        self.marker = b"ActionID: " + self.prefix.encode()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self._counter)}"


def encode_action(action: str, action_id: str, headers: Headers | None = None) -> bytes:
    """The wire form of an action. A list value repeats its key. CR/LF in a key or value
    would inject headers, so they raise ValueError (naming the key, never the value)."""
    lines = [f"Action: {action}", f"ActionID: {action_id}"]
    for key, value in (headers or {}).items():
        if key.lower() in ("action", "actionid"):
            raise ValueError(f"header {key!r} is set by the client")
        for item in [value] if isinstance(value, str) else value:
            lines.append(f"{key}: {item}")
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ValueError(f"line break in action header {line.split(':', 1)[0]!r}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def md5_key(challenge: str, secret: str) -> str:
    """The ``Key`` of an MD5 Login: md5hex(challenge + secret), as AMI defines it."""
    digest = hashlib.md5((challenge + secret).encode(), usedforsecurity=False)
    return digest.hexdigest()


class Pending:
    """One action waiting for its reply. ``feed`` takes each frame carrying its ActionID."""

    __slots__ = ("action", "action_id", "events", "future", "is_list", "raw", "response")

    def __init__(self, action: str, action_id: str, *, is_list: bool = False) -> None:
        self.action = action
        self.action_id = action_id
        self.is_list = is_list
        self.future: asyncio.Future[Pending] = asyncio.get_running_loop().create_future()
        self.response: Message | None = None
        self.events: list[Message] = []

    def feed(self, msg: Message) -> tuple[bool, bool]:
        """(claimed, complete). Events of a non-list action are not claimed: they are
        ordinary events that happen to carry the ActionID (OriginateResponse)."""
        if msg.event is not None:
            if not self.is_list or self.response is None:
                return False, False
            self.events.append(msg)
            return True, (msg.get("EventList") or "").lower() in _FINAL_LIST_STATES
        if self.response is not None:
            return False, False
        self.response = msg
        return True, not self._expects_events(msg)

    def _expects_events(self, msg: Message) -> bool:
        return self.is_list and (msg.get("EventList") or "").lower() == "start"

    def finish(self) -> None:
        if not self.future.done():
            self.future.set_result(self)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
            self.future.exception()  # retrieved: nobody may be waiting any more


def command_output(response: Message) -> str:
    """CLI text of a Command reply: its ``Output`` values, which ``parse_frame`` gives for
    both the modern form and the legacy ``Response: Follows … --END COMMAND--`` one."""
    return "\n".join(response.getall("Output"))
