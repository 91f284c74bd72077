"""Routing data: number -> responsible user -> extension, for "route to the manager".

The gateway's ``/v1/route`` (which the dialplan ``CURL()``s before ``Dial()``) calls
:meth:`Router.route` with a deadline: the answer must come while the caller waits, so on a
slow CRM it answers "no one" rather than late. Lookups go through the shared
:class:`~cbcrm.lookup.LookupCache`; the CRM's users (id, name, extension) are cached in Redis
by :class:`UserDirectory` (``{prefix}crm:{crm}:users``, msgpack, EX ``ttl_s``).

:class:`RouteTable` is the gateway's plain route cache, ``{prefix}route:{tenant}:{digits}`` ->
extension (``api_gateway.services.routing.RedisRouteCache`` reads it), which crm-sync fills
as soon as a call's lookup resolves the responsible manager: one key per spelling the PBX may
send as ``CALLERID(num)`` (``79161234567``, ``89161234567``, ``9161234567``), with a TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from .adapter import CrmUser
from .effective import Effective, EffectiveRule, choose
from .exceptions import CrmError, InvalidPhone
from .lookup import LookupCache
from .phones import DEFAULT_REGION, search_forms, to_e164
from .remote.limits import lane

__all__ = ["Route", "RouteTable", "Router", "UserDirectory"]

_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(list[CrmUser])


class UserDirectory:
    """The CRM's users, cached in Redis (and for ``memo_s`` in this process); extension <->
    user."""

    def __init__(
        self,
        redis: aioredis.Redis,
        fetch: Callable[[], Awaitable[list[CrmUser]]],
        *,
        crm: str,
        prefix: str = "cb:",
        ttl_s: int = 300,
        memo_s: float = 5.0,
    ) -> None:
        self._redis, self._fetch = redis, fetch
        self.key = f"{prefix}crm:{crm}:users"
        self.ttl_s, self.memo_s = ttl_s, memo_s
        self._memo: tuple[float, list[CrmUser]] = (0.0, [])
        self._loading = asyncio.Lock()  # one load at a time: a burst asks the CRM once

    async def users(self) -> list[CrmUser]:
        if time.monotonic() < self._memo[0]:
            return self._memo[1]
        async with self._loading:
            now = time.monotonic()
            if now < self._memo[0]:
                return self._memo[1]
            cached = cast(bytes | None, await self._redis.get(self.key))
            if cached is not None:
                users = _dec.decode(cached)
            else:
                with lane("cards"):  # who is who: every card needs it
                    users = await self._fetch()
                await self._redis.set(self.key, _enc.encode(users), ex=self.ttl_s)
            self._memo = (now + self.memo_s, users)
            return users

    async def by_extension(self, extension: str) -> CrmUser | None:
        if not extension:
            return None
        return next((u for u in await self.users() if u.extension == extension), None)

    async def by_id(self, user_id: str) -> CrmUser | None:
        if not user_id:
            return None
        return next((u for u in await self.users() if u.id == user_id), None)

    async def invalidate(self) -> None:
        self._memo = (0.0, [])
        await self._redis.delete(self.key)


class Route(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where to send a caller: ``extension`` empty means "no one in particular"."""

    extension: str = ""
    user_id: str = ""
    user_name: str = ""
    entity_id: str = ""
    reason: str = ""  # responsible | no_responsible | unknown_number | no_extension | …


class Router:
    def __init__(
        self,
        lookups: LookupCache,
        users: UserDirectory,
        rule: EffectiveRule | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        self._lookups, self._users = lookups, users
        self._rule, self._region = rule or EffectiveRule(), region

    async def route(self, number: str, *, deadline_s: float = 0.5) -> Route:
        """The responsible manager's extension for a caller, answered within ``deadline_s``
        (``reason="timeout"`` / ``"crm_error"`` otherwise: route as usual)."""
        try:
            phone = to_e164(number, self._region)
        except InvalidPhone:
            return Route(reason="bad_number")
        try:
            async with asyncio.timeout(deadline_s):
                return await self._route(phone)
        except TimeoutError:
            return Route(reason="timeout")
        except CrmError:
            return Route(reason="crm_error")

    async def _route(self, phone: str) -> Route:
        return await self.resolve(choose(await self._lookups.get(phone), self._rule))

    async def resolve(self, chosen: Effective) -> Route:
        """The route of an effective entity already chosen (no lookup)."""
        if chosen.entity is None:
            return Route(reason="unknown_number")
        owner = (chosen.deal and chosen.deal.responsible_user_id) or ""
        user_id = owner or chosen.entity.responsible_user_id
        if not user_id:
            return Route(entity_id=chosen.entity.id, reason="no_responsible")
        user = await self._users.by_id(user_id)
        if user is None or not user.extension:
            return Route(user_id=user_id, entity_id=chosen.entity.id, reason="no_extension")
        return Route(
            extension=user.extension,
            user_id=user.id,
            user_name=user.name,
            entity_id=chosen.entity.id,
            reason="responsible",
        )


class RouteTable:
    """Writes the gateway's route cache (see the module doc) into a caller's pipeline."""

    def __init__(self, prefix: str = "cb:", ttl_s: int = 3600) -> None:
        self._base, self.ttl_s = f"{prefix}route:", ttl_s

    def keys(self, tenant: str, e164: str) -> list[str]:
        digits = dict.fromkeys(f.lstrip("+") for f in search_forms(e164))
        return [f"{self._base}{tenant}:{d}" for d in digits]

    def queue(self, pipe: Pipeline, tenant: str, e164: str, extension: str) -> None:
        for key in self.keys(tenant, e164):
            pipe.set(key, extension, ex=self.ttl_s)
