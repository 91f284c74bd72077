"""Routing for the dialplan: the responsible manager's extension for a caller, from a cache,
within a deadline, else the configured fallback. It always answers: Redis down, a slow
lookup or an unknown number all give the fallback.

``cbcrm/routing.py`` (number -> responsible extension) is not there yet; :class:`RouteLookup`
is what the gateway needs from it, and :class:`RedisRouteCache` implements it over a plain
key, ``{prefix}route:{tenant}:{digits}`` -> extension, that crm-sync can fill.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Literal, Protocol, cast

import redis.asyncio as aioredis

from ..settings import RouteSettings

__all__ = ["RedisRouteCache", "RouteAnswer", "RouteLookup", "RouteService", "route_digits"]

log = logging.getLogger(__name__)
_NON_DIGITS = re.compile(r"\D")


def route_digits(number: str) -> str:
    return _NON_DIGITS.sub("", number)


class RouteLookup(Protocol):
    async def responsible(self, tenant: str, number: str, did: str) -> str | None: ...


class RedisRouteCache:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, tenant: str, number: str) -> str:
        return f"{self._prefix}route:{tenant}:{route_digits(number)}"

    async def responsible(self, tenant: str, number: str, did: str) -> str | None:
        if not route_digits(number):
            return None
        raw = cast(bytes | None, await self._redis.get(self.key(tenant, number)))
        return raw.decode() if raw else None

    async def put(self, tenant: str, number: str, extension: str, ttl_s: int | None = None) -> None:
        await self._redis.set(self.key(tenant, number), extension, ex=ttl_s)


@dataclass(frozen=True)
class RouteAnswer:
    extension: str
    source: Literal["cache", "fallback"]
    reason: str = ""


class RouteService:
    def __init__(self, lookup: RouteLookup, settings: RouteSettings) -> None:
        self._lookup = lookup
        self._deadline = settings.deadline_ms / 1000
        self.fallback = settings.fallback

    async def answer(self, tenant: str, number: str, did: str) -> RouteAnswer:
        try:
            async with asyncio.timeout(self._deadline):
                found = await self._lookup.responsible(tenant, number, did)
        except TimeoutError:
            return RouteAnswer(self.fallback, "fallback", "deadline")
        except Exception as exc:  # Redis/CRM down: the dialplan still gets an answer
            log.warning("route lookup failed", extra={"error": exc.__class__.__name__})
            return RouteAnswer(self.fallback, "fallback", "error")
        if not found:
            return RouteAnswer(self.fallback, "fallback", "unknown")
        return RouteAnswer(found, "cache")
