"""The in-memory account behind the fake amoCRM: users, contacts, companies, leads, calls,
notes, tasks, unsorted entries, and the OAuth grants. Objects are kept in API v4 shape."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLOSED_STATUSES", "AmoState", "digits"]

CLOSED_STATUSES = (142, 143)  # "won" and "lost": every pipeline has them
_DIGITS = re.compile(r"\D")

Obj = dict[str, Any]


def digits(text: str) -> str:
    return _DIGITS.sub("", text)


def _phone_field(phones: list[str]) -> list[Obj]:
    values = [{"value": p, "enum_code": "WORK"} for p in phones]
    return [{"field_code": "PHONE", "values": values}]


def phones_of(obj: Obj) -> list[str]:
    out: list[str] = []
    for cf in obj.get("custom_fields_values") or []:
        if cf.get("field_code") == "PHONE":
            out += [str(v["value"]) for v in cf.get("values", [])]
    return out


@dataclass
class AmoState:
    client_id: str = "amo-client-id"
    client_secret: str = "amo-client-secret"  # noqa: S105 - a fake's fixture value
    redirect_uri: str = "https://callbridge.example/oauth/amocrm"
    token_ttl: int = 86400
    users: dict[int, Obj] = field(default_factory=dict)
    contacts: dict[int, Obj] = field(default_factory=dict)
    companies: dict[int, Obj] = field(default_factory=dict)
    leads: dict[int, Obj] = field(default_factory=dict)
    calls: list[Obj] = field(default_factory=list)
    notes: list[Obj] = field(default_factory=list)
    call_notes: list[Obj] = field(default_factory=list)  # the card notes /calls makes
    # amoCRM's docs say a repeated ``uniq`` *may* be refused: both behaviours, for tests
    repeated_uniq_refused: bool = True
    tasks: list[Obj] = field(default_factory=list)
    unsorted: list[Obj] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    access: dict[str, float] = field(default_factory=dict)  # token -> expires (unix s)
    refresh: set[str] = field(default_factory=set)  # valid refresh tokens (single use)
    long_lived: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def next_id(self) -> int:
        return next(self._ids)

    # --- seeding (tests and the demo) -------------------------------------------------------
    def add_user(self, name: str, *, admin: bool = False) -> int:
        uid = self.next_id()
        self.users[uid] = {
            "id": uid,
            "name": name,
            "email": f"user{uid}@example.com",
            "lang": "ru",
            "rights": {"is_admin": admin, "is_active": True},
        }
        return uid

    def add_contact(
        self,
        name: str,
        phones: list[str],
        *,
        responsible: int = 0,
        created_at: int | None = None,
        company: int | None = None,
    ) -> int:
        cid = self._add(self.contacts, name, phones, responsible, created_at)
        if company is not None:
            self.contacts[cid]["_embedded"]["companies"].append({"id": company})
        return cid

    def add_company(
        self, name: str, phones: list[str], *, responsible: int = 0, created_at: int | None = None
    ) -> int:
        return self._add(self.companies, name, phones, responsible, created_at)

    def add_lead(
        self,
        name: str,
        *,
        contacts: Sequence[int] = (),
        companies: Sequence[int] = (),
        status_id: int = 1,
        responsible: int = 0,
    ) -> int:
        lid = self.next_id()
        now = int(time.time())
        self.leads[lid] = {
            "id": lid,
            "name": name,
            "price": 0,
            "status_id": status_id,
            "pipeline_id": 1,
            "responsible_user_id": responsible,
            "created_at": now,
            "updated_at": now,
            "_embedded": {
                "contacts": [{"id": c} for c in contacts],
                "companies": [{"id": c} for c in companies],
            },
        }
        for owner, ids in ((self.contacts, contacts), (self.companies, companies)):
            for oid in ids:
                owner[oid]["_embedded"]["leads"].append({"id": lid})
        return lid

    def _add(
        self,
        table: dict[int, Obj],
        name: str,
        phones: list[str],
        responsible: int,
        created_at: int | None,
    ) -> int:
        oid = self.next_id()
        at = int(time.time()) if created_at is None else created_at
        table[oid] = {
            "id": oid,
            "name": name,
            "responsible_user_id": responsible,
            "created_at": at,
            "updated_at": at,
            "custom_fields_values": _phone_field(phones) if phones else None,
            "_embedded": {"tags": [], "companies": [], "leads": []},
        }
        return oid

    # --- OAuth -------------------------------------------------------------------------------
    def issue_code(self) -> str:
        code = secrets.token_urlsafe(16)
        self.codes.add(code)
        return code

    def issue_tokens(self) -> Obj:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = time.time() + self.token_ttl
        self.refresh.add(refresh)
        return {
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "server_time": int(time.time()),
            "access_token": access,
            "refresh_token": refresh,
        }

    def issue_long_lived(self) -> str:
        token = secrets.token_urlsafe(24)
        self.long_lived.add(token)
        return token

    def expire_access_tokens(self) -> None:
        for token in self.access:
            self.access[token] = 0.0

    def token_ok(self, token: str) -> bool:
        return token in self.long_lived or self.access.get(token, 0.0) > time.time()

    # --- queries -------------------------------------------------------------------------------
    def search(self, table: dict[int, Obj], query: str) -> list[Obj]:
        """``query`` matches a name substring or a digit substring of a phone (real amoCRM
        searches every filled field; trailing digits find every spelling of a number)."""
        q = digits(query)
        found = []
        for obj in table.values():
            in_phone = bool(q) and any(q in digits(p) for p in phones_of(obj))
            if in_phone or query.lower() in str(obj["name"]).lower():
                found.append(obj)
        return found

    def by_phone(self, phone: str) -> list[tuple[str, Obj]]:
        """What ``POST /api/v4/calls`` attaches to: last 10 digits, contacts then companies."""
        tail = digits(phone)[-10:]
        for kind, table in (("contact", self.contacts), ("company", self.companies)):
            hits = [o for o in table.values() if any(digits(p)[-10:] == tail for p in phones_of(o))]
            if hits:
                return [(kind, o) for o in sorted(hits, key=lambda o: o["created_at"])]
        return []

    def open_leads(self, obj: Obj) -> list[Obj]:
        ids = [ref["id"] for ref in obj["_embedded"]["leads"]]
        leads = [self.leads[i] for i in ids if i in self.leads]
        return [lead for lead in leads if lead["status_id"] not in CLOSED_STATUSES]
