"""The subscription state machine against a scripted SIP server on a real UDP socket: the
answers a PBX may give that the real Asterisk in test_live does not easily produce (407,
481 on refresh, terminated NOTIFYs with their reasons, 489), and TCP framing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest

from cbsip import (
    Credentials,
    Endpoint,
    Headers,
    NameAddr,
    Notification,
    Request,
    Response,
    StreamFramer,
    Subscription,
    SubscriptionRefused,
    UserAgent,
    parse,
)

Script = Callable[["Server", Request], Response | None]


class Server(asyncio.DatagramProtocol):
    """Answers each request with ``script(server, request)``; records what it got."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.got: list[Request] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.peer: tuple[str, int] | None = None
        self.notify_cseq = 100

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = parse(data)
        if isinstance(msg, Response):
            return
        self.got.append(msg)
        self.peer = addr
        resp = self.script(self, msg)
        if resp is not None:
            self.answer(msg, resp)

    def answer(self, req: Request, resp: Response) -> None:
        h = Headers()
        for name in ("Via", "From", "Call-ID", "CSeq"):
            h.add(name, req.headers.get(name) or "")
        to = req.headers.get("To") or ""
        h.add("To", to if ";tag=" in to else to + ";tag=srv")
        for n, v in resp.headers:
            h.add(n, v)
        assert self.transport is not None
        self.transport.sendto(Response(resp.status, resp.reason, h, resp.body).encode(), self.peer)

    def notify(self, sub: Request, state: str, body: bytes = b"", ctype: str = "") -> None:
        """A NOTIFY in the dialog of SUBSCRIBE ``sub``."""
        self.notify_cseq += 1
        h = Headers()
        h.add("Via", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKsrv" + str(self.notify_cseq))
        h.add("From", (sub.headers.get("To") or "").split(";tag=")[0] + ";tag=srv")
        h.add("To", sub.headers.get("From") or "")
        h.add("Call-ID", sub.headers.get("Call-ID") or "")
        h.add("CSeq", f"{self.notify_cseq} NOTIFY")
        h.add("Event", sub.headers.get("Event") or "")
        h.add("Subscription-State", state)
        if ctype:
            h.add("Content-Type", ctype)
        uri = NameAddr.parse(sub.headers.get("Contact") or "").uri
        assert self.transport is not None
        self.transport.sendto(Request("NOTIFY", uri, h, body).encode(), self.peer)

    def subscribes(self) -> list[Request]:
        return [r for r in self.got if r.method == "SUBSCRIBE"]


@contextlib.asynccontextmanager
async def server(script: Script) -> AsyncIterator[tuple[Server, UserAgent]]:
    loop = asyncio.get_running_loop()
    srv = Server(script)
    transport, _ = await loop.create_datagram_endpoint(lambda: srv, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    ep = Endpoint("127.0.0.1", port, "udp", timeout_s=2.0)
    ua = UserAgent(ep, user="w", domain="127.0.0.1", credentials=Credentials("w", "pw"))
    try:
        yield srv, ua
    finally:
        await ep.close()
        transport.close()


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def ok(expires: int = 600) -> Response:
    return Response(
        200, "OK", Headers([("Expires", str(expires)), ("Contact", "<sip:srv@127.0.0.1>")])
    )


@contextlib.asynccontextmanager
async def running(sub: Subscription) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(sub.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, SubscriptionRefused):
            await task


def noop(n: Notification) -> None:
    pass


async def test_a_proxy_challenge_is_answered_then_notifies_reach_the_subscription() -> None:
    def script(s: Server, r: Request) -> Response | None:
        if r.headers.get("Proxy-Authorization") is None and r.method == "SUBSCRIBE":
            challenge = 'Digest realm="r", nonce="n1", qop="auth"'
            headers = Headers([("Proxy-Authenticate", challenge)])
            return Response(407, "Proxy Authentication Required", headers)
        return ok()

    got: list[Notification] = []
    async with server(script) as (srv, ua):
        sub = Subscription(ua, "100", "dialog", ("application/dialog-info+xml",), got.append)
        async with running(sub):
            await until(lambda: sub.established)
            second = srv.subscribes()[1]
            assert 'username="w"' in (second.headers.get("Proxy-Authorization") or "")
            first_cseq = srv.subscribes()[0].headers.get("CSeq") or ""
            cseq = second.headers.get("CSeq") or ""
            assert int(cseq.split()[0]) == int(first_cseq.split()[0]) + 1
            srv.notify(second, "active;expires=600", b"<x/>", "application/dialog-info+xml")
            await until(lambda: len(got) == 1)
            assert got[0].body == b"<x/>"
            assert got[0].state.expires == 600


async def test_423_sets_the_interval_and_481_on_refresh_starts_a_new_dialog() -> None:
    def script(s: Server, r: Request) -> Response | None:
        n = len(s.subscribes())
        if n == 1:
            return Response(423, "Interval Too Brief", Headers([("Min-Expires", "2")]))
        if n == 3:  # the first refresh
            return Response(481, "Subscription does not exist")
        return ok(expires=int(r.headers.get("Expires") or "0"))

    async with server(script) as (srv, ua):
        sub = Subscription(ua, "100", "dialog", ("application/dialog-info+xml",), noop, expires=1)
        async with running(sub):
            await until(lambda: len(srv.subscribes()) >= 4, within=8)
        first, second, refresh, fresh = srv.subscribes()[:4]
        assert (first.headers.get("Expires"), second.headers.get("Expires")) == ("1", "2")
        assert refresh.headers.get("Call-ID") == second.headers.get("Call-ID")
        assert ";tag=" in (refresh.headers.get("To") or "")
        assert fresh.headers.get("Call-ID") != second.headers.get("Call-ID")
        assert ";tag=" not in (fresh.headers.get("To") or "")


@pytest.mark.parametrize(
    ("state", "earliest", "latest"),
    [
        ("terminated;reason=deactivated", 0.0, 1.0),
        ("terminated;reason=probation;retry-after=1", 0.9, 3.0),
    ],
)
async def test_a_terminated_notify_is_followed_by_a_new_subscription(
    state: str, earliest: float, latest: float
) -> None:
    async with server(lambda s, r: ok()) as (srv, ua):
        sub = Subscription(ua, "100", "dialog", ("application/dialog-info+xml",), noop)
        async with running(sub):
            await until(lambda: sub.established)
            first = srv.subscribes()[0]
            t0 = time.monotonic()
            srv.notify(first, state)
            await until(lambda: len(srv.subscribes()) == 2, within=latest + 1)
            waited = time.monotonic() - t0
            assert earliest <= waited <= latest
            assert srv.subscribes()[1].headers.get("Call-ID") != first.headers.get("Call-ID")


async def test_a_notify_for_an_unknown_dialog_gets_481() -> None:
    async with server(lambda s, r: ok()) as (srv, ua):
        sub = Subscription(ua, "100", "dialog", ("application/dialog-info+xml",), noop)
        async with running(sub):
            await until(lambda: sub.established)
            stranger = srv.subscribes()[0]
            stranger.headers.set("Call-ID", "not-ours")
            answers: list[int] = []
            original = srv.datagram_received

            def capture(data: bytes, addr: tuple[str, int]) -> None:
                msg = parse(data)
                if isinstance(msg, Response):
                    answers.append(msg.status)
                else:
                    original(data, addr)

            srv.datagram_received = capture  # type: ignore[method-assign]
            srv.notify(stranger, "active")
            await until(lambda: answers == [481])


async def test_489_is_permanent_for_that_subscription() -> None:
    async with server(lambda s, r: Response(489, "Bad Event")) as (_srv, ua):
        sub = Subscription(ua, "100", "nonsense", ("text/plain",), noop)
        with pytest.raises(SubscriptionRefused) as refused:
            await asyncio.wait_for(sub.run(), 5)
        assert refused.value.status == 489


async def test_an_unreachable_server_is_retried_with_backoff_then_subscribed() -> None:
    answering = asyncio.Event()

    def script(s: Server, r: Request) -> Response | None:
        return ok() if answering.is_set() else None  # silence: the transaction times out

    async with server(script) as (srv, ua):
        ua.endpoint.timeout_s = 0.3
        sub = Subscription(ua, "100", "dialog", ("application/dialog-info+xml",), noop)
        async with running(sub):
            await until(lambda: len({r.headers.get("Call-ID") for r in srv.subscribes()}) >= 2)
            answering.set()
            await until(lambda: sub.established, within=10)


def test_the_tcp_framer_cuts_back_to_back_messages() -> None:
    a = Request("NOTIFY", "sip:a@b", Headers([("Call-ID", "1")]), b"one").encode()
    b = Request("NOTIFY", "sip:a@b", Headers([("Call-ID", "2")]), b"two").encode()
    framer = StreamFramer()
    assert framer.feed(a + b[:10]) == [a]
    assert framer.feed(b[10:]) == [b]
