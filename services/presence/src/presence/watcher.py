"""Watching one PBX: the SIP subscriptions, the NOTIFY bodies into the `PresenceBook`, and
the changes out to a callback.

Per event package (dialog, presence) the watcher subscribes to the configured resource list
if there is one (one SUBSCRIBE for every extension, RFC 4662), else to each extension. A
list the PBX refuses (404/489) falls back to per-extension subscriptions; an extension the
PBX refuses (no hint) is reported ``unknown`` and asked again every minute. An OPTIONS ping
tells when the PBX stops answering; when it answers again every subscription is made anew
(a restarted Asterisk has forgotten ours).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable

from cbcontracts.presence import PresenceState
from cbsip import (
    Credentials,
    Endpoint,
    Notification,
    SipParseError,
    Subscription,
    SubscriptionRefused,
    UserAgent,
    parse_dialog_info,
    parse_multipart,
    parse_pidf,
    parse_rlmi,
    uri_user,
)

from .discover import DiscoveryFailed
from .metrics import PresenceMetrics
from .settings import PbxPresence
from .state import PresenceBook

__all__ = ["PbxWatcher"]

log = logging.getLogger(__name__)

ACCEPT = {
    "dialog": ("application/dialog-info+xml",),
    "presence": ("application/pidf+xml",),
}
LIST_ACCEPT = ("multipart/related", "application/rlmi+xml")
#: Asterisk adds its presence state (dnd, away…) to PIDF only for a subscriber whose
#: User-Agent contains "digium" (res_pjsip_pidf_digium_body_supplement).
USER_AGENT = "callbridge-presence (digium presence)"
REFUSED_RETRY_S = 60.0


def _ssl(p: PbxPresence) -> ssl.SSLContext | None:
    if p.transport != "tls":
        return None
    ctx = ssl.create_default_context(cafile=p.ca_file or None)
    if not p.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class PbxWatcher:
    def __init__(
        self,
        name: str,
        settings: PbxPresence,
        on_change: Callable[[PresenceState], None],
        metrics: PresenceMetrics,
        clock: Callable[[], float] = time.time,
        discover: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.name, self.settings = name, settings
        self.on_change, self.metrics, self.clock = on_change, metrics, clock
        self.book = PresenceBook(name, tuple(settings.events))
        self.endpoint = Endpoint(
            settings.host,
            settings.port,
            settings.transport,
            local_host=settings.local_host,
            ssl_context=_ssl(settings),
            timeout_s=settings.timeout_s,
            user_agent=USER_AGENT,
        )
        creds = (
            Credentials(settings.username, settings.password.reveal())
            if settings.password is not None
            else None
        )
        self.ua = UserAgent(
            self.endpoint,
            user=settings.username,
            domain=settings.domain or settings.host,
            credentials=creds,
        )
        self.watched: set[str] = set(settings.extensions)
        self.discover = discover
        #: Extensions some resource list of the event names; those subscribed one by one.
        self.covered: dict[str, set[str]] = {e: set() for e in ("dialog", "presence")}
        self.alone: dict[str, set[str]] = {e: set() for e in ("dialog", "presence")}
        self.subscriptions: list[Subscription] = []
        self.pbx_up = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- running ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                if self.discover is not None and not self.settings.extensions:
                    tg.create_task(self._discovering(tg))
                for event in self.settings.events:
                    lists = self.settings.lists.get(event, [])
                    for list_name in lists:
                        tg.create_task(self._watch_list(event, list_name, tg))
                    if not lists:
                        for ext in sorted(self.watched):
                            tg.create_task(self._watch_extension(event, ext))
                tg.create_task(self._keepalive())
                await stop.wait()
                raise _Stop
        except* _Stop:
            pass
        finally:
            await self.endpoint.close()

    def _subscription(self, target: str, event: str, *, eventlist: bool) -> Subscription:
        accept = ACCEPT[event] + (LIST_ACCEPT if eventlist else ())
        sub = Subscription(
            self.ua,
            target,
            event,
            accept,
            self._on_notify,
            expires=self.settings.expires,
            eventlist=eventlist,
        )
        self.subscriptions.append(sub)
        return sub

    async def _watch_list(self, event: str, list_name: str, tg: asyncio.TaskGroup) -> None:
        sub = self._subscription(list_name, event, eventlist=True)
        try:
            await sub.run()
        except SubscriptionRefused as exc:
            log.warning(
                "PBX %s refused the resource list %r for %s (%s): one subscription per "
                "extension no other list covers", self.name, list_name, event, exc,
            )  # fmt: skip
            self.subscriptions.remove(sub)
            await self._lists_heard(event)
            for ext in sorted(self.watched - self.covered[event] - self.alone[event]):
                self.alone[event].add(ext)
                tg.create_task(self._watch_extension(event, ext))

    async def _lists_heard(self, event: str, within: float = 5.0) -> None:
        """Until every other list of ``event`` has sent its first NOTIFY (bounded)."""
        others = [s for s in self.subscriptions if s.eventlist and s.event == event]
        if others:
            waits = [asyncio.create_task(s.heard.wait()) for s in others]
            await asyncio.wait(waits, timeout=within)
            for w in waits:
                w.cancel()

    async def _watch_extension(self, event: str, ext: str) -> None:
        warned = False
        while True:
            sub = self._subscription(ext, event, eventlist=False)
            try:
                await sub.run()
            except SubscriptionRefused as exc:
                if not warned:
                    log.warning(
                        "PBX %s refused %s of extension %s (%s): is there a hint?",
                        self.name,
                        event,
                        ext,
                        exc,
                    )
                    warned = True
                self.subscriptions.remove(sub)
                self.book.forget(ext, event)
                self._emit(ext)
                await asyncio.sleep(REFUSED_RETRY_S)

    async def _discovering(self, tg: asyncio.TaskGroup) -> None:
        """Watch every hinted extension of the context; new hints join on the next round."""
        discover = self.discover
        if discover is None:
            return
        failing = False
        while True:
            try:
                found = set(await discover())
            except DiscoveryFailed as exc:
                if not failing:
                    log.warning("PBX %s: cannot list its hints yet (%s); retrying", self.name, exc)
                failing = True
                await asyncio.sleep(min(2.0, self.settings.discover_every_s))
                continue
            if failing:
                log.info("PBX %s: hints listed again", self.name)
            failing = False
            new = sorted(found - self.watched)
            if new:
                log.info(
                    "PBX %s: watching %d more extensions: %s",
                    self.name,
                    len(new),
                    ", ".join(new[:20]),
                )
                self.watched |= set(new)
                for event in self.settings.events:
                    if not self.settings.lists.get(event):
                        for ext in new:
                            tg.create_task(self._watch_extension(event, ext))
            await asyncio.sleep(self.settings.discover_every_s)

    async def _keepalive(self) -> None:
        down_since: float | None = None
        while True:
            up = await self.ua.ping()
            self.metrics.pbx_up.labels(self.name).set(1 if up else 0)
            if up and down_since is not None:
                log.info(
                    "PBX %s answers again after %.1f s: subscribing anew",
                    self.name,
                    self.clock() - down_since,
                )
                for sub in self.subscriptions:
                    sub.resubscribe()
                down_since = None
            elif not up and down_since is None:
                if self.pbx_up or not self.subscriptions:
                    log.warning("PBX %s does not answer SIP OPTIONS", self.name)
                down_since = self.clock()
            self.pbx_up = up
            self._established()
            await asyncio.sleep(self.settings.keepalive_s)

    def _established(self) -> None:
        n = sum(1 for s in self.subscriptions if s.established)
        self.metrics.subscriptions.labels(self.name).set(n)

    # -- NOTIFY bodies ------------------------------------------------------------------
    def _on_notify(self, n: Notification) -> None:
        sub = n.subscription
        media = n.content_type.split(";")[0].strip().lower()
        try:
            if media == "multipart/related":
                touched = self._apply_list(sub, n.content_type, n.body)
            elif not n.body:
                touched = []
            else:
                touched = self._apply_one(sub.target, sub, media, n.body)
        except SipParseError as exc:
            self.metrics.ignored.labels(self.name, "malformed").inc()
            log.warning("PBX %s sent an unusable %s body: %s", self.name, sub.event, exc)
            return
        self.metrics.notifies.labels(self.name, sub.event).inc()
        self._established()
        for ext in touched:
            self._emit(ext)

    def _apply_one(self, ext: str, sub: Subscription, media: str, body: bytes) -> list[str]:
        if media == "application/dialog-info+xml":
            fresh = self.book.apply_dialog(ext, sub.call_id, parse_dialog_info(body))
        elif media == "application/pidf+xml":
            fresh = self.book.apply_pidf(ext, parse_pidf(body))
        else:
            self.metrics.ignored.labels(self.name, "content-type").inc()
            return []
        if not fresh:
            self.metrics.ignored.labels(self.name, "stale").inc()
            return []
        return [ext]

    def _apply_list(self, sub: Subscription, content_type: str, body: bytes) -> list[str]:
        parts = parse_multipart(body, content_type)
        rlmi_parts = [p for p in parts if p.content_type == "application/rlmi+xml"]
        if not rlmi_parts:
            raise SipParseError("resource list NOTIFY without an RLMI part")
        rlmi = parse_rlmi(rlmi_parts[0].body)
        by_cid = {p.content_id: p for p in parts}
        # The list's version orders its NOTIFYs; a stale one is dropped whole.
        if not self.book.apply_list_version(sub.call_id, rlmi.version, rlmi.full):
            self.metrics.ignored.labels(self.name, "stale").inc()
            return []
        touched = []
        for res in rlmi.resources:
            ext = uri_user(res.uri)
            if ext not in self.watched:
                continue
            self.covered[sub.event].add(ext)
            part = by_cid.get(res.cid) if res.cid else None
            if res.state == "terminated" or part is None:
                if res.state == "terminated":
                    self.book.forget(ext, sub.event)
                    touched.append(ext)
                continue
            touched += self._apply_one(ext, sub, part.content_type, part.body)
        return touched

    def _emit(self, ext: str) -> None:
        change = self.book.change(ext, int(self.clock() * 1000))
        if change is not None:
            self.on_change(change)


class _Stop(Exception):
    """Ends the watcher's task group when asked to stop."""
