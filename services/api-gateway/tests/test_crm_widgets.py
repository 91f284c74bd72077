"""The CRM-side cards' server part and files: the amoCRM widget's one-time token gives an
operator session bound to the user's extension; CORS for the configured CRM origin; Bitrix24
opens the application page with a POST; the widget files are valid and load the shared card
module from the gateway."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import httpx
import pytest

from api_gateway.main import WEB
from api_gateway.services.webhooks import sign_amocrm_jwt
from api_gateway.settings import GatewaySettings, TenantSettings
from cbruntime import Secret

SECRET = "amo-integration-secret"
AMO = "https://example.amocrm.ru"


@pytest.fixture
def settings(settings: GatewaySettings) -> GatewaySettings:
    acme = TenantSettings(pbx=["main"], amocrm_secret=Secret(SECRET), amocrm_users={"42": "101"})
    return replace(settings, tenants={**settings.tenants, "acme": acme}, cors_origins=[AMO])


def _jwt(user_id: int, secret: str = SECRET) -> dict[str, str]:
    return {"X-Auth-Token": sign_amocrm_jwt(secret, {"user_id": user_id, "exp": time.time() + 60})}


async def test_the_amocrm_widget_gets_a_session_for_its_users_extension(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/v1/webhooks/amocrm/acme/session", headers=_jwt(42))
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert answer.json()["extension"] == "101"
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["extension"] == "101"
    forged = await client.post("/v1/webhooks/amocrm/acme/session", headers=_jwt(42, "nope"))
    assert forged.status_code == 401
    assert (await client.post("/v1/webhooks/amocrm/acme/session")).status_code == 401
    assert (await client.post("/v1/webhooks/nobody/x/session")).status_code == 404
    unmapped = await client.post("/v1/webhooks/amocrm/acme/session", headers=_jwt(7))
    assert unmapped.status_code == 403


async def test_cors_admits_the_configured_crm_origin_only(client: httpx.AsyncClient) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-auth-token",
        }

    ok = await client.options("/v1/webhooks/amocrm/acme/session", headers=preflight(AMO))
    assert ok.headers["access-control-allow-origin"] == AMO
    bad = await client.options("/v1/webhooks/amocrm/acme/session", headers=preflight("https://x"))
    assert "access-control-allow-origin" not in bad.headers
    module = await client.get("/ui/embed.js", headers={"Origin": AMO})
    assert module.headers["access-control-allow-origin"] == AMO


async def test_bitrix24_opens_the_application_page_with_a_post(client: httpx.AsyncClient) -> None:
    form = {"AUTH_ID": "x", "DOMAIN": "example.bitrix24.ru", "member_id": "m"}
    page = await client.post("/ui/crm/bitrix24.html", data=form)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="bitrix24.js">' in page.text
    module = await client.get("/ui/crm/bitrix24.js")
    assert 'from "../embed.js"' in module.text


def test_the_amocrm_widget_files_are_valid_and_load_the_shared_card_module() -> None:
    widget = WEB / "crm" / "amocrm"
    manifest = json.loads((widget / "manifest.json").read_text())
    info = manifest["widget"]
    for field in ("name", "description", "short_description", "version", "interface_version",
                  "locale", "installation", "support"):  # fmt: skip
        assert field in info, field
    assert info["interface_version"] == 2
    assert {"gateway_url", "tenant"} <= set(manifest["settings"])
    assert "settings" in manifest["locations"]
    for locale in info["locale"]:
        texts = json.loads((widget / "i18n" / f"{locale}.json").read_text())
        assert {"name", "description", "short_description"} <= set(texts["widget"])
        assert set(manifest["settings"]) <= set(texts["settings"])
    script = (widget / "script.js").read_text()
    assert 'define(["jquery"]' in script
    assert 'import(s.base + "/ui/embed.js")' in script
    assert "$authorizedAjax" in script
    for callback in ("render", "init", "bind_actions", "settings", "onSave", "destroy"):
        assert f"{callback}: function" in script
    embed = (WEB / "embed.js").read_text()
    assert 'import { CardDeck } from "./card.js";' in embed
