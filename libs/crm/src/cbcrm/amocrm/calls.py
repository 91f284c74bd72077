"""Logging calls in amoCRM: ``POST /api/v4/calls`` (``uniq`` = our call id), many calls per
request when they end together, and Unsorted SIP entries for unknown callers.

amoCRM attaches a call to the card it finds by the last 10 digits of ``phone`` (the single
open lead, else the contact/company). When it finds none but we know the entity (we just
created it), the call becomes a ``call_in``/``call_out`` note on that entity instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..adapter import CallLog, NewContact
from ..exceptions import CrmPermanentError
from ..phones import trailing_digits
from ..remote import Coalescer, Memo
from .client import AmoClient

__all__ = ["CALL_STATUS", "AmoCalls", "call_item"]

#: CallLog.result -> amoCRM call_status (4 conversation, 6 did not get through, 7 line busy,
#: 3 not available).
CALL_STATUS = {"answered": 4, "missed": 6, "busy": 7, "failed": 3, "abandoned": 6}
_RESULT_TEXT = {
    "answered": "Conversation took place",
    "missed": "Missed call",
    "busy": "Line busy",
    "failed": "Call failed",
    "abandoned": "Caller hung up before an answer",
}
_PLURAL = {"contact": "contacts", "company": "companies", "lead": "leads"}

Outcome = dict[str, Any]  # one item of _embedded.calls, or one of errors


def call_item(call: CallLog, source: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "direction": call.direction,
        "uniq": call.call_id,
        "duration": call.duration_s if call.result == "answered" else 0,
        "source": source,
        "phone": call.phone,
        "call_status": CALL_STATUS[call.result],
        "call_result": "; ".join(filter(None, [_RESULT_TEXT[call.result], call.chain_text()])),
        "created_at": call.started_at,
        "request_id": call.call_id,
    }
    if call.recording_url:
        item["link"] = call.recording_url
    if call.user_id:
        user = int(call.user_id)
        item.update(responsible_user_id=user, call_responsible=user, created_by=user)
    return item


class AmoCalls:
    def __init__(self, client: AmoClient, memo: Memo) -> None:
        self._client, self._memo = client, memo
        self._source = client.settings.source
        self._bulk: Coalescer[dict[str, Any], Outcome] = Coalescer(
            self._send, max_items=client.settings.calls_per_request
        )

    async def log(self, call: CallLog, *, key: str) -> str:
        """The amoCRM call id (``note:<id>`` when logged as a note). Internal calls: ""."""
        if call.direction == "internal":
            return ""
        done = await self._memo.get("amocrm:call", key)
        if done is not None:
            return done
        in_unsorted = await self._memo.get("amocrm:unsorted-call", call.call_id)
        if in_unsorted is not None:  # the Unsorted entry that made the contact holds it
            return f"unsorted:{in_unsorted}"
        outcome = await self._bulk.submit(call_item(call, self._source))
        if "id" in outcome:
            logged = str(outcome["id"])
        elif outcome.get("code") == "Duplicate":
            logged = f"uniq:{call.call_id}"  # logged before (a retry after a lost reply)
        elif call.entity is not None or call.deal_id:
            logged = await self._note(call)
        else:
            raise CrmPermanentError(
                f"amocrm: call not logged ({outcome.get('msg', 'no entity')})", crm="amocrm"
            )
        await self._memo.put("amocrm:call", key, logged)
        return logged

    async def find(self, call: CallLog) -> str | None:
        """Our ``call`` if amoCRM has it already (an earlier attempt's reply was lost): the
        call notes of the number's contacts/companies and their leads, by ``uniq``. Whether
        amoCRM refuses a repeated ``uniq`` is undocumented: never relied on."""
        tail = trailing_digits(call.phone, 10)
        owners: list[tuple[str, int]] = []
        for plural in ("contacts", "companies"):
            page = await self._client.request(
                "GET", f"/api/v4/{plural}", params={"query": tail, "with": "leads", "limit": 250}
            )
            for obj in (page or {}).get("_embedded", {}).get(plural, []):
                owners.append((plural, int(obj["id"])))
                owners += [
                    ("leads", int(r["id"])) for r in obj.get("_embedded", {}).get("leads", [])
                ]
        for plural, oid in owners:
            page = await self._client.request(
                "GET", f"/api/v4/{plural}/{oid}/notes",
                params={"filter[note_type][]": ["call_in", "call_out"], "limit": 250},
            )  # fmt: skip
            for note in (page or {}).get("_embedded", {}).get("notes", []):
                if (note.get("params") or {}).get("uniq") == call.call_id:
                    return f"note:{note['id']}"
        return None

    async def _send(self, items: Sequence[dict[str, Any]]) -> list[Outcome]:
        body = await self._client.request("POST", "/api/v4/calls", json=list(items))
        by_request: dict[str, Outcome] = {}
        for outcome in [*(body.get("errors") or []), *body.get("_embedded", {}).get("calls", [])]:
            by_request[str(outcome.get("request_id"))] = outcome
        missing = {"code": "NoAnswer", "msg": "item absent from the response"}
        return [by_request.get(str(item["request_id"]), missing) for item in items]

    async def _note(self, call: CallLog) -> str:
        item = call_item(call, self._source)
        params = {
            k: item[k]
            for k in ("uniq", "duration", "source", "phone", "call_status", "call_result")
        }
        if call.recording_url:
            params["link"] = call.recording_url
        note: dict[str, Any] = {
            "note_type": "call_in" if call.direction == "inbound" else "call_out",
            "params": params,
        }
        if call.user_id:
            note["responsible_user_id"] = note["created_by"] = int(call.user_id)
        if call.deal_id:
            kind, oid = "lead", call.deal_id
        else:
            assert call.entity is not None  # noqa: S101 - checked by the caller
            kind, oid = call.entity.kind, call.entity.id
        path = f"/api/v4/{_PLURAL[kind]}/{oid}/notes"
        body = await self._client.request("POST", path, json=[note])
        return f"note:{body['_embedded']['notes'][0]['id']}"

    async def unsorted_contact(self, contact: NewContact, *, key: str) -> tuple[str, str]:
        """An Unsorted SIP entry holding a new contact, its lead and the call that brought
        them (its one call event, ``is_call_event_needed``): (contact id, lead id).

        The entry's contact stays out of amoCRM's lists until a manager accepts it, so a
        lookup keeps finding nobody: while it waits, further calls from the number reuse it
        (by number, 30 days) instead of piling up entries for one caller."""
        done = await self._memo.get("amocrm:unsorted-contact", key)
        if done is None:
            done = await self._memo.get("amocrm:unsorted-phone", contact.phone)
            if done is not None:
                await self._memo.put("amocrm:unsorted-contact", key, done)
        if done is not None:
            contact_id, _, lead_id = done.partition(":")
            return contact_id, lead_id
        call = contact.call or CallLog(
            call_id=key, direction="inbound", phone=contact.phone, started_at=int(time.time())
        )
        body = await self._post_unsorted(call, did=contact.called, key=key, name=contact.name)
        entry = body["_embedded"]["unsorted"][0]
        embedded = entry["_embedded"]
        contact_id = str(embedded["contacts"][0]["id"])
        lead_id = str(embedded["leads"][0]["id"])
        await self._memo.put("amocrm:unsorted-lead", contact_id, lead_id)
        await self._memo.put("amocrm:unsorted-contact", key, f"{contact_id}:{lead_id}")
        await self._memo.put("amocrm:unsorted-phone", contact.phone, f"{contact_id}:{lead_id}")
        if contact.call is not None:
            await self._memo.put("amocrm:unsorted-call", contact.call.call_id, str(entry["uid"]))
        return contact_id, lead_id

    async def unsorted(self, call: CallLog, *, did: str, key: str) -> str:
        done = await self._memo.get("amocrm:unsorted", key)
        if done is not None:
            return done
        body = await self._post_unsorted(call, did=did, key=key, name=call.phone)
        uid = str(body["_embedded"]["unsorted"][0]["uid"])
        await self._memo.put("amocrm:unsorted", key, uid)
        return uid

    async def _post_unsorted(self, call: CallLog, *, did: str, key: str, name: str) -> Any:
        """``POST /api/v4/leads/unsorted/sip``: ``source_uid`` = our step key, metadata per
        the API: ``uniq`` = our call id, ``from`` = the caller, ``phone`` = the number called
        (DID, else the operator's extension), ``called_at``, ``duration`` (talk), ``link``,
        ``service_code``, ``is_call_event_needed`` (the entry's one call event)."""
        settings = self._client.settings
        called = did or call.extension
        if not called:
            raise CrmPermanentError(
                "amocrm: an Unsorted SIP entry needs the number called (no DID, no operator)",
                crm="amocrm",
            )
        phone_field = {
            "field_code": "PHONE",
            "values": [{"value": call.phone, "enum_code": "WORK"}],
        }
        entry: dict[str, Any] = {
            "source_uid": key,
            "source_name": settings.source,
            "created_at": call.started_at,
            "metadata": {
                "uniq": call.call_id,
                "from": call.phone,
                "phone": called,
                "called_at": call.started_at,
                "duration": call.duration_s if call.result == "answered" else 0,
                "service_code": settings.source,
                "is_call_event_needed": True,
            },
            "_embedded": {
                "leads": [{"name": f"Call from {call.phone}"}],
                "contacts": [{"name": name, "custom_fields_values": [phone_field]}],
            },
        }
        if call.recording_url:
            entry["metadata"]["link"] = call.recording_url
        if settings.unsorted_pipeline_id:
            entry["pipeline_id"] = settings.unsorted_pipeline_id
        if call.user_id:
            entry["metadata"]["call_responsible"] = int(call.user_id)
        return await self._client.request("POST", "/api/v4/leads/unsorted/sip", json=[entry])
