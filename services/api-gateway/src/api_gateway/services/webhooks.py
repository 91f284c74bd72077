"""CRM webhooks in: Bitrix24's form-encoded events (verified by ``application_token``) and
amoCRM's widget one-time tokens (``X-Auth-Token``, a JWT signed HS256 with the integration's
secret). Both are checked in constant time. :class:`ReplayGuard` accepts each Bitrix24
``CALL_ID`` and each amoCRM token once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import redis.asyncio as aioredis

from cbruntime import Secret

__all__ = ["ReplayGuard", "bitrix_form", "token_matches", "verify_amocrm_jwt"]


class ReplayGuard:
    """Each webhook id is accepted once (``SET NX`` with a TTL in ``{prefix}gw:seen:…``)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def first(self, what: str, ttl_s: int) -> bool:
        """True the first time ``what`` is seen within ``ttl_s``."""
        digest = hashlib.sha256(what.encode()).hexdigest()[:32]
        return bool(await self._redis.set(f"{self._prefix}gw:seen:{digest}", 1, nx=True, ex=ttl_s))

    @staticmethod
    def token_id(claims: dict[str, Any], token: str) -> str:
        """The token's ``jti``, else the hash of the whole token (one use either way)."""
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            return f"jti:{jti}"
        return hashlib.sha256(token.encode()).hexdigest()


def bitrix_form(body: bytes) -> dict[str, str]:
    """``event=…&data[PHONE_NUMBER]=…&auth[application_token]=…`` as a flat dict."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError):
        return {}


def token_matches(expected: Secret | None, given: str) -> bool:
    if expected is None or not expected.reveal():
        hmac.compare_digest(given.encode(), b"-" * max(1, len(given)))
        return False
    return hmac.compare_digest(expected.reveal().encode(), given.encode())


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_amocrm_jwt(
    secret: Secret | None, token: str, *, leeway_s: int = 30
) -> dict[str, Any] | None:
    """The claims of a valid HS256 token (signature, ``exp``, ``nbf``), else None."""
    if secret is None or not secret.reveal() or token.count(".") != 2:
        return None
    head, body, sig = token.split(".")
    mac = hmac.new(secret.reveal().encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(mac, _b64(sig)):
            return None
        header = json.loads(_b64(head))
        claims = json.loads(_b64(body))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or exp + leeway_s < now:
        return None
    if isinstance(nbf, int | float) and nbf - leeway_s > now:
        return None
    return claims


def sign_amocrm_jwt(secret: str, claims: dict[str, Any]) -> str:
    """An HS256 token as amoCRM makes them (for tests and the demo widget)."""

    def enc(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing = f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(claims)}"
    mac = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
