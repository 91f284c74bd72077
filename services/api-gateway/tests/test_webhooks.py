"""CRM webhooks in: Bitrix24 ONEXTERNALCALLSTART (application_token) and the amoCRM widget
(one-time HS256 token) both end in the same originate path as POST /v1/calls."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import pytest
import redis.asyncio as aioredis

from ami_ingest.testing import SECRET, read_until, running, settings_for, syncs
from amisim import Simulator
from api_gateway.services.webhooks import sign_amocrm_jwt
from api_gateway.settings import GatewaySettings, TenantSettings
from cbruntime import Secret
from cbstreams import PbxKeys

B24_TOKEN = "b24-app-token-0123456789"
AMO_SECRET = "amo-integration-secret"


@pytest.fixture
def settings(settings: GatewaySettings) -> GatewaySettings:
    acme = TenantSettings(
        pbx=["main"],
        bitrix24_application_token=Secret(B24_TOKEN),
        bitrix24_users={"7": "102"},
        amocrm_secret=Secret(AMO_SECRET),
        amocrm_users={"42": "101"},
    )
    return replace(settings, tenants={**settings.tenants, "acme": acme})


def _b24(token: str, **data: str) -> str:
    fields = {"event": "ONEXTERNALCALLSTART", "auth[application_token]": token}
    fields.update({f"data[{k}]": v for k, v in data.items()})
    return urlencode(fields)


async def test_a_bitrix24_click_to_call_rings_the_users_extension_through_the_pbx(
    client: httpx.AsyncClient, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    keys = PbxKeys("main", redis_prefix)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with (
        Simulator(secret=SECRET, speed=0) as sim,
        running(settings_for(redis_url, redis_prefix, sim)),
    ):
        await read_until(redis_client, keys.ami, lambda e: bool(syncs(e)))
        body = _b24(B24_TOKEN, USER_ID="7", PHONE_NUMBER="79161234567", CALL_ID="externalCall.1")
        answer = await client.post("/v1/webhooks/bitrix24/acme", content=body, headers=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()["bitrix24_call_id"] == "externalCall.1"
    originate = next(a for a in sim.received_actions if a["Action"] == "Originate")
    assert originate["Channel"] == "PJSIP/102"
    assert originate["ChannelId"] == answer.json()["call_id"]


async def test_a_bitrix24_event_with_a_wrong_application_token_is_refused(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for tenant, token in (("acme", "wrong"), ("globex", B24_TOKEN), ("nobody", B24_TOKEN)):
        body = _b24(token, USER_ID="7", PHONE_NUMBER="79161234567")
        answer = await client.post(f"/v1/webhooks/bitrix24/{tenant}", content=body, headers=form)
        assert answer.status_code == 401
    assert await redis_client.xlen(PbxKeys("main", redis_prefix).actions) == 0


async def test_the_amocrm_widget_token_maps_the_user_to_an_extension_and_reaches_the_pbx_path(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    now = int(time.time())
    good = sign_amocrm_jwt(
        AMO_SECRET, {"user_id": 42, "account_id": 1, "iat": now, "exp": now + 60}
    )
    stale = sign_amocrm_jwt(AMO_SECRET, {"user_id": 42, "exp": now - 3600})
    forged = sign_amocrm_jwt("not-the-secret", {"user_id": 42, "exp": now + 60})
    url, body = "/v1/webhooks/amocrm/acme/call", {"number": "79161234567"}
    for token in (stale, forged):
        assert (
            await client.post(url, json=body, headers={"X-Auth-Token": token})
        ).status_code == 401
    answer = await client.post(url, json=body, headers={"X-Auth-Token": good})
    assert answer.status_code == 504  # no ami-ingest here: the PBX never answered
    rows = cast(list[Any], await redis_client.xrange(PbxKeys("main", redis_prefix).actions))
    request = cast(dict[bytes, bytes], rows[0][1])
    assert b"PJSIP/101" in request[b"headers"]
