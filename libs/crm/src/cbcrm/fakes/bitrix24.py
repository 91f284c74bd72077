"""A fake Bitrix24 portal that keeps to the documented REST contract (reference/bitrix24.md):
the OAuth server (``/oauth/token/``: code and refresh grants, rotating refresh tokens),
``/rest/{method}.json`` with ``auth`` (1-hour access tokens, 401 ``expired_token``), the
``{"result", "time"}`` / ``{"error", "error_description"}`` envelopes, ``batch`` (≤ 50 commands,
``$result[key][FIELD]`` references, ``result_error``), and the portal's leaky bucket
(2 requests/s drain, 50 deep; beyond it 503 ``QUERY_LIMIT_EXCEEDED``) and the per-method
operating budget (:mod:`.bitrix24_budget`: ``time.operating``/``operating_reset_at`` in every
response, ``result_time`` per command of a ``batch``, 429 ``OPERATION_TIME_LIMIT``)."""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from ..bitrix24 import phpquery
from .bitrix24_budget import OperatingBudget
from .bitrix24_state import B24Fault, B24State
from .server import FakeServer, Reply, Request

__all__ = ["FakeBitrix24"]

_REF = re.compile(r"\$result\[(\w+)\]\[(\w+)\]")


def b24_error(status: int, code: str, description: str) -> Reply:
    return Reply.json(status, {"error": code, "error_description": description})


@dataclass(eq=False)
class FakeBitrix24(FakeServer):
    state: B24State = field(default_factory=B24State)
    client_id: str = "local.b24app"
    client_secret: str = "b24-client-secret"  # noqa: S105 - a fake's fixture value
    application_token: str = "b24-application-token"  # noqa: S105
    drain: float = 2.0  # requests/s leaving the bucket
    depth: int = 50
    codes: set[str] = field(default_factory=set)
    access: dict[str, float] = field(default_factory=dict)
    refresh: set[str] = field(default_factory=set)
    operating: OperatingBudget = field(default_factory=OperatingBudget)
    _level: float = 0.0
    _last: float = 0.0

    def fault_reply(self, status: int) -> Reply:
        if status == 503:
            return b24_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        return b24_error(status, "INTERNAL_SERVER_ERROR", "Internal server error")

    def limit_reply(self, now: float, request: Request) -> Reply | None:
        if not request.path.startswith("/rest/"):
            return None  # the OAuth server is not the portal
        self._level = max(0.0, self._level - (now - self._last) * self.drain)
        self._last = now
        if self._level + 1 > self.depth:
            return b24_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        self._level += 1
        return None

    def issue_code(self) -> str:
        code = secrets.token_urlsafe(12)
        self.codes.add(code)
        return code

    def expire_access_tokens(self) -> None:
        self.access = dict.fromkeys(self.access, 0.0)

    async def handle(self, request: Request) -> Reply:
        if request.path == "/oauth/token/":
            return self._token(dict(request.query + request.form()))
        if not request.path.startswith("/rest/"):
            return b24_error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        method = request.path.removeprefix("/rest/").removesuffix(".json")
        json_body = "json" in request.headers.get("content-type", "")
        body = request.json() if json_body else phpquery.decode(request.body.decode())
        params = {**phpquery.decode(urllib.parse.urlencode(request.query)), **(body or {})}
        auth = str(params.pop("auth", ""))
        if not auth:
            return b24_error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if self.access.get(auth) is None:
            return b24_error(401, "invalid_token", "The access token provided is invalid.")
        if self.access[auth] < time.time():
            return b24_error(401, "expired_token", "The access token provided has expired.")
        try:
            if method == "user.get":
                self._charge(method)
                items, total, nxt = self._users(params)
                page = {"result": items, "total": total, "time": self.operating.timing(method)}
                return Reply.json(200, page if nxt is None else {**page, "next": nxt})
            if method == "batch":
                self._charge(method)
                result = self._batch(params)
            else:
                result = self._run(method, params)
        except B24Fault as fault:
            reply: dict[str, Any] = {"error": fault.code, "error_description": fault.description}
            if fault.code == "OPERATION_TIME_LIMIT":  # an assumption: the time block rides along
                reply["time"] = self.operating.timing(method)
            return Reply.json(fault.status, reply)
        return Reply.json(200, {"result": result, "time": self.operating.timing(method)})

    def _charge(self, method: str) -> float:
        """Refuse ``method`` over its operating budget, else charge one call of it."""
        if self.operating.blocked(method):
            raise B24Fault(
                429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
            )
        return self.operating.spend(method)

    def _run(self, method: str, params: dict[str, Any]) -> Any:
        handler = self.state.methods().get(method)
        if handler is None:
            raise B24Fault(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        self._charge(method)
        return handler(params)

    def _users(self, params: dict[str, Any]) -> tuple[list[Any], int, int | None]:
        """user.get: filtered (ACTIVE, UF_PHONE_INNER), 50 per page from ``start``."""
        flt = params.get("FILTER") or {}
        users = [
            u
            for u in self.state.users.values()
            if all(
                str(u.get(k)) == str(v)
                or (k == "ACTIVE" and str(v).upper() in ("Y", "TRUE", "1") and u["ACTIVE"])
                for k, v in flt.items()
            )
        ]
        start = int(params.get("start") or 0)
        nxt = start + 50 if start + 50 < len(users) else None
        return users[start : start + 50], len(users), nxt

    def _batch(self, params: dict[str, Any]) -> dict[str, Any]:
        cmd: dict[str, str] = params.get("cmd") or {}
        if len(cmd) > 50:
            raise B24Fault(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        halt = str(params.get("halt", "0")) == "1"
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        times: dict[str, Any] = {}
        for key, line in cmd.items():
            method, _, query = line.partition("?")
            if method == "batch":
                raise B24Fault(
                    405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
                )
            query = _REF.sub(
                lambda m: str((results.get(m.group(1)) or {}).get(m.group(2), "")), query
            )
            try:
                results[key] = self._run(method, phpquery.decode(query))
            except B24Fault as fault:
                errors[key] = {"error": fault.code, "error_description": fault.description}
                if halt:
                    break
            finally:
                times[key] = self.operating.timing(method, self.operating.cost(method))
        return {
            "result": results or [],
            "result_error": errors or [],
            "result_total": [],
            "result_next": [],
            "result_time": times or [],
        }

    def _token(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return b24_error(401, "invalid_client", "Invalid client credentials")
        grant = form.get("grant_type")
        if grant == "authorization_code" and form.get("code") in self.codes:
            self.codes.discard(form["code"])
        elif grant == "refresh_token" and form.get("refresh_token") in self.refresh:
            self.refresh.discard(form["refresh_token"])
        else:
            return b24_error(400, "invalid_grant", "Invalid grant")
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = time.time() + 3600
        self.refresh.add(refresh)
        return Reply.json(
            200,
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires": int(time.time()) + 3600,
                "expires_in": 3600,
                "client_endpoint": f"{self.url}/rest/",
                "server_endpoint": f"{self.url}/rest/",
                "domain": "oauth.bitrix.info",
                "member_id": "fake-member",
                "scope": "telephony,crm,user,task",
                "status": "L",
                "user_id": 1,
            },
        )
