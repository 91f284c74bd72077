""" "Create deal" end to end: the gateway's ``POST /v1/crm/deals`` puts a ``crm.create_deal``
command on crm-sync's command stream; crm-sync (running, on the built-in CRM with its demo
data) creates the deal once per request id and publishes the call's ``crm.card`` again with
the new deal. An operator session may do it for its own calls only; a key needs crm:write.
The built-in CRM's entity links open a read-only page, its data behind the session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis

from api_gateway.main import create_app
from api_gateway.settings import CrmSettings, GatewaySettings
from api_gateway.state import open_services
from api_gateway.testing import publish_events, settings_for
from cbcontracts import CallEnded
from cbcontracts.crm import CardData, decode_crm_event
from cbcrm.builtin import BuiltinCrm
from cbruntime import Secret, running
from crm_sync.main import CrmSyncService
from crm_sync.settings import BuiltinSettings, CrmSyncSettings, RecordingSettings

from .conftest import MakeKey, bearer

T0 = 1_800_000_000_000_000
PHONE = "79161234567"  # the built-in CRM's demo contact 3


@pytest.fixture
async def crm_sync(settings: GatewaySettings) -> AsyncIterator[None]:
    p = settings.key_prefix
    service = CrmSyncService(
        CrmSyncSettings(
            redis_url=settings.redis_url,
            key_prefix=p,
            instance="test",
            calls_stream=f"{p}crm-test-calls",  # the planner has nothing to do here
            commands_stream=settings.crm.commands_stream,
            events_stream=settings.feeds.crm_stream,
            dead_stream=f"{p}dead",
            block_ms=100,
            builtin=BuiltinSettings(path=":memory:", seed=True),
            recordings=RecordingSettings(secret=Secret("s")),
            log_json=False,
        )
    )
    async with running(service):
        yield


async def _session(client: httpx.AsyncClient, make_key: MakeKey, extension: str) -> str:
    admin = bearer(await make_key("admin"))
    link = await client.post(
        "/v1/sessions/links", json={"user": "Анна", "extension": extension}, headers=admin
    )
    code = link.json()["url"].rpartition("code=")[2]
    answer = await client.post("/v1/sessions/exchange", json={"code": code})
    token: str = answer.json()["token"]
    return token


async def _card_with_deal(
    redis: aioredis.Redis, stream: str, call_id: str, deal_id: str
) -> CardData:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(stream))
        for _, fields in rows:
            event = decode_crm_event(fields[b"data"])
            if (
                isinstance(event, CardData)
                and event.call_id == call_id
                and any(d.id == deal_id for d in event.open_deals)
            ):
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no crm.card of {call_id} with deal {deal_id}")


async def test_an_operator_creates_a_deal_for_its_call_and_the_card_shows_it(
    client: httpx.AsyncClient,
    make_key: MakeKey,
    redis_client: aioredis.Redis,
    settings: GatewaySettings,
    crm_sync: None,
) -> None:
    common: dict[str, Any] = {"pbx": "main", "direction": "inbound", "external": PHONE, "seq": 2}
    ended = CallEnded(event_id="main/c1", call_id="c1", at=T0, started_at=T0,
                      result="answered", answered_by="100", rang=("100",), **common)  # fmt: skip
    await publish_events(redis_client, settings, [ended])
    token = await _session(client, make_key, "100")
    body = {"call_id": "c1", "name": "Follow-up", "request_id": "r1"}
    answer = await client.post("/v1/crm/deals", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    out = answer.json()
    assert out["status"] == "created"
    assert out["deal"]["name"] == "Follow-up"
    assert out["entity"]["id"] == "3"
    card = await _card_with_deal(redis_client, settings.feeds.crm_stream, "c1", out["deal"]["id"])
    assert card.entity is not None
    assert card.entity.id == "3"
    # the same request id: the same deal, not a second one
    again = await client.post("/v1/crm/deals", json=body, headers=bearer(token))
    assert again.status_code == 201, again.text
    assert again.json()["deal"]["id"] == out["deal"]["id"]
    # another operator's session: not its call
    other = await _session(client, make_key, "101")
    refused = await client.post("/v1/crm/deals", json={"call_id": "c1"}, headers=bearer(other))
    assert refused.status_code == 404


async def test_a_crm_write_key_creates_a_deal_by_number_and_a_reader_may_not(
    client: httpx.AsyncClient, make_key: MakeKey, crm_sync: None
) -> None:
    body = {"phone": PHONE, "name": "From the API"}
    reader = await make_key("calls:read")
    denied = await client.post("/v1/crm/deals", json=body, headers=bearer(reader))
    assert denied.status_code == 403
    assert (await client.post("/v1/crm/deals", json=body)).status_code == 401
    writer = await make_key("crm:write")
    answer = await client.post("/v1/crm/deals", json=body, headers=bearer(writer))
    assert answer.status_code == 201, answer.text
    assert answer.json()["deal"]["name"] == "From the API"
    assert answer.json()["entity"]["id"] == "3"


async def test_open_in_crm_serves_the_builtin_crms_entity_page_with_its_name_and_deals(
    redis_url: str, redis_prefix: str, make_key: MakeKey, tmp_path: Path
) -> None:
    path = str(tmp_path / "crm.sqlite3")
    crm = await BuiltinCrm.open(path, seed=True)  # the demo data, as crm-sync writes it
    try:
        lookup = await crm.lookup("+" + PHONE)
        contact = lookup.entities[0]
        deals = await crm.deals_of(contact.id)
    finally:
        await crm.aclose()
    assert contact.url == f"/crm/entities/{contact.id}"
    crm_settings = CrmSettings(builtin_path=path, tenant="acme")
    settings = settings_for(redis_url, redis_prefix, crm=crm_settings)
    async with open_services(settings) as services:
        app = create_app(settings, services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            shell = await client.get(contact.url)
            assert shell.status_code == 200
            assert 'src="/ui/entity.js"' in shell.text
            assert (await client.get("/ui/entity.js")).status_code == 200
            api = f"/v1/crm/entities/{contact.id}"
            assert (await client.get(api)).status_code == 401
            token = await _session(client, make_key, "100")  # keys: the same Redis and prefix
            page = await client.get(api, headers=bearer(token))
            assert page.status_code == 200, page.text
            data = page.json()
            assert data["entity"]["name"] == contact.name
            assert contact.name
            assert [d["name"] for d in data["deals"]] == [d.name for d in deals]
            assert deals
            missing = await client.get("/v1/crm/entities/999999", headers=bearer(token))
            assert missing.status_code == 404
