"""A fake Megaplan v3 (reference/megaplan.md): ``/api/v3/auth/access_token`` (password and
refresh-token grants, form-encoded), Bearer auth, GET parameters as one JSON object in the
query string, the ``{"meta": {"status", "errors"}, "data"}`` envelope (422 for request
errors), contractors searched with ``q``, deals, deal comments, tasks, employees. Megaplan
documents no rate limit, so the fake has none (faults can still be injected)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from .server import FakeServer, Reply, Request

__all__ = ["FakeMegaplan"]

Obj = dict[str, Any]


def envelope(status: int, data: Any = None, errors: list[Obj] | None = None) -> Reply:
    meta = {"status": status, "errors": errors or []}
    return Reply.json(status, {"meta": meta, "data": data})


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass(eq=False)
class FakeMegaplan(FakeServer):
    username: str = "robot@example.com"
    password: str = "megaplan-password"  # noqa: S105 - a fake's fixture value
    employees: dict[str, Obj] = field(default_factory=dict)
    contractors: dict[str, Obj] = field(default_factory=dict)
    deals: dict[str, Obj] = field(default_factory=dict)
    comments: list[Obj] = field(default_factory=list)
    tasks: list[Obj] = field(default_factory=list)
    access: dict[str, float] = field(default_factory=dict)
    refresh: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fault_reply(self, status: int) -> Reply:
        return envelope(status, errors=[{"message": "injected fault"}])

    def add_employee(self, name: str) -> str:
        eid = str(next(self._ids))
        self.employees[eid] = {"contentType": "Employee", "id": eid, "name": name}
        return eid

    def add_contractor(self, name: str, phones: list[str], *, created: float | None = None) -> str:
        return self._store(
            self.contractors,
            {
                "contentType": "ContractorHuman",
                "firstName": name,
                "contactInfo": [
                    {"contentType": "ContactInfo", "type": "phone", "value": p} for p in phones
                ],
                "timeCreated": {
                    "contentType": "DateTime",
                    "value": dt.datetime.fromtimestamp(created or time.time(), dt.UTC).isoformat(),
                },
            },
        )

    def add_deal(self, name: str, contractor: str, *, is_open: bool = True) -> str:
        ref = {"contentType": "ContractorHuman", "id": contractor}
        return self._store(
            self.deals, {"contentType": "Deal", "name": name, "contractor": ref, "isOpen": is_open}
        )

    def expire_access_tokens(self) -> None:
        self.access = dict.fromkeys(self.access, 0.0)

    def _store(self, table: dict[str, Obj], obj: Obj) -> str:
        oid = str(next(self._ids))
        table[oid] = {**obj, "id": oid}
        return oid

    async def handle(self, request: Request) -> Reply:
        if request.path == "/api/v3/auth/access_token" and request.method == "POST":
            return self._token(dict(request.form()))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.access.get(token, 0.0) < time.time():
            return envelope(401, errors=[{"message": "Unauthorized"}])
        raw_query = urllib.parse.unquote(request.query_string) if request.query_string else ""
        params: Obj = json.loads(raw_query) if raw_query else {}
        body: Obj = request.json() or {}
        path, method = request.path.rstrip("/"), request.method
        if method == "GET" and path == "/api/v3/contractor":
            q = _digits(str(params.get("q", "")))
            hits = [
                c
                for c in self.contractors.values()
                if q and any(q in _digits(i["value"]) for i in c.get("contactInfo", []))
            ]
            return envelope(200, hits[: int(params.get("limit", 100))])
        if method == "GET" and path == "/api/v3/deal":
            flt = params.get("filter") or {}
            want = (flt.get("contractor") or {}).get("id")
            hits = [
                d
                for d in self.deals.values()
                if (want is None or d["contractor"]["id"] == want)
                and (not flt.get("isOpen") or d["isOpen"])
            ]
            return envelope(200, hits)
        if method == "GET" and path == "/api/v3/employee":
            return envelope(200, list(self.employees.values()))
        if method == "POST" and path == "/api/v3/contractorHuman":
            return envelope(200, self.contractors[self._store(self.contractors, body)])
        if method == "POST" and path == "/api/v3/deal":
            if not body.get("program"):
                return envelope(
                    422, errors=[{"field": "program", "message": "program is required"}]
                )
            return envelope(200, self.deals[self._store(self.deals, {**body, "isOpen": True})])
        if method == "POST" and path == "/api/v3/task":
            task = {**body, "id": str(next(self._ids))}
            self.tasks.append(task)
            return envelope(200, task)
        match = re.fullmatch(r"/api/v3/(deal|contractor\w*)/(\d+)/comments", path)
        if method == "POST" and match:
            if match.group(1) != "deal":
                return envelope(
                    500, errors=[{"message": "Internal error"}]
                )  # as reported for contractors
            if match.group(2) not in self.deals:
                return envelope(404, errors=[{"message": "Deal not found"}])
            comment = {**body, "id": str(next(self._ids)), "deal": match.group(2)}
            self.comments.append(comment)
            return envelope(200, comment)
        return envelope(404, errors=[{"message": "Not found"}])

    def _token(self, form: dict[str, str]) -> Reply:
        grant = form.get("grant_type")
        ok = grant == "password" and (form.get("username"), form.get("password")) == (
            self.username,
            self.password,
        )
        if grant == "refresh_token" and form.get("refresh_token") in self.refresh:
            self.refresh.discard(form["refresh_token"])
            ok = True
        if not ok:
            return Reply.json(400, {"error": "invalid_grant", "message": "Invalid credentials"})
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = time.time() + 172800
        self.refresh.add(refresh)
        return Reply.json(
            200,
            {
                "access_token": access,
                "expires_in": 172800,
                "token_type": "bearer",
                "scope": None,
                "refresh_token": refresh,
            },
        )
