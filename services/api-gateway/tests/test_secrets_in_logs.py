"""No secret in any log line, at any level, from any library (issue 12 row 2: uvicorn logs each
WebSocket handshake with its ``?token=`` query through ``uvicorn.error``).

A full flow on a real uvicorn with the service's own logging (``cbruntime.setup_logging`` at
DEBUG) and pytest's capture handler beside it: admin key, sign-in link and its code, operator
session, feeds over WebSocket and SSE with ``?token=`` (accepted and refused), a signed
recording link, the CRM webhooks' tokens. Then every secret the test made is looked for in
every captured line."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api_gateway.main import create_app
from api_gateway.services.webhooks import sign_amocrm_jwt
from api_gateway.settings import GatewaySettings, RecordingSettings, TenantSettings
from api_gateway.state import Services
from api_gateway.testing import publish_events, serving
from cbcontracts import CallEnded
from cbruntime import Secret, setup_logging

from .conftest import bearer

B24, AMO, LINK = "b24-app-token-0123456789", "amo-integration-secret-42", "link-secret-" + "z" * 20


@pytest.fixture
def settings(settings: GatewaySettings, tmp_path: Path) -> GatewaySettings:
    (tmp_path / "r.wav").write_bytes(b"RIFF" + b"\0" * 64)
    acme = TenantSettings(
        pbx=["main"],
        bitrix24_application_token=Secret(B24),
        bitrix24_users={"7": "100"},
        amocrm_secret=Secret(AMO),
        amocrm_users={"42": "100"},
    )
    return replace(
        settings,
        tenants={**settings.tenants, "acme": acme},
        recordings=RecordingSettings(root=str(tmp_path), link_secret=Secret(LINK)),
        originate=replace(settings.originate, action_timeout_s=0.2),
    )


@pytest.fixture
def service_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """The service's logging at DEBUG into a buffer (and pytest's capture kept), restored."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory())
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])


async def _ws(url: str) -> None:
    """Open a feed, then leave (a refused one closes or is rejected at the handshake)."""
    try:
        async with websockets.connect(url, open_timeout=10) as ws:
            pong = await ws.ping()
            await asyncio.wait_for(pong, 10)
    except (InvalidStatus, ConnectionClosed):
        pass


async def test_no_secret_the_flow_made_is_in_any_log_line(
    settings: GatewaySettings,
    services: Services,
    service_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets: list[str] = [B24, AMO, LINK]
    admin_key, admin = await services.keys.create("acme", ("admin",))
    secrets.append(admin)
    await publish_events(
        services.redis,
        settings,
        [
            CallEnded(
                event_id="main/x/1",
                call_id="c1",
                pbx="main",
                seq=1,
                at=1,
                result="answered",
                answered_by="100",
                talked=("100",),
                recording_file="r.wav",
                started_at=1,
            )
        ],
    )
    async with (
        serving(create_app(settings, services)) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        ws = base.replace("http://", "ws://")
        link = (
            await http.post(
                "/v1/sessions/links",
                headers=bearer(admin),
                json={"user": "Анна", "extension": "100"},
            )
        ).json()
        secrets.append(link["code"])
        session = (await http.post("/v1/sessions/exchange", json={"code": link["code"]})).json()
        token = session["token"]
        secrets.append(token)
        await _ws(f"{ws}/v1/feeds/events?token={token}")  # accepted
        await _ws(f"{ws}/v1/feeds/events?token={token[:-2]}xx")  # refused
        await _ws(f"{ws}/v1/feeds/ami/main?token={token}")  # refused: no admin
        await _ws(f"{ws}/v1/feeds/ami/main?token={admin}")  # accepted
        refused = await http.get("/v1/feeds/events", params={"token": link["code"]})
        assert refused.status_code == 401
        made = await http.post("/v1/calls/c1/recording/link", headers=bearer(token))
        signed = httpx.URL(made.json()["url"])
        secrets.append(signed.params["sig"])
        assert (await http.get(signed.raw_path.decode())).status_code == 200
        _, other = await services.keys.create("acme", ("calls:read",))
        secrets.append(other)
        await http.get("/v1/calls", headers={"X-API-Key": other})
        await http.get("/v1/calls", headers=bearer(other[:-3] + "abc"))  # a wrong secret
        await http.delete(f"/v1/keys/{admin_key.id}", headers=bearer(admin))
        await http.get("/v1/keys", headers=bearer(admin))  # revoked now
        jwt = sign_amocrm_jwt(AMO, {"user_id": 42, "jti": "j", "exp": time.time() + 60})
        secrets.append(jwt)
        await http.post("/v1/webhooks/amocrm/acme/session", headers={"X-Auth-Token": jwt})
        await http.post("/v1/webhooks/amocrm/acme/session", headers={"X-Auth-Token": jwt})
        form = {
            "event": "ONEXTERNALCALLSTART",
            "auth[application_token]": B24,
            "data[USER_ID]": "7",
            "data[PHONE_NUMBER]": "79161234567",
            "data[CALL_ID]": "ext.9",
        }
        await http.post(
            "/v1/webhooks/bitrix24/acme",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    logged = service_logs.getvalue() + "\n" + caplog.text
    assert "WebSocket /v1/feeds/events?token=***" in logged  # uvicorn's handshake lines
    assert "api_gateway.access" in logged
    for secret in secrets:
        assert secret not in logged, f"a secret ({secret[:6]}…) is in the logs"
