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

__all__ = ["LocalRedisError", "local_redis_server", "wait_for_ping"]

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
