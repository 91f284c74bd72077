"""The simulator's live-channel table, kept by watching the events it emits.

Because the table is fed the very frames the clients receive, ``CoreShowChannels`` and
the Hangup/Redirect/BlindTransfer actions always agree with what a client has seen.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from aioami import Message, event_name, parse_frame

__all__ = ["CHANNEL_KEYS", "ChannelTable", "LiveChannel"]

#: The standard channel block of call events, in Asterisk's order.
CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)

_WATCHED = frozenset(
    b"Newchannel Newstate Newexten NewCallerid NewConnectedLine BridgeEnter BridgeLeave "
    b"DialBegin DialEnd Hangup Rename Hold Unhold".split()
)


@dataclass(slots=True, eq=False)
class LiveChannel:
    """One live channel: its latest channel block, bridge and dialplan application."""

    fields: dict[str, str]
    owner: object | None = None  # the Call that created it
    created: float = field(default_factory=time.monotonic)
    bridge: str = ""
    application: str = ""
    app_data: str = ""
    held: bool = False  # between a Hold and an Unhold event of this channel

    @property
    def name(self) -> str:
        return self.fields["Channel"]

    @property
    def uniqueid(self) -> str:
        return self.fields["Uniqueid"]

    @property
    def linkedid(self) -> str:
        return self.fields["Linkedid"]


class ChannelTable:
    """Live channels by Uniqueid, in creation order, plus dials not yet ended."""

    def __init__(self) -> None:
        self._by_uid: dict[str, LiveChannel] = {}
        self.dials: dict[str, str] = {}  # dest uniqueid -> caller uniqueid ("" if none)

    def __len__(self) -> int:
        return len(self._by_uid)

    def __iter__(self) -> Iterator[LiveChannel]:
        return iter(list(self._by_uid.values()))

    def get(self, uniqueid: str) -> LiveChannel | None:
        return self._by_uid.get(uniqueid)

    def by_name(self, name: str) -> LiveChannel | None:
        return next((ch for ch in self._by_uid.values() if ch.name == name), None)

    def owned_by(self, owner: object) -> list[LiveChannel]:
        return [ch for ch in self._by_uid.values() if ch.owner is owner]

    def bridge_peers(self, channel: LiveChannel) -> list[LiveChannel]:
        if not channel.bridge:
            return []
        return [c for c in self._by_uid.values() if c.bridge == channel.bridge and c is not channel]

    def observe(self, frame: bytes, owner: object | None = None) -> None:
        """Update the table from one emitted wire frame (cheap for events it ignores)."""
        name = event_name(frame)
        if name in _WATCHED:
            self._apply(name.decode(), parse_frame(frame.removesuffix(b"\r\n\r\n")), owner)

    def _apply(self, name: str, msg: Message, owner: object | None) -> None:
        if name.startswith("Dial"):
            self._dial(name, msg)
            return
        uid = hdr(msg, "Uniqueid")
        if name == "Newchannel":
            self._by_uid[uid] = LiveChannel(_block(msg), owner)
            return
        channel = self._by_uid.get(uid)
        if channel is None:
            return
        if name == "Hangup":
            del self._by_uid[uid]
            self.dials.pop(uid, None)
            return
        channel.fields.update(_block(msg))
        if name == "BridgeEnter":
            channel.bridge = hdr(msg, "BridgeUniqueid")
        elif name == "BridgeLeave":
            channel.bridge = ""
        elif name in ("Hold", "Unhold"):
            channel.held = name == "Hold"
        elif name == "Newexten":
            channel.application = hdr(msg, "Application")
            channel.app_data = hdr(msg, "AppData")

    def _dial(self, name: str, msg: Message) -> None:
        dest = hdr(msg, "DestUniqueid")
        if name == "DialBegin":
            self.dials[dest] = hdr(msg, "Uniqueid")
        elif name == "DialEnd":
            self.dials.pop(dest, None)


def hdr(msg: Message, key: str) -> str:
    value = msg.get(key)
    return "" if value is None else value


def _block(msg: Message) -> dict[str, str]:
    return {key: msg[key] for key in CHANNEL_KEYS if key in msg}
