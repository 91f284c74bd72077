"""Events for a call ended by an AMI ``Hangup`` action, built from the live-channel table.

Shape as in the captures: SoftHangupRequest on the target, DialEnd CANCEL for dials still
ringing, BridgeLeave for every member then BridgeDestroy, Hangup (cause 16) for the other
channels and finally the target, each followed by its device going NOT_INUSE.
"""

from __future__ import annotations

from ._wire import channel_event, frame
from .channels import CHANNEL_KEYS, ChannelTable, LiveChannel

__all__ = ["hangup_frames"]

_CALL = "call,all"


def hangup_frames(
    table: ChannelTable, channels: list[LiveChannel], target: LiveChannel
) -> list[bytes]:
    """Frames tearing down ``channels`` (one call) after a Hangup of ``target``."""
    out = [frame(channel_event("SoftHangupRequest", _CALL, target, [("Cause", "16")]))]
    out += _cancel_dials(table, channels)
    out += _leave_bridges(table, channels, target)
    for channel in [c for c in channels if c is not target] + [target]:
        extra = [("Cause", "16"), ("Cause-txt", "Normal Clearing")]
        out.append(frame(channel_event("Hangup", _CALL, channel, extra)))
        device = channel.name.rsplit("-", 1)[0]
        pairs = [("Event", "DeviceStateChange"), ("Privilege", _CALL)]
        out.append(frame([*pairs, ("Device", device), ("State", "NOT_INUSE")]))
    return out


def _cancel_dials(table: ChannelTable, channels: list[LiveChannel]) -> list[bytes]:
    out = []
    uids = {c.uniqueid for c in channels}
    for dest_uid, caller_uid in list(table.dials.items()):
        dest = table.get(dest_uid)
        if dest is None or dest_uid not in uids:
            continue
        caller = table.get(caller_uid)
        pairs = [("Event", "DialEnd"), ("Privilege", _CALL)]
        if caller is not None:
            pairs += [(k, caller.fields.get(k, "")) for k in CHANNEL_KEYS]
        pairs += [("Dest" + k, dest.fields.get(k, "")) for k in CHANNEL_KEYS]
        out.append(frame([*pairs, ("DialStatus", "CANCEL")]))
    return out


def _leave_bridges(
    table: ChannelTable, channels: list[LiveChannel], target: LiveChannel
) -> list[bytes]:
    out = []
    bridges = dict.fromkeys(c.bridge for c in [target, *channels] if c.bridge)
    for bridge in bridges:
        members = [c for c in [target, *channels] if c.bridge == bridge]
        members = list(dict.fromkeys(members))
        for left, member in enumerate(members, 1):
            pairs = _bridge_pairs("BridgeLeave", bridge, len(members) - left)
            out.append(frame(pairs + channel_event("", "", member)[2:]))
        out.append(frame(_bridge_pairs("BridgeDestroy", bridge, 0)))
    return out


def _bridge_pairs(event: str, bridge: str, count: int) -> list[tuple[str, str]]:
    return [
        ("Event", event),
        ("Privilege", _CALL),
        ("BridgeUniqueid", bridge),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    ]
