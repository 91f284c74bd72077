"""A fake amoCRM/Kommo API v4 that keeps to the documented contract (reference/amocrm.md):
OAuth2 code and refresh grants with single-use refresh tokens, long-lived tokens, Bearer
auth, HAL envelopes with ``_links.next``, 204 for an empty list, problem+json errors, and
7 requests per second (429 with an empty body; a caller that keeps going over is blocked
with 403 for a while, as the limits page warns)."""

from __future__ import annotations

import re
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .amocrm_calls import AmoWrites
from .amocrm_state import AmoState
from .server import FakeServer, Reply, Request

__all__ = ["FakeAmoCrm", "problem"]

HAL = "application/hal+json"
Handler = Callable[[Request, re.Match[str]], Awaitable[Reply]]


def problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    body = {
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
        **extra,
    }
    return Reply.json(status, body, "application/problem+json")


@dataclass(eq=False)
class FakeAmoCrm(FakeServer):
    state: AmoState = field(default_factory=AmoState)
    rate: int = 7  # requests per second, any 1 s window; 0 = no limit (benchmarks)
    block_after: int = 50  # 429s within a minute before the IP is blocked
    block_for: float = 30.0
    _window: deque[float] = field(default_factory=deque)
    _refusals: deque[float] = field(default_factory=deque)
    _blocked_until: float = 0.0

    def __post_init__(self) -> None:
        self._writes = AmoWrites(self.state)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/oauth2/access_token"), self._token),
            ("GET", re.compile(r"/api/v4/(contacts|companies|leads)"), self._list),
            ("GET", re.compile(r"/api/v4/users"), self._users),
            ("POST", re.compile(r"/api/v4/(contacts|companies|leads|tasks)"), self._writes.create),
            ("POST", re.compile(r"/api/v4/calls"), self._writes.calls),
            (
                "POST",
                re.compile(r"/api/v4/(contacts|companies|leads)/(\d+)/notes"),
                self._writes.notes,
            ),
            ("POST", re.compile(r"/api/v4/leads/unsorted/sip"), self._writes.unsorted_sip),
            ("GET", re.compile(r"/api/v4/(contacts|companies|leads)/(\d+)/notes"), self._notes),
        ]

    @property
    def base_url(self) -> str:
        return self.url

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply(429, b"", "text/html")
        return problem(status, "Server error" if status >= 500 else "Error", "injected fault")

    def limit_reply(self, now: float, request: Request) -> Reply | None:
        if self.rate <= 0:
            return None
        if now < self._blocked_until:
            return problem(403, "Forbidden", "IP address is blocked: too many requests")
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        self._window.append(now)
        if len(self._window) <= self.rate:
            return None
        self._refusals.append(now)
        while self._refusals and now - self._refusals[0] >= 60.0:
            self._refusals.popleft()
        if len(self._refusals) >= self.block_after:
            self._blocked_until = now + self.block_for
        return Reply(429, b"", "text/html")

    async def handle(self, request: Request) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                if not request.path.startswith("/oauth2/") and not self._authorized(request):
                    return problem(401, "Unauthorized", "Access token is invalid or expired")
                return await handler(request, match)
        return problem(404, "Not Found", f"no route {request.method} {request.path}")

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and self.state.token_ok(token)

    async def _token(self, request: Request, match: re.Match[str]) -> Reply:
        body, st = request.json() or {}, self.state
        if (body.get("client_id"), body.get("client_secret")) != (st.client_id, st.client_secret):
            return _oauth_error("Client authentication failed")
        if body.get("redirect_uri") != st.redirect_uri:
            return _oauth_error("redirect_uri does not match")
        grant = body.get("grant_type")
        if grant == "authorization_code" and body.get("code") in st.codes:
            st.codes.discard(body["code"])
            return Reply.json(200, st.issue_tokens())
        if grant == "refresh_token" and body.get("refresh_token") in st.refresh:
            st.refresh.discard(body["refresh_token"])  # rotation: single use
            return Reply.json(200, st.issue_tokens())
        return _oauth_error("Token has been revoked")

    async def _list(self, request: Request, match: re.Match[str]) -> Reply:
        entity = match.group(1)
        table = {
            "contacts": self.state.contacts,
            "companies": self.state.companies,
            "leads": self.state.leads,
        }[entity]
        query = request.arg("query")
        items = self.state.search(table, query) if query else list(table.values())
        ids = {int(v) for k, v in request.query if k in ("filter[id][]", "filter[id]")}
        if ids:
            items = [o for o in items if o["id"] in ids]
        with_leads = "leads" in request.arg("with").split(",")
        shaped = [_shape(o, with_leads) for o in sorted(items, key=lambda o: o["id"])]
        return _page(request, entity, shaped)

    async def _notes(self, request: Request, match: re.Match[str]) -> Reply:
        """An entity's notes (those added as notes and the call notes of ``/calls``),
        ``filter[note_type][]`` as given; 204 when none."""
        entity, oid = match.group(1), int(match.group(2))
        kinds = {v for k, v in request.query if k in ("filter[note_type][]", "filter[note_type]")}
        notes = [
            {"id": n["id"], "entity_id": oid, "note_type": n["note_type"], "params": n["params"]}
            for n in [*self.state.notes, *self.state.call_notes]
            if n["entity"] == entity
            and n["entity_id"] == oid
            and (not kinds or n["note_type"] in kinds)
        ]
        return _page(request, "notes", notes)

    async def _users(self, request: Request, match: re.Match[str]) -> Reply:
        return _page(request, "users", list(self.state.users.values()))


def _shape(obj: dict[str, Any], with_leads: bool) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "_embedded"}
    embedded = dict(obj["_embedded"])
    if not with_leads:
        embedded.pop("leads", None)
    out["_embedded"] = embedded
    return out


def _page(request: Request, entity: str, items: list[dict[str, Any]]) -> Reply:
    try:
        page, limit = int(request.arg("page", "1")), int(request.arg("limit", "50"))
    except ValueError:
        return problem(400, "Bad Request", "page and limit must be integers")
    if limit > 250 or limit < 1 or page < 1:
        return problem(
            400,
            "Bad Request",
            "Request validation failed",
            **{
                "validation-errors": [
                    {
                        "request_id": "0",
                        "errors": [
                            {
                                "code": "InvalidLimit",
                                "path": "limit",
                                "detail": "limit must be 1..250",
                            }
                        ],
                    }
                ]
            },
        )
    chunk = items[(page - 1) * limit : page * limit]
    if not chunk:
        return Reply(204)
    links: dict[str, Any] = {"self": {"href": _href(request, page)}}
    if page * limit < len(items):
        links["next"] = {"href": _href(request, page + 1)}
    body = {
        "_page": page,
        "_total_items": len(items),
        "_links": links,
        "_embedded": {entity: chunk},
    }
    return Reply.json(200, body, HAL)


def _href(request: Request, page: int) -> str:
    query = [(k, v) for k, v in request.query if k != "page"] + [("page", str(page))]
    host = request.headers.get("host", "127.0.0.1")
    return f"http://{host}{request.path}?{urllib.parse.urlencode(query)}"


def _oauth_error(hint: str) -> Reply:
    body = {
        "hint": hint,
        "title": "Bad request",
        "status": 400,
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "detail": "Some parameters are missing or invalid",
    }
    return Reply.json(400, body, "application/problem+json")
