"""API keys: random tokens shown once, stored as a SHA-256 hash, checked in constant time.

A token is ``cbk_<id>_<secret>``: the id finds the record (``{prefix}gw:key:<id>``), the
hash of the whole token is compared with :func:`hmac.compare_digest`. The set
``{prefix}gw:keys`` lists every id. Revoked keys stay listed (``revoked_at``) and never
authenticate again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Literal, cast, get_args

import msgspec
import redis.asyncio as aioredis

__all__ = ["SCOPES", "ApiKey", "KeyStore", "Scope", "hash_token"]

Scope = Literal[
    "calls:read", "calls:originate", "recordings:read", "crm:write", "events:read", "admin"
]
SCOPES: tuple[str, ...] = get_args(Scope)
_TOKEN = re.compile(r"^cbk_([0-9a-f]{16})_[A-Za-z0-9_-]{32,64}$")
_DUMMY = hashlib.sha256(b"no such key").hexdigest()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant: str
    name: str = ""
    scopes: tuple[Scope, ...] = ()
    #: Extensions this key may act for; empty = any extension of its tenant.
    extensions: tuple[str, ...] = ()
    #: Requests per minute; 0 = the gateway's default.
    rate_limit: int = 0
    created_at: int = 0
    revoked_at: int = 0
    token_hash: str = ""

    def __repr__(self) -> str:  # never the hash
        return f"ApiKey(id={self.id!r}, tenant={self.tenant!r}, scopes={self.scopes!r})"

    def allows_extension(self, ext: str) -> bool:
        return not self.extensions or ext in self.extensions


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(ApiKey)


class KeyStore:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, key_id: str) -> str:
        return f"{self._prefix}gw:key:{key_id}"

    @property
    def _index(self) -> str:
        return f"{self._prefix}gw:keys"

    async def create(
        self,
        tenant: str,
        scopes: tuple[Scope, ...],
        *,
        name: str = "",
        extensions: tuple[str, ...] = (),
        rate_limit: int = 0,
    ) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the token exists outside the caller)."""
        key_id = secrets.token_hex(8)
        token = f"cbk_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            id=key_id,
            tenant=tenant,
            name=name,
            scopes=tuple(sorted(set(scopes))),
            extensions=extensions,
            rate_limit=rate_limit,
            created_at=int(time.time()),
            token_hash=hash_token(token),
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(key_id), _enc.encode(key))
            pipe.sadd(self._index, key_id)
            await pipe.execute()
        return key, token

    async def get(self, key_id: str) -> ApiKey | None:
        raw = cast(bytes | None, await self._redis.get(self._key(key_id)))
        return _dec.decode(raw) if raw else None

    async def verify(self, token: str) -> ApiKey | None:
        """The live key ``token`` belongs to, or None (unknown, wrong secret, revoked)."""
        match = _TOKEN.match(token)
        key = await self.get(match.group(1)) if match else None
        expected = key.token_hash if key else _DUMMY
        if not hmac.compare_digest(hash_token(token), expected) or key is None:
            return None
        return None if key.revoked_at else key

    async def list(self, tenant: str | None = None) -> list[ApiKey]:
        ids = sorted(m.decode() for m in cast(set[bytes], await self._redis.smembers(self._index)))
        raws = (
            cast(list[bytes | None], await self._redis.mget([self._key(i) for i in ids]))
            if ids
            else []
        )
        keys = [_dec.decode(r) for r in raws if r]
        return [k for k in keys if tenant is None or k.tenant == tenant]

    async def revoke(self, key_id: str) -> ApiKey | None:
        key = await self.get(key_id)
        if key is None:
            return None
        if not key.revoked_at:
            key = msgspec.structs.replace(key, revoked_at=int(time.time()))
            await self._redis.set(self._key(key_id), _enc.encode(key))
        return key
