"""The webhook adapter: any CRM (or integrator) that takes signed JSON POSTs of call events.

Each event is POSTed to every configured URL as ``{"type", "key", "data"}`` with headers:

* ``X-Callbridge-Timestamp``: unix seconds;
* ``X-Callbridge-Signature``: ``sha256=`` + hex HMAC-SHA256 (key: the shared secret) over
  ``timestamp + "." + body`` — receivers check it with :func:`verify` (and refuse old
  timestamps: replay protection);
* ``Idempotency-Key``: the command's key, the same on every retry;
* ``X-Callbridge-Event``: the type.

Timeouts, connection errors, 5xx and 429 are retried (tenacity, exponential backoff) up to
``attempts`` times, then raised as :class:`~cbcrm.exceptions.CrmTransientError` (the executor
retries later); other 4xx raise :class:`~cbcrm.exceptions.CrmPermanentError`. A webhook
receiver cannot answer lookups: every number is unknown to this adapter.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import msgspec
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from .adapter import (
    CallLog,
    CrmUser,
    Deal,
    Entity,
    Lookup,
    NewContact,
    NewDeal,
    NewTask,
    NoCallCard,
)
from .exceptions import CrmPermanentError, CrmTransientError

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookAdapter", "sign", "verify"]

TIMESTAMP_HEADER = "X-Callbridge-Timestamp"
SIGNATURE_HEADER = "X-Callbridge-Signature"


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` over ``f"{timestamp}." + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """For receivers: the signature is ours and the timestamp within ``tolerance_s``."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


class _Retryable(Exception):
    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class WebhookAdapter(NoCallCard):
    name = "webhook"

    def __init__(
        self,
        urls: list[str],
        secret: str,
        *,
        attempts: int = 5,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not secret:
            raise ValueError("webhook secret must not be empty")
        self.urls, self._secret = list(urls), secret
        self.attempts, self.backoff_s = attempts, backoff_s
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    def __repr__(self) -> str:
        return f"WebhookAdapter(urls={self.urls!r}, secret='***')"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def lookup(self, phone: str) -> Lookup:
        return Lookup(phone=phone)

    async def users(self) -> list[CrmUser]:
        return []

    async def create_contact(self, contact: NewContact, *, key: str) -> Entity:
        await self.post("contact.create", contact, key)
        return Entity(kind="contact", id=f"wh:{key}", name=contact.name, phones=(contact.phone,))

    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal:
        await self.post("deal.create", deal, key)
        return Deal(id=f"wh:{key}", name=deal.name)

    async def create_task(self, task: NewTask, *, key: str) -> str:
        await self.post("task.create", task, key)
        return key

    async def log_call(self, call: CallLog, *, key: str) -> str:
        await self.post("call.logged", call, key)
        return key

    async def post(self, event: str, data: Any, key: str) -> None:
        """POST one signed event to every URL (each with its own retries)."""
        body = msgspec.json.encode({"type": event, "key": key, "data": data})
        for url in self.urls:
            await self._deliver(url, event, body, key)

    async def _deliver(self, url: str, event: str, body: bytes, key: str) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=30),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._send(url, event, body, key)
        except _Retryable as exc:
            raise CrmTransientError(
                f"webhook {event} to {url}: {exc}", crm=self.name, status=exc.status
            ) from None

    async def _send(self, url: str, event: str, body: bytes, key: str) -> None:
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(self._secret, ts, body),
            "Idempotency-Key": key,
            "X-Callbridge-Event": event,
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:  # timeouts, refused, reset
            raise _Retryable(type(exc).__name__, None) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", status)
        if status >= 400:
            raise CrmPermanentError(f"webhook {event} to {url}: HTTP {status}", crm=self.name,
                                    status=status)  # fmt: skip
