"""The one place that builds the configured CRM adapter (``adapter = "builtin" | "webhook" |
"amocrm" | "bitrix24" | "megaplan"``).

Every factory takes the settings and the service's Redis client and returns an open
:class:`~cbcrm.adapter.CrmAdapter`. The HTTP CRMs share, per account and across replicas,
their OAuth tokens (``{prefix}crm:{crm}:tokens``), a leaky-bucket rate limiter
(``{prefix}crm:{crm}:rate``) and idempotency records (``{prefix}crm:{crm}:memo:…``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from cbcrm.adapter import CrmAdapter
from cbcrm.amocrm import AmoClient, AmoCrmAdapter, AmoSettings
from cbcrm.bitrix24 import B24Adapter, B24Client, B24Settings, OperatingTracker
from cbcrm.builtin import BuiltinCrm
from cbcrm.megaplan import MegaplanAdapter, MegaplanClient, MegaplanSettings
from cbcrm.remote import Memo, RedisLimiter, TokenStore
from cbcrm.webhook import WebhookAdapter
from cbruntime import Secret, SettingsError

from .auth import AuthBreaker, AuthKeys, authorise
from .remote_settings import RemoteLimits
from .settings import CrmSyncSettings

__all__ = ["ADAPTERS", "open_adapter"]

Factory = Callable[[CrmSyncSettings, aioredis.Redis], Awaitable[CrmAdapter]]


async def _builtin(settings: CrmSyncSettings, redis: aioredis.Redis) -> CrmAdapter:
    return await BuiltinCrm.open(settings.builtin.path, seed=settings.builtin.seed)


async def _webhook(settings: CrmSyncSettings, redis: aioredis.Redis) -> CrmAdapter:
    hook = settings.webhook
    if not hook.urls or hook.secret is None:
        raise SettingsError("webhook adapter: set webhook.urls and webhook.secret")
    return WebhookAdapter(
        hook.urls, hook.secret.reveal(), attempts=hook.attempts, timeout_s=hook.timeout_s
    )


def _shared(
    settings: CrmSyncSettings, redis: aioredis.Redis, crm: str, limits: RemoteLimits
) -> tuple[RedisLimiter, TokenStore, Memo]:
    base = f"{settings.key_prefix}crm:{crm}:"
    limiter = RedisLimiter(redis, f"{base}rate", rate=limits.rate, burst=limits.burst)
    return limiter, TokenStore(redis, f"{base}tokens"), Memo(redis, f"{base}memo:")


def _reveal(secret: Secret | None) -> str:
    return secret.reveal() if secret is not None else ""


async def _amocrm(settings: CrmSyncSettings, redis: aioredis.Redis) -> CrmAdapter:
    s = settings.amocrm
    if not s.base_url or not (s.long_lived_token or (s.client_id and s.client_secret)):
        raise SettingsError(
            "amocrm adapter: set amocrm.base_url and amocrm.long_lived_token, or "
            "amocrm.client_id, amocrm.client_secret and amocrm.redirect_uri"
        )
    limiter, store, memo = _shared(settings, redis, "amocrm", s.limits)
    config = AmoSettings(base_url=s.base_url, client_id=s.client_id,
                         client_secret=_reveal(s.client_secret), redirect_uri=s.redirect_uri,
                         long_lived_token=_reveal(s.long_lived_token), source=s.source,
                         timeout_s=s.limits.timeout_s, extensions=dict(s.extensions))  # fmt: skip
    client = AmoClient(config, limiter=limiter, tokens=store, retry=s.limits.retry())
    keys = AuthKeys(settings.key_prefix, "amocrm")
    if config.uses_oauth:
        await authorise(redis, keys, store, s.auth_code, client.exchange_code)
    return AuthBreaker(AmoCrmAdapter(client, memo), redis, keys)


async def _bitrix24(settings: CrmSyncSettings, redis: aioredis.Redis) -> CrmAdapter:
    s = settings.bitrix24
    if not s.portal_url or not s.client_id or s.client_secret is None:
        raise SettingsError(
            "bitrix24 adapter: set bitrix24.portal_url, bitrix24.client_id, "
            "bitrix24.client_secret (and bitrix24.auth_code once)"
        )
    if not settings.rules.default_user_id:
        raise SettingsError(
            "bitrix24 adapter: set rules.default_user_id — Bitrix24 registers every call for "
            "a user: the ringing operator's, else this one (a call nobody's phone rang for)"
        )
    limiter, store, memo = _shared(settings, redis, "bitrix24", s.limits)
    config = B24Settings(portal_url=s.portal_url, oauth_url=s.oauth_url, client_id=s.client_id,
                         client_secret=s.client_secret.reveal(),
                         application_token=_reveal(s.application_token),
                         line_number=s.line_number, timeout_s=s.limits.timeout_s)  # fmt: skip
    budget = OperatingTracker(redis, f"{settings.key_prefix}crm:bitrix24:operating")
    client = B24Client(config, limiter=limiter, tokens=store, retry=s.limits.retry(), budget=budget)
    keys = AuthKeys(settings.key_prefix, "bitrix24")
    await authorise(redis, keys, store, s.auth_code, client.exchange_code)
    return AuthBreaker(B24Adapter(client, memo), redis, keys)


async def _megaplan(settings: CrmSyncSettings, redis: aioredis.Redis) -> CrmAdapter:
    s = settings.megaplan
    if not s.base_url or not s.username or s.password is None:
        raise SettingsError("megaplan adapter: set megaplan.base_url, .username and .password")
    limiter, store, memo = _shared(settings, redis, "megaplan", s.limits)
    config = MegaplanSettings(base_url=s.base_url, username=s.username,
                              password=s.password.reveal(), program_id=s.program_id,
                              extensions=dict(s.extensions),
                              timeout_s=s.limits.timeout_s)  # fmt: skip
    client = MegaplanClient(config, limiter=limiter, tokens=store, retry=s.limits.retry())
    return AuthBreaker(
        MegaplanAdapter(client, memo), redis, AuthKeys(settings.key_prefix, "megaplan")
    )


ADAPTERS: dict[str, Factory] = {
    "builtin": _builtin,
    "webhook": _webhook,
    "amocrm": _amocrm,
    "bitrix24": _bitrix24,
    "megaplan": _megaplan,
}


async def open_adapter(settings: CrmSyncSettings, redis: aioredis.Redis) -> CrmAdapter:
    try:
        factory = ADAPTERS[settings.adapter]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise SettingsError(f"unknown CRM adapter {settings.adapter!r} (known: {known})") from None
    return await factory(settings, redis)
