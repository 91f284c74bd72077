"""The gateway's long-lived objects, built once from the settings (``open_services``) and
handed to the app: one Redis client (``cbstreams.connect``), one httpx client, the stores."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from cbcrm.links import LinkSigner
from cbruntime import CollectorRegistry, new_registry
from cbstreams import RedisLink, connect

from .metrics import GatewayMetrics
from .services.feeds import FeedReader
from .services.feedslots import FeedSlots
from .services.keystore import KeyStore
from .services.originate import CallControl
from .services.ratelimit import RateLimiter
from .services.recordings import RecordingSource
from .services.records import CallRecords
from .services.routing import RedisRouteCache, RouteService
from .services.sessions import SessionStore
from .settings import GatewaySettings

__all__ = ["Services", "open_services"]


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: GatewaySettings
    redis: aioredis.Redis
    http: httpx.AsyncClient
    registry: CollectorRegistry
    metrics: GatewayMetrics
    keys: KeyStore
    sessions: SessionStore
    limiter: RateLimiter
    calls: CallControl
    records: CallRecords
    feeds: FeedReader
    feed_slots: FeedSlots
    routes: RouteService
    recordings: RecordingSource
    links: LinkSigner | None  # None: recordings.link_secret unset, no signed links
    #: Whether Redis answers: /readyz, the metric ``callbridge_gateway_redis_up``, the 503s.
    link: RedisLink


@contextlib.asynccontextmanager
async def open_services(settings: GatewaySettings) -> AsyncIterator[Services]:
    redis = connect(settings.redis_url)
    feeds = connect(settings.redis_url, max_connections=settings.feeds.max_connections)
    prefix = settings.key_prefix
    registry = new_registry()
    metrics = GatewayMetrics(registry)
    link = RedisLink("api-gateway", on_change=lambda up: metrics.redis_up.set(int(up)))
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as http:
            yield Services(
                settings=settings,
                redis=redis,
                http=http,
                registry=registry,
                metrics=metrics,
                keys=KeyStore(redis, prefix),
                sessions=SessionStore(redis, prefix),
                limiter=RateLimiter(redis, prefix),
                calls=CallControl(redis, prefix, settings.originate),
                records=CallRecords(redis, prefix, settings.feeds.calls_stream),
                feeds=FeedReader(feeds, settings.feeds),
                feed_slots=FeedSlots(settings.feeds.max_per_principal),
                routes=RouteService(RedisRouteCache(redis, prefix), settings.route),
                recordings=RecordingSource(settings.recordings, http),
                links=_links(settings),
                link=link,
            )
    finally:
        await feeds.aclose()
        await redis.aclose()


def _links(settings: GatewaySettings) -> LinkSigner | None:
    """The signer crm-sync uses too (``cbcrm.links``): same secret, same links."""
    secret = settings.recordings.link_secret
    if secret is None or not secret.reveal():
        return None
    return LinkSigner(secret.reveal(), settings.public_url, settings.recordings.link_ttl_s)
