"""FastAGI exposure and input bounds (#12 row 10), over real sockets on 127.0.0.1: the
allow-list, the default bind, oversized lines / environments, idle sockets that must not lock
out real calls, the calls cap; and the memory bound of a process flooded with oversized
lines (a real server process, its peak RSS read from /proc)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from voice_bot.agi import AgiChannel
from voice_bot.server import FastAgiServer, Limits
from voice_bot.settings import VoiceBotSettings
from voice_bot.testing import AgiPeer


@asynccontextmanager
async def serving(server: FastAgiServer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(stop))
        await server.ready.wait()
        try:
            yield
        finally:
            stop.set()


pytestmark = pytest.mark.timeout(45)


class Calls:
    def __init__(self) -> None:
        self.n = 0

    async def __call__(self, agi: AgiChannel) -> None:
        self.n += 1
        await agi.command("NOOP")


async def closed_by_server(reader: asyncio.StreamReader, deadline_s: float = 5.0) -> bytes:
    """Everything the server sent until it closed the socket (a reset counts as closed)."""
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(deadline_s):
            return await reader.read()
    return b""


def test_defaults_bind_loopback_and_allow_only_loopback() -> None:
    s = VoiceBotSettings()
    assert s.host == "127.0.0.1"
    assert s.allow_from == ("127.0.0.1", "::1")


async def test_an_address_outside_allow_from_gets_nothing_and_runs_no_dialog() -> None:
    calls = Calls()
    server = FastAgiServer(calls, port=0, allow_from=["10.99.0.0/16"])
    async with serving(server):
        peer = AgiPeer("127.0.0.1", server.port)
        assert await peer.run() == []
        assert peer.closed_by_server
    assert (calls.n, server.refused) == (0, 1)

    allowed = FastAgiServer(calls, port=0, allow_from=["10.99.0.0/16", "127.0.0.0/8"])
    async with serving(allowed):
        assert [c.name for c in await AgiPeer("127.0.0.1", allowed.port).run()] == ["NOOP"]
    assert calls.n == 1


@pytest.mark.parametrize(
    ("what", "payload"),
    [
        ("a line over max_line_bytes", b"agi_network: yes\nagi_x: " + b"a" * 60_000 + b"\n"),
        ("more than max_env_lines", b"".join(b"agi_v%d: 1\n" % i for i in range(300))),
        (
            "more than max_env_bytes",
            b"".join(b"agi_v%d: " % i + b"b" * 4000 + b"\n" for i in range(12)),
        ),
        ("the same key repeated", b"agi_v: x\n" * 300),
    ],
)
async def test_an_oversized_environment_is_refused(what: str, payload: bytes) -> None:
    calls = Calls()
    limits = Limits(max_line_bytes=8192, max_env_lines=200, max_env_bytes=32_768)
    server = FastAgiServer(calls, port=0, limits=limits)
    async with serving(server):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(payload + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        assert await closed_by_server(reader) == b"", what
        writer.close()
        # the server is still there for a real call
        assert [c.name for c in await AgiPeer("127.0.0.1", server.port).run()] == ["NOOP"]
    assert calls.n == 1
    assert server.refused == 1


async def test_idle_sockets_cannot_lock_out_a_real_call() -> None:
    calls = Calls()
    # an environment timeout far beyond the test: only eviction can make room
    server = FastAgiServer(calls, port=0, env_timeout_s=60, limits=Limits(max_pending=4))
    async with serving(server):
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(40)]
        peer = AgiPeer("127.0.0.1", server.port)
        assert [c.name for c in await peer.run()] == ["NOOP"]
        # the idle sockets were dropped, oldest first: all but the newest ones are closed
        for reader, _ in idle[:-4]:
            assert await closed_by_server(reader) == b""
        assert server.pending <= 4
        for _, writer in idle:
            writer.close()
    assert calls.n == 1
    assert server.refused >= 36


async def test_calls_beyond_max_calls_are_refused_and_the_slot_comes_back() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def hold(agi: AgiChannel) -> None:
        entered.set()
        await release.wait()
        await agi.command("NOOP")

    server = FastAgiServer(hold, port=0, max_calls=1)
    async with serving(server):
        first = asyncio.create_task(AgiPeer("127.0.0.1", server.port).run())
        await entered.wait()
        assert await AgiPeer("127.0.0.1", server.port).run() == []  # refused, closed
        release.set()
        assert [c.name for c in await first] == ["NOOP"]
        assert [c.name for c in await AgiPeer("127.0.0.1", server.port).run()] == ["NOOP"]
    assert server.refused == 1


_SERVER = """
import asyncio, sys
from voice_bot.server import FastAgiServer

async def handler(agi):
    await agi.command("NOOP")

async def main():
    server = FastAgiServer(handler, port=0, env_timeout_s=30)
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop))
    await server.ready.wait()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    await task

asyncio.run(main())
"""

MEMORY_BOUND_MB = 40  # growth of peak RSS allowed while 24 MB of oversized lines are refused


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_memory_stays_bounded_while_oversized_lines_are_refused() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            port = int(await proc.stdout.readline())
        # warm up: one real call, so the baseline includes what a call allocates
        assert [c.name for c in await AgiPeer("127.0.0.1", port).run()] == ["NOOP"]
        before = _peak_rss_mb(proc.pid)
        line = b"agi_x: " + b"z" * 60_000 + b"\n"

        async def flood() -> int:
            sent = 0
            # each connection is dropped at its first oversized line; keep reconnecting
            while sent < 1_000_000:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                try:
                    for _ in range(100):
                        writer.write(line)
                        await writer.drain()
                        sent += len(line)
                except ConnectionError:
                    pass
                finally:
                    writer.close()
            return sent

        sent = sum(await asyncio.gather(*(flood() for _ in range(24))))
        assert sent >= 24_000_000
        after = _peak_rss_mb(proc.pid)
        assert after - before < MEMORY_BOUND_MB, (before, after)
        # and it still serves a real call
        assert [c.name for c in await AgiPeer("127.0.0.1", port).run()] == ["NOOP"]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
