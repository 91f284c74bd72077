"""OAuth tokens kept in Redis and refreshed safely by many replicas.

A refresh token is single-use (amoCRM and Bitrix24 both rotate it), so two replicas must
never refresh with the same one. :meth:`TokenStore.refresh` takes a Redis lock; the winner
re-reads the stored tokens (someone may have refreshed already), refreshes, stores the new
pair, releases; a loser waits until the stored access token differs from the stale one it
saw and uses that. Tokens never appear in reprs, logs or error messages.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import msgspec
import redis.asyncio as aioredis

from ..exceptions import CrmAuthError, CrmTransientError

__all__ = ["Refresh", "TokenSet", "TokenStore"]


class TokenSet(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str = ""
    expires_at: float = 0.0  # unix s; 0 = does not expire (long-lived token)
    endpoint: str = ""  # Bitrix24 ``client_endpoint``: the portal's REST base URL

    def __repr__(self) -> str:
        return f"TokenSet(access_token=***, refresh_token=***, expires_at={self.expires_at})"

    __str__ = __repr__

    def expires_within(self, seconds: float) -> bool:
        return self.expires_at > 0 and self.expires_at - time.time() < seconds


Refresh = Callable[[TokenSet], Awaitable[TokenSet]]

# Delete the lock only if we still own it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TokenStore:
    """The tokens of one CRM account under ``key`` (and a lock at ``key:lock``)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        lock_ttl: float = 15.0,
        wait: float = 20.0,
        poll: float = 0.02,
    ) -> None:
        self._redis, self._key, self._lock = redis, key, f"{key}:lock"
        self._lock_ttl, self._wait, self._poll = lock_ttl, wait, poll
        self._release = redis.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"TokenStore(key={self._key!r})"

    async def load(self) -> TokenSet | None:
        raw = await self._redis.get(self._key)
        return None if raw is None else msgspec.json.decode(raw, type=TokenSet)

    async def save(self, tokens: TokenSet) -> None:
        await self._redis.set(self._key, msgspec.json.encode(tokens))

    async def refresh(self, stale: TokenSet, do_refresh: Refresh) -> TokenSet:
        """Tokens newer than ``stale``: refreshed here under the lock, or by another replica."""
        deadline = time.monotonic() + self._wait
        while time.monotonic() < deadline:
            current = await self.load()
            if current is not None and current.access_token != stale.access_token:
                return current
            owner = uuid.uuid4().hex
            if await self._redis.set(self._lock, owner, nx=True, px=int(self._lock_ttl * 1000)):
                try:
                    return await self._refresh_locked(stale, do_refresh)
                finally:
                    await self._release(keys=[self._lock], args=[owner])
            await asyncio.sleep(self._poll)
        raise CrmTransientError("token refresh by another replica did not finish in time")

    async def _refresh_locked(self, stale: TokenSet, do_refresh: Refresh) -> TokenSet:
        current = await self.load()
        if current is not None and current.access_token != stale.access_token:
            return current
        base = current or stale
        if not base.refresh_token:
            raise CrmAuthError("access token refused and there is no refresh token")
        fresh = await do_refresh(base)
        await self.save(fresh)
        return fresh
