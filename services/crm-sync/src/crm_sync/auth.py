"""Authorisation of the HTTP CRMs: the circuit breaker on dead credentials and
re-authorisation from the config or the CLI (``callbridge crm-sync auth``).

**Circuit breaker** (:class:`AuthBreaker`, around the adapter): the first
:class:`~cbcrm.exceptions.CrmAuthError` (a refresh refused, a revoked token) opens the
circuit for every replica (``{prefix}crm:{crm}:auth:dead``, holding the reason): one alert
(an ERROR log line and a ``crm.error`` event, by whichever replica opened it), and from then
on no request goes to the CRM — lookups fail fast, commands stay pending
(:class:`~cbcrm.exceptions.CrmAuthPaused`, never dead-lettered) — until re-authorised.

**Re-authorisation**: a new ``auth_code`` in the config (compared by digest with the one last
exchanged, ``{prefix}crm:{crm}:auth:code``) is exchanged at start even when (dead) tokens are
stored; ``callbridge crm-sync auth amocrm|bitrix24 --code CODE`` does the same on a running
system; ``callbridge crm-sync auth megaplan`` signs in again with the configured password.
Either closes the circuit: the waiting commands go out.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from cbcontracts.crm import CrmFailed
from cbcrm.adapter import (
    CallLog,
    CrmAdapter,
    CrmUser,
    Deal,
    Entity,
    Lookup,
    NewContact,
    NewDeal,
    NewTask,
)
from cbcrm.exceptions import CrmAuthError, CrmAuthPaused
from cbcrm.remote import TokenStore
from cbruntime import Secret

__all__ = ["AuthBreaker", "AuthKeys", "authorise"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_PAUSE_S = 5.0  # how long a waiting command sleeps before it looks again


class AuthKeys:
    def __init__(self, prefix: str, crm: str) -> None:
        self.dead = f"{prefix}crm:{crm}:auth:dead"
        self.code = f"{prefix}crm:{crm}:auth:code"


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def authorise(
    redis: aioredis.Redis,
    keys: AuthKeys,
    store: TokenStore,
    code: Secret | None,
    exchange: Callable[[str], Awaitable[None]],
) -> bool:
    """Exchange ``code`` unless it is the one exchanged last (tokens stored for it); a code
    not seen before replaces stored tokens (re-authorisation). True if it was exchanged.
    Tokens stored before codes were recorded: kept, unless the circuit is open."""
    if code is None:
        return False
    digest = _digest(code.reveal())
    used = _text(await redis.get(keys.code))
    stored = await store.load()
    if stored is not None:
        if used == digest:
            return False
        if used is None and not await redis.exists(keys.dead):
            await redis.set(keys.code, digest)  # the code these tokens came from
            return False
    try:
        await exchange(code.reveal())
    except CrmAuthError:  # another replica exchanged it a moment ago (codes are single-use)?
        for _ in range(50):
            now = await store.load()
            if _text(await redis.get(keys.code)) == digest or (now is not None and now != stored):
                return False
            await asyncio.sleep(0.1)
        raise
    pipe = redis.pipeline(transaction=True)
    pipe.set(keys.code, digest)
    pipe.delete(keys.dead)  # re-authorised: the circuit closes
    await pipe.execute()
    if stored is not None:
        log.warning("CRM re-authorised with a new authorization code", extra={"key": keys.code})
    return True


class AuthBreaker:
    """The adapter, behind the circuit breaker on dead credentials (module doc)."""

    def __init__(
        self,
        adapter: CrmAdapter,
        redis: aioredis.Redis,
        keys: AuthKeys,
        alert: Callable[[CrmFailed], Awaitable[Any]] | None = None,
    ) -> None:
        self.inner, self._redis, self.keys, self.alert = adapter, redis, keys, alert
        self.name, self.drives_call_card = adapter.name, adapter.drives_call_card
        self._open_until = 0.0  # local memo of an open circuit (one GET per second at most)

    def __getattr__(self, name: str) -> Any:  # adapter extras (adopt, calls, …)
        return getattr(self.inner, name)

    async def _guard(self, work: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        if now < self._open_until or await self._redis.exists(self.keys.dead):
            self._open_until = now + 1.0
            raise CrmAuthPaused(
                f"{self.name}: credentials refused; waiting for re-authorisation "
                "(callbridge crm-sync auth)", crm=self.name, retry_after=_PAUSE_S,
            )  # fmt: skip
        try:
            return await work()
        except CrmAuthError as exc:
            if await self._redis.set(self.keys.dead, str(exc)[:500], nx=True):  # the first
                log.error("CRM credentials refused: no requests until re-authorised "
                          "(docs/crm-sync.md, Re-authorisation)",
                          extra={"crm": self.name, "error": str(exc)})  # fmt: skip
                if self.alert is not None:
                    await self.alert(self._alert(str(exc)))
            raise CrmAuthPaused(str(exc), crm=self.name, retry_after=_PAUSE_S) from None

    def _alert(self, error: str) -> CrmFailed:
        return CrmFailed(event_id=f"{self.keys.dead}/{int(time.time())}", call_id="", pbx="",
                         at=time.time_ns() // 1000, crm=self.name, command="auth", key="",
                         error=f"credentials refused, re-authorise: {error}",
                         permanent=True)  # fmt: skip

    async def lookup(self, phone: str) -> Lookup:
        return await self._guard(lambda: self.inner.lookup(phone))

    async def users(self) -> list[CrmUser]:
        return await self._guard(self.inner.users)

    async def create_contact(self, contact: NewContact, *, key: str) -> Entity:
        return await self._guard(lambda: self.inner.create_contact(contact, key=key))

    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal:
        return await self._guard(lambda: self.inner.create_deal(deal, key=key))

    async def create_task(self, task: NewTask, *, key: str) -> str:
        return await self._guard(lambda: self.inner.create_task(task, key=key))

    async def log_call(self, call: CallLog, *, key: str) -> str:
        return await self._guard(lambda: self.inner.log_call(call, key=key))

    async def find_call(self, call: CallLog) -> str | None:
        find = getattr(self.inner, "find_call", None)
        return await self._guard(lambda: find(call)) if find is not None else None

    async def card_start(self, call: CallLog, *, key: str, show: bool = False) -> str:
        return await self._guard(lambda: self.inner.card_start(call, key=key, show=show))

    async def card_show(self, call_id: str, user_ids: list[str]) -> None:
        await self._guard(lambda: self.inner.card_show(call_id, user_ids))

    async def card_hide(self, call_id: str, user_ids: list[str]) -> None:
        await self._guard(lambda: self.inner.card_hide(call_id, user_ids))

    async def aclose(self) -> None:
        await self.inner.aclose()
