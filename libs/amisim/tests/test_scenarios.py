"""Every scenario yields a well-formed call whose key events match its capture's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from aioami import Message
from amisim import Simulator, load_template, template_names
from amisim.testing import Client, by_linkedid

CAPTURES = Path(__file__).resolve().parents[3].parent / "shared" / "captures"  # ../shared
CALLS = [n for n in template_names() if n != "registration"]


async def _play(sim: Simulator, client: Client, scenario: str, **values: str) -> list[Message]:
    call = sim.pbx.start_call(scenario, values)
    await call.wait()
    await client.action("Ping")  # everything emitted before the reply has arrived
    return by_linkedid(client.messages, call.values["linkedid"])


def _hangups(events: list[Message]) -> dict[str, str]:
    return {m["Channel"]: m["Cause"] for m in events if m.event == "Hangup"}


def _dial_status(events: list[Message]) -> list[str]:
    return [m["DialStatus"] for m in events if m.event == "DialEnd"]


async def test_inbound_answered_has_the_captured_shape(sim: Simulator, client: Client) -> None:
    events = await _play(sim, client, "inbound_answered", phone="79160000001", ext1="101")
    first = events[0]
    assert (first.event, first["CallerIDNum"]) == ("Newchannel", "79160000001")
    assert first["Channel"].startswith("PJSIP/trunk-")
    begin = next(m for m in events if m.event == "DialBegin")
    assert begin["DestChannel"].startswith("PJSIP/101-")
    assert begin["DialString"] == "101"
    assert _dial_status(events) == ["ANSWER"]
    assert len([m for m in events if m.event == "BridgeEnter"]) == 2
    assert sorted(_hangups(events).values()) == ["16", "16"]
    assert events[-1].event == "Hangup"


async def test_inbound_busy_ends_with_cause_17(sim: Simulator, client: Client) -> None:
    events = await _play(sim, client, "inbound_busy")
    assert _dial_status(events) == ["BUSY"]
    assert set(_hangups(events).values()) == {"17"}
    operator = next(m for m in events if m.event == "Newchannel" and "trunk" not in m["Channel"])
    assert not [m for m in events if m.event == "Newstate" and m["Channel"] == operator["Channel"]]


async def test_inbound_missed_is_cancelled_with_cause_127(sim: Simulator, client: Client) -> None:
    events = await _play(sim, client, "inbound_missed")
    assert _dial_status(events) == ["CANCEL"]
    assert set(_hangups(events).values()) == {"127"}


async def test_ring_group_loser_gets_answered_elsewhere(sim: Simulator, client: Client) -> None:
    events = await _play(sim, client, "inbound_group", ext1="100", ext2="102")
    assert sorted(_dial_status(events)) == ["ANSWER", "CANCEL"]
    causes = _hangups(events)
    loser = next(ch for ch in causes if ch.startswith("PJSIP/100-"))
    assert causes[loser] == "26"


async def test_queue_loser_gets_two_cancels(sim: Simulator, client: Client) -> None:
    events = await _play(sim, client, "inbound_queue")
    assert sorted(_dial_status(events)) == ["ANSWER", "CANCEL", "CANCEL"]
    assert {"QueueCallerJoin", "AgentConnect", "AgentComplete"} <= {m.event for m in events}


async def test_outbound_starts_on_the_operator_and_dials_the_trunk(
    sim: Simulator, client: Client
) -> None:
    events = await _play(sim, client, "outbound", phone="79031112233", ext1="102")
    assert events[0]["Channel"].startswith("PJSIP/102-")
    begin = next(m for m in events if m.event == "DialBegin")
    assert begin["DestChannel"].startswith("PJSIP/trunk-")
    assert begin["DialString"] == "79031112233@trunk"


async def test_transfers_carry_their_transfer_events(sim: Simulator, client: Client) -> None:
    blind = await _play(sim, client, "blind_transfer_ami")
    assert [m.event for m in blind].count("BlindTransfer") == 0  # no Linkedid on it
    assert client.events("BlindTransfer")
    attended = await _play(sim, client, "attended_transfer_ami")
    assert any(m["Channel"].startswith("Local/") for m in attended if m.event == "Newchannel")
    assert client.events("AttendedTransfer")


@pytest.mark.parametrize("scenario", CALLS)
async def test_ids_are_fresh_and_the_linkedid_is_shared(
    sim: Simulator, client: Client, scenario: str
) -> None:
    first = await _play(sim, client, scenario)
    second = await _play(sim, client, scenario)
    uids = [{m["Uniqueid"] for m in ev if m.event == "Newchannel"} for ev in (first, second)]
    assert uids[0]
    assert uids[1]
    assert not uids[0] & uids[1]
    for events in (first, second):
        news = [m for m in events if m.event == "Newchannel"]
        assert len({m["Linkedid"] for m in news}) == 1
        assert len({m["Channel"] for m in news}) == len(news)
        assert {m["Uniqueid"] for m in news} == {
            m["Uniqueid"] for m in events if m.event == "Hangup"
        }
    assert not sim.live_channels()


def _capture_events(name: str) -> list[str]:
    data = (CAPTURES / f"{name}.ami").read_bytes().decode()
    names = [f.split("\r\n", 1)[0][7:] for f in data.split("\r\n\r\n") if f.startswith("Event: ")]
    return [n for n in names if n != "FullyBooted"][1:]  # and the recorder's SuccessfulAuth


@pytest.mark.skipif(not CAPTURES.exists(), reason="shared captures not present")
@pytest.mark.parametrize(
    "scenario", [n for n in template_names() if (CAPTURES / f"{n}.ami").exists()]
)
def test_templates_keep_the_captured_event_order(scenario: str) -> None:
    template = load_template(scenario)
    text = "".join(p.fmt for p in template.phases)
    names = [f.split("\r\n", 1)[0][7:] for f in text.split("\r\n\r\n") if f]
    assert names == _capture_events(scenario)
