"""CoreShowChannels, Originate, Hangup, Redirect and BlindTransfer against live calls."""

from __future__ import annotations

import asyncio

from amisim import Call, Simulator
from amisim.testing import Client, by_linkedid


async def _talking(sim: Simulator, scenario: str = "inbound_answered", **values: str) -> Call:
    """A call held just before its natural hang-up (both legs bridged)."""
    call = sim.pbx.start_call(scenario, values, pause_before="HangupRequest")
    await call.paused.wait()
    return call


async def _ended(call: Call) -> None:
    async with asyncio.timeout(10):
        await call.wait()


def _list_items(client: Client, action_id: str) -> list[dict[str, str]]:
    return [dict(m) for m in client.events("CoreShowChannel") if m.action_id == action_id]


async def test_core_show_channels_lists_live_channels_mid_call_and_none_after(
    sim: Simulator, client: Client
) -> None:
    call = await _talking(sim, ext1="101")
    reply = await client.action("CoreShowChannels", ActionID="csc-1")
    assert (reply["EventList"], reply["Message"]) == ("start", "Channels will follow")
    done = await client.first(lambda m: m.event == "CoreShowChannelsComplete")
    assert (done.action_id, done["EventList"], done["ListItems"]) == ("csc-1", "Complete", "2")
    items = _list_items(client, "csc-1")
    assert [i["Channel"].split("-")[0] for i in items] == ["PJSIP/trunk", "PJSIP/101"]
    assert {i["Linkedid"] for i in items} == {call.values["linkedid"]}
    assert items[0]["BridgeId"] == items[1]["BridgeId"] != ""
    assert items[0]["Application"] == "Dial"
    assert items[0]["Duration"] == "00:00:00"
    call.resume()
    await _ended(call)
    await client.action("CoreShowChannels", ActionID="csc-2")
    done = await client.first(
        lambda m: m.event == "CoreShowChannelsComplete" and m.action_id == "csc-2"
    )
    assert done["ListItems"] == "0"


async def test_originate_rings_the_operator_first_then_dials_the_client(
    sim: Simulator, client: Client
) -> None:
    reply = await client.action(
        "Originate",
        ActionID="c2c-9",
        Channel="PJSIP/102",
        Context="from-internal",
        Exten="79031112233",
        Priority="1",
        Async="true",
        ChannelId="1795741012.999",
    )
    assert (reply.response, reply["Message"]) == ("Success", "Originate successfully queued")
    resp = await client.first(lambda m: m.event == "OriginateResponse")
    assert (resp.action_id, resp["Response"], resp["Reason"]) == ("c2c-9", "Success", "4")
    assert resp["Uniqueid"] == "1795741012.999"
    assert resp["Channel"].startswith("PJSIP/102-")
    await client.first(lambda m: m.event == "Hangup" and m["Channel"].startswith("PJSIP/102-"))
    events = by_linkedid(client.messages, "1795741012.999")
    news = [m["Channel"] for m in events if m.event == "Newchannel"]
    assert news[0].startswith("PJSIP/102-")
    assert news[1].startswith("PJSIP/trunk-")
    order = [m for m in client.messages if m.event in ("OriginateResponse", "Newchannel")]
    assert [m.event for m in order[-3:]] == ["Newchannel", "OriginateResponse", "Newchannel"]
    assert [a["Action"] for a in sim.received_actions].count("Originate") == 1


async def test_originate_without_channel_is_an_error(client: Client) -> None:
    reply = await client.action("Originate", Exten="1", Context="x", Priority="1")
    assert (reply.response, reply["Message"]) == ("Error", "Channel not specified")


async def test_hangup_action_ends_the_whole_call(sim: Simulator, client: Client) -> None:
    call = await _talking(sim)
    operator = next(c for c in sim.live_channels() if not c.name.startswith("PJSIP/trunk"))
    reply = await client.action("Hangup", Channel=operator.name)
    assert reply["Message"] == "Channel Hungup"
    await _ended(call)
    assert not sim.live_channels()
    await client.action("Ping")
    events = by_linkedid(client.messages, call.values["linkedid"])
    tail = [m.event for m in events[-5:]]
    assert tail == ["SoftHangupRequest", "BridgeLeave", "BridgeLeave", "Hangup", "Hangup"]
    assert events[-1]["Channel"] == operator.name
    assert events[-1]["Cause"] == "16"


async def test_hangup_of_an_unknown_channel_is_an_error(client: Client) -> None:
    reply = await client.action("Hangup", Channel="PJSIP/999-00000000")
    assert (reply.response, reply["Message"]) == ("Error", "No such channel")


async def test_blind_transfer_sends_the_caller_to_the_new_extension(
    sim: Simulator, client: Client
) -> None:
    call = await _talking(sim, ext1="100")
    agent = next(c for c in sim.live_channels() if c.name.startswith("PJSIP/100-"))
    reply = await client.action(
        "BlindTransfer", Channel=agent.name, Exten="101", Context="from-internal"
    )
    assert reply["Message"] == "Transfer succeeded"
    await _ended(call)
    await client.action("Ping")
    after = client.messages[client.messages.index(reply) :]
    transfer = next(m for m in after if m.event == "BlindTransfer")
    assert transfer["TransfererChannel"] == agent.name
    assert transfer["Extension"] == "101"
    new = next(m for m in after if m.event == "Newchannel")
    assert new["Channel"].startswith("PJSIP/101-")
    assert new["Linkedid"] == call.values["linkedid"]
    assert not sim.live_channels()


async def test_redirect_moves_the_channel_without_a_blind_transfer_event(
    sim: Simulator, client: Client
) -> None:
    call = await _talking(sim, ext1="100")
    caller = next(c for c in sim.live_channels() if c.name.startswith("PJSIP/trunk-"))
    reply = await client.action(
        "Redirect", Channel=caller.name, Exten="102", Context="from-internal", Priority="1"
    )
    assert reply["Message"] == "Redirect successful"
    await _ended(call)
    await client.action("Ping")
    after = client.messages[client.messages.index(reply) :]
    assert not [m for m in after if m.event == "BlindTransfer"]
    dial = next(m for m in after if m.event == "DialBegin")
    assert dial["Channel"] == caller.name
    assert dial["DestChannel"].startswith("PJSIP/102-")


async def test_transfer_of_an_unbridged_channel_is_refused(sim: Simulator, client: Client) -> None:
    call = sim.start_call("inbound_missed", pause_before="HangupRequest")
    await call.paused.wait()
    ringing = next(c for c in sim.live_channels() if c.name.startswith("PJSIP/1"))
    reply = await client.action("BlindTransfer", Channel=ringing.name, Exten="101")
    assert reply.response == "Error"
    call.resume()
    await _ended(call)
