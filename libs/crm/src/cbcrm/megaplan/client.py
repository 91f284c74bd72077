"""The HTTP client of one Megaplan v3 account: password-grant tokens (refresh-token grant,
then the password again) shared through Redis, rate limited (Megaplan documents no limit: we
keep a modest one), retried, and the adapter's single error boundary — httpx errors, statuses
and the ``{"meta": {"status", "errors"}, "data"}`` envelope become :mod:`cbcrm.exceptions`.
GET parameters travel as one JSON object in the query string, as Megaplan expects."""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..exceptions import CrmAuthError, CrmPermanentError, CrmTransientError
from ..remote import Limiter, RetryPolicy, TokenSet, TokenStore, transport_errors, with_retries
from ..remote.transport import retry_after

__all__ = ["MegaplanClient", "MegaplanSettings"]

CRM = "megaplan"


@dataclass(frozen=True, slots=True, kw_only=True)
class MegaplanSettings:
    base_url: str  # https://{account}.megaplan.ru
    username: str
    password: str = field(repr=False)
    program_id: str = "1"  # the deal "program" (scheme) new deals use
    extensions: dict[str, str] = field(default_factory=dict)  # employee id -> extension
    timeout_s: float = 10.0


class MegaplanClient:
    def __init__(
        self,
        settings: MegaplanSettings,
        *,
        limiter: Limiter,
        tokens: TokenStore,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._limiter, self._store, self._retry = limiter, tokens, retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=settings.base_url, timeout=settings.timeout_s)
        self._tokens: TokenSet | None = None
        self._signing_in = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MegaplanClient(base_url={self.settings.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """``data`` of the reply; a GET's ``body`` goes JSON-encoded into the query string."""
        return await with_retries(
            self._retry, lambda: self._once(method, path, body), idempotent=method.upper() == "GET"
        )

    async def _once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        tokens = await self._current()
        response = await self._send(method, path, body, tokens)
        if response.status_code == 401:
            tokens = await self._refresh(tokens)
            response = await self._send(method, path, body, tokens)
        return _decode(response)

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None, tokens: TokenSet
    ) -> httpx.Response:
        url, payload = path, None
        if method == "GET" and body:
            url = f"{path}?{urllib.parse.quote(jsonlib.dumps(body, separators=(',', ':')))}"
        elif body is not None:
            payload = body
        await self._limiter.acquire()
        with transport_errors(CRM):
            return await self._http.request(
                method,
                url,
                json=payload,
                headers={"Authorization": f"Bearer {tokens.access_token}"},
            )

    async def _current(self) -> TokenSet:
        if self._tokens is not None:
            return self._tokens
        async with self._signing_in:  # concurrent first requests: one sign-in, one result
            if self._tokens is not None:
                return self._tokens
            tokens = await self._store.load()
            if tokens is None:
                tokens = await self._grant(
                    {
                        "grant_type": "password",
                        "username": self.settings.username,
                        "password": self.settings.password,
                    }
                )
                await self._store.save(tokens)
            self._tokens = tokens
            return tokens

    async def _refresh(self, stale: TokenSet) -> TokenSet:
        if self._tokens is not None and self._tokens.access_token != stale.access_token:
            return self._tokens
        self._tokens = await self._store.refresh(stale, self._refresh_grant)
        return self._tokens

    async def _refresh_grant(self, current: TokenSet) -> TokenSet:
        try:
            return await self._grant(
                {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
            )
        except CrmAuthError:  # refresh refused: sign in again with the password
            return await self._grant(
                {
                    "grant_type": "password",
                    "username": self.settings.username,
                    "password": self.settings.password,
                }
            )

    async def _grant(self, form: dict[str, str]) -> TokenSet:
        with transport_errors(CRM):
            response = await self._http.post("/api/v3/auth/access_token", data=form)
        if 400 <= response.status_code < 500:
            raise CrmAuthError(
                f"megaplan: sign-in refused (HTTP {response.status_code})",
                crm=CRM,
                status=response.status_code,
            )
        if response.status_code >= 300:
            raise CrmTransientError(
                f"megaplan: auth HTTP {response.status_code}", crm=CRM, status=response.status_code
            )
        data = response.json()
        return TokenSet(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or "",
            expires_at=time.time() + float(data.get("expires_in", 172800)),
        )


def _decode(response: httpx.Response) -> Any:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    meta = body.get("meta", {}) if isinstance(body, dict) else {}
    if status < 300:
        return body.get("data") if isinstance(body, dict) else None
    errors = "; ".join(
        str(e.get("message", e)) if isinstance(e, dict) else str(e)
        for e in meta.get("errors") or []
    )
    message = f"megaplan: HTTP {status} {errors}".rstrip()
    if status == 429 or status >= 500:
        raise CrmTransientError(
            message,
            crm=CRM,
            status=status,
            retry_after=retry_after(response, 1.0 if status == 429 else 0.0),
        )
    if status == 401:
        raise CrmAuthError(message, crm=CRM, status=status)
    raise CrmPermanentError(message, crm=CRM, status=status)
