"""Operators: a one-time sign-in link becomes a session once; a session acts as a key limited
to its extension (its calls, click-to-call from its phone only, no admin); its card feed says
when it answered, fills a card shown after its CRM data, and says when a shown call ended.
The page itself is served without credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from api_gateway.errors import ApiError
from api_gateway.services.cards import OperatorCards
from api_gateway.services.recordings import RecordingSource
from api_gateway.settings import GatewaySettings, RecordingSettings
from api_gateway.testing import publish_events
from cbcontracts import CallAnswered, CallEnded, CallRinging, CallStarted, encode_event
from cbcontracts.crm import CardData, CardEntity, encode_crm_event

from .conftest import MakeKey, bearer

T0 = 1_800_000_000_000_000


async def _link(client: httpx.AsyncClient, admin: str, extension: str = "100") -> str:
    answer = await client.post(
        "/v1/sessions/links",
        json={"user": "Анна", "extension": extension},
        headers=bearer(admin),
    )
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    assert url.startswith("http://127.0.0.1:8080/ui/#code=cbc_")
    return url.rpartition("code=")[2]


async def _session(client: httpx.AsyncClient, make_key: MakeKey, extension: str = "100") -> str:
    code = await _link(client, await make_key("admin"), extension)
    answer = await client.post("/v1/sessions/exchange", json={"code": code})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


async def test_a_sign_in_code_works_once(client: httpx.AsyncClient, make_key: MakeKey) -> None:
    code = await _link(client, await make_key("admin"))
    first = await client.post("/v1/sessions/exchange", json={"code": code})
    second = await client.post("/v1/sessions/exchange", json={"code": code})
    assert first.status_code == 200
    assert first.json()["extension"] == "100"
    assert second.status_code == 401
    assert second.headers["content-type"] == "application/problem+json"
    me = await client.get("/v1/me", headers=bearer(first.json()["token"]))
    assert me.json() == {
        "user": "Анна",
        "extension": "100",
        "tenant": "acme",
        "expires_at": first.json()["expires_at"],
        "supervisor": False,
    }


async def test_only_an_admin_issues_links(client: httpx.AsyncClient, make_key: MakeKey) -> None:
    body = {"user": "u", "extension": "100"}
    assert (await client.post("/v1/sessions/links", json=body)).status_code == 401
    reader = bearer(await make_key("calls:read"))
    assert (await client.post("/v1/sessions/links", json=body, headers=reader)).status_code == 403
    limited = bearer(await make_key("admin", extensions=("101",)))
    answer = await client.post("/v1/sessions/links", json=body, headers=limited)
    assert answer.status_code == 403


CALLS = [("c100", "100"), ("c101", "101")]


def _ended(call_id: str, ext: str, at: int, common: dict[str, Any]) -> CallEnded:
    return CallEnded(
        event_id=f"main/{call_id}",
        call_id=call_id,
        at=at,
        started_at=at,
        result="answered",
        answered_by=ext,
        rang=(ext,),
        **common,
    )


async def test_a_session_reads_only_its_extensions_calls_and_calls_only_from_it(
    client: httpx.AsyncClient,
    make_key: MakeKey,
    redis_client: aioredis.Redis,
    settings: GatewaySettings,
) -> None:
    token = await _session(client, make_key, "100")
    common: dict[str, Any] = {"pbx": "main", "direction": "inbound", "external": "7916", "seq": 2}
    await publish_events(
        redis_client,
        settings,
        [_ended(c, ext, T0 + i, common) for i, (c, ext) in enumerate(CALLS)],
    )
    calls = await client.get("/v1/calls", headers=bearer(token))
    assert [c["call_id"] for c in calls.json()["calls"]] == ["c100"]
    assert (await client.get("/v1/calls/c101", headers=bearer(token))).status_code == 404
    other = {"extension": "101", "number": "79161234567"}
    refused = await client.post("/v1/calls", json=other, headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["error_id"] == "extension-not-allowed"
    assert (await client.get("/v1/keys", headers=bearer(token))).status_code == 403
    assert (await client.delete("/v1/me", headers=bearer(token))).status_code == 204
    assert (await client.get("/v1/calls", headers=bearer(token))).status_code == 401


async def test_the_page_is_served_without_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).headers["location"] == "/ui/"
    page = await client.get("/ui/")
    assert page.status_code == 200
    assert '<script type="module" src="app.js">' in page.text
    for module in ("app.js", "api.js", "card.js", "history.js", "style.css"):
        assert (await client.get(f"/ui/{module}")).status_code == 200, module


def _fields(data: bytes) -> dict[bytes, bytes]:
    return {b"data": data}


def test_the_card_feed_fills_late_cards_says_answered_and_says_ended() -> None:
    cards = OperatorCards({"main"}, "100")
    base: dict[str, Any] = {"call_id": "A", "pbx": "main", "external": "79031112233"}
    entity = CardEntity(kind="contact", id="4", name="Мария")
    data = CardData(
        event_id="e/card", call_id="A", pbx="main", at=T0, phone="+79031112233", entity=entity
    )
    answer: dict[str, Any] = {"answered_by": "100", "extension": "100"}
    steps = [
        (1, encode_crm_event(data)),  # the CRM answered before the phone rang
        (0, encode_event(CallStarted(event_id="1", seq=1, at=T0, **base))),
        (0, encode_event(CallRinging(event_id="2", seq=2, at=T0, extension="100", **base))),
        (0, encode_event(CallAnswered(event_id="3", seq=3, at=T0, **answer, **base))),
        (0, encode_event(CallEnded(event_id="4", seq=4, at=T0, result="answered", **base))),
    ]
    got = [m for stream, raw in steps for m in cards(stream, _fields(raw))]
    assert [m["type"] for m in got] == [
        "card.show",
        "card.data",
        "card.answered",
        "card.hide",
        "call.ended",
    ]
    assert got[1]["data"]["entity"]["name"] == "Мария"
    assert got[4]["result"] == "answered"


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("/var/spool/asterisk/monitor/2024/a.wav", True),
        ("2024/a.wav", True),
        ("/elsewhere/a.wav", False),
    ],
)
def test_mixmonitor_paths_on_the_pbx_map_under_the_root(
    tmp_path: Path, name: str, found: bool
) -> None:
    (tmp_path / "2024").mkdir()
    (tmp_path / "2024" / "a.wav").write_bytes(b"RIFF")
    settings = RecordingSettings(root=str(tmp_path), pbx_dir="/var/spool/asterisk/monitor")
    source = RecordingSource(settings, httpx.AsyncClient())
    if found:
        assert source.local_path(name) == (tmp_path / "2024" / "a.wav").resolve()
    else:
        with pytest.raises(ApiError, match="no-recording"):
            source.local_path(name)
