"""Rendering AMI frames: ``Key: Value`` lines ended by a blank line."""

from __future__ import annotations

from collections.abc import Iterable

from aioami import Message

from .channels import CHANNEL_KEYS, LiveChannel

__all__ = ["BANNER", "channel_event", "frame", "hdr", "response"]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def hdr(msg: Message, key: str, default: str = "") -> str:
    """A header's value, ``default`` when absent."""
    value = msg.get(key)
    return default if value is None else value


def frame(pairs: Iterable[tuple[str, str]]) -> bytes:
    """One wire frame, blank line included."""
    return ("".join(f"{key}: {value}\r\n" for key, value in pairs) + "\r\n").encode()


def response(
    action_id: str | None,
    message: str | None = None,
    *,
    status: str = "Success",
    extra: Iterable[tuple[str, str]] = (),
) -> bytes:
    """An action reply in Asterisk's layout: Response, ActionID, extra headers, Message."""
    pairs = [("Response", status)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    pairs.extend(extra)
    if message is not None:
        pairs.append(("Message", message))
    return frame(pairs)


def channel_event(
    event: str,
    privilege: str,
    channel: LiveChannel,
    extra: Iterable[tuple[str, str]] = (),
    *,
    prefix: str = "",
) -> list[tuple[str, str]]:
    """An event's headers: Event, Privilege, the channel block (optionally ``Dest``-prefixed)."""
    pairs = [("Event", event), ("Privilege", privilege)]
    pairs += [(prefix + k, channel.fields.get(k, "")) for k in CHANNEL_KEYS]
    pairs.extend(extra)
    return pairs
