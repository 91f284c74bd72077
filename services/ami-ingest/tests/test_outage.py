"""Redis unreachable: frames are buffered, then the AMI client is no longer read
(backpressure, reported in metrics); once Redis is back every frame is published in order."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ami_ingest.testing import (
    SECRET,
    frames_of,
    read_until,
    running,
    settings_for,
    syncs,
    until,
)
from amisim import Capture, Simulator
from cbstreams import PbxKeys, connect
from cbstreams.localredis import wait_for_ping


class RedisProcess:
    """A redis-server on a unix socket with an append-only file, so data survives a restart."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.url = f"unix://{tmp / 'redis.sock'}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.tmp / "redis.sock"),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_ping(self.url)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextmanager
def redis_process() -> Iterator[RedisProcess]:
    with tempfile.TemporaryDirectory(prefix="cb-outage-") as tmp:
        server = RedisProcess(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.stop()


async def test_no_frame_is_lost_while_redis_is_down_and_backpressure_is_reported(
    load: Callable[[str], Capture],
) -> None:
    capture = load("attended_transfer_ami")
    want = capture.replayed_frames()
    keys = PbxKeys("main", prefix="outage:")
    with redis_process() as server:
        client = connect(server.url)
        async with Simulator(secret=SECRET, speed=0) as sim:
            settings = replace(settings_for(server.url, "outage:", sim), buffer_max_bytes=8192)
            async with running(settings) as service:
                await read_until(client, keys.ami, lambda e: bool(syncs(e)))
                server.stop()
                feed = asyncio.create_task(sim.replay(capture, chunks=True))
                blocked = service.metrics.backpressure.labels("main")
                await until(lambda: blocked._value.get() == 1.0)
                assert service.pbxs[0].buffer is not None
                assert service.pbxs[0].buffer.full
                await asyncio.to_thread(server.start)
                entries = await read_until(
                    client, keys.ami, lambda e: frames_of(e)[-1:] == want[-1:], timeout=30
                )
                await feed
                await until(lambda: blocked._value.get() == 0.0)
        await client.aclose()
    after_sync = next(i for i, (_, d) in enumerate(entries) if d[b"ev"] == b"callbridge.sync")
    assert frames_of(entries[after_sync + 1 :]) == want
    assert len({d[b"sess"] for _, d in entries}) == 1
