"""The AudioSocket server over real sockets on 127.0.0.1, the client playing Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from voice_bot.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketServer,
    encode,
    read_message,
)

pytestmark = pytest.mark.timeout(30)


async def closed(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection (a reset counts)."""
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(5):
            return await reader.read() == b""
    return True


@contextlib.asynccontextmanager
async def serving(server: AudioSocketServer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(stop))
        await server.ready.wait()
        try:
            yield
        finally:
            stop.set()


async def test_audio_both_ways_dtmf_hangup_and_a_prompt_stopped_at_once() -> None:
    server = AudioSocketServer(port=0)
    async with serving(server):
        stream = server.expect()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode(KIND_UUID, stream.id.bytes))
        writer.write(encode(KIND_AUDIO, b"\1\0" * 160) + encode(KIND_DTMF, b"5"))
        await writer.drain()
        async with asyncio.timeout(5):
            await stream.connected.wait()
            assert await stream.frames.get() == b"\1\0" * 160
            assert await stream.dtmf.get() == "5"

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        playing = asyncio.create_task(stream.send_audio(b"\2\0" * 8000 * 3))  # 3 s
        first = await read_message(reader)
        assert (first.kind, len(first.payload)) == (KIND_AUDIO, 320)
        stream.stop_playing()  # barge-in
        played = await playing
        assert played < 0.5
        assert loop.time() - t0 < 1.0  # paced in real time, stopped at once

        writer.write(encode(KIND_HANGUP))
        await writer.drain()
        async with asyncio.timeout(5):
            await stream.closed.wait()
        writer.close()


async def test_unknown_uuids_and_addresses_outside_allow_from_are_closed() -> None:
    server = AudioSocketServer(port=0)
    async with serving(server):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode(KIND_UUID, b"\0" * 16))
        await writer.drain()
        assert await closed(reader)
        writer.close()
    assert server.refused == 1

    walled = AudioSocketServer(port=0, allow_from=["10.0.0.0/8"])
    async with serving(walled):
        stream = walled.expect()
        reader, writer = await asyncio.open_connection("127.0.0.1", walled.port)
        writer.write(encode(KIND_UUID, stream.id.bytes))
        await writer.drain()
        assert await closed(reader)
        writer.close()
        assert not stream.connected.is_set()
    assert walled.refused == 1


async def test_idle_sockets_cannot_keep_a_call_from_connecting() -> None:
    server = AudioSocketServer(port=0, uuid_timeout_s=60, max_pending=4)
    async with serving(server):
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
        stream = server.expect()
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode(KIND_UUID, stream.id.bytes))
        await writer.drain()
        async with asyncio.timeout(5):
            await stream.connected.wait()
        for reader, _ in idle[:-4]:  # the oldest idle ones were closed to make room
            assert await closed(reader)
        for _, w in idle:
            w.close()
        writer.close()
    assert server.refused >= 16
