"""The one authorisation layer: who is calling (:class:`Principal`) and, for every resource
the gateway serves — live call, call record, recording, signed link, CRM entity, feed event,
key, session — whether that principal may read or act on it. Routers only parse and answer.

Rules (docs/security.md has them as a table):

* A principal is an API key (its tenant, scopes, extension limits) or an operator session (its
  tenant, its one extension, :data:`OPERATOR_SCOPES`). A session whose issuing admin key is
  revoked is revoked with it; so are the sign-in codes that key issued.
* Resources of another tenant, and resources of the tenant outside the principal's extension
  limits, are answered 404, exactly as unknown ones: probing tells nothing.
* A live call is the principal's when one of its extensions is on it now (answered it, or the
  call is with it); a recording when one of its extensions took part in the conversation
  (``CallRecord.participants``), not only rang. Keys without extension limits own every call
  of their tenant's PBXs.
* Built-in CRM entities belong to the CRM's tenant (``crm.tenant``); an operator reads those
  that were on one of its calls or that it is responsible for.
* Feeds: an operator gets its extension's cards; a key limited to extensions gets only the
  events of calls that involve them (CRM events included); raw AMI only for admin keys without
  limits. Each principal holds at most ``feeds.max_per_principal`` feeds at once.
* Missed calls not yet called back: an operator sees the mark on the calls it may read; the
  mark is cleared by an answered call with the number on any PBX of its tenant, whoever made
  it (only the flag crosses, never the clearing call).
* The team view (``GET /v1/team``: live calls, callers waiting in queues, missed calls not
  called back, per-operator counts): a supervisor session (an admin issued it with
  ``supervisor``) or a key without extension limits, for its own tenant's PBXs only; an
  ordinary operator session or a key limited to extensions gets 403.
* Keys and sessions: an admin limited to extensions manages only keys and sessions within its
  extensions (never an unrestricted key).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import HTTPConnection

from cbcontracts import CallRecord
from cbcrm.adapter import Entity
from cbrecords import CdrQuery, LiveCall

from .errors import ApiError, forbidden, not_found, unauthenticated
from .services.cards import CALLS, OperatorCards, TenantFilter, decode_call, event_extensions
from .services.feeds import Filter
from .services.feedslots import FeedSlots
from .services.keystore import ApiKey, Scope, hash_token
from .services.presence import PresenceFilter
from .services.records import RecordFilter
from .services.sessions import OperatorSession, SignIn
from .state import Services

__all__ = [
    "OPERATOR_SCOPES",
    "FeedSlots",
    "Principal",
    "ami_access",
    "authenticate",
    "credential",
    "crm_tenant",
    "crm_writer",
    "deal_call",
    "entity_readable",
    "feed_filter",
    "hold_feed",
    "live_call",
    "manageable_key",
    "manageable_session",
    "may_call_from",
    "may_explain",
    "may_issue_for",
    "may_route",
    "operator_session",
    "own_tenant",
    "pbxs",
    "presence_filter",
    "readable_explanation",
    "readable_record",
    "record_filter",
    "recording",
    "redeem",
    "require",
    "signed_recording",
    "team_view",
    "transfer_ends",
]

#: What an operator session may do on the REST endpoints (always for its extension only).
OPERATOR_SCOPES: tuple[Scope, ...] = (
    "calls:read",
    "calls:originate",
    "recordings:read",
    "events:read",
)
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_NO_CALL = ("no-such-call", "no call with this id")
_NO_RECORDING = ("no-recording", "this call has no recording")


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is calling. ``extensions`` empty = every extension of the tenant."""

    id: str  # the key's id, or "s" + the session's id
    tenant: str
    name: str
    scopes: tuple[Scope, ...]
    extensions: tuple[str, ...] = ()
    rate_limit: int = 0  # per minute; 0 = the gateway's default
    session: OperatorSession | None = None
    session_id: str = ""

    @property
    def restricted(self) -> bool:
        return bool(self.extensions)

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def supervisor(self) -> bool:
        return self.session is not None and self.session.supervisor

    def allows_extension(self, ext: str) -> bool:
        return not self.extensions or ext in self.extensions

    def covers(self, extensions: tuple[str, ...]) -> bool:
        """True if everything ``extensions`` allows, this principal allows too."""
        if not self.extensions:
            return True
        return bool(extensions) and set(extensions) <= set(self.extensions)

    @classmethod
    def of_key(cls, key: ApiKey) -> Principal:
        return cls(id=key.id, tenant=key.tenant, name=key.name, scopes=key.scopes,
                   extensions=key.extensions, rate_limit=key.rate_limit)  # fmt: skip

    @classmethod
    def of_session(cls, session: OperatorSession, token: str) -> Principal:
        sid = hash_token(token)
        return cls(id="s" + sid[:15], tenant=session.tenant, name=f"operator {session.user}",
                   scopes=OPERATOR_SCOPES, extensions=(session.extension,), session=session,
                   session_id=sid)  # fmt: skip


# --- who is calling ----------------------------------------------------------------------


def credential(conn: HTTPConnection, *, query: bool = False) -> str | None:
    auth = conn.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if key := conn.headers.get("x-api-key"):
        return key.strip()
    return conn.query_params.get("token") if query else None


def services_of(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


async def _issuer_live(services: Services, issued_by: str) -> bool:
    """Sessions and sign-in codes die with the admin key that issued them. Those not issued
    by a key (a CRM's own token such as the amoCRM widget's: ""; the host's own CLI:
    ``cli``, ``callbridge run``) have no key to follow."""
    if not _KEY_ID.fullmatch(issued_by):
        return True
    key = await services.keys.get(issued_by)
    return key is not None and not key.revoked_at


async def operator_session(conn: HTTPConnection, token: str | None) -> Principal:
    """The operator session of ``token`` (401 if unknown, expired or its issuer revoked)."""
    services = services_of(conn)
    session = await services.sessions.get(token) if token else None
    if session is None or not await _issuer_live(services, session.issued_by):
        raise unauthenticated("the session is unknown or expired")
    assert token is not None  # noqa: S101 - sessions.get found it
    who = Principal.of_session(session, token)
    conn.state.key_id = who.id
    return who


async def _key(conn: HTTPConnection, token: str | None) -> Principal:
    if not token:
        raise unauthenticated()
    key = await services_of(conn).keys.verify(token)
    if key is None:
        raise unauthenticated("the API key is unknown or revoked")
    conn.state.key_id = key.id
    return Principal.of_key(key)


async def authenticate(conn: HTTPConnection, *, query: bool = False) -> Principal:
    """The caller: an operator session (``cbs_…``) or an API key; 401 for anything else."""
    token = credential(conn, query=query)
    if token and token.startswith("cbs_"):
        return await operator_session(conn, token)
    return await _key(conn, token)


async def check(conn: HTTPConnection, who: Principal, scope: Scope) -> Principal:
    """``who`` must hold ``scope`` (403) and be within its rate limit (429)."""
    if not who.has(scope):
        raise forbidden("insufficient-scope", f"this credential lacks the scope {scope}")
    services = services_of(conn)
    limit = who.rate_limit or services.settings.default_rate_limit
    retry = await services.limiter.hit(who.id, limit)
    if retry is not None:
        raise ApiError(429, "rate-limited", "Too many requests", f"limit {limit} per minute",
                       headers={"Retry-After": str(int(retry))})  # fmt: skip
    return who


def require(
    scope: Scope, *, query: bool = False, keys_only: bool = False
) -> Callable[[HTTPConnection], Awaitable[Principal]]:
    """A dependency: the caller, holding ``scope`` (``admin`` holds all)."""

    async def dependency(conn: HTTPConnection) -> Principal:
        who = await authenticate(conn, query=query)
        if keys_only and who.session is not None:
            raise forbidden("insufficient-scope", f"an operator session lacks the scope {scope}")
        return await check(conn, who, scope)

    return dependency


# --- tenants and PBXs ---------------------------------------------------------------------


def own_tenant(who: Principal, tenant: str) -> None:
    """A tenant named in the path must be the principal's (404, as if there were none)."""
    if who.tenant != tenant:
        raise not_found("no-such-tenant", "no such tenant")


def pbxs(services: Services, who: Principal, pbx: str | None) -> list[str]:
    """The principal's tenant's PBX ``pbx`` (404 if not theirs), or all of them."""
    owned = services.settings.tenant_pbxs(who.tenant)
    if pbx is None:
        return owned
    if pbx not in owned:
        raise not_found("no-such-pbx", "no PBX with this name")
    return [pbx]


# --- calls and recordings -----------------------------------------------------------------


def on_call_now(call: LiveCall, extensions: tuple[str, ...]) -> bool:
    """One of ``extensions`` is on ``call`` now: the call is with it, or its leg answered."""
    return any(ext == call.extension or ext in call.talking for ext in extensions)


async def live_call(services: Services, who: Principal, call_id: str, pbx: str | None) -> str:
    """The PBX of the live call ``call_id`` the principal may hang up or transfer; 404 for
    unknown and for not-yours alike (the live-call view, ``cbrecords.LiveCall``, decides)."""
    for name in pbxs(services, who, pbx):
        call = await services.records.live(name, call_id)
        if call is None:
            continue
        if who.restricted and not on_call_now(call, who.extensions):
            break
        return name
    if not who.restricted and pbx is not None:
        return pbx  # the tracker may lag a new call: the PBX itself answers 404 if unknown
    raise not_found(*_NO_CALL)


def may_call_from(who: Principal, extension: str) -> None:
    """Click-to-call rings ``extension`` first: one of the principal's."""
    if not who.allows_extension(extension):
        raise forbidden("extension-not-allowed", "this key may not call from this extension")


def transfer_ends(who: Principal, to: str, from_extension: str | None) -> str | None:
    """An operator session hands the call it is on to a colleague: any extension (the
    gateway checks it is one — the configured extension pattern — before it reaches the
    PBX, so never an outside number), always from its own extension. For a key, the target
    must be within its extensions, and so must the transferring extension (a limited key's
    own, when it names none)."""
    if who.session is not None:
        if from_extension not in (None, who.session.extension):
            raise forbidden("extension-not-allowed", "an operator transfers from its own phone")
        return who.session.extension
    if not who.allows_extension(to):
        raise forbidden("extension-not-allowed", "this key may not transfer to this extension")
    if not who.restricted or (from_extension and who.allows_extension(from_extension)):
        return from_extension
    if from_extension is None and len(who.extensions) == 1:
        return who.extensions[0]
    raise forbidden("extension-not-allowed", "name your from_extension")


def readable_record(who: Principal, record: CallRecord) -> bool:
    """A call record: any of the tenant's for an unrestricted key; else one of the
    principal's extensions rang, answered or got the call."""
    return not who.restricted or bool(set(who.extensions) & set(record.extensions))


def may_explain(who: Principal) -> None:
    """How calls were handled (frames, decisions, crm-sync's trail): an ``admin`` key, or a
    supervisor session (the team's support person, from the page's history)."""
    if who.session is not None and who.supervisor:
        return
    if who.session is not None or "admin" not in who.scopes:
        raise forbidden("insufficient-scope", "explanations need an admin key or a supervisor")


def readable_explanation(who: Principal, record: CallRecord | None) -> bool:
    """A call's explanation: any of the tenant's for a supervisor session or an unrestricted
    admin; else as its record, and for an admin limited to extensions never while the call
    is live (no record yet: its frames show every party)."""
    if who.supervisor:
        return True
    return not who.restricted or (record is not None and readable_record(who, record))


def record_filter(
    services: Services,
    who: Principal,
    pbx: str | None,
    direction: str | None,
    *,
    missed_only: bool = False,
) -> RecordFilter:
    """The call records the principal may read (``missed_only``: the missed inbound ones);
    a missed call's mark is cleared by answered calls on any PBX of its tenant."""
    return RecordFilter(pbxs=frozenset(pbxs(services, who, pbx)),
                        extensions=frozenset(who.extensions), direction=direction,
                        callback_pbxs=frozenset(services.settings.tenant_pbxs(who.tenant)),
                        missed_only=missed_only)  # fmt: skip


def team_view(services: Services, who: Principal) -> RecordFilter:
    """The team (every extension of the tenant's PBXs): a supervisor session, or a key
    without extension limits; 403 for an ordinary operator or a limited key."""
    if who.session is not None and not who.supervisor:
        raise forbidden("not-a-supervisor", "this operator session is not a supervisor's")
    if who.session is None and who.restricted:
        raise forbidden("extension-key", "the team view needs a key without extension limits")
    owned = frozenset(services.settings.tenant_pbxs(who.tenant))
    return RecordFilter(pbxs=owned, callback_pbxs=owned, missed_only=True)


async def _record_with_recording(
    services: Services, names: list[str], call_id: str
) -> CallRecord | None:
    for name in names:
        record = await services.records.get(name, call_id)
        if record is not None and record.recording_file:
            return record
    return None


async def recording(
    services: Services, who: Principal, call_id: str, pbx: str | None
) -> CallRecord:
    """The record of a recorded call the principal took part in (404 otherwise)."""
    record = await _record_with_recording(services, pbxs(services, who, pbx), call_id)
    if record is None:
        raise not_found(*_NO_RECORDING)
    if who.restricted and not set(who.extensions) & set(record.participants):
        raise not_found(*_NO_RECORDING)
    return record


async def signed_recording(
    services: Services, tenant: str, call_id: str, expires: int, sig: str
) -> CallRecord:
    """The record a signed link names: signed over tenant and call, found in that tenant's
    PBXs only."""
    links = services.links
    if links is None or not links.verify(call_id, expires, sig, tenant=tenant):
        raise unauthenticated("the link is invalid or expired")
    record = await _record_with_recording(services, services.settings.tenant_pbxs(tenant), call_id)
    if record is None:
        raise not_found(*_NO_RECORDING)
    return record


# --- the CRM ------------------------------------------------------------------------------


def crm_tenant(services: Services) -> str:
    """The tenant whose CRM crm-sync (and the built-in CRM) serves: ``crm.tenant``, or the
    only tenant; "" = none (several tenants and none named)."""
    settings = services.settings
    if settings.crm.tenant:
        return settings.crm.tenant
    return next(iter(settings.tenants)) if len(settings.tenants) == 1 else ""


def crm_writer(services: Services, who: Principal) -> None:
    """A principal may write to the CRM only if it is its tenant's CRM; a key only without
    extension limits (an operator session writes for its own calls: :func:`deal_call`)."""
    if who.session is None and who.restricted:
        raise forbidden("extension-key", "a key limited to extensions cannot write the CRM")
    if who.tenant != crm_tenant(services):
        raise forbidden("not-your-crm", "the CRM behind this gateway is another tenant's")


async def deal_call(
    services: Services, who: Principal, call_id: str, pbx: str | None
) -> tuple[str, str]:
    """An operator's "create deal" call: (its PBX, its outside number) if one of the
    principal's extensions was on it (rang, answered, got it; live or ended); 404 otherwise."""
    exts = set(who.extensions)
    for name in pbxs(services, who, pbx):
        record = await services.records.get(name, call_id)
        if record is not None and exts & set(record.extensions) and record.external:
            return name, record.external
        live = await services.records.live(name, call_id)
        if live is not None and live.external and exts & set(live.extensions):
            return name, live.external
    raise not_found("no-such-call", "no call of this operator with this id")


async def entity_readable(
    services: Services,
    who: Principal,
    entity: Entity,
    logged: list[dict[str, Any]],
    responsible_extension: str,
) -> bool:
    """A built-in CRM entity (``logged``: its call log): its tenant's unrestricted keys; an
    operator (or a key limited to extensions) if one of its extensions is responsible for
    it, took one of its logged calls, or had a call with one of its numbers."""
    if who.tenant != crm_tenant(services):
        return False
    exts = set(who.extensions)
    if not exts or responsible_extension in exts:
        return True
    if any(str(c.get("extension", "")) in exts for c in logged):
        return True
    numbers = {p.lstrip("+") for p in entity.phones}
    for name in services.settings.tenant_pbxs(who.tenant):
        for number in numbers:
            for ext in exts:
                page = await services.records.page(
                    CdrQuery(number=number, extension=ext, limit=1),
                    RecordFilter(pbxs=frozenset([name])),
                )
                if page[0]:
                    return True
    return await _live_with(services, who, numbers)


async def _live_with(services: Services, who: Principal, numbers: set[str]) -> bool:
    """A live call of one of the principal's extensions with one of ``numbers`` (a card
    showing now: its entity opens before the call is logged)."""
    for name in services.settings.tenant_pbxs(who.tenant):
        for call in await services.records.live_calls(name):
            if call.external.lstrip("+") in numbers and set(call.extensions) & set(who.extensions):
                return True
    return False


# --- feeds --------------------------------------------------------------------------------


class ExtensionEvents:
    """A key limited to extensions: the call events that involve them, and the CRM events
    (cards, syncs) of those calls only. Calls are remembered (bounded) from their events."""

    RECENT = 2048

    def __init__(self, pbxs: set[str], extensions: set[str]) -> None:
        self._calls = TenantFilter(pbxs, extensions)
        self._crm = TenantFilter(pbxs)
        self._extensions = extensions
        self._mine: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __call__(self, stream: int, fields: dict[bytes, bytes]) -> list[dict[str, Any]]:
        if stream == CALLS:
            event = decode_call(fields)
            if event is not None and self._extensions & event_extensions(event):
                self._mine[(event.pbx, event.call_id)] = None
                self._mine.move_to_end((event.pbx, event.call_id))
                while len(self._mine) > self.RECENT:
                    self._mine.popitem(last=False)
            return self._calls(stream, fields)
        out = self._crm(stream, fields)
        return [m for m in out if (m["event"].get("pbx"), m["event"].get("call_id")) in self._mine]


def feed_filter(services: Services, who: Principal) -> Filter:
    """What the events feed shows this principal (decided from each entry)."""
    owned = set(services.settings.tenant_pbxs(who.tenant))
    if who.session is not None:
        return OperatorCards(owned, who.session.extension)
    if who.restricted:
        return ExtensionEvents(owned, set(who.extensions))
    return TenantFilter(owned)


def presence_filter(services: Services, who: Principal) -> PresenceFilter:
    """Colleagues' line states: an operator sees every extension of its tenant (the
    colleagues panel) but the other party of a call (number, name, Call-ID) only on its own
    extension; a key sees the extensions it is limited to (or all), parties included."""
    owned = tuple(services.settings.tenant_pbxs(who.tenant))
    if who.session is not None:
        return PresenceFilter(owned, None, frozenset({who.session.extension}))
    if who.restricted:
        return PresenceFilter(owned, frozenset(who.extensions), None)
    return PresenceFilter(owned)


def may_route(who: Principal) -> None:
    """Routing answers for the whole tenant: a key without extension limits only."""
    if who.restricted:
        raise forbidden("extension-key", "routing needs a key without extension limits")


def ami_access(services: Services, who: Principal, pbx: str) -> str:
    """Raw AMI (every call of the PBX) only for an admin key without extension limits."""
    if who.session is not None or who.restricted or "admin" not in who.scopes:
        raise forbidden("insufficient-scope", "the raw AMI feed needs an unrestricted admin key")
    return pbxs(services, who, pbx)[0]


T = TypeVar("T")


def hold_feed(services: Services, who: Principal, feed: AsyncIterator[T]) -> AsyncIterator[T]:
    """``feed`` counted against the principal's cap from now until it is closed (429 now
    when the principal is at its cap)."""
    slot = services.feed_slots.take(who.id)
    slot.__enter__()

    async def held() -> AsyncIterator[T]:
        try:
            async for item in feed:
                yield item
        finally:
            slot.__exit__(None, None, None)

    return held()


# --- keys and sessions --------------------------------------------------------------------


def may_issue_for(who: Principal, extensions: tuple[str, ...]) -> None:
    """An admin limited to extensions issues keys, sessions and links within them only."""
    if not who.covers(extensions):
        raise forbidden("extension-not-allowed", "beyond this key's extensions")


def manageable_key(who: Principal, key: ApiKey | None) -> ApiKey:
    """A key this admin may see or revoke: its tenant's (404 otherwise), within its own
    extension limits (403: a limited admin never touches an unrestricted key)."""
    if key is None or key.tenant != who.tenant:
        raise not_found("no-such-key", "no key with this id")
    may_issue_for(who, key.extensions)
    return key


def manageable_session(who: Principal, session: OperatorSession | None) -> OperatorSession:
    if session is None or session.tenant != who.tenant:
        raise not_found("no-such-session", "no session with this id")
    may_issue_for(who, (session.extension,))
    return session


async def redeem(services: Services, code: str) -> tuple[OperatorSession, str]:
    """The session a one-time sign-in code gives, if its issuer is still live (401)."""

    async def issuer_live(signin: SignIn) -> bool:
        return await _issuer_live(services, signin.issued_by)

    found = await services.sessions.redeem(code, accept=issuer_live)
    if found is None:
        raise unauthenticated("the sign-in link is unknown, used or expired")
    return found
