"""Actions on one connection: concurrency, list actions, Command in both forms, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from aioami import (
    ActionError,
    ActionTimeout,
    AMIClient,
    AMIConfig,
    FrameBatch,
    Message,
)
from aioami.testing import AMIPeer, ScriptedAMI

MakeConfig = Callable[..., AMIConfig]


async def test_concurrent_actions_answered_out_of_order_each_get_their_own_reply(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    held: list[Message] = []

    async def answer_backwards(peer: AMIPeer, msg: Message) -> None:
        held.append(msg)
        if len(held) == 3:
            for action in reversed(held):
                peer.reply(action, Echo=action["Seq"])

    server.handlers["echo"] = answer_backwards
    async with AMIClient(make_config()) as ami:
        replies = await asyncio.gather(
            *(ami.send_action("Echo", {"Seq": str(i)}) for i in range(3))
        )
    assert [r["Echo"] for r in replies] == ["0", "1", "2"]
    assert len({r["ActionID"] for r in replies}) == 3


async def test_a_list_action_collects_events_until_eventlist_complete(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    server.channels = [{"Channel": "PJSIP/100-0001"}, {"Channel": "PJSIP/101-0002"}]
    async with AMIClient(make_config()) as ami:
        result = await ami.send_list_action("CoreShowChannels")
    assert result.response["EventList"] == "start"
    assert [e.event for e in result.events] == [
        "CoreShowChannel",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]
    assert result.events[1]["Channel"] == "PJSIP/101-0002"


async def test_command_returns_output_lines_of_asterisk_14_and_later(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    server.commands["core show uptime"] = "System uptime: 5 minutes\n\nLast reload: 1 minute"
    async with AMIClient(make_config()) as ami:
        out = await ami.command("core show uptime")
    assert out == "System uptime: 5 minutes\n\nLast reload: 1 minute"


@pytest.mark.parametrize(
    "text",
    [
        "Asterisk 13.38.3 built by root",
        "Name       : 100\nSecret     : <Set>\n\nStatus     : OK (5 ms)",
        "Key: value",
    ],
)
async def test_command_returns_the_raw_text_of_a_legacy_follows_reply(
    server: ScriptedAMI, make_config: MakeConfig, text: str
) -> None:
    server.legacy_command = True
    server.banner = b"Asterisk Call Manager/2.10.6\r\n"  # Asterisk 13: AMI 2
    server.commands["sip show peer 100"] = text
    async with AMIClient(make_config()) as ami:
        out = await ami.command("sip show peer 100")
    assert out == text


async def test_error_response_raises_action_error_with_the_reply(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async with AMIClient(make_config()) as ami:
        with pytest.raises(ActionError, match="Invalid/unknown command") as info:
            await ami.send_action("NoSuchAction")
    assert isinstance(info.value.response, Message)


async def test_an_unanswered_action_times_out_and_the_connection_stays_usable(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async def never(peer: AMIPeer, msg: Message) -> None:
        return None

    server.handlers["slow"] = never
    async with AMIClient(make_config()) as ami:
        with pytest.raises(ActionTimeout, match="Slow"):
            await ami.send_action("Slow", timeout=0.05)
        assert (await ami.send_action("Ping"))["Ping"] == "Pong"


async def test_list_values_repeat_the_key_and_line_breaks_are_refused(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async def ok(peer: AMIPeer, msg: Message) -> None:
        peer.reply(msg)

    server.handlers["originate"] = ok
    async with AMIClient(make_config()) as ami:
        await ami.send_action("Originate", {"Channel": "PJSIP/100", "Variable": ["A=1", "B=2"]})
        with pytest.raises(ValueError, match="Channel"):
            await ami.send_action("Originate", {"Channel": "PJSIP/100\r\nAction: Hangup"})
    (originate,) = server.received("Originate")
    assert originate.getall("Variable") == ["A=1", "B=2"]


async def test_replies_with_foreign_action_ids_are_yielded_but_our_own_are_not(
    server: ScriptedAMI, make_config: MakeConfig
) -> None:
    async def with_stranger(peer: AMIPeer, msg: Message) -> None:
        peer.send({"Response": "Success", "ActionID": "someone-else-7", "Message": "x"})
        peer.reply(msg, Ping="Pong")
        peer.send({"Event": "Marker"})

    server.handlers["ping"] = with_stranger
    async with AMIClient(make_config()) as ami:
        batches = ami.raw_batches()
        await ami.send_action("Ping")
        frames: list[bytes] = []
        async with asyncio.timeout(5):
            async for item in batches:
                assert isinstance(item, FrameBatch)
                frames += item.frames
                if frames[-1] == b"Event: Marker":
                    break
    assert any(b"someone-else-7" in f for f in frames)
    assert not any(b"Ping: Pong" in f for f in frames)
    assert not any(b"Authentication accepted" in f for f in frames)
