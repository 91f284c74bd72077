"""The in-memory portal behind the fake Bitrix24: users with extensions, contacts, companies,
leads, deals, tasks, and external calls (registered, shown/hidden, finished, recorded).
Methods take params as Bitrix24 receives them (strings inside ``batch``)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["B24Fault", "B24State"]

Obj = dict[str, Any]
_NOT_FOUND = "Call is not found (call should be registered prior to finishing)"


class B24Fault(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(code)
        self.status, self.code, self.description = status, code, description


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


@dataclass
class B24State:
    users: dict[int, Obj] = field(default_factory=dict)
    contacts: dict[int, Obj] = field(default_factory=dict)
    companies: dict[int, Obj] = field(default_factory=dict)
    leads: dict[int, Obj] = field(default_factory=dict)
    deals: dict[int, Obj] = field(default_factory=dict)
    tasks: list[Obj] = field(default_factory=list)
    calls: dict[str, Obj] = field(default_factory=dict)  # CALL_ID -> call
    activities: list[Obj] = field(default_factory=list)  # CRM call activities (at finish)
    finished: list[Obj] = field(default_factory=list)  # statistics records, in finish order
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def methods(self) -> dict[str, Callable[[Obj], Any]]:
        return {
            "telephony.externalCall.register": self.register,
            "telephony.externalCall.finish": self.finish,
            "telephony.externalCall.show": lambda p: self._card(p, shown=True),
            "telephony.externalCall.hide": lambda p: self._card(p, shown=False),
            "telephony.externalCall.attachRecord": self.attach_record,
            "crm.duplicate.findbycomm": self.findbycomm,
            "crm.contact.get": lambda p: self._get(self.contacts, p),
            "crm.company.get": lambda p: self._get(self.companies, p),
            "crm.lead.get": lambda p: self._get(self.leads, p),
            "crm.contact.add": lambda p: self._add(self.contacts, p),
            "crm.deal.add": lambda p: self._add(self.deals, p, CLOSED="N"),
            "crm.deal.list": self.deal_list,
            "tasks.task.add": self.task_add,
        }

    # --- seeding ------------------------------------------------------------------------------
    def add_user(self, name: str, extension: str = "") -> int:
        uid = next(self._ids)
        self.users[uid] = {
            "ID": str(uid),
            "ACTIVE": True,
            "NAME": name,
            "LAST_NAME": "",
            "UF_PHONE_INNER": extension,
        }
        return uid

    def add_entity(
        self,
        table: str,
        name: str,
        phones: list[str],
        *,
        created: float | None = None,
        responsible: int = 1,
    ) -> int:
        key = "NAME" if table == "contacts" else "TITLE"
        fields = {
            key: name,
            "PHONE": [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in phones],
            "ASSIGNED_BY_ID": str(responsible),
        }
        oid = self._add(getattr(self, table), {"fields": fields})
        getattr(self, table)[oid]["DATE_CREATE"] = _iso(created or time.time())
        return oid

    def click_to_call(
        self, user_id: int, phone: str, application_token: str
    ) -> list[tuple[str, str]]:
        """Bitrix24 registers a call itself and posts ONEXTERNALCALLSTART (form fields)."""
        call_id = self._new_call({"USER_ID": str(user_id), "PHONE_NUMBER": phone, "TYPE": "1"})
        return [
            ("event", "ONEXTERNALCALLSTART"),
            ("data[CALL_ID]", call_id),
            ("data[USER_ID]", str(user_id)),
            ("data[PHONE_NUMBER]", phone),
            ("data[PHONE_NUMBER_INTERNATIONAL]", phone),
            ("data[CALL_LIST_ID]", "0"),
            ("data[EXTENSION]", str(self.users[user_id]["UF_PHONE_INNER"])),
            ("auth[application_token]", application_token),
            ("ts", str(int(time.time()))),
        ]

    # --- telephony ----------------------------------------------------------------------------
    def _user(self, p: Obj) -> int:
        if p.get("USER_ID"):
            uid = int(p["USER_ID"])
        elif p.get("USER_PHONE_INNER"):
            uid = next(
                (
                    u
                    for u, v in self.users.items()
                    if v["UF_PHONE_INNER"] == str(p["USER_PHONE_INNER"])
                ),
                0,
            )
        else:
            raise B24Fault(400, "ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set")
        if uid not in self.users or not self.users[uid]["ACTIVE"]:
            raise B24Fault(400, "ERROR_CORE", "User is not found or is not active")
        return uid

    def _new_call(self, p: Obj) -> str:
        call_id = f"externalCall.{secrets.token_hex(16)}.{int(time.time())}"
        self.calls[call_id] = {
            **p,
            "CALL_ID": call_id,
            "USER": self._user(p),
            "registered_at": time.time(),
            "shown_to": set(),
            "finished": False,
            "records": [],
        }
        return call_id

    def register(self, p: Obj) -> Obj:
        if str(p.get("TYPE")) not in ("1", "2", "3", "4", "5"):
            raise B24Fault(400, "ERROR_CORE", "Unknown TYPE")
        if not _digits(str(p.get("PHONE_NUMBER", ""))):
            raise B24Fault(400, "ERROR_CORE", "Unsupported phone number format")
        user = self._user(p)
        same = ("PHONE_NUMBER", "TYPE", "LINE_NUMBER", "EXTERNAL_CALL_ID")
        for call in self.calls.values():  # a repeat within 30 min returns the same CALL_ID
            if (
                not call["finished"]
                and call["USER"] == user
                and time.time() - call["registered_at"] < 1800
                and all(str(call.get(k, "")) == str(p.get(k, "")) for k in same)
            ):
                return {
                    "CALL_ID": call["CALL_ID"],
                    "CRM_CREATED_LEAD": None,
                    "CRM_CREATED_ENTITIES": [],
                }
        call_id = self._new_call(p)
        call = self.calls[call_id]
        call["shows"] = []  # (time, user ids) of every show, for tests
        created: list[Obj] = []
        entity = self._binding(p)
        if entity is None and str(p.get("CRM_CREATE", "0")) == "1":  # a lead for the number
            lead = self._add(self.leads, {"fields": {
                "TITLE": f"Call {p['PHONE_NUMBER']}",
                "PHONE": [{"VALUE": str(p["PHONE_NUMBER"]), "VALUE_TYPE": "WORK"}]}})  # fmt: skip
            entity = ("LEAD", lead)
            created.append({"ENTITY_TYPE": "LEAD", "ENTITY_ID": lead})
        call["entity"] = entity
        if str(p.get("SHOW", "1")) == "1":
            call["shown_to"].add(user)
            call["shows"].append((time.time(), {user}))
        out: Obj = {"CALL_ID": call_id, "CRM_CREATED_LEAD": created[0]["ENTITY_ID"] if created
                    else None, "CRM_CREATED_ENTITIES": created}  # fmt: skip
        if entity is not None:
            out.update(CRM_ENTITY_TYPE=entity[0], CRM_ENTITY_ID=entity[1])
        return out

    def _binding(self, p: Obj) -> tuple[str, int] | None:
        """The CRM entity a registered call belongs to: the one given (it must exist), else
        the first the portal finds by the number (contact, company, lead), else none."""
        tables = {"CONTACT": self.contacts, "COMPANY": self.companies, "LEAD": self.leads}
        if p.get("CRM_ENTITY_TYPE"):
            kind, oid = str(p["CRM_ENTITY_TYPE"]), int(p.get("CRM_ENTITY_ID") or 0)
            if kind not in tables or oid not in tables[kind]:
                raise B24Fault(400, "ERROR_CORE", "CRM entity is not found")
            return kind, oid
        wanted = _digits(str(p["PHONE_NUMBER"]))[-10:]
        for kind in ("CONTACT", "COMPANY", "LEAD"):
            for oid, o in tables[kind].items():
                if any(_digits(ph["VALUE"]).endswith(wanted) for ph in o.get("PHONE", [])):
                    return kind, oid
        return None

    def _card(self, p: Obj, *, shown: bool) -> bool:
        call = self.calls.get(str(p.get("CALL_ID")))
        if call is None:
            return False
        users = p.get("USER_ID")
        ids = {int(u) for u in (users if isinstance(users, list) else [users or call["USER"]])}
        if call["finished"]:
            call.setdefault("late", []).append((time.time(), shown, ids))
            return False
        call["shown_to"] = call["shown_to"] | ids if shown else call["shown_to"] - ids
        if shown:
            call.setdefault("shows", []).append((time.time(), ids))
        return True

    def finish(self, p: Obj) -> Obj:
        call = self.calls.get(str(p.get("CALL_ID")))
        if call is None or call["finished"]:
            raise B24Fault(400, "ERROR_CORE", _NOT_FOUND)
        user, duration = self._user(p), int(p.get("DURATION") or 0)
        status = str(p.get("STATUS_CODE") or ("200" if duration > 0 else "304"))
        call.update(finished=True, shown_to=set())
        record = {
            "ID": str(next(self._ids)),
            "CALL_ID": call["CALL_ID"],
            "EXTERNAL_CALL_ID": call.get("EXTERNAL_CALL_ID", ""),
            "PORTAL_USER_ID": str(user),
            "PHONE_NUMBER": call["PHONE_NUMBER"],
            "INCOMING": str(call["TYPE"]),
            "CALL_DURATION": str(duration),
            "CALL_FAILED_CODE": status,
            "CALL_STATUS": 1 if status == "200" else 0,
            "CALL_FAILED_REASON": p.get("FAILED_REASON", ""),
            "finished_at": time.time(),
            "CRM_ACTIVITY_ID": None,
        }
        if (entity := call.get("entity")) is not None:  # the CRM record of the call
            activity = {"ID": next(self._ids), "OWNER_TYPE": entity[0], "OWNER_ID": entity[1],
                        "CALL_ID": call["CALL_ID"], "RESPONSIBLE_ID": user,
                        "DURATION": duration}  # fmt: skip
            self.activities.append(activity)
            record.update(CRM_ACTIVITY_ID=activity["ID"], CRM_ENTITY_TYPE=entity[0],
                          CRM_ENTITY_ID=entity[1])  # fmt: skip
        self.finished.append(record)
        return record

    def attach_record(self, p: Obj) -> Obj:
        call = self.calls.get(str(p.get("CALL_ID")))
        if call is None:
            raise B24Fault(400, "ERROR_CORE", "Call is not found")
        call["records"] = [p.get("RECORD_URL", "")]  # re-calling replaces the record
        return {"FILE_ID": next(self._ids)}

    # --- CRM ----------------------------------------------------------------------------------
    def findbycomm(self, p: Obj) -> Obj | list[Any]:
        if str(p.get("type", "")).upper() != "PHONE":
            raise B24Fault(400, "", "Communication type is not defined")
        values = p.get("values") or []
        if not values:
            raise B24Fault(400, "", "Communication values is not defined")
        wanted = {_digits(str(v)) for v in values[:20]}
        out: Obj = {}
        for kind, table in (
            ("LEAD", self.leads),
            ("CONTACT", self.contacts),
            ("COMPANY", self.companies),
        ):
            ids = [
                oid
                for oid, o in table.items()
                if any(_digits(ph["VALUE"]) in wanted for ph in o.get("PHONE", []))
            ]
            if ids:
                out[kind] = ids
        return out or []  # PHP's empty array

    def _get(self, table: dict[int, Obj], p: Obj) -> Obj:
        oid = int(p.get("id") or p.get("ID") or 0)
        if oid not in table:
            raise B24Fault(400, "", "Not found")
        return table[oid]

    def _add(self, table: dict[int, Obj], p: Obj, **defaults: str) -> int:
        oid = next(self._ids)
        table[oid] = {
            **defaults,
            **(p.get("fields") or {}),
            "ID": str(oid),
            "DATE_CREATE": _iso(time.time()),
        }
        return oid

    def deal_list(self, p: Obj) -> list[Obj]:
        flt = p.get("filter") or {}
        return [
            d
            for d in self.deals.values()
            if all(str(d.get(k, "")) == str(v) for k, v in flt.items())
        ]

    def task_add(self, p: Obj) -> Obj:
        fields = p.get("fields") or {}
        if not fields.get("TITLE") or not fields.get("RESPONSIBLE_ID"):
            raise B24Fault(400, "ERROR_CORE", "TITLE and RESPONSIBLE_ID are required")
        task = {**fields, "id": str(next(self._ids))}
        self.tasks.append(task)
        return {"task": task}
