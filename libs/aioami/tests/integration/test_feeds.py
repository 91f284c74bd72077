"""events(pattern) and raw_batches(): what is yielded, in which order, with Snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aioami import AMIClient, AMIConfig, FrameBatch, Message, Snapshot
from aioami.testing import AMIPeer, ScriptedAMI

MakeConfig = Callable[..., AMIConfig]
Item = bytes | Snapshot


async def take(batches: AsyncIterator[FrameBatch | Snapshot], until: bytes) -> list[Item]:
    """Frames and snapshots, flattened, up to and including the frame ``until``."""
    out: list[Item] = []
    async with asyncio.timeout(5):
        async for item in batches:
            out += item.frames if isinstance(item, FrameBatch) else [item]
            if until in out:
                return out
    raise AssertionError("feed ended")


async def test_events_match_fnmatch_patterns_case_insensitively(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async with AMIClient(make_config()) as ami:
        dials, hangups = ami.events("dial*"), ami.events("HANGUP")
        peer = server.peers[0]
        peer.send(
            {"Event": "DialBegin", "Uniqueid": "1"},
            {"Event": "Newstate", "Uniqueid": "1"},
            {"Event": "Hangup", "Uniqueid": "1", "Cause": "16"},
            {"Event": "DialEnd", "Uniqueid": "1"},
        )
        async with asyncio.timeout(5):
            got = [(await anext(dials)).event, (await anext(dials)).event]
            hangup = await anext(hangups)
    assert got == ["DialBegin", "DialEnd"]
    assert hangup["Cause"] == "16"


async def test_events_iterators_end_when_the_client_closes(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    ami = AMIClient(make_config())
    await ami.start()
    events = ami.events()
    await ami.close()
    got = [e async for e in events]
    assert all(isinstance(e, Message) for e in got)


async def test_snapshot_is_delivered_in_band_where_its_complete_event_arrived(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async def interleaved(peer: AMIPeer, msg: Message) -> None:
        aid = msg["ActionID"]
        peer.send(
            {"Event": "A"},
            {"Response": "Success", "ActionID": aid, "EventList": "start"},
            {"Event": "CoreShowChannel", "ActionID": aid, "Channel": "PJSIP/100-1"},
            {"Event": "B"},
            {"Event": "CoreShowChannelsComplete", "ActionID": aid, "EventList": "Complete"},
            {"Event": "C"},
        )

    server.handlers["coreshowchannels"] = interleaved
    async with AMIClient(make_config(snapshot_action="CoreShowChannels")) as ami:
        items = await take(ami.raw_batches(), b"Event: C")
    kinds = [i if isinstance(i, bytes) else "snapshot" for i in items]
    assert kinds[-4:] == [b"Event: A", b"Event: B", "snapshot", b"Event: C"]
    snap = items[-2]
    assert isinstance(snap, Snapshot)
    assert snap.session == 1
    assert snap.banner == "Asterisk Call Manager/9.0.0"
    assert snap.response["EventList"] == "start"
    assert [e["Channel"] for e in snap.events[:1]] == ["PJSIP/100-1"]
    assert snap.events[-1]["EventList"] == "Complete"
    assert not any(b"CoreShowChannel" in i for i in items if isinstance(i, bytes))


async def next_snapshot(batches: AsyncIterator[FrameBatch | Snapshot]) -> Snapshot:
    async with asyncio.timeout(5):
        async for item in batches:
            if isinstance(item, Snapshot):
                return item
    raise AssertionError("feed ended")


async def test_every_reconnect_brings_a_new_session_and_snapshot(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    server.channels = [{"Channel": "PJSIP/100-1"}]
    async with AMIClient(make_config(snapshot_action="CoreShowChannels")) as ami:
        batches = ami.raw_batches()
        snapshots = [await next_snapshot(batches)]
        server.peers[0].close()
        peer = await server.wait_peers(2)
        snapshots.append(await next_snapshot(batches))
        peer.send({"Event": "After"})
        after = await take(batches, b"Event: After")
    assert [s.session for s in snapshots] == [1, 2]
    assert all(len(s.events) == 2 for s in snapshots)
    assert ami.session == 2
    assert ami.stats.reconnects == 1
    assert isinstance(after[-1], bytes)


async def test_raw_batches_carry_session_receive_time_and_unparsed_frames(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async with AMIClient(make_config()) as ami:
        batches = ami.raw_batches()
        server.peers[0].send(b"Event: Raw\r\nValue: \xff\xfe\r\n\r\n")
        batch = None
        async with asyncio.timeout(5):
            async for item in batches:
                if isinstance(item, FrameBatch) and item.frames[-1].startswith(b"Event: Raw"):
                    batch = item
                    break
    assert batch is not None
    assert batch.frames[-1] == b"Event: Raw\r\nValue: \xff\xfe"
    assert batch.session == 1
    assert batch.rx_us > 1_600_000_000_000_000
    assert ami.stats.frames_in >= 2
