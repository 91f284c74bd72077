"""Call-control AMI actions: CoreShowChannels, Originate, Hangup, Redirect, BlindTransfer."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aioami import Message

from ._wire import channel_event, frame, hdr, response
from .channels import LiveChannel
from .pbx import PbxError

if TYPE_CHECKING:
    from .server import Simulator
    from .session import Handler, Session

__all__ = ["HANDLERS", "cli_output"]


async def _core_show_channels(session: Session, msg: Message) -> None:
    action_id = msg.get("ActionID")
    extra = [("EventList", "start")]
    out = [response(action_id, "Channels will follow", extra=extra)]
    channels = list(session.sim.pbx.table)
    out += [frame(_core_show_channel(ch, action_id)) for ch in channels]
    done = [("Event", "CoreShowChannelsComplete")]
    if action_id is not None:
        done.append(("ActionID", action_id))
    done += [("EventList", "Complete"), ("ListItems", str(len(channels)))]
    session.send(b"".join([*out, frame(done)]))


def _core_show_channel(channel: LiveChannel, action_id: str | None) -> list[tuple[str, str]]:
    pairs = channel_event("CoreShowChannel", "call,all", channel)
    if action_id is not None:
        pairs.insert(1, ("ActionID", action_id))
    seconds = int(time.monotonic() - channel.created)
    pairs += [
        ("BridgeId", channel.bridge),
        ("Application", channel.application),
        ("ApplicationData", channel.app_data),
        ("Duration", f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"),
    ]
    return pairs


async def _originate(session: Session, msg: Message) -> None:
    action_id = msg.get("ActionID")
    error = _originate_error(msg)
    if error is not None:
        session.send(response(action_id, error, status="Error"))
        return
    resource = msg["Channel"].split("/", 1)[1].split("@")[0]
    values = {"ext1": resource, "phone": msg["Exten"], "action_id": action_id or ""}
    if msg.get("ChannelId"):
        values["c1_uid"] = msg["ChannelId"]
    call = session.sim.pbx.start_call("click_to_call", values)
    if hdr(msg, "Async", "false").lower() not in ("true", "yes", "1"):
        await call.answered.wait()
    session.send(response(action_id, "Originate successfully queued"))


def _originate_error(msg: Message) -> str | None:
    channel = hdr(msg, "Channel", "")
    if not channel:
        return "Channel not specified"
    if "/" not in channel:
        return "Invalid channel"
    if msg.get("Application"):
        return "Originate with Application is not simulated"
    if not (msg.get("Exten") and msg.get("Context") and msg.get("Priority")):
        return "Originate with 'Exten' requires 'Context' and 'Priority'"
    return None


async def _hangup(session: Session, msg: Message) -> None:
    pbx = session.sim.pbx
    channel = pbx.find_channel(hdr(msg, "Channel", ""))
    if channel is None:
        session.send(response(msg.get("ActionID"), "No such channel", status="Error"))
        return
    session.send(response(msg.get("ActionID"), "Channel Hungup"))
    await pbx.hangup(channel)


async def _redirect(session: Session, msg: Message) -> None:
    pbx = session.sim.pbx
    channel = pbx.find_channel(hdr(msg, "Channel", ""))
    peers = pbx.table.bridge_peers(channel) if channel is not None else []
    await _transfer(session, msg, peers[0] if len(peers) == 1 else channel, blind=False)


async def _blind_transfer(session: Session, msg: Message) -> None:
    channel = session.sim.pbx.find_channel(hdr(msg, "Channel", ""))
    await _transfer(session, msg, channel, blind=True)


async def _transfer(
    session: Session, msg: Message, channel: LiveChannel | None, *, blind: bool
) -> None:
    action_id = msg.get("ActionID")
    if channel is None:
        session.send(response(action_id, "No such channel", status="Error"))
        return
    if not msg.get("Exten"):
        session.send(response(action_id, "Exten not specified", status="Error"))
        return
    try:
        await session.sim.pbx.transfer(channel, msg["Exten"], blind=blind)
    except PbxError as exc:
        session.send(response(action_id, str(exc), status="Error"))
        return
    session.send(response(action_id, "Transfer succeeded" if blind else "Redirect successful"))


def cli_output(sim: Simulator, command: str) -> list[str] | None:
    """Output lines of a CLI command, or None if the simulator does not know it."""
    if command == "core show version":
        return ["Asterisk 22.10.1 (amisim) built by callbridge"]
    if command == "core show uptime":
        return [
            f"System uptime: {int(sim.uptime)} seconds",
            f"Last reload: {int(sim.uptime)} seconds",
        ]
    if command == "core show channels":
        rows = [
            f"{c.name:<20} {c.fields.get('Exten', '')}@{c.fields.get('Context', '')}"
            for c in sim.pbx.table
        ]
        calls = len({c.linkedid for c in sim.pbx.table})
        return [
            "Channel              Location",
            *rows,
            f"{len(rows)} active channels",
            f"{calls} active calls",
        ]
    return None


HANDLERS: dict[str, Handler] = {
    "coreshowchannels": _core_show_channels,
    "originate": _originate,
    "hangup": _hangup,
    "redirect": _redirect,
    "blindtransfer": _blind_transfer,
}
