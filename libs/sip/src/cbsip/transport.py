"""One SIP connection to one server over UDP, TCP or TLS, with non-INVITE client
transactions (RFC 3261 §17.1.2: retransmission on UDP every T1 doubling to T2, a final
timeout) and a handler for requests the server sends us (NOTIFY, OPTIONS).

Every byte a peer sends is parsed under `Limits`; a malformed datagram is dropped (and
counted), a malformed stream closes the connection. A lost TCP/TLS connection fails the
transactions in flight with `ConnectionError`; the next request reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from .message import (
    DEFAULT_LIMITS,
    STREAM_LIMITS,
    Headers,
    Limits,
    Request,
    Response,
    SipMessage,
    SipParseError,
    StreamFramer,
    parse,
)

__all__ = ["Endpoint", "Transaction", "TransportName", "new_branch", "new_tag"]

log = logging.getLogger(__name__)

TransportName = Literal["udp", "tcp", "tls"]
RequestHandler = Callable[[Request], Awaitable[Response]]

T1 = 0.5
T2 = 4.0


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


@dataclass(slots=True)
class Transaction:
    branch: str
    method: str
    future: asyncio.Future[Response] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(slots=True)
class Counters:
    sent: int = 0
    received: int = 0
    malformed: int = 0
    retransmits: int = 0


def _close_opened(
    opening: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result()[1].close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.endpoint._received(data)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and the like
        log.debug("udp error from the SIP server: %s", exc)


class Endpoint:
    """A client connection to ``host:port``; `request` runs one transaction."""

    def __init__(
        self,
        host: str,
        port: int,
        transport: TransportName = "udp",
        *,
        local_host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        limits: Limits | None = None,
        on_request: RequestHandler | None = None,
        timeout_s: float = 8.0,
        user_agent: str = "callbridge-presence",
    ) -> None:
        self.host, self.port, self.transport = host, port, transport
        self.local_host = local_host
        self.ssl_context = ssl_context
        self.limits = limits or (DEFAULT_LIMITS if transport == "udp" else STREAM_LIMITS)
        self.on_request = on_request
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self.counters = Counters()
        self.local_port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[str, Transaction] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._closed = False

    # -- connection ---------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        if self.transport == "udp":
            return self._udp is not None
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        async with self._lock:
            if self._closed:
                raise ConnectionError("endpoint closed")
            if self.connected:
                return
            loop = asyncio.get_running_loop()
            if self.transport == "udp":
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self),
                    local_addr=(self.local_host, 0),
                    remote_addr=(self.host, self.port),
                )
                self._udp = udp
                self.local_port = udp.get_extra_info("sockname")[1]
                return
            ctx = self.ssl_context if self.transport == "tls" else None
            if self.transport == "tls" and ctx is None:
                ctx = ssl.create_default_context()
            opening = asyncio.ensure_future(
                asyncio.open_connection(
                    self.host, self.port, ssl=ctx, local_addr=(self.local_host, 0)
                )
            )
            try:
                reader, writer = await asyncio.shield(opening)
            except asyncio.CancelledError:
                # The connection may still complete: close it then, never leak it.
                opening.add_done_callback(_close_opened)
                raise
            if self._closed:
                writer.close()
                raise ConnectionError("endpoint closed")
            self._writer = writer
            self.local_port = writer.get_extra_info("sockname")[1]
            log.debug(
                "connected to %s:%s over %s from port %s",
                self.host,
                self.port,
                self.transport,
                self.local_port,
            )
            self._reader_task = asyncio.create_task(self._read_stream(reader, writer))

    async def _read_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        framer = StreamFramer(self.limits)
        try:
            while data := await reader.read(65_536):
                for frame in framer.feed(data):
                    self._received(frame)
        except SipParseError as exc:
            self.counters.malformed += 1
            log.warning(
                "SIP server %s:%s sent a malformed stream (%s); reconnecting",
                self.host,
                self.port,
                exc,
            )
        except (ConnectionError, OSError):
            pass
        finally:
            log.debug("connection to %s:%s closed", self.host, self.port)
            writer.close()
            if self._writer is writer:
                self._writer = None
            self._fail_pending(ConnectionError("SIP connection closed"))

    def _fail_pending(self, exc: Exception) -> None:
        for tx in self._pending.values():
            if not tx.future.done():
                tx.future.set_exception(exc)
        self._pending.clear()

    async def close(self) -> None:
        self._closed = True
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (OSError, TimeoutError, ssl.SSLError):
                # A TLS peer that never answers our close_notify: drop the socket now.
                writer.transport.abort()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
            self._reader_task = None
        for task in list(self._tasks):
            task.cancel()
        self._fail_pending(ConnectionError("endpoint closed"))

    # -- sending ------------------------------------------------------------------------
    def via(self, branch: str) -> str:
        sent_by = f"{self.local_host}:{self.local_port}"
        return f"SIP/2.0/{self.transport.upper()} {sent_by};branch={branch};rport"

    def contact_uri(self, user: str) -> str:
        scheme = "sips" if self.transport == "tls" else "sip"
        tp = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"{scheme}:{user}@{self.local_host}:{self.local_port}{tp}"

    def _send(self, data: bytes) -> None:
        self.counters.sent += 1
        if self.transport == "udp":
            if self._udp is None:
                raise ConnectionError("not connected")
            self._udp.sendto(data)
        else:
            if self._writer is None or self._writer.is_closing():
                raise ConnectionError("not connected")
            self._writer.write(data)

    async def request(self, req: Request) -> Response:
        """Send ``req`` (its top Via is set here) and return the final response.

        Raises TimeoutError when no final response came within ``timeout_s`` and
        ConnectionError when the connection could not be made or was lost.
        """
        await self.connect()
        branch = new_branch()
        req.headers.remove("via")
        headers = Headers([("Via", self.via(branch)), *req.headers])
        if headers.get("user-agent") is None:
            headers.add("User-Agent", self.user_agent)
        req.headers = headers
        tx = Transaction(branch, req.method)
        self._pending[branch] = tx
        data = req.encode()
        try:
            self._send(data)
            if self.transport != "udp":
                return await asyncio.wait_for(tx.future, self.timeout_s)
            return await self._udp_retransmit(tx, data)
        finally:
            self._pending.pop(branch, None)

    async def _udp_retransmit(self, tx: Transaction, data: bytes) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        interval = T1
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no answer to {tx.method} from {self.host}:{self.port}")
            done, _ = await asyncio.wait({tx.future}, timeout=min(interval, left))
            if done:
                return tx.future.result()
            self.counters.retransmits += 1
            self._send(data)
            interval = min(interval * 2, T2)

    def respond(self, req: Request, status: int, reason: str, extra: Headers | None = None) -> None:
        """Answer a request the server sent (RFC 3261 §8.2.6: Via, From, To, Call-ID, CSeq)."""
        headers = Headers()
        for name in ("via", "from", "to", "call-id", "cseq"):
            for value in req.headers.get_all(name):
                headers.add(name.title() if name != "call-id" else "Call-ID", value)
        if extra is not None:
            for n, v in extra:
                headers.add(n, v)
        headers.add("User-Agent", self.user_agent)
        try:
            self._send(Response(status, reason, headers).encode())
        except ConnectionError:
            log.debug("could not answer %s: not connected", req.method)

    # -- receiving ----------------------------------------------------------------------
    def _received(self, data: bytes) -> None:
        if data.strip(b"\r\n") == b"":
            return  # keepalive
        try:
            msg: SipMessage = parse(data, self.limits)
        except SipParseError as exc:
            self.counters.malformed += 1
            log.debug("dropped a malformed SIP message: %s", exc)
            return
        self.counters.received += 1
        if isinstance(msg, Response):
            self._response(msg)
        else:
            task = asyncio.create_task(self._request(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _response(self, resp: Response) -> None:
        via = resp.headers.get("via") or ""
        branch = ""
        for param in via.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "branch":
                branch = value.strip()
        tx = self._pending.get(branch)
        if tx is None or tx.future.done() or resp.status < 200:
            return
        cseq_method = (resp.headers.get("cseq") or "").partition(" ")[2].strip().upper()
        if cseq_method and cseq_method != tx.method:
            return
        tx.future.set_result(resp)

    async def _request(self, req: Request) -> None:
        if req.method == "ACK":
            return
        if self.on_request is None:
            self.respond(req, 405, "Method Not Allowed")
            return
        try:
            resp = await self.on_request(req)
        except Exception:  # a handler bug must not kill the connection
            log.exception("handling %s failed", req.method)
            self.respond(req, 500, "Server Internal Error")
            return
        self.respond(req, resp.status, resp.reason, resp.headers)
