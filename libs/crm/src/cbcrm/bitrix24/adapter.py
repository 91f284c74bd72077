"""Bitrix24 behind :class:`~cbcrm.adapter.CrmAdapter` (an OAuth application on the portal).

Lookup: ``crm.duplicate.findbycomm`` with every spelling of the number, then one ``batch``
reading the matched contacts, companies and leads and each one's open deals. Users: ``user.get``
with ``UF_PHONE_INNER`` (the extension). Calls and the call card: :mod:`.calls`.
"""

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
)
from ..phones import search_forms
from ..remote import Memo
from .calls import B24Calls
from .client import B24Client, Command
from .events import ExternalCallStart, parse_external_call_start

__all__ = ["B24Adapter"]

_GET: dict[str, tuple[EntityKind, str]] = {
    "CONTACT": ("contact", "crm.contact.get"),
    "COMPANY": ("company", "crm.company.get"),
    "LEAD": ("lead", "crm.lead.get"),
}
_PATH = {"contact": "contact", "company": "company", "lead": "lead"}
_TASK_PREFIX = {"contact": "C", "company": "CO", "lead": "L"}


class B24Adapter:
    name = "bitrix24"
    drives_call_card = True

    def __init__(self, client: B24Client, memo: Memo) -> None:
        self._client, self._memo = client, memo
        self.calls = B24Calls(client, memo)
        self._base = client.settings.portal_url.rstrip("/")

    def __repr__(self) -> str:
        return f"B24Adapter(portal_url={self._base!r})"

    async def lookup(self, phone: str) -> Lookup:
        hits = await self._client.call(
            "crm.duplicate.findbycomm", {"type": "PHONE", "values": search_forms(phone)[:20]}
        )
        found = (
            [(t, int(i)) for t, ids in (hits or {}).items() if t in _GET for i in ids]
            if isinstance(hits, dict)
            else []
        )
        if not found:
            return Lookup(phone=phone)
        found = found[:24]
        commands: list[Command] = [(_GET[t][1], {"id": i}) for t, i in found]
        owners = [(t, i) for t, i in found if t in ("CONTACT", "COMPANY")]
        commands += [
            (
                "crm.deal.list",
                {
                    "filter": {f"{t}_ID": i, "CLOSED": "N"},
                    "select": ["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "ASSIGNED_BY_ID"],
                },
            )
            for t, i in owners
        ]
        results = await self._client.batch(commands)
        entities = [
            self._entity(_GET[t][0], r)
            for (t, _), r in zip(found, results, strict=False)
            if isinstance(r, dict)
        ]
        deals: dict[str, tuple[Deal, ...]] = {}
        for (_, oid), r in zip(owners, results[len(found) :], strict=True):
            if isinstance(r, list) and r:
                deals[str(oid)] = tuple(self._deal(d) for d in r)
        return Lookup(phone=phone, entities=tuple(entities), deals=deals)

    async def users(self) -> list[CrmUser]:
        out: list[CrmUser] = []
        start: int | None = 0
        while start is not None:
            body = await self._client.call_page(
                "user.get", {"FILTER": {"ACTIVE": True}, "start": start}
            )
            out += [
                CrmUser(
                    id=str(u["ID"]),
                    name=f"{u.get('NAME', '')} {u.get('LAST_NAME', '')}".strip(),
                    extension=str(u.get("UF_PHONE_INNER") or ""),
                )
                for u in body["result"]
            ]
            start = body.get("next")
        return out

    async def create_contact(self, contact: NewContact, *, key: str) -> Entity:
        fields: dict[str, Any] = {
            "NAME": contact.name,
            "PHONE": [{"VALUE": contact.phone, "VALUE_TYPE": "WORK"}],
        }
        if contact.responsible_user_id:
            fields["ASSIGNED_BY_ID"] = int(contact.responsible_user_id)
        oid = await self._create("crm.contact.add", fields, key)
        return Entity(
            kind="contact",
            id=oid,
            name=contact.name,
            phones=(contact.phone,),
            responsible_user_id=contact.responsible_user_id,
            url=self._url("contact", oid),
        )

    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal:
        fields: dict[str, Any] = {
            "TITLE": deal.name,
            f"{_PATH[deal.entity.kind].upper()}_ID": int(deal.entity.id),
        }
        if deal.responsible_user_id:
            fields["ASSIGNED_BY_ID"] = int(deal.responsible_user_id)
        oid = await self._create("crm.deal.add", fields, key)
        return Deal(
            id=oid,
            name=deal.name,
            responsible_user_id=deal.responsible_user_id,
            url=self._url("deal", oid),
        )

    async def create_task(self, task: NewTask, *, key: str) -> str:
        done = await self._memo.get("b24:task", key)
        if done is not None:
            return done
        fields: dict[str, Any] = {
            "TITLE": task.text,
            "DEADLINE": dt.datetime.fromtimestamp(task.deadline, dt.UTC).isoformat(),
            "UF_CRM_TASK": [f"{_TASK_PREFIX[task.entity.kind]}_{task.entity.id}"],
        }
        if task.responsible_user_id:
            fields["RESPONSIBLE_ID"] = int(task.responsible_user_id)
        result = await self.calls.bulk("tasks.task.add", {"fields": fields})
        tid = str(result["task"]["id"])
        await self._memo.put("b24:task", key, tid)
        return tid

    async def log_call(self, call: CallLog, *, key: str) -> str:
        return await self.calls.log(call, key=key)

    async def card_start(self, call: CallLog, *, key: str, show: bool = False) -> str:
        """Register the call for ``call.user_id``, its card shown to them if ``show`` (an
        outbound card always: the operator who dials); already registered: shown to them
        then (one request either way)."""
        show = show or call.direction == "outbound"
        b24_call_id, registered = await self.calls.ensure(call, show=show)
        if show and not registered and call.user_id:
            await self.calls.show(b24_call_id, [call.user_id])
        return b24_call_id

    async def card_show(self, call_id: str, user_ids: list[str]) -> None:
        """Pop the card for ``user_ids``; ``call_id`` is ours or Bitrix24's CALL_ID."""
        if user_ids and (b24_call_id := await self.calls.card_id(call_id)):
            await self.calls.show(b24_call_id, user_ids)

    async def card_hide(self, call_id: str, user_ids: list[str]) -> None:
        if user_ids and (b24_call_id := await self.calls.card_id(call_id)):
            await self.calls.show(b24_call_id, user_ids, hide=True)

    def external_call_start(self, form: list[tuple[str, str]]) -> ExternalCallStart:
        """A click-to-call event (ONEXTERNALCALLSTART), its application_token checked."""
        return parse_external_call_start(form, self._client.settings.application_token)

    async def adopt(self, our_call_id: str, event: ExternalCallStart) -> None:
        """Bind our call to the CALL_ID Bitrix24 registered itself (never register it again)."""
        await self.calls.remember(our_call_id, event.call_id)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _create(self, method: str, fields: dict[str, Any], key: str) -> str:
        done = await self._memo.get(method, key)
        if done is not None:
            return done
        oid = str(await self._client.call(method, {"fields": fields}))
        await self._memo.put(method, key, oid)
        return oid

    def _entity(self, kind: EntityKind, r: dict[str, Any]) -> Entity:
        name = (
            r.get("TITLE")
            if kind != "contact"
            else f"{r.get('NAME', '')} {r.get('LAST_NAME', '')}".strip()
        )
        created = r.get("DATE_CREATE") or ""
        return Entity(
            kind=kind,
            id=str(r["ID"]),
            name=str(name or ""),
            phones=tuple(str(p.get("VALUE", "")) for p in r.get("PHONE") or []),
            responsible_user_id=str(r.get("ASSIGNED_BY_ID") or ""),
            created_at=int(dt.datetime.fromisoformat(created).timestamp()) if created else 0,
            url=self._url(kind, str(r["ID"])),
        )

    def _deal(self, r: dict[str, Any]) -> Deal:
        return Deal(
            id=str(r["ID"]),
            name=str(r.get("TITLE", "")),
            status=str(r.get("STAGE_ID", "")),
            amount=float(r.get("OPPORTUNITY") or 0),
            responsible_user_id=str(r.get("ASSIGNED_BY_ID") or ""),
            url=self._url("deal", str(r["ID"])),
        )

    def _url(self, kind: str, oid: str) -> str:
        return f"{self._base}/crm/{kind}/details/{oid}/"
