"""Megaplan v3 behind :class:`~cbcrm.adapter.CrmAdapter`: contractors found by phone (``q``
search, then the phone checked in ``contactInfo``), deals created in the configured program,
calls logged as comments on the deal (comments on contractors are reported to fail), tasks
for missed calls. Megaplan has no call card API."""

from __future__ import annotations

import datetime as dt
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
from ..exceptions import CrmPermanentError
from ..phones import trailing_digits
from ..remote import Memo
from .client import MegaplanClient

__all__ = ["MegaplanAdapter", "comment_text"]

_RESULT = {
    "answered": "answered",
    "missed": "missed",
    "busy": "busy",
    "failed": "failed",
    "abandoned": "abandoned",
}


def comment_text(call: CallLog) -> str:
    when = dt.datetime.fromtimestamp(call.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    what = f"{call.direction.capitalize()} call {call.phone}"
    text = f"{what}, {when}, {_RESULT[call.result]}, {call.duration_s} s"
    if call.reason:
        text += f" ({call.reason})"
    if chain := call.chain_text():
        text += f", {chain}"
    if call.recording_url:
        text += f'<br><a href="{call.recording_url}">Recording</a>'
    return text


def _ref(content_type: str, oid: str) -> dict[str, str]:
    return {"contentType": content_type, "id": oid}


class MegaplanAdapter(NoCallCard):
    name = "megaplan"

    def __init__(self, client: MegaplanClient, memo: Memo) -> None:
        self._client, self._memo = client, memo
        self._base = client.settings.base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"MegaplanAdapter(base_url={self._base!r})"

    async def lookup(self, phone: str) -> Lookup:
        tail = trailing_digits(phone, 10)
        found = (
            await self._client.request("GET", "/api/v3/contractor", {"q": tail, "limit": 50}) or []
        )
        mine = [
            c
            for c in found
            if any(
                trailing_digits(str(i.get("value", "")), 10) == tail
                for i in c.get("contactInfo") or []
                if i.get("type") == "phone"
            )
        ]
        entities, deals = [], {}
        for c in mine:
            kind: EntityKind = (
                "company" if c.get("contentType") == "ContractorCompany" else "contact"
            )
            name = c.get("name") or f"{c.get('firstName', '')} {c.get('lastName', '')}".strip()
            entities.append(
                Entity(
                    kind=kind,
                    id=str(c["id"]),
                    name=name,
                    created_at=_ts(c.get("timeCreated")),
                    responsible_user_id=str((c.get("responsibles") or [{}])[0].get("id", "")),
                    url=f"{self._base}/crm/{c['id']}/card/",
                )
            )
            flt = {"contractor": _ref(str(c["contentType"]), str(c["id"])), "isOpen": True}
            open_deals = await self._client.request("GET", "/api/v3/deal", {"filter": flt}) or []
            if open_deals:
                deals[str(c["id"])] = tuple(
                    Deal(
                        id=str(d["id"]),
                        name=d.get("name", ""),
                        url=f"{self._base}/deals/{d['id']}/card/",
                    )
                    for d in open_deals
                )
        return Lookup(phone=phone, entities=tuple(entities), deals=deals)

    async def users(self) -> list[CrmUser]:
        ext = self._client.settings.extensions
        return [
            CrmUser(id=str(e["id"]), name=e.get("name", ""), extension=ext.get(str(e["id"]), ""))
            for e in await self._client.request("GET", "/api/v3/employee", {"limit": 100}) or []
        ]

    async def create_contact(self, contact: NewContact, *, key: str) -> Entity:
        body: dict[str, Any] = {
            "contentType": "ContractorHuman",
            "firstName": contact.name,
            "contactInfo": [
                {"contentType": "ContactInfo", "type": "phone", "value": contact.phone}
            ],
        }
        if contact.responsible_user_id:
            body["responsibles"] = [_ref("Employee", contact.responsible_user_id)]
        oid = await self._create("/api/v3/contractorHuman", body, key)
        return Entity(
            kind="contact",
            id=oid,
            name=contact.name,
            phones=(contact.phone,),
            responsible_user_id=contact.responsible_user_id,
            url=f"{self._base}/crm/{oid}/card/",
        )

    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal:
        kind = "ContractorCompany" if deal.entity.kind == "company" else "ContractorHuman"
        body: dict[str, Any] = {
            "contentType": "Deal",
            "name": deal.name,
            "program": _ref("Program", self._client.settings.program_id),
            "contractor": _ref(kind, deal.entity.id),
        }
        if deal.responsible_user_id:
            body["manager"] = _ref("Employee", deal.responsible_user_id)
        oid = await self._create("/api/v3/deal", body, key)
        return Deal(
            id=oid,
            name=deal.name,
            responsible_user_id=deal.responsible_user_id,
            url=f"{self._base}/deals/{oid}/card/",
        )

    async def create_task(self, task: NewTask, *, key: str) -> str:
        body: dict[str, Any] = {
            "contentType": "Task",
            "name": task.text,
            "deadline": {
                "contentType": "DateTime",
                "value": dt.datetime.fromtimestamp(task.deadline, dt.UTC).isoformat(),
            },
        }
        if task.responsible_user_id:
            body["responsible"] = _ref("Employee", task.responsible_user_id)
        if task.entity.kind == "lead":
            body["subject"] = _ref("Deal", task.entity.id)
        return await self._create("/api/v3/task", body, key)

    async def log_call(self, call: CallLog, *, key: str) -> str:
        """A comment on the call's deal (``entity`` of kind ``lead``), else on the caller's
        only open deal. Megaplan cannot comment contractors, so no deal = permanent error."""
        if call.direction == "internal":
            return ""
        is_deal = call.entity is not None and call.entity.kind == "lead"
        deal_id = call.deal_id or (call.entity.id if call.entity is not None and is_deal else "")
        if not deal_id:
            found = await self.lookup(call.phone)
            open_deals = [d for ds in found.deals.values() for d in ds]
            if len(open_deals) != 1:
                raise CrmPermanentError(
                    f"megaplan: {len(open_deals)} open deals to comment on", crm="megaplan"
                )
            deal_id = open_deals[0].id
        body = {
            "contentType": "Comment",
            "content": comment_text(call),
            "workTime": {"contentType": "DateInterval", "value": call.duration_s},
        }
        return await self._create(f"/api/v3/deal/{deal_id}/comments", body, key)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _create(self, path: str, body: dict[str, Any], key: str) -> str:
        done = await self._memo.get(f"megaplan:{path}", key)
        if done is not None:
            return done
        data = await self._client.request("POST", path, body)
        oid = str(data["id"])
        await self._memo.put(f"megaplan:{path}", key, oid)
        return oid


def _ts(value: Any) -> int:
    if isinstance(value, dict) and value.get("value"):
        return int(dt.datetime.fromisoformat(str(value["value"])).timestamp())
    return 0
