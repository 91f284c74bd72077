"""Every endpoint with no key, a wrong key, a revoked key, a key without the scope and
another tenant's key: 401 / 401 / 401 / 403 / 404 (or an answer without the other tenant's
data) — never data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from api_gateway.services.keystore import Scope
from api_gateway.settings import GatewaySettings, RecordingSettings
from api_gateway.testing import publish_events
from cbcontracts import CallEnded, CallStarted
from cbruntime import Secret

from .conftest import MakeKey, bearer

CALL = "1712345678.42"
STARTED = 1_712_345_678_000_000


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: Scope
    json: dict[str, Any] | None = None
    other_tenant: int | None = 404  # None: answered, but must not carry acme's data


ENDPOINTS = [
    Endpoint("GET", "/v1/calls", "calls:read", other_tenant=None),
    Endpoint("GET", f"/v1/calls/{CALL}", "calls:read"),
    Endpoint(
        "POST",
        "/v1/calls",
        "calls:originate",
        {"extension": "100", "number": "79161234567", "pbx": "main"},
    ),
    Endpoint("DELETE", f"/v1/calls/{CALL}?pbx=main", "calls:originate"),
    Endpoint("POST", f"/v1/calls/{CALL}/transfer", "calls:originate", {"to": "101", "pbx": "main"}),
    Endpoint("GET", f"/v1/calls/{CALL}/recording", "recordings:read"),
    Endpoint("POST", f"/v1/calls/{CALL}/recording/link", "recordings:read"),
    Endpoint("GET", "/v1/route?number=79161234567", "calls:read", other_tenant=None),
    Endpoint("GET", "/v1/keys", "admin", other_tenant=None),
    Endpoint("POST", "/v1/keys", "admin", {"scopes": ["calls:read"]}, other_tenant=None),
    Endpoint("DELETE", "/v1/keys/{acme_key}", "admin"),
    Endpoint(
        "POST", "/v1/sessions", "admin", {"user": "u1", "extension": "100"}, other_tenant=None
    ),
    Endpoint("GET", "/v1/feeds/ami/main", "admin"),
    Endpoint(
        "POST",
        "/v1/webhooks/amocrm/acme/call",
        "calls:originate",
        {"number": "79161234567", "extension": "100"},
    ),
]
CASES = ["no key", "wrong key", "revoked key", "key without the scope", "another tenant's key"]


@pytest.fixture
def settings(settings: GatewaySettings, tmp_path: Path) -> GatewaySettings:
    (tmp_path / "rec.wav").write_bytes(b"RIFF" + b"\0" * 100)
    recordings = RecordingSettings(root=str(tmp_path), link_secret=Secret("k" * 32))
    from dataclasses import replace

    return replace(settings, recordings=recordings)


@pytest.fixture
async def acme_call(redis_client: aioredis.Redis, settings: GatewaySettings) -> None:
    common: dict[str, Any] = {
        "call_id": CALL,
        "pbx": "main",
        "direction": "inbound",
        "external": "79161234567",
    }
    await publish_events(
        redis_client,
        settings,
        [
            CallStarted(event_id="main/1-0/0", seq=1, at=STARTED, **common),
            CallEnded(
                event_id="main/2-0/0",
                seq=2,
                at=STARTED + 10**7,
                result="answered",
                started_at=STARTED,
                answered_by="100",
                rang=("100",),
                recording_file="rec.wav",
                **common,
            ),
        ],
    )


async def _credential(
    case: str, scope: Scope, make_key: MakeKey, client: httpx.AsyncClient
) -> dict[str, str]:
    if case == "no key":
        return {}
    if case == "wrong key":
        return bearer("cbk_0123456789abcdef_" + "x" * 43)
    if case == "revoked key":
        token = await make_key(scope, "events:read")
        admin = await make_key("admin")
        key_id = token.split("_")[1]
        assert (await client.delete(f"/v1/keys/{key_id}", headers=bearer(admin))).status_code == 200
        return bearer(token)
    if case == "key without the scope":
        return bearer(await make_key("crm:write" if scope != "admin" else "events:read"))
    return bearer(await make_key(scope, "events:read", tenant="globex"))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_an_endpoint_gives_no_data_without_the_right_key(
    client: httpx.AsyncClient, make_key: MakeKey, acme_call: None, endpoint: Endpoint, case: str
) -> None:
    acme_key = (await make_key("calls:read")).split("_")[1]
    headers = await _credential(case, endpoint.scope, make_key, client)
    path = endpoint.path.replace("{acme_key}", acme_key)
    answer = await client.request(endpoint.method, path, json=endpoint.json, headers=headers)
    expected = {"no key": 401, "wrong key": 401, "revoked key": 401, "key without the scope": 403}
    if case in expected:
        assert answer.status_code == expected[case], answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    elif endpoint.other_tenant is not None:
        assert answer.status_code == endpoint.other_tenant, answer.text
    else:
        assert answer.status_code < 500, answer.text
    for secret in (CALL, "79161234567", "rec.wav", acme_key):
        if secret not in path and not (endpoint.json and secret in str(endpoint.json)):
            assert secret not in answer.text
