"""Listening sockets for our HTTP servers (uvicorn started on a socket we made).

The protocol is named (``IPPROTO_TCP``): asyncio turns Nagle's algorithm off only on sockets
whose ``proto`` says TCP, and with ``proto=0`` every small HTTP response waits ~40 ms for the
client's delayed ACK (found by bench/gateway.py: 44 ms -> 1 ms per route lookup).
"""

from __future__ import annotations

import socket

__all__ = ["listen_socket"]


def listen_socket(host: str, port: int = 0) -> socket.socket:
    """A bound TCP socket on ``host:port`` (0: a free port), SO_REUSEADDR set."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
