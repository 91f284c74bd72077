# ruff: noqa: RUF001  (Russian demo names)
"""The built-in CRM through CallSync (as crm-sync's executors run it): known and unknown
callers, duplicates, missed calls, outbound, click-to-call, transfers, recording links,
idempotency. Real SQLite and real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiosqlite
import msgspec
import pytest
import redis.asyncio as aioredis

from cbcontracts.crm import Leg, SyncCall
from cbcrm.adapter import CallLog, NewContact
from cbcrm.builtin import BuiltinCrm
from cbcrm.links import LinkSigner
from cbcrm.lookup import LookupCache
from cbcrm.once import Once
from cbcrm.routing import UserDirectory
from cbcrm.sync import CallSync

T = 1_800_000_000
IVAN, MARIA, OLGA, UNKNOWN = "+79161234567", "+79031112233", "+79265554433", "+79990001122"
LINKS = LinkSigner("rec-secret", "https://cb.test", ttl_s=3600)


@pytest.fixture
async def crm() -> AsyncIterator[BuiltinCrm]:
    crm = await BuiltinCrm.open(":memory:")
    yield crm
    await crm.aclose()


@pytest.fixture
def sync(crm: BuiltinCrm, redis_client: aioredis.Redis, redis_prefix: str) -> CallSync:
    lookups = LookupCache(redis_client, crm.lookup, crm=crm.name, prefix=redis_prefix)
    users = UserDirectory(redis_client, crm.users, crm=crm.name, prefix=redis_prefix)
    return CallSync(crm, lookups, users, Once(redis_client, prefix=redis_prefix), links=LINKS)


def call(phone: str, **kw: Any) -> SyncCall:
    fields: dict[str, Any] = {
        "key": f"main/{phone}/sync", "event_id": f"main/{phone}", "call_id": f"c{phone[-4:]}",
        "pbx": "main", "direction": "inbound", "result": "answered", "phone": phone,
        "started_at": T, "ended_at": T + 60, "legs": (Leg(extension="100", started_at=T + 5,
        duration_s=55),), "rang": ("100",),
    }  # fmt: skip
    return SyncCall(**(fields | kw))


async def test_a_known_caller_is_logged_on_the_oldest_contact_and_its_single_open_deal(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    out = await sync.sync(call(IVAN))
    assert (out.scenario, out.created, out.effective.code) == (
        "inbound_known",
        (),
        "only_contact.single_open_deal",
    )
    [logged] = await crm.calls("3")
    assert (logged["user_id"], logged["extension"], logged["duration_s"]) == ("1", "100", 55)


async def test_an_unknown_caller_gets_a_contact_and_a_deal_owned_by_the_operator_who_rang(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    out = await sync.sync(call(UNKNOWN, legs=(Leg(extension="101", duration_s=20),)))
    assert out.scenario == "inbound_unknown"
    assert [c.split(":")[0] for c in out.created] == ["contact", "deal"]
    assert out.entity is not None
    found = await crm.lookup(UNKNOWN)
    assert [e.responsible_user_id for e in found.entities] == ["2"]
    assert [d.responsible_user_id for d in found.deals[out.entity.id]] == ["2"]
    assert [c["user_id"] for c in await crm.calls(out.entity.id)] == ["2"]


async def test_the_new_contact_is_seen_by_the_next_lookup_at_once(sync: CallSync) -> None:
    assert not (await sync.card(UNKNOWN)).effective.known
    await sync.sync(call(UNKNOWN))
    assert (await sync.card(UNKNOWN)).effective.known


async def test_duplicates_pick_the_oldest_contact_and_record_why(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    card = await sync.card(OLGA)
    assert card.effective.entity is not None
    assert (card.effective.entity.id, card.effective.code) == ("5", "oldest_contact.no_open_deal")
    assert card.effective.reason == "oldest 2 contacts (no open deal)"
    out = await sync.sync(call(OLGA))
    assert out.created == ("deal:5",)  # known, no open deal: the rules open one
    assert await crm.calls("6") == []
    assert len(await crm.calls("5")) == 1


async def test_a_shared_office_number_goes_to_the_contact_before_the_company(
    sync: CallSync,
) -> None:
    card = await sync.card("+74951234567")
    assert card.effective.entity is not None
    assert (card.effective.entity.name, card.effective.entity.company) == (
        "Иван Кузнецов",
        "ООО «Ромашка»",
    )
    assert (await sync.card("+78123334455")).effective.target == "company"


async def test_a_missed_call_from_a_known_caller_is_a_task_for_the_responsible_manager(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    out = await sync.sync(call(MARIA, result="missed", legs=(), rang=("100", "102")))
    assert out.scenario == "missed_known"
    [task] = await crm.tasks()
    assert (task["entity_id"], task["responsible_user_id"]) == (4, "2")
    assert task["deadline"] == T + 60 + 30 * 60
    [logged] = await crm.calls("4")
    assert (logged["result"], logged["extension"], logged["duration_s"]) == ("missed", "102", 0)


async def test_a_missed_unknown_caller_gets_a_contact_and_a_task_for_the_last_who_rang(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    out = await sync.sync(call(UNKNOWN, result="missed", legs=(), rang=("100", "102")))
    assert [c.split(":")[0] for c in out.created] == ["contact", "task"]
    assert [t["responsible_user_id"] for t in await crm.tasks()] == ["3"]


async def test_an_outbound_call_is_logged_for_the_operator_who_dialled(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    out = await sync.sync(
        call(MARIA, direction="outbound", legs=(Leg(extension="102", duration_s=30),))
    )
    assert (out.scenario, out.created) == ("outbound_known", ())
    [logged] = await crm.calls("4")
    assert (logged["direction"], logged["user_id"]) == ("outbound", "3")


async def test_a_click_to_call_that_nobody_answered_is_a_failed_outbound_call(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    cmd = call(IVAN, direction="outbound", result="busy", legs=(), rang=(), extension="101",
               originate_id="a1")  # fmt: skip
    out = await sync.sync(cmd)
    assert (out.scenario, out.created) == ("outbound_failed", ())
    [logged] = await crm.calls("3")
    assert (logged["result"], logged["user_id"], logged["extension"]) == ("busy", "2", "101")


async def test_a_transferred_call_is_logged_once_per_operator_who_talked(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    legs = (Leg(extension="100", started_at=T, duration_s=20),
            Leg(extension="102", started_at=T + 20, duration_s=40))  # fmt: skip
    out = await sync.sync(call(IVAN, legs=legs))
    assert len(out.logged) == 2
    rows = await crm.calls("3")
    assert [(r["call_id"], r["user_id"], r["duration_s"]) for r in rows] == [
        ("c4567", "1", 20),
        ("c4567#2", "3", 40),
    ]


async def test_a_recorded_call_carries_a_signed_link_that_verifies(
    sync: CallSync, crm: BuiltinCrm
) -> None:
    await sync.sync(call(IVAN, recorded=True, tenant="acme"))
    [logged] = await crm.calls("3")
    url = urlsplit(logged["recording_url"])
    query = parse_qs(url.query)
    assert url.path == "/v1/recordings/acme/c4567"
    assert LINKS.verify("c4567", query["expires"][0], query["sig"][0], tenant="acme")
    assert not LINKS.verify("c4567", query["expires"][0], query["sig"][0], tenant="globex")


async def test_syncing_the_same_command_twice_writes_once(sync: CallSync, crm: BuiltinCrm) -> None:
    first = await sync.sync(call(UNKNOWN, result="missed", legs=(), rang=("100",)))
    second = await sync.sync(call(UNKNOWN, result="missed", legs=(), rang=("100",)))
    assert first.created == second.created
    assert len(await crm.tasks()) == 1
    assert len(await crm.calls()) == 1


async def test_the_adapter_itself_returns_the_first_result_for_a_repeated_key(
    crm: BuiltinCrm,
) -> None:
    new = NewContact(name="X", phone=UNKNOWN)
    first = await crm.create_contact(new, key="k1")
    assert await crm.create_contact(new, key="k1") == first
    assert len((await crm.lookup(UNKNOWN)).entities) == 1


async def test_internal_calls_are_not_synced(sync: CallSync, crm: BuiltinCrm) -> None:
    out = await sync.sync(call(IVAN, direction="internal"))
    assert out.scenario is None
    assert await crm.calls() == []


async def test_users_carry_their_extensions(crm: BuiltinCrm) -> None:
    assert [(u.extension, u.name) for u in await crm.users()] == [
        ("100", "Анна Смирнова"),
        ("101", "Борис Петров"),
        ("102", "Вера Иванова"),
    ]


async def test_a_database_from_before_call_notes_gets_the_column_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    async with aiosqlite.connect(path) as db:
        await db.execute(
            "CREATE TABLE calls (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, direction TEXT"
            " NOT NULL, phone TEXT NOT NULL, started_at INTEGER NOT NULL, duration_s INTEGER"
            " NOT NULL, result TEXT NOT NULL, user_id TEXT NOT NULL, extension TEXT NOT NULL,"
            " entity_id INTEGER, recording_url TEXT NOT NULL DEFAULT '')"
        )
        await db.commit()
    crm = await BuiltinCrm.open(str(path), seed=False)
    try:
        call = CallLog(call_id="c1", direction="inbound", phone="+74951234567", started_at=1)
        await crm.log_call(msgspec.structs.replace(call, reason="said: yes"), key="k1")
        (logged,) = await crm.calls()
        assert logged["note"] == "said: yes"
    finally:
        await crm.aclose()
