"""Operator sessions: a random token bound server-side to one user and one extension of a
tenant, stored hashed in Redis with a TTL (``{prefix}gw:session:<sha256>``). The feed of a
session is filtered by that extension; nothing the browser sends can change it."""

from __future__ import annotations

import secrets
import time
from typing import cast

import msgspec
import redis.asyncio as aioredis

from .keystore import hash_token

__all__ = ["OperatorSession", "SessionStore"]


class OperatorSession(msgspec.Struct, frozen=True, kw_only=True):
    tenant: str
    user: str
    extension: str
    expires_at: int
    issued_by: str = ""  # the admin key's id


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(OperatorSession)


class SessionStore:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, token: str) -> str:
        return f"{self._prefix}gw:session:{hash_token(token)}"

    async def issue(
        self, tenant: str, user: str, extension: str, ttl_s: int, issued_by: str
    ) -> tuple[OperatorSession, str]:
        token = f"cbs_{secrets.token_urlsafe(32)}"
        session = OperatorSession(
            tenant=tenant,
            user=user,
            extension=extension,
            expires_at=int(time.time()) + ttl_s,
            issued_by=issued_by,
        )
        await self._redis.set(self._key(token), _enc.encode(session), ex=ttl_s)
        return session, token

    async def get(self, token: str) -> OperatorSession | None:
        if not token.startswith("cbs_"):
            return None
        raw = cast(bytes | None, await self._redis.get(self._key(token)))
        return _dec.decode(raw) if raw else None

    async def end(self, token: str) -> None:
        await self._redis.delete(self._key(token))
