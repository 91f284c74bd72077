"""Subscriptions (RFC 6665): a user agent that keeps SUBSCRIBE dialogs alive.

`UserAgent` owns one `Endpoint`, answers the server's requests (NOTIFY routed to its
subscription by Call-ID and our tag, else 481; OPTIONS 200) and authenticates requests
(401/407, digest). `Subscription.run()` keeps one subscription established for as long
as it runs: it refreshes before expiry, follows 423 Interval Too Brief (Min-Expires),
starts a new dialog after 481 or a NOTIFY with ``Subscription-State: terminated``
(immediately for ``deactivated``/``timeout``, after ``retry-after`` or a jittered backoff
otherwise) and waits out an unreachable server with the same backoff. 404 and 489 are
permanent for the target: `run()` raises `SubscriptionRefused` so the owner can fall back
(e.g. from a resource list to one subscription per extension).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .address import NameAddr
from .auth import Challenge, Credentials, answer
from .message import Headers, Request, Response, SipParseError, parse_params
from .transport import Endpoint, new_tag

__all__ = [
    "Backoff",
    "Notification",
    "Subscription",
    "SubscriptionRefused",
    "SubscriptionState",
    "UserAgent",
]

log = logging.getLogger(__name__)
_jitter = random.SystemRandom()


class SubscriptionRefused(Exception):
    """The server will not accept this subscription as asked (404, 489, 403…)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    state: str  # active | pending | terminated
    expires: int | None = None
    reason: str = ""
    retry_after: int | None = None

    @classmethod
    def parse(cls, value: str) -> SubscriptionState:
        state, _, rest = value.partition(";")
        p = parse_params(rest)
        return cls(
            state=state.strip().lower(),
            expires=int(p["expires"]) if p.get("expires", "").isdigit() else None,
            reason=p.get("reason", "").lower(),
            retry_after=int(p["retry-after"]) if p.get("retry-after", "").isdigit() else None,
        )


@dataclass(frozen=True, slots=True)
class Notification:
    subscription: Subscription
    state: SubscriptionState
    content_type: str
    body: bytes
    request: Request


class Backoff:
    """Jittered exponential delays between ``first`` and ``cap`` seconds."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first, self.cap, self.n = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2**self.n)
        self.n = min(self.n + 1, 16)
        jittered: float = delay * _jitter.uniform(0.5, 1.0)
        return jittered

    def reset(self) -> None:
        self.n = 0


class UserAgent:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        user: str,
        domain: str,
        credentials: Credentials | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.user, self.domain, self.credentials = user, domain, credentials
        self._subs: dict[tuple[str, str], Subscription] = {}
        self._cseq = 0
        endpoint.on_request = self._on_request

    def uri(self, user: str) -> str:
        scheme = "sips" if self.endpoint.transport == "tls" else "sip"
        return f"{scheme}:{user}@{self.domain}"

    def new_cseq(self) -> int:
        self._cseq += 1
        return self._cseq

    async def send(self, req: Request) -> Response:
        """Send a request; answer up to two digest challenges (a second only if stale)."""
        cseq_no = int((req.headers.get("cseq") or "1").split()[0])
        for attempt in range(3):
            resp = await self.endpoint.request(req)
            if resp.status not in (401, 407) or self.credentials is None or attempt == 2:
                return resp
            header = "www-authenticate" if resp.status == 401 else "proxy-authenticate"
            value = resp.headers.get(header)
            if value is None:
                return resp
            try:
                challenge = Challenge.parse(value)
            except SipParseError as exc:
                log.warning("unusable auth challenge from %s: %s", self.endpoint.host, exc)
                return resp
            if attempt == 1 and not challenge.stale:
                return resp  # our credentials were refused
            cseq_no += 1
            req.headers.set("CSeq", f"{cseq_no} {req.method}")
            req.headers.set(
                "Authorization" if resp.status == 401 else "Proxy-Authorization",
                answer(challenge, self.credentials, req.method, req.uri),
            )
        return resp

    async def ping(self) -> bool:
        """OPTIONS to the server: True when it answers (any final response)."""
        req = Request("OPTIONS", f"sip:{self.domain}", Headers())
        tag = new_tag()
        self._base_headers(req.headers, secrets.token_hex(10), tag, None, "OPTIONS")
        try:
            await self.endpoint.request(req)
        except (TimeoutError, ConnectionError, OSError):
            return False
        return True

    def _base_headers(
        self, h: Headers, call_id: str, tag: str, to: str | None, method: str
    ) -> None:
        h.add("Max-Forwards", "70")
        h.add("From", str(NameAddr(self.uri(self.user)).with_tag(tag)))
        h.add("To", to or f"<sip:{self.domain}>")
        h.add("Call-ID", call_id)
        h.add("CSeq", f"{self.new_cseq()} {method}")

    def register(self, sub: Subscription) -> None:
        self._subs[(sub.call_id, sub.local_tag)] = sub

    def forget(self, sub: Subscription) -> None:
        self._subs.pop((sub.call_id, sub.local_tag), None)

    async def _on_request(self, req: Request) -> Response:
        if req.method == "OPTIONS":
            return Response(200, "OK", Headers([("Accept", "application/sdp")]))
        if req.method != "NOTIFY":
            return Response(501, "Not Implemented")
        call_id = req.headers.get("call-id") or ""
        try:
            to_tag = NameAddr.parse(req.headers.get("to") or "").tag or ""
            from_addr = NameAddr.parse(req.headers.get("from") or "")
            state = SubscriptionState.parse(req.headers.get("subscription-state") or "")
        except SipParseError:
            return Response(400, "Bad Request")
        sub = self._subs.get((call_id, to_tag))
        if sub is None:
            return Response(481, "Subscription does not exist")
        sub.notified(req, from_addr, state)
        return Response(200, "OK")


class Subscription:
    """One subscription to ``target`` (an extension, or a resource list with eventlist)."""

    def __init__(
        self,
        ua: UserAgent,
        target: str,
        event: str,
        accept: tuple[str, ...],
        on_notify: Callable[[Notification], None],
        *,
        expires: int = 600,
        eventlist: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        self.ua, self.target, self.event, self.accept = ua, target, event, accept
        self.on_notify = on_notify
        self.expires = expires
        self.eventlist = eventlist
        self.backoff = backoff or Backoff()
        self.established = False
        #: Set by the first NOTIFY of this subscription.
        self.heard = asyncio.Event()
        self._wake = asyncio.Event()
        self._retry_in: float | None = None
        self._closing = False
        self.call_id = self.local_tag = ""
        self._new_dialog()

    def _new_dialog(self) -> None:
        self.ua.forget(self)
        self.call_id = secrets.token_hex(12)
        self.local_tag = new_tag()
        self.remote_tag = ""
        self.remote_target = ""
        self.route: list[str] = []
        self.established = False
        self.ua.register(self)

    def resubscribe(self) -> None:
        """Start a new dialog now (e.g. the server was seen restarting)."""
        self._new_dialog()
        self._retry_in = 0.0
        self._wake.set()

    def notified(self, req: Request, sender: NameAddr, state: SubscriptionState) -> None:
        self.heard.set()
        if not self.remote_tag and sender.tag:
            self.remote_tag = sender.tag
        contact = req.headers.get("contact")
        if contact and not self.remote_target:
            with contextlib.suppress(SipParseError):
                self.remote_target = NameAddr.parse(contact).uri
        if state.state == "terminated" and not self._closing:
            self._terminated(state)
        content_type = (req.headers.get("content-type") or "").strip()
        self.on_notify(Notification(self, state, content_type, req.body, req))

    def _terminated(self, state: SubscriptionState) -> None:
        self._new_dialog()
        if state.reason in ("deactivated", "timeout", ""):
            self._retry_in = 0.0
        elif state.retry_after is not None:
            self._retry_in = float(state.retry_after)
        else:
            self._retry_in = self.backoff.next()
        log.info(
            "subscription to %s (%s) terminated by the server (%s); again in %.1f s",
            self.target,
            self.event,
            state.reason or "no reason",
            self._retry_in,
        )
        self._wake.set()

    def _request(self, expires: int) -> Request:
        to_uri = self.ua.uri(self.target)
        uri = self.remote_target or to_uri
        h = Headers()
        to = str(NameAddr(to_uri).with_tag(self.remote_tag)) if self.remote_tag else f"<{to_uri}>"
        for r in self.route:
            h.add("Route", r)
        self.ua._base_headers(h, self.call_id, self.local_tag, to, "SUBSCRIBE")
        h.add("Contact", f"<{self.ua.endpoint.contact_uri(self.ua.user)}>")
        h.add("Event", self.event)
        h.add("Accept", ", ".join(self.accept))
        h.add("Expires", str(expires))
        if self.eventlist:
            h.add("Supported", "eventlist")
        return Request("SUBSCRIBE", uri, h)

    async def _once(self) -> float:
        """One SUBSCRIBE (initial or refresh); the seconds until the next one."""
        await self.ua.endpoint.connect()  # the Contact names our bound port
        resp = await self.ua.send(self._request(self.expires))
        if 200 <= resp.status < 300:
            granted = resp.headers.get("expires")
            expires = int(granted) if granted and granted.isdigit() else self.expires
            if not self.established:
                self.established = True
                to_tag = NameAddr.parse(resp.headers.get("to") or "").tag
                if to_tag:
                    self.remote_tag = to_tag
                contact = resp.headers.get("contact")
                if contact:
                    self.remote_target = NameAddr.parse(contact).uri
                self.route = list(reversed(resp.headers.get_all("record-route")))
            self.backoff.reset()
            # Refresh well before expiry (RFC 6665 §4.1.2.1 leaves the margin to us).
            return max(1.0, min(expires * 0.8, expires - 10))
        if resp.status == 423:
            min_expires = resp.headers.get("min-expires") or ""
            if min_expires.isdigit():
                self.expires = int(min_expires)
                return 0.0
        if resp.status == 481:
            self._new_dialog()
            return 0.0
        if resp.status in (403, 404, 489):
            raise SubscriptionRefused(resp.status, resp.reason)
        retry = resp.headers.get("retry-after") or ""
        delay = float(retry.split(";")[0]) if retry.split(";")[0].strip().isdigit() else 0.0
        if self.established:
            self._new_dialog()
        return max(delay, self.backoff.next())

    async def run(self) -> None:
        """Keep the subscription up until cancelled (then unsubscribe, best effort)."""
        failing = False
        try:
            while True:
                self._wake.clear()
                self._retry_in = None
                try:
                    wait = await self._once()
                    if failing:
                        log.info("subscription to %s (%s) re-established", self.target, self.event)
                    failing = False
                except (TimeoutError, ConnectionError, OSError) as exc:
                    if not failing:
                        log.warning(
                            "subscription to %s (%s) failed: %s; retrying",
                            self.target,
                            self.event,
                            exc or type(exc).__name__,
                        )
                    failing = True
                    self._new_dialog()
                    wait = self.backoff.next()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                if self._retry_in:
                    await asyncio.sleep(self._retry_in)
        except asyncio.CancelledError:
            self._closing = True
            await self._unsubscribe()
            raise
        finally:
            self.ua.forget(self)

    async def _unsubscribe(self) -> None:
        if not self.established or not self.ua.endpoint.connected:
            return
        with contextlib.suppress(TimeoutError, ConnectionError, OSError, SipParseError):
            await asyncio.wait_for(self.ua.send(self._request(0)), 1.0)
