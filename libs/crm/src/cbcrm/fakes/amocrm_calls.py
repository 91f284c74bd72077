"""Writes of the fake amoCRM: bulk creates, ``POST /api/v4/calls`` (matched by the last 10
digits, to the single open lead or else the contact/company, per the calls doc), call notes
and Unsorted SIP entries. Bodies are JSON arrays; validation failures are problem+json 400."""

from __future__ import annotations

import re
import time
from typing import Any

from .amocrm_state import AmoState
from .server import Reply, Request

__all__ = ["AmoWrites"]

HAL = "application/hal+json"
Obj = dict[str, Any]

_REQUIRED = {
    "contacts": (),
    "companies": (),
    "leads": (),
    "tasks": ("text", "complete_till"),
}
_CALL_REQUIRED = ("direction", "duration", "source", "phone")


def _invalid(errors: list[Obj]) -> Reply:
    body = {
        "title": "Bad Request",
        "type": "https://httpstatus.es/400",
        "status": 400,
        "detail": "Request validation failed",
        "validation-errors": errors,
    }
    return Reply.json(400, body, "application/problem+json")


def _missing(items: list[Obj], required: tuple[str, ...]) -> list[Obj]:
    errors = []
    for i, item in enumerate(items):
        gone = [f for f in required if f not in item]
        if gone:
            errs = [
                {"code": "NotBlank", "path": f, "detail": "This value should not be blank."}
                for f in gone
            ]
            errors.append({"request_id": str(item.get("request_id", i)), "errors": errs})
    return errors


class AmoWrites:
    def __init__(self, state: AmoState) -> None:
        self.state = state

    def _array(self, request: Request) -> list[Obj] | Reply:
        body = request.json()
        if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
            return _invalid(
                [
                    {
                        "request_id": "0",
                        "errors": [
                            {"code": "InvalidType", "path": "", "detail": "body must be an array"}
                        ],
                    }
                ]
            )
        return body

    async def create(self, request: Request, match: re.Match[str]) -> Reply:
        entity = match.group(1)
        items = self._array(request)
        if isinstance(items, Reply):
            return items
        errors = _missing(items, _REQUIRED[entity])
        if errors:
            return _invalid(errors)
        out = [self._create_one(entity, i, item) for i, item in enumerate(items)]
        return Reply.json(200, {"_links": {}, "_embedded": {entity: out}}, HAL)

    def _create_one(self, entity: str, index: int, item: Obj) -> Obj:
        st, rid = self.state, str(item.get("request_id", index))
        responsible = int(item.get("responsible_user_id") or 0)
        embedded = item.get("_embedded") or {}
        if entity == "tasks":
            oid = st.next_id()
            st.tasks.append(
                {
                    **item,
                    "id": oid,
                    "is_completed": False,
                    "task_type_id": item.get("task_type_id", 1),
                }
            )
        elif entity == "leads":
            oid = st.add_lead(
                str(item.get("name", "")),
                responsible=responsible,
                contacts=[c["id"] for c in embedded.get("contacts", [])],
                companies=[c["id"] for c in embedded.get("companies", [])],
            )
        else:
            phones = [
                str(v["value"])
                for cf in item.get("custom_fields_values") or []
                if cf.get("field_code") == "PHONE"
                for v in cf.get("values", [])
            ]
            add = st.add_contact if entity == "contacts" else st.add_company
            oid = add(str(item.get("name", "")), phones, responsible=responsible)
        return {
            "id": oid,
            "request_id": rid,
            "_links": {"self": {"href": f"/api/v4/{entity}/{oid}"}},
        }

    async def calls(self, request: Request, match: re.Match[str]) -> Reply:
        items = self._array(request)
        if isinstance(items, Reply):
            return items
        errors = _missing(items, _CALL_REQUIRED)
        if errors:
            return _invalid(errors)
        added: list[Obj] = []
        failed: list[Obj] = []
        for i, item in enumerate(items):
            rid = str(item.get("request_id", i))
            result = self._call_one(item, rid)
            (added if "id" in result else failed).append(result)
        body = {"_total_items": len(added), "errors": failed, "_embedded": {"calls": added}}
        return Reply.json(200, body, HAL)

    def _call_one(self, item: Obj, rid: str) -> Obj:
        st = self.state
        uniq = item.get("uniq")
        if st.repeated_uniq_refused and uniq and any(c.get("uniq") == uniq for c in st.calls):
            return {"request_id": rid, "code": "Duplicate", "msg": f"call with uniq {uniq} exists"}
        hits = st.by_phone(str(item["phone"]))
        if not hits:
            return {
                "request_id": rid,
                "code": "NotFound",
                "msg": "entity with this phone not found",
            }
        kind, owner = hits[0]
        leads = st.open_leads(owner)
        entity_type, entity_id = (
            ("lead", leads[0]["id"]) if len(leads) == 1 else (kind, owner["id"])
        )
        call_id = st.next_id()
        plural = {"lead": "leads", "contact": "contacts", "company": "companies"}[entity_type]
        st.call_notes.append({"id": call_id, "entity": plural, "entity_id": entity_id,
                              "note_type": "call_in" if item["direction"] == "inbound"
                              else "call_out", "params": {k: item.get(k) for k in (
                                  "uniq", "duration", "source", "phone", "link",
                                  "call_status", "call_result")}})  # fmt: skip
        st.calls.append(
            {
                **item,
                "id": call_id,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "received_at": time.time(),
            }
        )
        return {
            "id": call_id,
            "entity_id": entity_id,
            "entity_type": entity_type,
            "account_id": 1,
            "request_id": rid,
            "_embedded": {"entity": {"id": entity_id, "_links": {}}},
        }

    async def notes(self, request: Request, match: re.Match[str]) -> Reply:
        entity, parent = match.group(1), int(match.group(2))
        items = self._array(request)
        if isinstance(items, Reply):
            return items
        table = {
            "contacts": self.state.contacts,
            "companies": self.state.companies,
            "leads": self.state.leads,
        }[entity]
        held = {e["id"] for u in self.state.unsorted for e in u["_ids"].get(entity, [])}
        if parent not in table and parent not in held:  # an Unsorted entry's own: addressable
            return Reply.json(
                404,
                {"title": "Not Found", "status": 404, "detail": "no entity"},
                "application/problem+json",
            )
        out = []
        for i, item in enumerate(items):
            nid = self.state.next_id()
            self.state.notes.append({**item, "id": nid, "entity_id": parent, "entity": entity})
            out.append(
                {"id": nid, "entity_id": parent, "request_id": str(item.get("request_id", i))}
            )
        return Reply.json(200, {"_embedded": {"notes": out}}, HAL)

    async def unsorted_sip(self, request: Request, match: re.Match[str]) -> Reply:
        items = self._array(request)
        if isinstance(items, Reply):
            return items
        errors = _missing(items, ("source_uid", "source_name", "metadata"))
        errors += [e for i, item in enumerate(items) if (e := _bad_sip_metadata(i, item))]
        uids = {u["source_uid"] for u in self.state.unsorted}
        uniqs = {u["metadata"]["uniq"] for u in self.state.unsorted}
        errors += [
            {"request_id": str(i), "errors": [{"code": "Duplicate", "path": "metadata.uniq",
                                               "detail": "the same data cannot be added twice"}]}
            for i, item in enumerate(items)
            if isinstance(item.get("metadata"), dict) and item["metadata"].get("uniq") in uniqs
        ]  # fmt: skip
        errors += [
            {
                "request_id": str(i),
                "errors": [
                    {
                        "code": "Duplicate",
                        "path": "source_uid",
                        "detail": "the same data cannot be added twice",
                    }
                ],
            }
            for i, item in enumerate(items)
            if item.get("source_uid") in uids
        ]
        if errors:
            return _invalid(errors)
        out = []
        for i, item in enumerate(items):
            uid = f"unsorted-{self.state.next_id()}"
            ids = self._unsorted_entities(item)
            self.state.unsorted.append({**item, "uid": uid, "category": "sip", "_ids": ids})
            meta = item["metadata"]
            if meta.get("is_call_event_needed"):  # the entry's call event (in the card)
                self.state.calls.append({"uniq": meta["uniq"], "phone": meta["from"],
                                         "duration": meta["duration"], "via": uid,
                                         "link": meta.get("link", ""),
                                         "received_at": time.time()})  # fmt: skip
            out.append(
                {
                    "uid": uid,
                    "account_id": 1,
                    "request_id": str(item.get("request_id", i)),
                    "_embedded": ids,
                }
            )
        return Reply.json(200, {"_total_items": len(out), "_embedded": {"unsorted": out}}, HAL)

    def _unsorted_entities(self, item: Obj) -> Obj:
        """The contact and lead an Unsorted entry holds (hidden in lists until accepted in
        amoCRM; the fake keeps them aside in ``state.unsorted``)."""
        embedded = item.get("_embedded") or {}
        ids: Obj = {"leads": [], "contacts": [], "companies": []}
        for kind in ("contacts", "leads"):
            for _ in embedded.get(kind) or []:
                ids[kind].append({"id": self.state.next_id()})
        return ids


_SIP_METADATA: dict[str, type | tuple[type, ...]] = {
    "uniq": str, "from": str, "phone": (str, int), "called_at": int, "duration": int,
    "service_code": str, "is_call_event_needed": bool,
}  # fmt: skip


def _bad_sip_metadata(i: int, item: Obj) -> Obj | None:
    """Unsorted SIP metadata as the API documents it: every field present, typed, and
    ``uniq``/``from``/``phone``/``service_code`` not empty; ``link`` a string if given."""
    meta = item.get("metadata")
    errs: list[Obj] = []
    if not isinstance(meta, dict):
        errs.append({"code": "InvalidType", "path": "metadata", "detail": "must be an object"})
    else:
        for name, typ in _SIP_METADATA.items():
            value = meta.get(name)
            if value is None or value == "" or not isinstance(value, typ):
                errs.append({"code": "NotBlank" if value in (None, "") else "InvalidType",
                             "path": f"metadata.{name}", "detail": "invalid value"})  # fmt: skip
            elif typ is int and isinstance(value, bool):
                errs.append({"code": "InvalidType", "path": f"metadata.{name}", "detail": "int"})
        if "link" in meta and not isinstance(meta["link"], str):
            errs.append({"code": "InvalidType", "path": "metadata.link", "detail": "string"})
    if not errs:
        return None
    return {"request_id": str(item.get("request_id", i)), "errors": errs}
