"""API keys: created with a token shown once, stored hashed, revoked for good; problem+json
errors with stable ids; the per-key rate limit."""

from __future__ import annotations

import hashlib
from typing import cast

import httpx
import redis.asyncio as aioredis

from api_gateway.state import Services

from .conftest import MakeKey, bearer


async def test_a_created_key_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, make_key: MakeKey, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    admin = await make_key("admin")
    created = await client.post(
        "/v1/keys", json={"scopes": ["calls:read"], "name": "crm"}, headers=bearer(admin)
    )
    assert created.status_code == 201
    token = created.json()["token"]
    listed = await client.get("/v1/keys", headers=bearer(admin))
    assert token not in listed.text
    stored = cast(bytes, await redis_client.get(f"{redis_prefix}gw:key:{token.split('_')[1]}"))
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    assert token.encode() not in stored
    assert (await client.get("/v1/calls", headers=bearer(token))).status_code == 200


async def test_a_revoked_key_never_authenticates_again(
    client: httpx.AsyncClient, make_key: MakeKey, services: Services
) -> None:
    admin = await make_key("admin")
    token = await make_key("calls:read")
    key = await services.keys.verify(token)
    assert key is not None
    revoked = await client.delete(f"/v1/keys/{key.id}", headers=bearer(admin))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] > 0
    answer = await client.get("/v1/calls", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["error_id"] == "unauthenticated"


async def test_errors_are_problem_json_with_a_stable_id_and_the_request_id(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/calls", headers={"X-Request-ID": "req-42"})
    body = answer.json()
    assert answer.headers["x-request-id"] == "req-42"
    assert body["error_id"] == "unauthenticated"
    assert body["request_id"] == "req-42"
    assert body["type"] == "urn:callbridge:error:unauthenticated"


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    token = await make_key("calls:read", rate_limit=3)
    codes = [(await client.get("/v1/calls", headers=bearer(token))).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = await client.get("/v1/calls", headers=bearer(token))
    assert limited.json()["error_id"] == "rate-limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_a_key_repr_shows_neither_token_nor_hash(services: Services) -> None:
    key, token = await services.keys.create("acme", ("admin",))
    assert token not in repr(key)
    assert key.token_hash not in repr(key)
