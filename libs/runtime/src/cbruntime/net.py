"""Listening sockets for our HTTP servers (uvicorn started on a socket we made).

The protocol is named (``IPPROTO_TCP``): asyncio turns Nagle's algorithm off only on sockets
whose ``proto`` says TCP, and with ``proto=0`` every small HTTP response waits ~40 ms for the
client's delayed ACK (found by bench/gateway.py: 44 ms -> 1 ms per route lookup).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence

__all__ = ["Network", "address_allowed", "listen_socket", "parse_networks"]


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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "127.0.0.1"]`` -> networks; a clear ValueError for a bad entry."""
    out: list[Network] = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network (CIDR): {cidr!r}") from None
    return tuple(out)


def address_allowed(host: str | None, networks: Sequence[Network]) -> bool:
    """Whether the peer address ``host`` is in one of ``networks`` (an IPv4-mapped IPv6
    address, as a dual-stack socket reports IPv4 peers, counts as its IPv4 address)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in n for n in networks)
