"""A private ``redis-server`` for tests, benchmarks and the embedded default.

Started in a temporary directory, on a unix socket (and optionally a free TCP port on
127.0.0.1), with persistence off. Ready means PING answers under a deadline.

:class:`RedisProcess` is one that outages can be made of (the chaos test, outage tests): a
fixed free TCP port, AOF (``appendfsync everysec``, as the suite needs in production), and
``stop()`` / ``kill()`` / ``start()`` keeping its data directory.
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
    """A private redis-server on a fixed free port of 127.0.0.1 whose data survives a
    restart (AOF, ``appendfsync`` ``everysec`` as the suite needs in production, or
    ``always``): ``start()``, ``stop()`` (SIGTERM: AOF flushed), ``kill()`` (SIGKILL),
    ``restart()``, ``wipe()`` (its data lost). ``url`` stays the same across restarts."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        aof: bool = True,
        fsync: str = "everysec",
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LocalRedisError("redis-server is not installed (apt-get install redis-server)")
        self._binary = binary
        self.directory = directory
        self.port = port or _free_port()
        self.aof, self.fsync = aof, fsync
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> None:
        if self.running:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.aof else "no", "--appendfsync", self.fsync,
                "--dir", str(self.directory)]  # fmt: skip
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for_ping(self.url, deadline_s=30.0)  # an AOF replay takes a moment

    def stop(self) -> None:
        """SIGTERM (Redis flushes the AOF) and wait."""
        self._end(kill=False)

    def kill(self) -> None:
        """SIGKILL: whatever the last second's fsync had not written is lost."""
        self._end(kill=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def wipe(self) -> None:
        """Delete the (stopped) server's data files: the next start is an empty Redis, as
        after losing its data."""
        if self.running:
            raise LocalRedisError("stop the server before wiping its data")
        for path in self.directory.iterdir():
            if path.name.startswith(("appendonly", "dump")):
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def _end(self, *, kill: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


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
