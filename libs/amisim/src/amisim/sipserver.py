"""The simulator's SIP presence server (UDP): what a PBX serves to BLF keys and to the
presence service, for the simulator's extensions and consistent with its calls.

It answers SUBSCRIBE for ``dialog`` (RFC 4235, ``application/dialog-info+xml``) and
``presence`` (RFC 3863, ``application/pidf+xml``), optionally behind digest auth, and
NOTIFYs every subscriber when an extension's line changes as the calls play: a channel of
the extension ringing is an ``early`` dialog with the caller as remote identity, any other
live state is ``confirmed``, none is ``terminated``. Every extension is registered (PIDF
``open``). The bodies follow the ones Asterisk 22 sends (``libs/sip/tests/bodies``).

Test and demo support: a service never imports it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from xml.sax.saxutils import escape, quoteattr

from cbsip import (
    Challenge,
    Credentials,
    Headers,
    NameAddr,
    Request,
    Response,
    SipParseError,
    answer,
    parse,
    uri_user,
)
from cbsip.message import parse_params

from .channels import ChannelTable

__all__ = ["LineState", "PresenceServer", "line_states"]

log = logging.getLogger("amisim.sip")

MEDIA = {"dialog": "application/dialog-info+xml", "presence": "application/pidf+xml"}
MIN_EXPIRES = 60
MAX_EXPIRES = 3600
#: Channel states Asterisk's device state counts as ringing (5 = Ringing); Down (0) is
#: not in use; every other live state is in use.
_RINGING, _DOWN = "5", "0"


@dataclass(frozen=True, slots=True)
class LineState:
    """One extension's line: ``idle``, ``ringing`` (with the caller), ``in_call`` or
    ``on_hold`` (every channel of it in a call is held)."""

    state: str = "idle"
    remote: str = ""


def line_states(table: ChannelTable, extensions: list[str]) -> dict[str, LineState]:
    """Each extension's line from the live channels (``PJSIP/101-…``, ``SIP/101-…``)."""
    wanted = set(extensions)
    out = {ext: LineState() for ext in extensions}
    for channel in table:
        tech, _, rest = channel.name.partition("/")
        ext = rest.rpartition("-")[0]
        if not tech or ext not in wanted:
            continue
        state = channel.fields.get("ChannelState", _DOWN)
        remote = channel.fields.get("ConnectedLineNum", "")
        remote = "" if remote == "<unknown>" else remote
        if state == _RINGING and out[ext].state == "idle":
            out[ext] = LineState("ringing", remote)
        elif state not in (_RINGING, _DOWN):
            held = channel.held and out[ext].state in ("idle", "ringing", "on_hold")
            out[ext] = LineState("on_hold" if held else "in_call", remote)
    return out


@dataclass(slots=True)
class _Sub:
    ext: str
    event: str
    call_id: str
    tag: str  # ours (the To tag)
    their_from: str  # the subscriber's From (with its tag): our NOTIFY's To
    our_to: str  # the subscriber's To with our tag: our NOTIFY's From
    addr: tuple[str, int]
    expires_at: float
    version: int = 0
    cseq: int = 0


class PresenceServer(asyncio.DatagramProtocol):
    """SUBSCRIBE/NOTIFY over UDP for ``extensions``; ``changed()`` after every emit."""

    def __init__(
        self,
        table: ChannelTable,
        extensions: list[str],
        *,
        credentials: Credentials | None = None,
        max_subscriptions: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.extensions = extensions
        self.credentials = credentials
        self.max_subscriptions = max_subscriptions
        self.clock = clock
        self.subs: dict[tuple[str, str], _Sub] = {}
        self.lines = line_states(table, extensions)
        self.notifies_sent = 0
        self.transport: asyncio.DatagramTransport | None = None
        self._nonces: set[str] = set()
        self.realm = "amisim"
        self._address = ("127.0.0.1", 0)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def address(self) -> tuple[str, int]:
        """Where the server listens (``127.0.0.1:0`` until started)."""
        return self._address

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        host, port = self.transport.get_extra_info("sockname")[:2]
        self._address = (str(host), int(port))

    # -- the PBX's side ---------------------------------------------------------------------
    def changed(self) -> None:
        """Recompute the lines; NOTIFY each subscriber of an extension that changed."""
        lines = line_states(self.table, self.extensions)
        moved = {ext for ext, line in lines.items() if self.lines.get(ext) != line}
        self.lines = lines
        if not moved:
            return
        now = self.clock()
        for key, sub in list(self.subs.items()):
            if sub.expires_at <= now:
                del self.subs[key]
            elif sub.ext in moved:
                self._notify(sub, f"active;expires={int(sub.expires_at - now)}")

    # -- requests ---------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse(data)
        except SipParseError as exc:
            log.debug("dropped a malformed SIP message from %s: %s", addr, exc)
            return
        if isinstance(msg, Response):
            return  # a subscriber's answer to a NOTIFY
        if msg.method == "OPTIONS":
            self._answer(
                msg, addr, Response(200, "OK", Headers([("Allow-Events", "dialog, presence")]))
            )
        elif msg.method == "SUBSCRIBE":
            self._subscribe(msg, addr)
        elif msg.method != "ACK":
            self._answer(msg, addr, Response(405, "Method Not Allowed"))

    def _subscribe(self, req: Request, addr: tuple[str, int]) -> None:
        if self.credentials is not None and not self._authorized(req):
            nonce = secrets.token_hex(8)
            self._nonces.add(nonce)
            challenge = f'Digest realm="{self.realm}", nonce="{nonce}", qop="auth"'
            self._answer(
                req, addr, Response(401, "Unauthorized", Headers([("WWW-Authenticate", challenge)]))
            )
            return
        event = (req.headers.get("event") or "").split(";")[0].strip().lower()
        if event not in MEDIA:
            self._answer(
                req,
                addr,
                Response(489, "Bad Event", Headers([("Allow-Events", "dialog, presence")])),
            )
            return
        expires_text = (req.headers.get("expires") or str(MAX_EXPIRES)).strip()
        if not expires_text.isdigit() or len(expires_text) > 9:
            self._answer(req, addr, Response(400, "Bad Expires"))
            return
        expires = min(int(expires_text), MAX_EXPIRES)
        if 0 < expires < MIN_EXPIRES:
            headers = Headers([("Min-Expires", str(MIN_EXPIRES))])
            self._answer(req, addr, Response(423, "Interval Too Brief", headers))
            return
        call_id = req.headers.get("call-id") or ""
        try:
            to = NameAddr.parse(req.headers.get("to") or "")
        except SipParseError:
            self._answer(req, addr, Response(400, "Bad To"))
            return
        sub = self.subs.get((call_id, to.tag or ""))
        if to.tag and sub is None:
            self._answer(req, addr, Response(481, "Subscription does not exist"))
            return
        if sub is None:
            ext = uri_user(req.uri)
            if ext not in self.lines:
                self._answer(req, addr, Response(404, "Not Found"))
                return
            if len(self.subs) >= self.max_subscriptions:
                self._answer(req, addr, Response(503, "Service Unavailable"))
                return
            tag = secrets.token_hex(6)
            sub = _Sub(ext, event, call_id, tag, req.headers.get("from") or "",
                       str(to.with_tag(tag)), addr, 0.0)  # fmt: skip
            self.subs[(call_id, tag)] = sub
        sub.expires_at = self.clock() + expires
        ok = Headers(
            [
                ("Expires", str(expires)),
                ("Contact", f"<sip:{sub.ext}@{self.address[0]}:{self.address[1]}>"),
            ]
        )
        self._answer(req, addr, Response(200, "OK", ok), to_tag=sub.tag)
        if expires == 0:
            del self.subs[(sub.call_id, sub.tag)]
            self._notify(sub, "terminated;reason=timeout")
        else:
            self._notify(sub, f"active;expires={expires}")

    def _authorized(self, req: Request) -> bool:
        value = req.headers.get("authorization") or ""
        if self.credentials is None or not value.lower().startswith("digest "):
            return False
        try:
            p = parse_params(value[7:])
        except SipParseError:
            return False
        nonce = p.get("nonce", "")
        if nonce not in self._nonces or p.get("username") != self.credentials.username:
            return False
        challenge = Challenge(realm=self.realm, nonce=nonce, qop=("auth",))
        try:
            nc = int(p.get("nc", "1"), 16)
        except ValueError:
            return False
        expected = answer(challenge, self.credentials, req.method, p.get("uri", ""),
                          nc=nc, cnonce=p.get("cnonce"))  # fmt: skip
        return secrets.compare_digest(
            parse_params(expected[7:]).get("response", ""), p.get("response", "")
        )

    def _answer(
        self, req: Request, addr: tuple[str, int], resp: Response, *, to_tag: str = ""
    ) -> None:
        h = Headers()
        for name in ("Via", "From", "Call-ID", "CSeq"):
            h.add(name, req.headers.get(name) or "")
        to = req.headers.get("to") or ""
        if ";tag=" not in to:
            to += f";tag={to_tag or secrets.token_hex(6)}"
        h.add("To", to)
        h.add("Server", "Asterisk PBX 22.0.0 (amisim)")
        for n, v in resp.headers:
            h.add(n, v)
        self._send(Response(resp.status, resp.reason, h, resp.body).encode(), addr)

    def _notify(self, sub: _Sub, state: str) -> None:
        sub.cseq += 1
        line = self.lines.get(sub.ext, LineState())
        host, port = self.address
        body = (dialog_info if sub.event == "dialog" else pidf)(sub.ext, host, line, sub.version)
        sub.version += 1
        h = Headers()
        h.add("Via", f"SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}")
        h.add("Max-Forwards", "70")
        h.add("From", sub.our_to)
        h.add("To", sub.their_from)
        h.add("Call-ID", sub.call_id)
        h.add("CSeq", f"{sub.cseq} NOTIFY")
        h.add("Contact", f"<sip:{sub.ext}@{host}:{port}>")
        h.add("Event", sub.event)
        h.add("Subscription-State", state)
        h.add("Content-Type", MEDIA[sub.event])
        uri = NameAddr.parse(sub.their_from).uri
        self._send(Request("NOTIFY", uri, h, body).encode(), sub.addr)
        self.notifies_sent += 1

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


def dialog_info(ext: str, host: str, line: LineState, version: int) -> bytes:
    """A full dialog-info document as Asterisk 22 sends it for a hint's extension."""
    entity = f"sip:{ext}@{host}"
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="urn:ietf:params:xml:'
        f'ns:dialog-info" version="{version}" state="full" entity={quoteattr(entity)}>\n'
    )
    if line.state == "idle":
        dialog = f' <dialog id="{escape(ext)}">\n  <state>terminated</state>\n </dialog>\n'
    elif line.state == "ringing":
        remote = f"sip:{line.remote}@{host}"
        dialog = (
            f' <dialog id="{escape(ext)}" direction="recipient">\n  <remote>\n'
            f"   <identity>{escape(remote)}</identity>\n   <target uri={quoteattr(remote)} />\n"
            f"  </remote>\n  <local>\n   <identity>{escape(entity)}</identity>\n"
            f"   <target uri={quoteattr(entity)} />\n  </local>\n"
            "  <state>early</state>\n </dialog>\n"
        )
    elif line.state == "on_hold":
        dialog = (
            f' <dialog id="{escape(ext)}">\n  <state>confirmed</state>\n  <local>\n'
            f"   <target uri={quoteattr(entity)}>\n"
            '    <param pname="+sip.rendering" pvalue="no" />\n   </target>\n  </local>\n'
            " </dialog>\n"
        )
    else:
        dialog = f' <dialog id="{escape(ext)}">\n  <state>confirmed</state>\n </dialog>\n'
    return (head + dialog + "</dialog-info>\n").encode()


def pidf(ext: str, host: str, line: LineState, version: int) -> bytes:
    """PIDF as Asterisk 22 sends it (with the Digium presence tuple); always registered."""
    del version  # PIDF carries none
    entity = f"sip:{ext}@{host}"
    note = {"idle": "Ready", "ringing": "Ringing", "on_hold": "On hold"}.get(
        line.state, "On the phone"
    )
    person = (
        " <dm:person>\n  <rpid:activities>\n   <rpid:on-the-phone />\n  </rpid:activities>\n"
        " </dm:person>\n"
        if line.state == "in_call"
        else " <dm:person />\n"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<presence entity={quoteattr(entity)} xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">\n'
        f' <note>{note}</note>\n <tuple id="{escape(ext)}">\n  <status>\n'
        "   <basic>open</basic>\n  </status>\n"
        f'  <contact priority="1">{escape(entity)}</contact>\n </tuple>\n{person}'
        ' <tuple id="digium-presence">\n  <status>\n   <digium_presence type="not_set" />\n'
        "  </status>\n </tuple>\n</presence>\n"
    ).encode()
