"""Operator sessions: a random token bound server-side to one user and one extension of a
tenant (a supervisor's also to the scope to see the team), stored hashed in Redis with a TTL
(``{prefix}gw:session:<sha256>``). The feed of a session is filtered by that extension;
nothing the browser sends can change it.

Sign-in links: an admin issues a one-time code (``{prefix}gw:signin:<sha256>``, with its own
TTL) naming the user and extension; the operator's page exchanges it for a session. The code
is taken with GETDEL: it works once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import cast

import msgspec
import redis.asyncio as aioredis

from .keystore import hash_token

__all__ = ["OperatorSession", "SessionStore", "SignIn"]


class OperatorSession(msgspec.Struct, frozen=True, kw_only=True):
    """``id`` is the SHA-256 of the token (revoking by id never needs the token)."""

    tenant: str
    user: str
    extension: str
    expires_at: int
    issued_by: str = ""  # the admin key's id
    id: str = ""
    supervisor: bool = False  # sees the team (authz.team_view)


class SignIn(msgspec.Struct, frozen=True, kw_only=True):
    """What a one-time sign-in code will become: a session of ``session_ttl_s``."""

    tenant: str
    user: str
    extension: str
    session_ttl_s: int
    issued_by: str = ""
    supervisor: bool = False


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(OperatorSession)
_signin_dec = msgspec.json.Decoder(SignIn)


class SessionStore:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, token: str) -> str:
        return self._id_key(hash_token(token))

    def _id_key(self, session_id: str) -> str:
        return f"{self._prefix}gw:session:{session_id}"

    def _index(self, tenant: str) -> str:
        return f"{self._prefix}gw:sessions:{tenant}"

    async def issue(
        self,
        tenant: str,
        user: str,
        extension: str,
        ttl_s: int,
        issued_by: str,
        *,
        supervisor: bool = False,
    ) -> tuple[OperatorSession, str]:
        token = f"cbs_{secrets.token_urlsafe(32)}"
        session = OperatorSession(
            tenant=tenant,
            user=user,
            extension=extension,
            expires_at=int(time.time()) + ttl_s,
            issued_by=issued_by,
            id=hash_token(token),
            supervisor=supervisor,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(token), _enc.encode(session), ex=ttl_s)
            pipe.zadd(self._index(tenant), {session.id: session.expires_at})
            pipe.zremrangebyscore(self._index(tenant), 0, int(time.time()))
            await pipe.execute()
        return session, token

    async def get(self, token: str) -> OperatorSession | None:
        if not token.startswith("cbs_"):
            return None
        raw = cast(bytes | None, await self._redis.get(self._key(token)))
        return msgspec.structs.replace(_dec.decode(raw), id=hash_token(token)) if raw else None

    async def by_id(self, session_id: str) -> OperatorSession | None:
        if len(session_id) != 64 or not all(c in "0123456789abcdef" for c in session_id):
            return None
        raw = cast(bytes | None, await self._redis.get(self._id_key(session_id)))
        return msgspec.structs.replace(_dec.decode(raw), id=session_id) if raw else None

    async def revoke(self, session: OperatorSession) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._id_key(session.id))
            pipe.zrem(self._index(session.tenant), session.id)
            await pipe.execute()

    async def list(self, tenant: str) -> list[OperatorSession]:
        """The tenant's live sessions, soonest to expire first."""
        ids = [i.decode() for i in cast(list[bytes], await self._redis.zrangebyscore(
            self._index(tenant), int(time.time()), "+inf"))]  # fmt: skip
        if not ids:
            return []
        raws = cast(list[bytes | None], await self._redis.mget([self._id_key(i) for i in ids]))
        return [msgspec.structs.replace(_dec.decode(r), id=i)
                for i, r in zip(ids, raws, strict=True) if r]  # fmt: skip

    def _code_key(self, code: str) -> str:
        return f"{self._prefix}gw:signin:{hash_token(code)}"

    async def issue_code(self, signin: SignIn, ttl_s: int) -> tuple[str, int]:
        """A one-time sign-in code (``cbc_…``) and when it expires (unix s)."""
        code = f"cbc_{secrets.token_urlsafe(24)}"
        await self._redis.set(self._code_key(code), _enc.encode(signin), ex=ttl_s)
        return code, int(time.time()) + ttl_s

    async def redeem(
        self, code: str, accept: Callable[[SignIn], Awaitable[bool]] | None = None
    ) -> tuple[OperatorSession, str] | None:
        """The session a sign-in code names (the code is gone after this), else None (also
        when ``accept`` refuses what the code names)."""
        if not code.startswith("cbc_"):
            return None
        raw = cast(bytes | None, await self._redis.getdel(self._code_key(code)))
        if raw is None:
            return None
        signin = _signin_dec.decode(raw)
        if accept is not None and not await accept(signin):
            return None
        return await self.issue(signin.tenant, signin.user, signin.extension,
                                signin.session_ttl_s, signin.issued_by,
                                supervisor=signin.supervisor)  # fmt: skip
