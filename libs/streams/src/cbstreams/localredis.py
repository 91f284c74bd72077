"""A private ``redis-server`` for tests, benchmarks and the embedded default.

Started in a temporary directory, on a unix socket (and optionally a free TCP port on
127.0.0.1), with persistence off. Ready means PING answers under a deadline.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

__all__ = [
    "LocalRedisError",
    "RedisProcess",
    "free_port",
    "local_redis_server",
    "redis_process",
    "wait_for_ping",
]

PING_DEADLINE_S = 10.0


class LocalRedisError(RuntimeError):
    """redis-server is missing or did not become ready."""


def wait_for_ping(url: str, deadline_s: float = PING_DEADLINE_S) -> None:
    """Return once Redis at ``url`` answers PING; LocalRedisError after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            with redis.Redis.from_url(url, socket_timeout=1) as client:
                if client.ping():
                    return
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.02)  # polling a condition under a deadline
    raise LocalRedisError(f"Redis at {url} did not answer PING within {deadline_s}s: {last}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def local_redis_server(*, tcp: bool = False) -> Iterator[str]:
    """Start a private redis-server; yield its URL (``unix://…`` or ``redis://127.0.0.1:P``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise LocalRedisError("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="cb-redis-") as tmp:
        sock = Path(tmp) / "redis.sock"
        port = _free_port() if tcp else 0
        argv = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tmp,
        ]
        # Its own session: a Ctrl-C meant for us must not stop Redis before our services are done.
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        url = f"redis://127.0.0.1:{port}/0" if tcp else f"unix://{sock}"
        try:
            wait_for_ping(url)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class RedisProcess:
    """A private redis-server that can be stopped and started again on the same port and data
    directory, with an append-only file (``appendfsync`` as given), so that what it
    acknowledged survives a restart: the outage tests' Redis. ``start()`` returns once PING
    answers; ``stop()`` ends it (SIGTERM: it writes its AOF and exits) or ``kill()`` (SIGKILL).
    """

    def __init__(self, directory: Path, *, port: int | None = None, fsync: str = "everysec"):
        self.directory = directory
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.fsync = fsync
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LocalRedisError("redis-server is not installed (apt-get install redis-server)")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", self.fsync,
                "--dir", str(self.directory)]  # fmt: skip
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for_ping(self.url)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wipe(self) -> None:
        """Delete the (stopped) server's data files: the next start is an empty Redis, as
        after losing its data."""
        assert not self.running, "stop the server first"  # noqa: S101
        for path in self.directory.iterdir():
            if path.name.startswith(("appendonly", "dump")):
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def redis_process(*, fsync: str = "everysec", start: bool = True) -> Iterator[RedisProcess]:
    """A :class:`RedisProcess` in a temporary directory, stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="cb-redis-aof-") as tmp:
        server = RedisProcess(Path(tmp), fsync=fsync)
        if start:
            server.start()
        try:
            yield server
        finally:
            server.stop()
