"""The FastAGI server against a scripted Asterisk over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from voice_bot.agi import AgiChannel
from voice_bot.agiproto import Reply
from voice_bot.exceptions import (
    AgiCommandError,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiTimeout,
    AgiUsageError,
)
from voice_bot.server import FastAgiServer
from voice_bot.testing import AgiPeer, Command


@dataclass
class Seen:
    """What the handler saw: replies, the error that ended it, the env."""

    replies: list[Reply] = field(default_factory=list)
    error: BaseException | None = None
    script: str = ""
    args: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


def recording(
    body: Callable[[AgiChannel, Seen], Awaitable[None]], seen: Seen
) -> Callable[[AgiChannel], Awaitable[None]]:
    async def handler(agi: AgiChannel) -> None:
        seen.script, seen.args = agi.env.script, agi.env.args
        try:
            await body(agi, seen)
        except AgiError as exc:
            seen.error = exc
            raise
        finally:
            seen.done.set()

    return handler


@asynccontextmanager
async def serving(server: FastAgiServer) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(stop))
        await server.ready.wait()
        try:
            yield stop
        finally:
            stop.set()


def scripted(
    replies: dict[str, Sequence[str] | None],
) -> Callable[[Command], Awaitable[Sequence[str] | None]]:
    async def answer(cmd: Command) -> Sequence[str] | None:
        return replies.get(cmd.name, ["200 result=1"])

    return answer


async def test_env_commands_and_replies_round_trip() -> None:
    seen = Seen()

    async def body(agi: AgiChannel, s: Seen) -> None:
        s.replies.append(await agi.answer())
        s.replies.append(await agi.stream_file("/snd/hello world", "12"))
        s.replies.append(await agi.record_file("/rec/a", timeout_ms=3000, silence_s=2, beep=True))
        s.replies.append(await agi.set_variable("VOICEBOT_TRANSFER", "100"))
        assert await agi.get_variable("CALLERID(name)") == "Ivan K"

    server = FastAgiServer(recording(body, seen), port=0)
    async with serving(server):
        peer = AgiPeer("127.0.0.1", server.port, script="dialog?x=1", env={"agi_arg_1": "sales"})
        commands = await peer.run(scripted({
            "ANSWER": ["200 result=0"],
            "STREAM FILE": ["200 result=50 endpos=1200"],
            "RECORD FILE": ["200 result=0 (timeout) endpos=24000"],
            "GET VARIABLE": ["200 result=1 (Ivan K)"],
        }))  # fmt: skip
    assert [c.line for c in commands] == [
        "ANSWER",
        'STREAM FILE "/snd/hello world" 12',
        "RECORD FILE /rec/a wav # 3000 BEEP s=2",
        "SET VARIABLE VOICEBOT_TRANSFER 100",
        "GET VARIABLE CALLERID(name)",
    ]
    assert seen.replies[1].digit == "2"
    assert seen.replies[2] == Reply("0", "timeout", 24000)
    assert (seen.script, seen.args, seen.error) == ("dialog?x=1", ["sales"], None)
    assert peer.closed_by_server


async def test_hangup_in_the_middle_of_a_command_ends_the_call_cleanly() -> None:
    seen = Seen()

    async def body(agi: AgiChannel, s: Seen) -> None:
        s.replies.append(await agi.command("NOOP"))
        await agi.record_file("/rec/b")  # HANGUP arrives before its reply
        s.replies.append(await agi.command("NOOP"))  # never sent

    server = FastAgiServer(recording(body, seen), port=0)
    async with serving(server):
        peer = AgiPeer("127.0.0.1", server.port)
        commands = await peer.run(scripted({
            "NOOP": ["200 result=0"],
            "RECORD FILE": ["HANGUP", "200 result=-1 (hangup) endpos=3000"],
        }))  # fmt: skip
    assert [c.name for c in commands] == ["NOOP", "RECORD FILE"]
    assert isinstance(seen.error, AgiHangup)
    assert len(seen.replies) == 1


async def test_hangup_before_a_reply_that_still_succeeds_blocks_the_next_command() -> None:
    seen = Seen()

    async def body(agi: AgiChannel, s: Seen) -> None:
        s.replies.append(await agi.command("SET VARIABLE", "A", "1"))
        assert agi.hung_up
        await agi.stream_file("/snd/x")

    server = FastAgiServer(recording(body, seen), port=0)
    async with serving(server):
        commands = await AgiPeer("127.0.0.1", server.port).run(
            scripted({"SET VARIABLE": ["HANGUP", "200 result=1"]})
        )
    assert [c.name for c in commands] == ["SET VARIABLE"]
    assert seen.replies == [Reply("1")]
    assert isinstance(seen.error, AgiHangup)


async def test_a_peer_that_stops_answering_is_timed_out_and_the_socket_closed() -> None:
    seen = Seen()

    async def body(agi: AgiChannel, s: Seen) -> None:
        await agi.answer()
        await agi.command("NOOP")

    server = FastAgiServer(recording(body, seen), port=0, read_timeout_s=0.2)
    async with serving(server):
        peer = AgiPeer("127.0.0.1", server.port)
        await asyncio.wait_for(peer.run(scripted({"ANSWER": ["200 result=0"], "NOOP": None})), 5)
    assert isinstance(seen.error, AgiTimeout)
    assert peer.closed_by_server
    assert server.finished == 1


async def test_510_511_and_both_520_forms_raise_typed_errors() -> None:
    errors: list[AgiError] = []

    async def body(agi: AgiChannel, s: Seen) -> None:
        for cmd in ("FOO", "SAY NUMBER", "GET DATA", "STREAM FILE"):
            try:
                await agi.command(cmd)
            except AgiError as exc:
                errors.append(exc)

    server = FastAgiServer(recording(body, Seen()), port=0)
    usage = ["520-Invalid command syntax.  Proper usage follows:",
             "Usage: SAY NUMBER <number> <escape digits> [gender]",
             " Say a given number, returning early if any of the given DTMF digits",
             "520 End of proper usage."]  # fmt: skip
    async with serving(server):
        await AgiPeer("127.0.0.1", server.port).run(scripted({
            "FOO": ["510 Invalid or unknown command"],
            "SAY NUMBER": usage,
            "GET DATA": ["520 Invalid command syntax.  Proper usage not available."],
            "STREAM FILE": ["511 Command Not Permitted on a dead channel or intercept routine"],
        }))  # fmt: skip
    unknown, multi, single, dead = errors
    assert isinstance(unknown, AgiCommandError)
    assert (unknown.code, unknown.command) == (510, "FOO")
    assert isinstance(multi, AgiUsageError)
    assert multi.usage.startswith("Usage: SAY NUMBER")
    assert multi.usage.count("\n") == 1
    assert isinstance(single, AgiUsageError)
    assert single.usage == ""
    assert isinstance(dead, AgiDeadChannel)


async def test_a_peer_that_never_finishes_the_environment_is_dropped() -> None:
    server = FastAgiServer(recording(lambda a, s: asyncio.sleep(0), Seen()), port=0,
                           env_timeout_s=0.2)  # fmt: skip
    async with serving(server):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\nagi_channel: PJSIP/x\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
        await writer.wait_closed()


async def test_shutdown_lets_calls_finish_then_cancels_after_the_cap() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def body(agi: AgiChannel, s: Seen) -> None:
        started.set()
        await release.wait()
        await agi.command("VERBOSE", "bye", "1")

    seen = Seen()
    server = FastAgiServer(recording(body, seen), port=0, drain_s=5)
    async with asyncio.TaskGroup() as tg:
        stop = asyncio.Event()
        serve = tg.create_task(server.serve(stop))
        await server.ready.wait()
        peer = tg.create_task(AgiPeer("127.0.0.1", server.port).run())
        await started.wait()
        stop.set()
        await asyncio.sleep(0)
        assert not serve.done()  # waiting for the call
        release.set()
    assert [c.name for c in peer.result()] == ["VERBOSE"]
    assert seen.error is None

    entered = asyncio.Event()

    async def forever(agi: AgiChannel, s: Seen) -> None:
        entered.set()
        await asyncio.Event().wait()

    stuck = FastAgiServer(recording(forever, Seen()), port=0, drain_s=0.1)
    async with asyncio.TaskGroup() as tg:
        stop = asyncio.Event()
        tg.create_task(stuck.serve(stop))
        await stuck.ready.wait()
        peer = tg.create_task(AgiPeer("127.0.0.1", stuck.port).run())
        await entered.wait()
        stop.set()
    assert peer.result() == []
    assert stuck.finished == 1


pytestmark = pytest.mark.timeout(30)
