"""Megaplan adapter through the fake Megaplan v3 over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from cbcrm.adapter import CallLog, Entity, NewContact, NewDeal, NewTask
from cbcrm.exceptions import CrmPermanentError, CrmTransientError
from cbcrm.fakes import FakeMegaplan
from cbcrm.remote import RetryPolicy

from .conftest import MakeMegaplan

T0 = 1_700_000_000


def call(call_id: str, **kw: object) -> CallLog:
    fields: dict[str, object] = {
        "direction": "inbound",
        "phone": "+79161234567",
        "started_at": T0,
        "duration_s": 42,
    }
    fields.update(kw)
    return CallLog(call_id=call_id, **fields)  # type: ignore[arg-type]


async def test_known_caller_is_found_with_open_deals_and_the_call_is_a_deal_comment(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    ivan = megaplan.add_contractor("Ivan", ["8 (916) 123-45-67"], created=T0)
    deal = megaplan.add_deal("Boiler", ivan)
    megaplan.add_deal("Old", ivan, is_open=False)
    adapter = await make_megaplan()

    found = await adapter.lookup("+79161234567")
    await adapter.log_call(call("c1", recording_url="https://cb.example/r/c1?sig=a"), key="c1")
    await adapter.log_call(call("c1", recording_url="https://cb.example/r/c1?sig=a"), key="c1")

    assert [(e.kind, e.id, e.name, e.created_at) for e in found.entities] == [
        ("contact", ivan, "Ivan", T0)
    ]
    assert [d.id for d in found.deals[ivan]] == [deal]
    [comment] = megaplan.comments
    assert comment["deal"] == deal
    assert "https://cb.example/r/c1?sig=a" in comment["content"]
    assert comment["workTime"]["value"] == 42


async def test_unknown_caller_becomes_a_contractor_with_a_deal_and_several_matches_all_return(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    adapter = await make_megaplan()
    assert (await adapter.lookup("+79990001122")).entities == ()

    contact = await adapter.create_contact(NewContact(name="New", phone="+79990001122"), key="k1")
    await adapter.create_contact(NewContact(name="New", phone="+79990001122"), key="k1")
    deal = await adapter.create_deal(NewDeal(name="Inbound call", entity=contact), key="k2")
    megaplan.add_contractor("Twin", ["79990001122"])

    found = await adapter.lookup("+79990001122")
    assert len(megaplan.contractors) == 2
    assert megaplan.deals[deal.id]["program"] == {"contentType": "Program", "id": "1"}
    assert {e.id for e in found.entities} == set(megaplan.contractors)


async def test_missed_outbound_transferred_and_click_to_call_legs_are_comments_and_a_task(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    anna, boris = megaplan.add_employee("Anna"), megaplan.add_employee("Boris")
    ivan = megaplan.add_contractor("Ivan", ["+79161234567"])
    deal = Entity(kind="lead", id=megaplan.add_deal("Boiler", ivan))
    adapter = await make_megaplan()

    await adapter.log_call(call("m1", result="missed", duration_s=0, entity=deal), key="m1")
    await adapter.create_task(
        NewTask(text="Call back", entity=deal, responsible_user_id=anna, deadline=T0), key="t"
    )
    await adapter.log_call(call("o1", direction="outbound", user_id=anna, entity=deal), key="o1")
    await adapter.log_call(call("x1", user_id=anna, entity=deal), key="x1")
    await adapter.log_call(call("x1.2", user_id=boris, entity=deal), key="x1.2")

    assert [c["content"].split(",")[2].strip() for c in megaplan.comments] == [
        "missed",
        "answered",
        "answered",
        "answered",
    ]
    assert megaplan.comments[1]["content"].startswith("Outbound call")
    [task] = megaplan.tasks
    assert (task["responsible"]["id"], task["subject"]["id"]) == (anna, deal.id)


async def test_a_caller_without_a_deal_is_a_permanent_error_not_a_contractor_comment(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    megaplan.add_contractor("Ivan", ["+79161234567"])
    adapter = await make_megaplan()

    with pytest.raises(CrmPermanentError, match="0 open deals"):
        await adapter.log_call(call("c1"), key="c1")


async def test_expired_tokens_are_refreshed_once_for_two_replicas(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    first, second = await make_megaplan(), await make_megaplan()
    await first.lookup("+79161234567")
    megaplan.expire_access_tokens()

    await asyncio.gather(first.lookup("+79161234567"), second.lookup("+79161234567"))

    grants = [r.body for r in megaplan.requests if r.path == "/api/v3/auth/access_token"]
    assert len(grants) == 2  # the first sign-in, then one refresh
    assert b"grant_type=refresh_token" in grants[1]
    assert megaplan.password.encode() not in b"".join(
        [repr(first).encode(), repr(first._client.settings).encode()]
    )


async def test_429s_and_500s_are_retried_an_outage_is_transient_and_recovery_logs_once(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    ivan = megaplan.add_contractor("Ivan", ["+79161234567"])
    deal = Entity(kind="lead", id=megaplan.add_deal("Boiler", ivan))
    adapter = await make_megaplan(retry=RetryPolicy(attempts=4, base=0.01, cap=0.05))
    await adapter.lookup("+79161234567")
    megaplan.faults.fail(2, status=429)
    megaplan.faults.fail(1, status=500)
    await adapter.log_call(call("r1", entity=deal), key="r1")
    await megaplan.stop()
    with pytest.raises(CrmTransientError):
        await adapter.log_call(call("r2", entity=deal), key="r2")
    await megaplan.start()

    await adapter.log_call(call("r2", entity=deal), key="r2")

    assert [c["content"][:7] for c in megaplan.comments] == ["Inbound", "Inbound"]
    assert len(megaplan.comments) == 2


async def test_the_comment_goes_to_the_deal_the_rule_chose_and_says_why(
    megaplan: FakeMegaplan, make_megaplan: MakeMegaplan
) -> None:
    ivan = megaplan.add_contractor("Ivan", ["+79161234567"])
    megaplan.add_deal("Other", ivan)
    chosen = megaplan.add_deal("Chosen", ivan)
    adapter = await make_megaplan()

    await adapter.log_call(call("r1", deal_id=chosen, reason="oldest contact"), key="r1")

    [comment] = megaplan.comments
    assert comment["deal"] == chosen
    assert "(oldest contact)" in comment["content"]
