"""The HTTP client of one amoCRM account: rate limited, retried, and the adapter's single
error boundary (httpx errors and amoCRM's problem+json bodies → :mod:`cbcrm.exceptions`).

A 401 refreshes the OAuth tokens once (under the shared Redis lock, see
:class:`~cbcrm.remote.TokenStore`) and repeats the request, as the official library does.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..exceptions import CrmAuthError, CrmPermanentError, CrmTransientError
from ..remote import Limiter, RetryPolicy, TokenSet, TokenStore, transport_errors, with_retries
from ..remote.transport import retry_after
from .settings import AmoSettings

__all__ = ["AmoClient"]

CRM = "amocrm"


class AmoClient:
    def __init__(
        self,
        settings: AmoSettings,
        *,
        limiter: Limiter,
        tokens: TokenStore | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if settings.uses_oauth and tokens is None:
            raise ValueError("OAuth mode needs a TokenStore")
        self.settings = settings
        self._limiter, self._store, self._retry = limiter, tokens, retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=settings.base_url, timeout=settings.timeout_s)
        self._tokens: TokenSet | None = None

    def __repr__(self) -> str:
        return f"AmoClient(base_url={self.settings.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, *, params: Any = None, json: Any = None) -> Any:
        """The decoded body (None for 204), retrying transient errors (a POST creates: not
        repeated after an ambiguous outcome)."""
        return await with_retries(
            self._retry,
            lambda: self._once(method, path, params, json),
            idempotent=method.upper() != "POST",
        )

    async def exchange_code(self, code: str) -> None:
        """First authorisation: trade an authorization code for tokens and store them."""
        body = {"grant_type": "authorization_code", "code": code}
        fresh = await self._grant(body)
        assert self._store is not None  # noqa: S101 - uses_oauth implies a store
        await self._store.save(fresh)
        self._tokens = fresh

    async def _once(self, method: str, path: str, params: Any, json: Any) -> Any:
        token = await self._access()
        response = await self._send(method, path, token, params, json)
        if response.status_code == 401 and self.settings.uses_oauth:
            token = await self._refresh(token)
            response = await self._send(method, path, token, params, json)
        return _decode(response)

    async def _send(
        self, method: str, path: str, token: str, params: Any, json: Any
    ) -> httpx.Response:
        await self._limiter.acquire()
        headers = {"Authorization": f"Bearer {token}"}
        with transport_errors(CRM):
            return await self._http.request(method, path, params=params, json=json, headers=headers)

    async def _access(self) -> str:
        if not self.settings.uses_oauth:
            return self.settings.long_lived_token
        assert self._store is not None  # noqa: S101
        if self._tokens is None:
            self._tokens = await self._store.load()
        if self._tokens is None:
            raise CrmAuthError(
                "amocrm: not authorised yet (exchange an authorization code)", crm=CRM
            )
        if self._tokens.expires_within(self.settings.refresh_margin_s):
            return await self._refresh(self._tokens.access_token)
        return self._tokens.access_token

    async def _refresh(self, stale_access: str) -> str:
        assert self._store is not None  # noqa: S101
        stale = self._tokens or TokenSet(access_token=stale_access)
        if stale.access_token != stale_access:
            return stale.access_token  # refreshed meanwhile by another request of ours
        self._tokens = await self._store.refresh(stale, self._refresh_grant)
        return self._tokens.access_token

    async def _refresh_grant(self, current: TokenSet) -> TokenSet:
        return await self._grant(
            {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
        )

    async def _grant(self, grant: dict[str, str]) -> TokenSet:
        s = self.settings
        body = {
            "client_id": s.client_id,
            "client_secret": s.client_secret,
            "redirect_uri": s.redirect_uri,
            **grant,
        }
        await self._limiter.acquire()
        with transport_errors(CRM):
            response = await self._http.post("/oauth2/access_token", json=body)
        if response.status_code in (400, 401, 403):
            hint = _json(response).get("hint", "refused")
            raise CrmAuthError(
                f"amocrm: token grant refused ({hint})", crm=CRM, status=response.status_code
            )
        data = _decode(response)
        return TokenSet(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=time.time() + float(data["expires_in"]),
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _decode(response: httpx.Response) -> Any:
    """The boundary for HTTP statuses and amoCRM's problem+json error bodies."""
    status = response.status_code
    if status == 204:
        return None
    if 200 <= status < 300:
        return response.json()
    problem = _json(response)
    detail = f"{problem.get('title', '')}: {problem.get('detail', '')}".strip(": ")
    for item in problem.get("validation-errors") or []:
        for err in item.get("errors") or []:
            detail += f"; {err.get('path')}: {err.get('code')}"
    message = f"amocrm: HTTP {status} {detail}".rstrip()
    if status == 429:
        raise CrmTransientError(
            message, crm=CRM, status=status, retry_after=retry_after(response, 1.0)
        )
    if status >= 500:
        raise CrmTransientError(
            message, crm=CRM, status=status, retry_after=retry_after(response, 0.0)
        )
    if status == 401:
        raise CrmAuthError(message, crm=CRM, status=status)
    raise CrmPermanentError(message, crm=CRM, status=status)
