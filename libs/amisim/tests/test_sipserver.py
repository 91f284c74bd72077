"""The simulator's SIP presence server through cbsip's own user agent on real UDP sockets:
subscribe (with digest), NOTIFYs following a simulated call, refresh, unsubscribe, bounds."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amisim import Simulator
from amisim.channels import ChannelTable
from amisim.sipserver import PresenceServer
from cbsip import (
    Credentials,
    Endpoint,
    Headers,
    Notification,
    Request,
    Response,
    Subscription,
    SubscriptionRefused,
    UserAgent,
    parse,
    parse_dialog_info,
    parse_pidf,
)


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def agent(sim: Simulator, password: str | None = None) -> AsyncIterator[UserAgent]:
    ep = Endpoint("127.0.0.1", sim.sip_port, "udp", timeout_s=2.0)
    creds = Credentials("watcher", password) if password is not None else None
    try:
        yield UserAgent(ep, user="watcher", domain="127.0.0.1", credentials=creds)
    finally:
        await ep.close()


@contextlib.asynccontextmanager
async def subscribed(
    ua: UserAgent, ext: str, event: str, got: list[Notification]
) -> AsyncIterator[Subscription]:
    media = "application/dialog-info+xml" if event == "dialog" else "application/pidf+xml"
    sub = Subscription(ua, ext, event, (media,), got.append, expires=600)
    task = asyncio.create_task(sub.run())
    try:
        await until(lambda: sub.established and bool(got))
        yield sub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, SubscriptionRefused):
            await task


async def raw_subscribe(ua: UserAgent, ext: str, event: str, expires: int) -> tuple[int, Headers]:
    """One SUBSCRIBE outside a Subscription (which would retry a 401 or a 503)."""
    req = Request("SUBSCRIBE", f"sip:{ext}@127.0.0.1", Headers())
    ua._base_headers(req.headers, f"cid-{ext}-{expires}", "t1", f"<sip:{ext}@127.0.0.1>",
                     "SUBSCRIBE")  # fmt: skip
    req.headers.add("Event", event)
    req.headers.add("Expires", str(expires))
    req.headers.add("Contact", f"<{ua.endpoint.contact_uri('watcher')}>")
    await ua.endpoint.connect()
    resp = await ua.send(req)
    return resp.status, resp.headers


def states(got: list[Notification]) -> list[str]:
    out = []
    for n in got:
        dialogs = parse_dialog_info(n.body).dialogs
        out.append(dialogs[0].state if dialogs else "")
    return out


async def test_dialog_notifies_follow_a_call_ringing_answered_hung_up() -> None:
    sim = Simulator(speed=0, sip_port=0, sip_credentials=Credentials("watcher", "pw"))
    async with sim, agent(sim, "pw") as ua:
        got: list[Notification] = []
        async with subscribed(ua, "101", "dialog", got):
            assert states(got) == ["terminated"]  # idle
            call = sim.pbx.start_call(
                "inbound_answered", {"ext1": "101", "phone": "79161234567"},
                pause_before="BridgeEnter",
            )  # fmt: skip
            await call.paused.wait()
            # ringing then answered (the Newstate Up came before the pause)
            assert "early" in states(got)
            ringing = parse_dialog_info(got[states(got).index("early")].body).dialogs[0]
            assert ringing.remote == "sip:79161234567@127.0.0.1"
            assert ringing.direction == "recipient"
            assert states(got)[-1] == "confirmed"
            call.resume()
            await call.wait()
            await until(lambda: states(got)[-1] == "terminated")
            versions = [parse_dialog_info(n.body).version for n in got]
            assert versions == sorted(versions)
            assert len(set(versions)) == len(versions)
            assert all(n.state.state == "active" for n in got)


async def test_presence_is_open_and_on_the_phone_while_talking() -> None:
    async with Simulator(speed=0, sip_port=0) as sim, agent(sim) as ua:
        got: list[Notification] = []
        async with subscribed(ua, "100", "presence", got):
            first = parse_pidf(got[0].body)
            assert (first.basic, first.activities, first.presence_type) == ("open", (), "not_set")
            call = sim.pbx.start_call("inbound_answered", {"ext1": "100"},
                                      pause_before="HangupRequest")  # fmt: skip
            await call.paused.wait()
            await until(lambda: "on-the-phone" in parse_pidf(got[-1].body).activities)
            call.resume()
            await call.wait()
            await until(lambda: parse_pidf(got[-1].body).activities == ())


async def test_wrong_password_unknown_extension_and_bad_event_are_refused() -> None:
    sim = Simulator(speed=0, sip_port=0, sip_credentials=Credentials("watcher", "pw"))
    async with sim:
        async with agent(sim, "wrong") as ua:
            assert (await raw_subscribe(ua, "101", "dialog", 600))[0] == 401
        async with agent(sim, "pw") as ua:
            assert (await raw_subscribe(ua, "101", "dialog", 600))[0] == 200
        assert sim.presence is not None
        assert len(sim.presence.subs) == 1
        sim.presence.subs.clear()
        for ext, event, password, status in [
            ("999", "dialog", "pw", 404),
            ("101", "message-summary", "pw", 489),
        ]:
            async with agent(sim, password) as ua:
                sub = Subscription(ua, ext, event, ("application/x",), lambda n: None)
                with pytest.raises(SubscriptionRefused) as refused:
                    await asyncio.wait_for(sub.run(), 10)
                assert refused.value.status == status
        assert sim.presence is not None
        assert not sim.presence.subs


async def test_unsubscribe_gets_a_terminated_notify_and_short_expiry_423() -> None:
    async with Simulator(speed=0, sip_port=0) as sim, agent(sim) as ua:
        assert sim.presence is not None
        got: list[Notification] = []
        sub = Subscription(ua, "102", "dialog", ("application/dialog-info+xml",), got.append)
        task = asyncio.create_task(sub.run())
        await until(lambda: sub.established and bool(got))
        subs = sim.presence.subs
        assert len(subs) == 1
        task.cancel()  # the subscription unsubscribes (Expires: 0) as it stops
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await until(lambda: not subs)
        assert sim.presence.notifies_sent >= 2  # the first state and the terminated one
        status, headers = await raw_subscribe(ua, "102", "dialog", 5)
        assert (status, headers.get("Min-Expires")) == (423, "60")


async def test_subscriptions_are_bounded() -> None:
    async with Simulator(speed=0, sip_port=0) as sim, agent(sim) as ua:
        assert sim.presence is not None
        sim.presence.max_subscriptions = 1
        got: list[Notification] = []
        async with subscribed(ua, "100", "dialog", got):
            assert (await raw_subscribe(ua, "101", "dialog", 600))[0] == 503


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda expires, event, to: (
                f"SUBSCRIBE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9\r\n"
                f"From: <sip:w@127.0.0.1>;tag=a\r\nTo: {to}\r\nCall-ID: x\r\nCSeq: 1 SUBSCRIBE\r\n"
                f"Event: {event}\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            st.text("0123456789-x ", max_size=12),
            st.sampled_from(["dialog", "presence", "x", ""]),
            st.sampled_from(["<sip:101@127.0.0.1>", "<sip:101@h>;tag=zz", "garbage<", ""]),
        ),
    )
)
def test_any_datagram_is_answered_or_dropped_never_raises(data: bytes) -> None:
    server = Recording(ChannelTable(), ["101"])
    server.datagram_received(data, ("127.0.0.1", 9))
    assert len(server.subs) <= 1
    for payload in server.sent:
        message = parse(payload)  # what it sends parses back
        assert isinstance(message, Response) or message.method == "NOTIFY"
    if server.subs:
        assert parse(server.sent[0]).start_line() == "SIP/2.0 200 OK"


class Recording(PresenceServer):
    """The server's logic without a socket: what it would send is kept."""

    def __init__(self, table: ChannelTable, extensions: list[str]) -> None:
        super().__init__(table, extensions)
        self.sent: list[bytes] = []

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)


async def test_a_refresh_in_the_dialog_extends_it_and_gets_a_notify() -> None:
    async with Simulator(speed=0, sip_port=0) as sim, agent(sim) as ua:
        assert sim.presence is not None
        status, headers = await raw_subscribe(ua, "101", "presence", 120)
        assert status == 200
        (sub,) = sim.presence.subs.values()
        first_expiry, sent = sub.expires_at, sim.presence.notifies_sent
        req = Request("SUBSCRIBE", "sip:101@127.0.0.1", Headers())
        ua._base_headers(req.headers, sub.call_id, "t1", headers.get("To"), "SUBSCRIBE")
        req.headers.add("Event", "presence")
        req.headers.add("Expires", "600")
        resp = await ua.send(req)
        assert (resp.status, resp.headers.get("Expires")) == (200, "600")
        assert list(sim.presence.subs.values()) == [sub]  # the same subscription
        assert sub.expires_at > first_expiry
        assert sim.presence.notifies_sent == sent + 1
        assert sub.version == 2
        # A refresh of a dialog the server does not know: 481.
        req.headers.set("Call-ID", "no-such-dialog")
        assert (await ua.send(req)).status == 481


async def test_a_held_call_is_a_confirmed_dialog_with_the_local_target_not_rendering() -> None:
    async with Simulator(speed=0, sip_port=0) as sim, agent(sim) as ua:
        got: list[Notification] = []
        async with subscribed(ua, "101", "dialog", got):
            call = sim.pbx.start_call("hold", {"ext1": "101"}, pause_before="Unhold")
            await call.paused.wait()
            await until(lambda: parse_dialog_info(got[-1].body).dialogs[0].held)
            assert parse_dialog_info(got[-1].body).dialogs[0].state == "confirmed"
            call.resume()
            await call.wait()
            await until(lambda: states(got)[-1] == "terminated")
            held = [parse_dialog_info(n.body).dialogs[0].held for n in got]
            assert held.index(True) > 0  # talking first, then held
            assert held[-2] is False  # back to talking (Unhold) before the hang-up
