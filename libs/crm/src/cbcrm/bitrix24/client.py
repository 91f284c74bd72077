"""The HTTP client of one Bitrix24 portal (OAuth application): rate limited, retried, and the
adapter's single error boundary — httpx errors, HTTP statuses and Bitrix24's
``{"error": ..., "error_description": ...}`` bodies (also per command inside ``batch``) all
become :mod:`cbcrm.exceptions`.

With an :class:`~.budget.OperatingTracker`, every response's per-method ``operating`` figures
are kept in Redis, a method near its budget is held (a transient error with ``retry_after``
until its ``operating_reset_at``, no request sent), and 429 ``OPERATION_TIME_LIMIT`` waits for
the same reset rather than a fixed pause.

The access token travels in the JSON body (``auth``), never in a URL, so it cannot reach an
access log. ``expired_token`` refreshes once under the shared Redis lock and repeats.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..exceptions import CrmAuthError, CrmError, CrmPermanentError, CrmTransientError
from ..remote import Limiter, RetryPolicy, TokenSet, TokenStore, transport_errors, with_retries
from . import phpquery
from .budget import OperatingTracker
from .settings import B24Settings

__all__ = ["B24Client", "Command"]

CRM = "bitrix24"
Command = tuple[str, dict[str, Any]]  # (method, params)

_AUTH = {
    "NO_AUTH_FOUND",
    "invalid_token",
    "insufficient_scope",
    "WRONG_AUTH_TYPE",
    "INVALID_CREDENTIALS",
    "ACCESS_DENIED",
    "user_access_error",
    "PAYMENT_REQUIRED",
}
_BUDGET = ("OPERATION_TIME_LIMIT",)
_WAIT = {"QUERY_LIMIT_EXCEEDED": 1.0, "OPERATION_TIME_LIMIT": 10.0, "OVERLOAD_LIMIT": 60.0}


def error(
    code: str, description: str, status: int | None = None, retry_after: float | None = None
) -> CrmError:
    """Bitrix24's error code → our error (messages carry the code and description only)."""
    message = f"bitrix24: {code}: {description}".rstrip(": ")
    if code in _WAIT:
        wait = _WAIT[code] if retry_after is None else retry_after
        return CrmTransientError(message, crm=CRM, status=status, retry_after=wait)
    if (status is not None and status >= 500) or code in (
        "INTERNAL_SERVER_ERROR",
        "ERROR_UNEXPECTED_ANSWER",
    ):
        return CrmTransientError(message, crm=CRM, status=status)
    if code in _AUTH or code == "expired_token":
        return CrmAuthError(message, crm=CRM, status=status)
    return CrmPermanentError(message, crm=CRM, status=status)


class B24Client:
    def __init__(
        self,
        settings: B24Settings,
        *,
        limiter: Limiter,
        tokens: TokenStore,
        retry: RetryPolicy | None = None,
        budget: OperatingTracker | None = None,
    ) -> None:
        self.settings = settings
        self._limiter, self._store, self._retry = limiter, tokens, retry or RetryPolicy()
        self._budget = budget
        self._http = httpx.AsyncClient(timeout=settings.timeout_s)
        self._tokens: TokenSet | None = None

    def __repr__(self) -> str:
        return f"B24Client(portal_url={self.settings.portal_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One method's ``result``."""
        body = await with_retries(
            self._retry, lambda: self._once(method, params or {}), idempotent=_idempotent(method)
        )
        return body["result"]

    async def call_page(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A list method's whole body: ``result``, ``total`` and ``next`` (the next ``start``)."""
        return await with_retries(self._retry, lambda: self._once(method, params))

    async def batch(self, commands: list[Command]) -> list[Any]:
        """Up to 50 commands in one request (``halt=0``): each command's result, or the
        :class:`CrmError` it failed with, in order."""
        cmd = {f"c{i}": f"{m}?{phpquery.encode(p)}" for i, (m, p) in enumerate(commands)}
        methods = {f"c{i}": m for i, (m, _) in enumerate(commands)}
        body = await with_retries(
            self._retry,
            lambda: self._once("batch", {"halt": 0, "cmd": cmd}, [*methods.values()]),
            idempotent=all(_idempotent(m) for m in methods.values()),
        )
        inner = body["result"]
        results, errors = inner.get("result") or {}, inner.get("result_error") or {}
        times = inner.get("result_time") or {}
        out: list[Any] = []
        for key in cmd:
            timing = times.get(key) if isinstance(times, dict) else None
            if self._budget is not None:
                await self._budget.observe(methods[key], timing)
            if key in errors:
                e = errors[key]
                code = str(e.get("error", ""))
                wait = await self._refused(methods[key], timing) if code in _BUDGET else None
                out.append(error(code, str(e.get("error_description", "")), retry_after=wait))
            else:
                out.append(results.get(key) if isinstance(results, dict) else None)
        return out

    async def exchange_code(self, code: str) -> None:
        fresh = await self._grant({"grant_type": "authorization_code", "code": code})
        await self._store.save(fresh)
        self._tokens = fresh

    async def _once(
        self, method: str, params: dict[str, Any], inner: list[str] | None = None
    ) -> dict[str, Any]:
        await self._hold([method, *(inner or [])])
        tokens = await self._current()
        response = await self._send(method, params, tokens)
        if response.status_code == 401 and _code(response) in (
            "expired_token",
            "NO_AUTH_FOUND",
            "invalid_token",
        ):
            tokens = await self._refresh(tokens)
            response = await self._send(method, params, tokens)
        body = _body(response)
        if response.status_code == 429 and body.get("error") in _BUDGET:
            wait = await self._refused(method, body.get("time"))
            raise error(str(body["error"]), str(body.get("error_description", "")), 429, wait)
        if self._budget is not None:
            await self._budget.observe(method, body.get("time"))
        return _decode(response)

    async def _hold(self, methods: list[str]) -> None:
        """Held: a method past ``hold_at`` of its budget waits for its reset (no request)."""
        if self._budget is None:
            return
        held, wait = await self._budget.hold(methods)
        if wait > 0:
            raise CrmTransientError(
                f"bitrix24: {held}: operating budget nearly spent, held until its reset",
                crm=CRM,
                retry_after=wait,
            )

    async def _refused(self, method: str, timing: Any) -> float:
        """Seconds until ``method``'s budget resets, after the portal refused it."""
        reset = timing.get("operating_reset_at") if isinstance(timing, dict) else None
        reset_at = float(reset) if isinstance(reset, int | float) else None
        if self._budget is not None:
            return await self._budget.exhausted(method, reset_at)
        return max(0.0, reset_at - time.time()) if reset_at is not None else _WAIT[_BUDGET[0]]

    async def _send(self, method: str, params: dict[str, Any], tokens: TokenSet) -> httpx.Response:
        base = (tokens.endpoint or f"{self.settings.portal_url.rstrip('/')}/rest/").rstrip("/")
        await self._limiter.acquire()
        with transport_errors(CRM):
            return await self._http.post(
                f"{base}/{method}.json", json={**params, "auth": tokens.access_token}
            )

    async def _current(self) -> TokenSet:
        if self._tokens is None:
            self._tokens = await self._store.load()
        if self._tokens is None:
            raise CrmAuthError("bitrix24: application not installed (no tokens)", crm=CRM)
        if self._tokens.expires_within(self.settings.refresh_margin_s):
            return await self._refresh(self._tokens)
        return self._tokens

    async def _refresh(self, stale: TokenSet) -> TokenSet:
        if self._tokens is not None and self._tokens.access_token != stale.access_token:
            return self._tokens
        self._tokens = await self._store.refresh(stale, self._refresh_grant)
        return self._tokens

    async def _refresh_grant(self, current: TokenSet) -> TokenSet:
        return await self._grant(
            {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
        )

    async def _grant(self, grant: dict[str, str]) -> TokenSet:
        s = self.settings
        form = {"client_id": s.client_id, "client_secret": s.client_secret, **grant}
        with transport_errors(CRM):
            response = await self._http.post(f"{s.oauth_url.rstrip('/')}/oauth/token/", data=form)
        if 400 <= response.status_code < 500:
            raise CrmAuthError(
                f"bitrix24: token grant refused ({_code(response)})",
                crm=CRM,
                status=response.status_code,
            )
        data = _decode(response)
        expires = float(data.get("expires") or time.time() + float(data.get("expires_in", 3600)))
        return TokenSet(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=expires,
            endpoint=str(data.get("client_endpoint", "")),
        )


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _code(response: httpx.Response) -> str:
    return str(_body(response).get("error", ""))


def _decode(response: httpx.Response) -> dict[str, Any]:
    body = _body(response)
    if response.status_code < 400 and "error" not in body:
        return body
    code = str(body.get("error") or f"HTTP_{response.status_code}")
    raise error(code, str(body.get("error_description", "")), response.status_code)


def _idempotent(method: str) -> bool:
    """Safe to repeat after an ambiguous outcome: everything but ``*.add`` (reads; register
    dedupes by EXTERNAL_CALL_ID; a repeated finish meets "Call is not found"; attachRecord
    replaces; show/hide)."""
    return not method.endswith(".add")
