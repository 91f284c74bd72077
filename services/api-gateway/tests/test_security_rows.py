"""One test per row of issue 12 (the attacks that worked), each failing before its fix. Row 2
(secrets in logs) is test_secrets_in_logs, rows 9 and 11 are in test_bounds, rows 6 and 7's
feeds in test_feeds_authz; row 10 (FastAGI) belongs to the voice-bot."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis.asyncio as aioredis

from api_gateway.errors import ApiError
from api_gateway.main import create_app
from api_gateway.server import make_server
from api_gateway.services.numbers import NumberPolicy
from api_gateway.services.webhooks import sign_amocrm_jwt
from api_gateway.settings import (
    GatewaySettings,
    OriginateSettings,
    RecordingSettings,
    RouteSettings,
    TenantSettings,
)
from api_gateway.state import Services, open_services
from api_gateway.testing import publish_events, publish_live, serving
from cbcontracts import CallEnded, CallStarted
from cbcrm.builtin import BuiltinCrm
from cbrecords import LiveCall
from cbruntime import Secret, listen_socket
from cbstreams import PbxKeys

from .conftest import MakeKey, bearer

T0 = 1_712_345_678_000_000
NUMBER = "79161234567"
B24, AMO = "b24-app-token-0123456789", "amo-integration-secret"


@pytest.fixture
def settings(settings: GatewaySettings, tmp_path: Path) -> GatewaySettings:
    for name in ("talk.wav", "nul.wav"):
        (tmp_path / name).write_bytes(b"RIFF" + b"\0" * 100)
    acme = TenantSettings(
        pbx=["main"],
        bitrix24_application_token=Secret(B24),
        bitrix24_users={"7": "102"},
        amocrm_secret=Secret(AMO),
        amocrm_users={"42": "101"},
        amocrm_account_id="31337",
    )
    return replace(
        settings,
        tenants={**settings.tenants, "acme": acme},
        recordings=RecordingSettings(root=str(tmp_path), link_secret=Secret("k" * 32)),
        originate=replace(
            settings.originate,
            action_timeout_s=0.3,
            deny_prefixes=OriginateSettings().deny_prefixes,
        ),  # the default
        crm=replace(settings.crm, builtin_path=str(tmp_path / "crm.sqlite3"), wait_s=0.05),
        embed_origins=["https://portal.bitrix24.ru"],
    )


async def _ended(redis: aioredis.Redis, settings: GatewaySettings, call_id: str, **kw: Any) -> None:
    common: dict[str, Any] = {
        "call_id": call_id,
        "pbx": "main",
        "direction": "inbound",
        "external": NUMBER,
    }
    await publish_events(
        redis,
        settings,
        [
            CallStarted(event_id=f"main/{call_id}/1", seq=1, at=T0, **common),
            CallEnded(
                event_id=f"main/{call_id}/2",
                seq=2,
                at=T0 + 10**7,
                result="answered",
                started_at=T0,
                **common,
                **kw,
            ),
        ],
    )


async def _live(
    services: Services,
    call_id: str,
    operator: str,
    talking: tuple[str, ...],
    ringing: tuple[str, ...] = (),
) -> None:
    call = LiveCall(call_id=call_id, pbx="main", tenant="acme", direction="inbound",
                    started_at=T0, external=NUMBER, extension=operator,
                    extensions=tuple(dict.fromkeys((operator, *talking, *ringing))),
                    talking=talking, ringing=ringing)  # fmt: skip
    await publish_live(services.redis, services.settings, [call])


async def _session(services: Services, ext: str, issuer: str = "") -> str:
    return (await services.sessions.issue("acme", f"op{ext}", ext, 600, issuer))[1]


# --- row 1: another operator's live call --------------------------------------------------


async def test_row1_no_one_hangs_up_or_transfers_a_call_they_are_not_on(
    client: httpx.AsyncClient, services: Services, make_key: MakeKey, redis_prefix: str
) -> None:
    await _live(services, "1712.1", "100", talking=("100",), ringing=("101",))
    actions = PbxKeys("main", redis_prefix).actions
    for token in (
        await _session(services, "101"),
        await make_key("calls:originate", extensions=("101",)),
    ):
        hang = await client.delete("/v1/calls/1712.1?pbx=main", headers=bearer(token))
        moved = await client.post(
            "/v1/calls/1712.1/transfer",
            headers=bearer(token),
            json={"to": "101", "mode": "redirect", "pbx": "main"},
        )
        unknown = await client.delete("/v1/calls/1712.999?pbx=main", headers=bearer(token))
        assert hang.status_code == moved.status_code == unknown.status_code == 404
        assert hang.json()["error_id"] == unknown.json()["error_id"]  # liveness does not leak
    assert await services.redis.xlen(actions) == 0  # nothing reached the PBX
    mine = await client.delete(
        "/v1/calls/1712.1?pbx=main", headers=bearer(await _session(services, "100"))
    )
    assert mine.status_code == 504  # authorised: sent to the PBX (no ami-ingest here)
    assert await services.redis.xlen(actions) == 1


async def test_an_operator_hands_its_own_call_to_a_colleague_never_outside(
    client: httpx.AsyncClient, services: Services, redis_prefix: str
) -> None:
    """The colleagues panel's Transfer: the operator on the call may send it to any
    extension, from its own phone; an outside number is no extension (422, nothing sent)."""
    await _live(services, "1712.2", "100", talking=("100",))
    actions = PbxKeys("main", redis_prefix).actions
    anna = bearer(await _session(services, "100"))
    outside = await client.post(
        "/v1/calls/1712.2/transfer", headers=anna, json={"to": "88001234567", "pbx": "main"}
    )
    assert outside.status_code == 422
    other_phone = await client.post(
        "/v1/calls/1712.2/transfer", headers=anna,
        json={"to": "102", "from_extension": "101", "pbx": "main"},
    )  # fmt: skip
    assert other_phone.status_code == 403
    assert await services.redis.xlen(actions) == 0
    moved = await client.post(
        "/v1/calls/1712.2/transfer", headers=anna, json={"to": "102", "pbx": "main"}
    )
    assert moved.status_code == 504  # authorised: sent to the PBX (no ami-ingest here)
    assert await services.redis.xlen(actions) == 1


# --- row 3: toll fraud --------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "00882 1234 5678",
        "810 882 1234 5678",
        "8 809 123 45 67",
        "+007809 1234567",
        "80 375 29 123 45 67",
        "+882 1234 5678",
        "+7 809 123-45-67",
        "+870 772 123 456",
    ],
)
def test_row3_the_default_deny_list_sees_through_every_spelling(spelling: str) -> None:
    policy = NumberPolicy(
        OriginateSettings(deny_prefixes=[*OriginateSettings().deny_prefixes, "375"])
    )
    with pytest.raises(ApiError) as refused:
        policy.number(spelling)
    assert refused.value.status in (403, 422)
    assert NumberPolicy(OriginateSettings()).number("8 (916) 123-45-67") == "+79161234567"


async def test_row3_click_to_call_never_dials_a_denied_number(
    client: httpx.AsyncClient, make_key: MakeKey, services: Services, redis_prefix: str
) -> None:
    token = await make_key("calls:originate")
    for spelling in ("00882 1234 5678", "810 882 1234 5678", "8 809 123 45 67"):
        answer = await client.post(
            "/v1/calls", headers=bearer(token), json={"extension": "100", "number": spelling}
        )
        assert answer.status_code == 403, answer.text
        assert answer.json()["error_id"] == "number-denied"
    assert await services.redis.xlen(PbxKeys("main", redis_prefix).actions) == 0


# --- rows 4 and 8: recordings -------------------------------------------------------------


async def test_row4_a_link_of_another_tenant_never_reaches_acmes_recording(
    client: httpx.AsyncClient, services: Services, settings: GatewaySettings
) -> None:
    await _ended(
        services.redis,
        settings,
        "c4",
        answered_by="100",
        talked=("100",),
        recording_file="talk.wav",
    )
    links = services.links
    assert links is not None
    theirs = httpx.URL(links.url("c4", tenant="globex"))
    assert (await client.get(theirs.raw_path.decode())).status_code == 404
    pointed = theirs.raw_path.decode().replace("/globex/", "/acme/")
    assert (await client.get(pointed)).status_code == 401
    ours = httpx.URL(links.url("c4", tenant="acme"))
    assert (await client.get(ours.raw_path.decode())).status_code == 200


async def test_row8_an_operator_whose_phone_only_rang_gets_no_recording(
    client: httpx.AsyncClient, services: Services, settings: GatewaySettings
) -> None:
    await _ended(
        services.redis,
        settings,
        "c8",
        answered_by="100",
        extension="100",
        rang=("100", "101"),
        talked=("100",),
        recording_file="talk.wav",
    )
    rang = bearer(await _session(services, "101"))
    talked = bearer(await _session(services, "100"))
    assert (await client.get("/v1/calls/c8/recording", headers=rang)).status_code == 404
    assert (await client.post("/v1/calls/c8/recording/link", headers=rang)).status_code == 404
    assert (await client.get("/v1/calls/c8", headers=rang)).status_code == 200  # its history
    assert (await client.get("/v1/calls/c8/recording", headers=talked)).status_code == 200


# --- row 5: the built-in CRM --------------------------------------------------------------


async def test_row5_crm_entities_and_deals_stay_with_their_tenant_and_operator(
    client: httpx.AsyncClient, services: Services, settings: GatewaySettings, make_key: MakeKey
) -> None:
    crm = await BuiltinCrm.open(settings.crm.builtin_path, seed=True)
    await crm.aclose()
    url = "/v1/crm/entities/3"  # Иван Кузнецов: responsible user 1 = ext 100
    assert (await client.get(url, headers=bearer(await _session(services, "100")))).is_success
    for who in (
        await _session(services, "101"),
        await make_key("calls:read", tenant="globex"),
        await make_key("calls:read", extensions=("102",)),
    ):
        answer = await client.get(url, headers=bearer(who))
        assert answer.status_code == 404
        assert "Иван" not in answer.text
    deal = {"entity_id": "3", "name": "mine now"}
    other = await client.post(
        "/v1/crm/deals", json=deal, headers=bearer(await make_key("crm:write", tenant="globex"))
    )
    assert other.status_code == 403
    assert await services.redis.xlen(settings.crm.commands_stream) == 0


# --- row 7: keys --------------------------------------------------------------------------


async def test_row7_an_admin_limited_to_an_extension_cannot_revoke_an_unrestricted_key(
    client: httpx.AsyncClient, services: Services, make_key: MakeKey
) -> None:
    full, _ = await services.keys.create("acme", ("admin",))
    limited = bearer(await make_key("admin", extensions=("101",)))
    assert (await client.delete(f"/v1/keys/{full.id}", headers=limited)).status_code == 403
    assert not (await services.keys.get(full.id) or full).revoked_at
    listed = (await client.get("/v1/keys", headers=limited)).json()
    assert full.id not in [k["id"] for k in listed]


# --- row 12: X-Forwarded-For ---------------------------------------------------------------


async def test_row12_x_forwarded_for_is_not_believed_from_an_untrusted_peer(
    settings: GatewaySettings,
) -> None:
    allowed = replace(settings, route=RouteSettings(fallback="600", allow={"10.0.0.0/8": "acme"}))
    spoofed = {"X-Forwarded-For": "10.1.2.3"}
    async with open_services(allowed) as services:
        async with serving(create_app(allowed, services)) as base, httpx.AsyncClient() as http:
            answer = await http.get(f"{base}/v1/route", params={"number": NUMBER}, headers=spoofed)
        assert answer.status_code == 401  # the peer is 127.0.0.1, not the allow-listed PBX
        trusting = make_server(
            create_app(allowed, services), lifespan="off", grace_s=1, trusted_proxies=["127.0.0.1"]
        )
        sock = listen_socket("127.0.0.1", 0)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(trusting.serve(sockets=[sock]))
            async with asyncio.timeout(10):
                while not trusting.started:  # noqa: ASYNC110 - uvicorn has no started event
                    await asyncio.sleep(0.01)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/route"
            async with httpx.AsyncClient() as http:
                believed = await http.get(url, params={"number": NUMBER}, headers=spoofed)
            trusting.should_exit = True
    assert believed.status_code == 200  # a configured proxy's header is believed
    assert believed.text == "600"


# --- row 13: webhook replays --------------------------------------------------------------


async def test_row13_a_replayed_bitrix24_call_id_starts_nothing(
    client: httpx.AsyncClient, services: Services, redis_prefix: str
) -> None:
    fields = {
        "event": "ONEXTERNALCALLSTART",
        "auth[application_token]": B24,
        "data[USER_ID]": "7",
        "data[PHONE_NUMBER]": NUMBER,
        "data[CALL_ID]": "ext.1",
    }
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    first = await client.post("/v1/webhooks/bitrix24/acme", content=urlencode(fields), headers=form)
    again = await client.post("/v1/webhooks/bitrix24/acme", content=urlencode(fields), headers=form)
    assert first.status_code == 504  # sent to the PBX (no ami-ingest here)
    assert again.json() == {"ignored": "replay"}
    assert await services.redis.xlen(PbxKeys("main", redis_prefix).actions) == 1


async def test_row13_an_amocrm_token_works_once_and_only_for_its_account(
    client: httpx.AsyncClient,
) -> None:
    claims = {"user_id": 42, "account_id": 31337, "jti": "j-1", "exp": time.time() + 60}
    token = {"X-Auth-Token": sign_amocrm_jwt(AMO, claims)}
    assert (await client.post("/v1/webhooks/amocrm/acme/session", headers=token)).is_success
    again = await client.post("/v1/webhooks/amocrm/acme/session", headers=token)
    assert again.status_code == 401
    foreign = sign_amocrm_jwt(AMO, {**claims, "account_id": 666, "jti": "j-2"})
    answer = await client.post(
        "/v1/webhooks/amocrm/acme/session", headers={"X-Auth-Token": foreign}
    )
    assert answer.status_code == 401


# --- row 14: sessions die with their issuer; sessions can be revoked ----------------------


async def test_row14_revoking_the_issuer_revokes_its_sessions_and_links(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin = await make_key("admin")
    issued = await client.post(
        "/v1/sessions", json={"user": "u", "extension": "100"}, headers=bearer(admin)
    )
    link = await client.post(
        "/v1/sessions/links", json={"user": "u", "extension": "100"}, headers=bearer(admin)
    )
    session = bearer(issued.json()["token"])
    assert (await client.get("/v1/me", headers=session)).status_code == 200
    revoked = await client.delete(f"/v1/keys/{admin.split('_')[1]}", headers=bearer(admin))
    assert revoked.status_code == 200
    assert (await client.get("/v1/me", headers=session)).status_code == 401
    assert (await client.get("/v1/calls", headers=session)).status_code == 401
    code = {"code": link.json()["code"]}
    assert (await client.post("/v1/sessions/exchange", json=code)).status_code == 401


async def test_row14_an_admin_revokes_one_session(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin = bearer(await make_key("admin"))
    issued = (
        await client.post("/v1/sessions", json={"user": "u", "extension": "100"}, headers=admin)
    ).json()
    listed = (await client.get("/v1/sessions", headers=admin)).json()
    assert [s["session_id"] for s in listed] == [issued["session_id"]]
    gone = await client.delete(f"/v1/sessions/{issued['session_id']}", headers=admin)
    assert gone.status_code == 204
    assert (await client.get("/v1/me", headers=bearer(issued["token"]))).status_code == 401


# --- row 15: headers and the API docs -----------------------------------------------------


async def test_row15_pages_carry_a_csp_limited_to_the_crm_and_docs_load_nothing_remote(
    client: httpx.AsyncClient, services: Services, settings: GatewaySettings
) -> None:
    crm = await BuiltinCrm.open(settings.crm.builtin_path, seed=True)
    await crm.aclose()
    for path in ("/ui/", "/crm/entities/3", "/ui/crm/bitrix24.html"):
        page = await client.get(path)
        assert page.status_code == 200, path
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'self' https://portal.bitrix24.ru" in csp
        assert "script-src 'self'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
    docs = await client.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert "https://" not in docs.text
    assert "http://" not in docs.text
    assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200
    assert (await client.get("/docs/init.js")).status_code == 200


# --- row 16: malformed input --------------------------------------------------------------


async def test_row16_a_long_bitrix24_field_is_a_422_and_its_value_is_never_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    value = "7916" + "1" * 60
    fields = {
        "event": "ONEXTERNALCALLSTART",
        "auth[application_token]": B24,
        "data[USER_ID]": "7",
        "data[PHONE_NUMBER]": value,
        "data[CALL_ID]": "ext.16",
    }
    with caplog.at_level(logging.DEBUG):
        answer = await client.post(
            "/v1/webhooks/bitrix24/acme",
            content=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 422
    assert value not in answer.text
    assert value not in caplog.text


async def test_row16_a_nul_in_a_pbx_reported_recording_name_is_a_404(
    client: httpx.AsyncClient, services: Services, settings: GatewaySettings
) -> None:
    await _ended(
        services.redis,
        settings,
        "c16",
        answered_by="100",
        talked=("100",),
        recording_file="nul.wav\x00.txt",
    )
    session = bearer(await _session(services, "100"))
    assert (await client.get("/v1/calls/c16/recording", headers=session)).status_code == 404
