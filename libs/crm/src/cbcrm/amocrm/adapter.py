"""amoCRM/Kommo behind :class:`~cbcrm.adapter.CrmAdapter`.

Lookup searches contacts and companies with ``query`` = the last 10 digits (amoCRM matches on
trailing digits; every spelling of the number contains them), keeps those whose PHONE field
really ends with them, then reads their leads and keeps the open ones. Calls are logged by
:mod:`.calls`. amoCRM has no call card API for us to drive (its popups are widget JS).
"""

from __future__ import annotations

from typing import Any

from ..adapter import (
    CallLog,
    CrmUser,
    Deal,
    Entity,
    EntityKind,
    Lookup,
    NewContact,
    NewDeal,
    NewTask,
    NoCallCard,
)
from ..exceptions import InvalidPhone
from ..phones import to_e164, trailing_digits
from ..remote import Memo
from .calls import AmoCalls
from .client import AmoClient

__all__ = ["AmoCrmAdapter"]

CLOSED = (142, 143)  # won, lost
_PLURAL: dict[EntityKind, str] = {"contact": "contacts", "company": "companies", "lead": "leads"}


class AmoCrmAdapter(NoCallCard):
    name = "amocrm"

    def __init__(self, client: AmoClient, memo: Memo) -> None:
        self._client, self._memo = client, memo
        self._base = client.settings.base_url.rstrip("/")
        self.calls = AmoCalls(client, memo)

    def __repr__(self) -> str:
        return f"AmoCrmAdapter(base_url={self._base!r})"

    async def lookup(self, phone: str) -> Lookup:
        tail = trailing_digits(phone, 10)
        found: list[tuple[EntityKind, dict[str, Any]]] = []
        for kind in ("contact", "company"):
            items = await self._list(_PLURAL[kind], {"query": tail, "with": "leads"})
            found += [
                (kind, o) for o in items if any(_digits(p).endswith(tail) for p in _phones(o))
            ]
        lead_ids = {ref["id"] for _, o in found for ref in _embedded(o, "leads")}
        leads = await self._leads(sorted(lead_ids)) if lead_ids else {}
        entities = tuple(self._entity(kind, o) for kind, o in found)
        deals = {
            str(o["id"]): tuple(leads[r["id"]] for r in _embedded(o, "leads") if r["id"] in leads)
            for _, o in found
        }
        return Lookup(phone=phone, entities=entities, deals={k: v for k, v in deals.items() if v})

    async def users(self) -> list[CrmUser]:
        extensions = self._client.settings.extensions
        return [
            CrmUser(
                id=str(u["id"]), name=u.get("name", ""), extension=extensions.get(str(u["id"]), "")
            )
            for u in await self._list("users", {})
        ]

    async def create_contact(self, contact: NewContact, *, key: str) -> Entity:
        if contact.unsorted:
            contact_id, _ = await self.calls.unsorted_contact(contact, key=key)
            return Entity(
                kind="contact",
                id=contact_id,
                name=contact.name,
                phones=(contact.phone,),
                url=self._url("contact", contact_id),
            )
        phone_field = {
            "field_code": "PHONE",
            "values": [{"value": contact.phone, "enum_code": "WORK"}],
        }
        item: dict[str, Any] = {"name": contact.name, "custom_fields_values": [phone_field]}
        if contact.responsible_user_id:
            item["responsible_user_id"] = int(contact.responsible_user_id)
        oid = await self._create("contacts", item, key)
        return Entity(
            kind="contact",
            id=oid,
            name=contact.name,
            phones=(contact.phone,),
            responsible_user_id=contact.responsible_user_id,
            url=self._url("contact", oid),
        )

    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal:
        if deal.unsorted:  # the Unsorted entry of this contact already holds its lead
            lead = await self._memo.get("amocrm:unsorted-lead", deal.entity.id)
            if lead is not None:
                return Deal(id=lead, name=deal.name, url=self._url("lead", lead))
        item: dict[str, Any] = {"name": deal.name}
        if deal.entity.kind in ("contact", "company"):
            item["_embedded"] = {_PLURAL[deal.entity.kind]: [{"id": int(deal.entity.id)}]}
        if deal.responsible_user_id:
            item["responsible_user_id"] = int(deal.responsible_user_id)
        oid = await self._create("leads", item, key)
        return Deal(
            id=oid,
            name=deal.name,
            responsible_user_id=deal.responsible_user_id,
            url=self._url("lead", oid),
        )

    async def create_task(self, task: NewTask, *, key: str) -> str:
        item: dict[str, Any] = {
            "text": task.text,
            "complete_till": task.deadline,
            "task_type_id": self._client.settings.task_type_id,
            "entity_id": int(task.entity.id),
            "entity_type": _PLURAL[task.entity.kind],
        }
        if task.responsible_user_id:
            item["responsible_user_id"] = int(task.responsible_user_id)
        return await self._create("tasks", item, key)

    async def log_call(self, call: CallLog, *, key: str) -> str:
        return await self.calls.log(call, key=key)

    async def find_call(self, call: CallLog) -> str | None:
        """The logged ``call`` if amoCRM has it (a search after an ambiguous outcome)."""
        return await self.calls.find(call)

    async def create_unsorted(self, call: CallLog, *, did: str, key: str) -> str:
        """An Unsorted (incoming lead) SIP entry for a call from an unknown number."""
        return await self.calls.unsorted(call, did=did, key=key)

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- helpers ----------------------------------------------------------------------------
    async def _list(
        self, entity: str, params: dict[str, Any], *, max_pages: int = 20
    ) -> list[dict[str, Any]]:
        """Every item, following ``_links.next`` (204 = no items)."""
        out: list[dict[str, Any]] = []
        path: str | None = f"/api/v4/{entity}"
        query: dict[str, Any] | None = {**params, "limit": 250}
        for _ in range(max_pages):
            if path is None:
                break
            page = await self._client.request("GET", path, params=query)
            if page is None:
                break
            out += page.get("_embedded", {}).get(entity, [])
            path, query = page.get("_links", {}).get("next", {}).get("href"), None
        return out

    async def _leads(self, ids: list[int]) -> dict[int, Deal]:
        items = await self._list("leads", {"filter[id][]": ids})
        return {
            int(o["id"]): Deal(
                id=str(o["id"]),
                name=o.get("name", ""),
                status=str(o.get("status_id", "")),
                is_open=o.get("status_id") not in CLOSED,
                amount=float(o.get("price") or 0),
                responsible_user_id=str(o.get("responsible_user_id") or ""),
                url=self._url("lead", str(o["id"])),
            )
            for o in items
            if o.get("status_id") not in CLOSED
        }

    async def _create(self, entity: str, item: dict[str, Any], key: str) -> str:
        done = await self._memo.get(f"amocrm:{entity}", key)
        if done is not None:
            return done
        body = await self._client.request(
            "POST", f"/api/v4/{entity}", json=[{**item, "request_id": key}]
        )
        oid = str(body["_embedded"][entity][0]["id"])
        await self._memo.put(f"amocrm:{entity}", key, oid)
        return oid

    def _entity(self, kind: EntityKind, obj: dict[str, Any]) -> Entity:
        return Entity(
            kind=kind,
            id=str(obj["id"]),
            name=obj.get("name") or "",
            phones=_e164(_phones(obj)),
            responsible_user_id=str(obj.get("responsible_user_id") or ""),
            created_at=int(obj.get("created_at") or 0),
            url=self._url(kind, str(obj["id"])),
        )

    def _url(self, kind: EntityKind, oid: str) -> str:
        return f"{self._base}/{_PLURAL[kind]}/detail/{oid}"


def _embedded(obj: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (obj.get("_embedded") or {}).get(name) or []
    return items


def _phones(obj: dict[str, Any]) -> list[str]:
    """Every PHONE value as stored."""
    out: list[str] = []
    for cf in obj.get("custom_fields_values") or []:
        if cf.get("field_code") == "PHONE":
            out += [str(v.get("value", "")) for v in cf.get("values") or []]
    return out


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _e164(raw: list[str]) -> tuple[str, ...]:
    """Stored numbers in E.164 where they parse (as stored otherwise)."""
    out = []
    for value in raw:
        try:
            out.append(to_e164(value))
        except InvalidPhone:
            out.append(value)
    return tuple(out)
