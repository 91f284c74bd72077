"""The one place that builds the configured CRM adapter (``adapter = "builtin" | "webhook"``).

The amoCRM, Bitrix24 and Megaplan adapters register here when their packages land
(``ADAPTERS[name] = factory``); every factory takes the settings and returns an open
:class:`~cbcrm.adapter.CrmAdapter`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cbcrm.adapter import CrmAdapter
from cbcrm.builtin import BuiltinCrm
from cbcrm.webhook import WebhookAdapter
from cbruntime import SettingsError

from .settings import CrmSyncSettings

__all__ = ["ADAPTERS", "open_adapter"]

Factory = Callable[[CrmSyncSettings], Awaitable[CrmAdapter]]


async def _builtin(settings: CrmSyncSettings) -> CrmAdapter:
    return await BuiltinCrm.open(settings.builtin.path, seed=settings.builtin.seed)


async def _webhook(settings: CrmSyncSettings) -> CrmAdapter:
    hook = settings.webhook
    if not hook.urls or hook.secret is None:
        raise SettingsError("webhook adapter: set webhook.urls and webhook.secret")
    return WebhookAdapter(
        hook.urls, hook.secret.reveal(), attempts=hook.attempts, timeout_s=hook.timeout_s
    )


ADAPTERS: dict[str, Factory] = {"builtin": _builtin, "webhook": _webhook}


async def open_adapter(settings: CrmSyncSettings) -> CrmAdapter:
    try:
        factory = ADAPTERS[settings.adapter]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise SettingsError(f"unknown CRM adapter {settings.adapter!r} (known: {known})") from None
    return await factory(settings)
