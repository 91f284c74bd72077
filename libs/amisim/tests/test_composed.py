"""The composed scenarios (calls no capture shows) play like the derived ones: well-formed
frames, one Linkedid per call, a truthful CoreShowChannels mid-call and none left after."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from aioami import Message, parse_frame
from amisim import Simulator, render_call
from amisim.channels import CHANNEL_KEYS
from amisim.compose import COMPOSED, compose
from amisim.testing import Client, by_linkedid

NAMES = sorted(COMPOSED)
_PLACEHOLDER = re.compile(rb"\{[a-z][a-z0-9_]*(?:@-?[0-9.]+)?\}")
#: Where each call is held mid-way for CoreShowChannels: a moment with live channels.
PAUSE = {
    "internal": "HangupRequest",
    "dial_timeout": "DialEnd",
    "queue_abandon": "HangupRequest",
    "redirect_transfer": "HangupRequest",
    "pickup": "Pickup",
    "hold": "Unhold",
}


@pytest.mark.parametrize("name", NAMES)
def test_the_bundled_template_is_what_compose_writes(name: str) -> None:
    path = resources.files("amisim") / "scenarios" / f"{name}.tmpl"
    assert path.read_text("utf-8") == compose(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_frame_is_well_formed_with_the_channel_block_in_asterisk_order(
    name: str,
) -> None:
    frames = render_call(name, seed=3)
    offsets = [at for at, _ in frames]
    assert offsets == sorted(offsets)
    for _, data in frames:
        assert data.endswith(b"\r\n\r\n")
        body = data[:-4]
        assert b"\r\n\r\n" not in body
        assert not _PLACEHOLDER.search(body)
        msg = parse_frame(body)
        assert msg.event
        assert msg.get("Privilege")
        keys = [line.split(b": ", 1)[0].decode() for line in body.split(b"\r\n")]
        for prefix in ("", "Dest", "Target"):
            if prefix + "ChannelState" in keys:
                at = keys.index(prefix + "Channel")
                block = [prefix + k for k in CHANNEL_KEYS]
                assert keys[at : at + len(block)] == block


async def _play(sim: Simulator, client: Client, name: str) -> list[Message]:
    call = sim.pbx.start_call(name, pause_before=PAUSE[name])
    await call.paused.wait()
    reply = await client.action("CoreShowChannels", ActionID=f"mid-{name}")
    assert reply["EventList"] == "start"
    await client.first(
        lambda m: m.event == "CoreShowChannelsComplete" and m.action_id == f"mid-{name}"
    )
    await client.action("Ping")
    seen = _live(client.messages)
    listed = {
        m["Uniqueid"]: m
        for m in client.messages
        if m.event == "CoreShowChannel" and m.action_id == f"mid-{name}"
    }
    assert seen
    assert set(listed) == set(seen)
    for uid, item in listed.items():
        assert item["Channel"] == seen[uid]["Channel"]
        assert item["Linkedid"] == seen[uid]["Linkedid"]
    call.resume()
    await call.wait()
    await client.action("Ping")
    return by_linkedid(client.messages, call.values["linkedid"])


def _live(messages: list[Message]) -> dict[str, Message]:
    """Channels a client has seen created and not hung up."""
    live: dict[str, Message] = {}
    for m in messages:
        if m.event == "Newchannel":
            live[m["Uniqueid"]] = m
        elif m.event == "Hangup":
            live.pop(m["Uniqueid"], None)
    return live


@pytest.mark.parametrize("name", NAMES)
async def test_the_call_plays_with_one_linkedid_and_leaves_no_channel(
    sim: Simulator, client: Client, name: str
) -> None:
    events = await _play(sim, client, name)
    news = [m for m in events if m.event == "Newchannel"]
    assert news
    assert {m["Linkedid"] for m in news} == {news[0]["Uniqueid"]}
    assert {m["Uniqueid"] for m in news} == {m["Uniqueid"] for m in events if m.event == "Hangup"}
    assert not sim.live_channels()
    reply = await client.action("CoreShowChannels", ActionID=f"after-{name}")
    assert reply["EventList"] == "start"
    done = await client.first(
        lambda m: m.event == "CoreShowChannelsComplete" and m.action_id == f"after-{name}"
    )
    assert done["ListItems"] == "0"


def _events(name: str, **values: str) -> list[Message]:
    return [parse_frame(data[:-4]) for _, data in render_call(name, values, seed=5)]


def test_a_dial_timeout_ends_the_dial_with_noanswer_after_twenty_seconds() -> None:
    frames = render_call("dial_timeout", seed=5)
    ends = [(at, parse_frame(d[:-4])) for at, d in frames if d.startswith(b"Event: DialEnd\r\n")]
    assert [(round(at), m["DialStatus"]) for at, m in ends] == [(20, "NOANSWER")]
    assert not [m for m in _events("dial_timeout") if m.event == "HangupRequest"]


def test_a_queue_abandon_sends_queuecallerabandon_before_the_caller_leaves() -> None:
    names = [m.event for m in _events("queue_abandon")]
    assert names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
    statuses = [m["DialStatus"] for m in _events("queue_abandon") if m.event == "DialEnd"]
    assert statuses == ["CANCEL", "CANCEL"]


def test_a_redirect_carries_no_transfer_event_and_dials_the_new_extension() -> None:
    events = _events("redirect_transfer", ext1="100", ext2="101")
    assert not {"BlindTransfer", "AttendedTransfer", "Unhold"} & {m.event for m in events}
    begins = [m["DestChannel"].split("-")[0] for m in events if m.event == "DialBegin"]
    assert begins == ["PJSIP/100", "PJSIP/101"]


def test_a_pickup_names_the_picker_and_the_ringing_channel() -> None:
    events = _events("pickup", ext1="100", ext2="102")
    pickup = next(m for m in events if m.event == "Pickup")
    assert pickup["Channel"].startswith("PJSIP/102-")
    assert pickup["TargetChannel"].startswith("PJSIP/100-")
    assert pickup["Linkedid"] != pickup["TargetLinkedid"]


def test_hold_is_announced_on_the_operator_and_music_plays_to_the_caller() -> None:
    events = _events("hold", ext1="101")
    names = {"Hold", "Unhold", "MusicOnHoldStart", "MusicOnHoldStop"}
    hold = [(m.event, m["Channel"].split("-")[0]) for m in events if m.event in names]
    assert hold == [
        ("Hold", "PJSIP/101"),
        ("MusicOnHoldStart", "PJSIP/trunk"),
        ("Unhold", "PJSIP/101"),
        ("MusicOnHoldStop", "PJSIP/trunk"),
    ]


def test_an_internal_call_is_between_two_extensions_without_a_recording() -> None:
    events = _events("internal", ext1="100", ext2="101")
    assert events[0].event == "ChallengeSent"
    first = next(m for m in events if m.event == "Newchannel")
    assert (first["Channel"].split("-")[0], first["Exten"]) == ("PJSIP/100", "101")
    assert not [m for m in events if m.event == "MixMonitorStart"]
    assert not [m for m in events if "trunk" in (m.get("Channel") or "")]
