"""The authorisation matrix, generated from the app's OpenAPI: every route (and both feeds)
x every principal that is not the owner x read/act. Each must get 401, 403 or 404 — or, for
a list or a create in its own tenant, an answer without a trace of the owner's data.

The owner is tenant ``acme``'s operator on extension 100 (its session, or an unrestricted
acme key where a key is what the route takes). The fixture gives it one of everything: an
ended recorded call, a live call it is on, a CRM entity it is responsible for, a key, a
session. A test below makes the owner reach each route (proving the resources are there,
so the refusals are not trivial), and one pins the matrix to the OpenAPI, so a new route
cannot escape it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from api_gateway.services.keystore import SCOPES, Scope
from api_gateway.settings import GatewaySettings, RecordingSettings
from api_gateway.state import Services
from api_gateway.testing import publish_events, publish_live
from cbcontracts import CallEnded, CallStarted
from cbcrm.builtin import BuiltinCrm
from cbrecords import LiveCall
from cbruntime import Secret

from .conftest import bearer

CALL, LIVE = "1712345678.42", "1712345999.7"
NUMBER = "79161234567"  # the demo CRM's Иван Кузнецов (entity 3, responsible: ext 100)
T0 = 1_712_345_678_000_000
PRINCIPALS = [
    "none",
    "garbage",
    "revoked",
    "other tenant",
    "key without scope",
    "key limited to another extension",
    "operator session of another extension",
    "session of a revoked issuer",
]
Kind = Literal["read", "act"]
#: Principals the events feed accepts and then filters (streams never end: read elsewhere).
STREAMED = {"other tenant", "key limited to another extension",
            "operator session of another extension"}  # fmt: skip


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the OpenAPI path
    url: str  # with the owner's resources filled in ({key_id}, {session_id})
    scope: Scope
    owner: Literal["session", "key"]
    json: dict[str, Any] | None = None
    own_tenant_create: bool = False  # another tenant may create in its own tenant
    listing: bool = False  # answers every caller, with only what is theirs

    @property
    def kind(self) -> Kind:
        return "read" if self.method == "GET" else "act"


# fmt: off
ROUTES = [
    Route("GET", "/v1/route", f"/v1/route?number={NUMBER}", "calls:read", "key", listing=True),
    Route("GET", "/v1/keys", "/v1/keys", "admin", "key", listing=True),
    Route(
        "POST",
        "/v1/keys",
        "/v1/keys",
        "admin",
        "key",
        {"scopes": ["calls:read"], "extensions": ["100"]},
        own_tenant_create=True,
    ),
    Route("DELETE", "/v1/keys/{key_id}", "/v1/keys/{key_id}", "admin", "key"),
    Route(
        "POST",
        "/v1/sessions/links",
        "/v1/sessions/links",
        "admin",
        "key",
        {"user": "u", "extension": "100"},
        own_tenant_create=True,
    ),
    Route("GET", "/v1/sessions", "/v1/sessions", "admin", "key", listing=True),
    Route(
        "POST",
        "/v1/sessions",
        "/v1/sessions",
        "admin",
        "key",
        {"user": "u", "extension": "100"},
        own_tenant_create=True,
    ),
    Route("DELETE", "/v1/sessions/{session_id}", "/v1/sessions/{session_id}", "admin", "key"),
    Route("GET", "/v1/me", "/v1/me", "events:read", "session", listing=True),
    Route("DELETE", "/v1/me", "/v1/me", "events:read", "session", listing=True),
    Route(
        "POST",
        "/v1/calls",
        "/v1/calls",
        "calls:originate",
        "session",
        {"extension": "100", "number": NUMBER, "pbx": "main"},
    ),
    Route("GET", "/v1/calls", "/v1/calls", "calls:read", "session", listing=True),
    Route(
        "DELETE", "/v1/calls/{call_id}", f"/v1/calls/{LIVE}?pbx=main", "calls:originate", "session"
    ),
    Route("GET", "/v1/calls/{call_id}", f"/v1/calls/{CALL}", "calls:read", "session"),
    Route("GET", "/v1/calls/{call_id}/explain", f"/v1/calls/{CALL}/explain", "admin", "key"),
    Route(
        "POST",
        "/v1/calls/{call_id}/transfer",
        f"/v1/calls/{LIVE}/transfer",
        "calls:originate",
        "key",
        {"to": "100", "mode": "redirect", "pbx": "main"},
    ),
    Route(
        "GET",
        "/v1/calls/{call_id}/recording",
        f"/v1/calls/{CALL}/recording",
        "recordings:read",
        "session",
    ),
    Route(
        "GET", "/v1/recordings/{tenant}/{call_id}", "{signed_link}", "recordings:read", "session"
    ),
    Route(
        "POST",
        "/v1/calls/{call_id}/recording/link",
        f"/v1/calls/{CALL}/recording/link",
        "recordings:read",
        "session",
    ),
    Route(
        "POST",
        "/v1/crm/deals",
        "/v1/crm/deals",
        "crm:write",
        "key",
        {"entity_id": "3", "call_id": CALL, "pbx": "main"},
    ),
    Route("GET", "/v1/crm/entities/{entity_id}", "/v1/crm/entities/3", "calls:read", "session"),
    Route("GET", "/v1/feeds/events", "/v1/feeds/events", "events:read", "session"),
    Route("GET", "/v1/feeds/ami/{pbx}", "/v1/feeds/ami/main", "admin", "key"),
    Route("GET", "/v1/presence", "/v1/presence", "events:read", "session", listing=True),
    Route("GET", "/v1/team", "/v1/team", "calls:read", "key", listing=True),
    Route("GET", "/v1/feeds/presence", "/v1/feeds/presence", "events:read", "session"),
    Route(
        "POST",
        "/v1/webhooks/bitrix24/{tenant}",
        "/v1/webhooks/bitrix24/acme",
        "calls:originate",
        "key",
    ),
    Route(
        "POST",
        "/v1/webhooks/amocrm/{tenant}/call",
        "/v1/webhooks/amocrm/acme/call",
        "calls:originate",
        "key",
        {"number": NUMBER, "extension": "100"},
    ),
    Route(
        "POST",
        "/v1/webhooks/amocrm/{tenant}/session",
        "/v1/webhooks/amocrm/acme/session",
        "events:read",
        "key",
    ),
]
# fmt: on
#: Open to anyone by design: health and metrics (no tenant data), and the exchange of a
#: one-time sign-in code (the code is the credential; tested in test_operators).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/sessions/exchange"),
}  # fmt: skip


@dataclass
class World:
    client: httpx.AsyncClient
    services: Services
    owner_key: str
    owner_key_id: str
    owner_session: str
    owner_session_id: str
    signed_link: str
    foreign_link: str  # acme's path, signed for globex (what another tenant can make)

    def url(self, route: Route) -> str:
        if route.url == "{signed_link}":
            return self.signed_link
        return route.url.replace("{key_id}", self.owner_key_id).replace(
            "{session_id}", self.owner_session_id
        )

    @property
    def secrets(self) -> list[str]:
        """What no one but the owner may ever see."""
        return [CALL, LIVE, NUMBER, "rec.wav", "Иван", self.owner_key_id, self.owner_session_id,
                self.owner_key, self.owner_session, "Анна"]  # fmt: skip


@pytest.fixture
def settings(settings: GatewaySettings, tmp_path: Path) -> GatewaySettings:
    (tmp_path / "rec.wav").write_bytes(b"RIFF" + b"\0" * 100)
    return replace(
        settings,
        recordings=RecordingSettings(root=str(tmp_path), link_secret=Secret("k" * 32)),
        crm=replace(settings.crm, builtin_path=str(tmp_path / "crm.sqlite3"), wait_s=0.05),
        originate=replace(settings.originate, action_timeout_s=0.3),
    )


async def _publish_world(redis: aioredis.Redis, settings: GatewaySettings) -> None:
    common: dict[str, Any] = {"call_id": CALL, "pbx": "main", "direction": "inbound",
                              "external": NUMBER}  # fmt: skip
    await publish_events(redis, settings, [
        CallStarted(event_id="main/1-0/0", seq=1, at=T0, **common),
        CallEnded(event_id="main/2-0/0", seq=2, at=T0 + 10**7, result="answered", started_at=T0,
                  answered_by="100", extension="100", rang=("100",), talked=("100",),
                  recording_file="rec.wav", **common),
    ])  # fmt: skip
    live = LiveCall(call_id=LIVE, pbx="main", tenant="acme", direction="inbound", started_at=T0,
                    external=NUMBER, extension="100", answered_by="100", answered_at=T0,
                    extensions=("100",), talking=("100",))  # fmt: skip
    await publish_live(redis, settings, [live])
    await redis.set(f"{settings.key_prefix}route:acme:{NUMBER}", "100")


@pytest.fixture
async def world(
    settings: GatewaySettings, services: Services, app: FastAPI, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    crm = await BuiltinCrm.open(settings.crm.builtin_path, seed=True)
    await crm.aclose()
    await _publish_world(redis_client, settings)
    admin, admin_token = await services.keys.create("acme", ("admin",), name="owner")
    session, session_token = await services.sessions.issue("acme", "Анна", "100", 600, admin.id)
    links = services.links
    assert links is not None
    signed = httpx.URL(links.url(CALL, tenant="acme")).raw_path.decode()
    forged = httpx.URL(links.url(CALL, tenant="globex")).raw_path.decode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw",
                                 timeout=10) as client:  # fmt: skip
        yield World(client, services, admin_token, admin.id, session_token, session.id, signed,
                    forged.replace("/globex/", "/acme/"))  # fmt: skip


async def _headers(world: World, principal: str, route: Route) -> dict[str, str]:
    keys, sessions = world.services.keys, world.services.sessions
    everything: tuple[Scope, ...] = tuple(SCOPES)  # type: ignore[arg-type]
    if principal == "none":
        return {}
    if principal == "garbage":
        return bearer("cbk_0123456789abcdef_" + "x" * 43)
    if principal == "revoked":
        key, token = await keys.create("acme", everything)
        await keys.revoke(key.id)
        return bearer(token)
    if principal == "other tenant":
        return bearer((await keys.create("globex", everything))[1])
    if principal == "key without scope":
        lacking = tuple(s for s in everything if s not in (route.scope, "admin"))
        return bearer((await keys.create("acme", lacking))[1])
    if principal == "key limited to another extension":
        return bearer((await keys.create("acme", everything, extensions=("102",)))[1])
    if principal == "operator session of another extension":
        return bearer((await sessions.issue("acme", "Борис", "101", 600, ""))[1])
    issuer, _ = await keys.create("acme", ("admin",))
    _, token = await sessions.issue("acme", "Анна", "100", 600, issuer.id)
    await keys.revoke(issuer.id)
    return bearer(token)


def test_the_matrix_covers_every_route_of_the_openapi(app: FastAPI) -> None:
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    covered = {(r.method, r.path) for r in ROUTES}
    assert documented - PUBLIC == covered


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.kind} {r.method} {r.path}")
async def test_no_one_but_the_owner_reads_or_acts(
    world: World, route: Route, principal: str
) -> None:
    if route.path in ("/v1/feeds/events", "/v1/feeds/presence") and principal in STREAMED:
        pytest.skip("accepted, then filtered: test_feeds_authz / test_presence read the stream")
    headers = await _headers(world, principal, route)
    url = world.url(route)
    if route.url == "{signed_link}":
        url = world.foreign_link  # a link another tenant made, pointed at acme's call
    answer = await world.client.request(route.method, url, json=route.json, headers=headers)
    allowed_ok = route.listing or (route.own_tenant_create and principal == "other tenant")
    if answer.status_code < 400 and allowed_ok:
        assert principal != "other tenant" or "acme" not in answer.text, answer.text
    else:
        assert answer.status_code in (401, 403, 404), answer.text
    for secret in world.secrets:
        if secret not in url and secret not in json.dumps(route.json or {}):
            assert secret not in answer.text, (secret, answer.text)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.kind} {r.method} {r.path}")
async def test_the_owner_gets_through(world: World, route: Route) -> None:
    if route.path.startswith(("/v1/feeds/", "/v1/webhooks/")):
        pytest.skip("feeds stream (test_feeds_authz); webhooks take the CRM's own tokens")
    token = world.owner_session if route.owner == "session" else world.owner_key
    answer = await world.client.request(
        route.method, world.url(route), json=route.json, headers=bearer(token)
    )
    # 504: authorised, then the PBX (no ami-ingest here) did not answer in time
    assert answer.status_code in (200, 201, 202, 204, 504), answer.text
