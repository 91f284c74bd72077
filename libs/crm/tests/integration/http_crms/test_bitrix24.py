"""Bitrix24 adapter through the fake portal over real HTTP: lookup, users, CRM writes, and the
telephony call card (register → show/hide → finish → attachRecord)."""

from __future__ import annotations

from cbcrm.adapter import CallLog, Entity, NewContact, NewDeal, NewTask
from cbcrm.fakes import FakeBitrix24

from .conftest import MakeB24

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


async def test_known_caller_is_found_with_findbycomm_and_open_deals_in_one_batch(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    ivan = b24.state.add_entity("contacts", "Ivan", ["8 916 123-45-67"], created=T0)
    open_deal = b24.state._add(
        b24.state.deals, {"fields": {"TITLE": "Boiler", "CONTACT_ID": ivan}}, CLOSED="N"
    )
    b24.state._add(b24.state.deals, {"fields": {"TITLE": "Old", "CONTACT_ID": ivan}}, CLOSED="Y")
    adapter = await make_b24()

    found = await adapter.lookup("+79161234567")

    assert [(e.kind, e.id, e.name, e.created_at) for e in found.entities] == [
        ("contact", str(ivan), "Ivan", T0)
    ]
    assert [d.id for d in found.deals[str(ivan)]] == [str(open_deal)]
    assert [r.path for r in b24.requests if r.path.startswith("/rest/")] == [
        "/rest/crm.duplicate.findbycomm.json",
        "/rest/batch.json",
    ]


async def test_unknown_caller_gets_a_contact_and_a_deal_once_each(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    adapter = await make_b24()
    assert (await adapter.lookup("+79990001122")).entities == ()

    contact = await adapter.create_contact(
        NewContact(name="New caller", phone="+79990001122"), key="k1"
    )
    again = await adapter.create_contact(
        NewContact(name="New caller", phone="+79990001122"), key="k1"
    )
    deal = await adapter.create_deal(NewDeal(name="Inbound call", entity=contact), key="k2")

    assert again.id == contact.id
    assert list(b24.state.contacts) == [int(contact.id)]
    assert b24.state.deals[int(deal.id)]["CONTACT_ID"] == int(contact.id)
    assert [e.id for e in (await adapter.lookup("+79990001122")).entities] == [contact.id]


async def test_several_matches_are_all_returned_with_creation_dates(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    a = b24.state.add_entity("contacts", "A", ["+79161234567"], created=T0)
    b = b24.state.add_entity("contacts", "B", ["79161234567"], created=T0 + 50)
    c = b24.state.add_entity("companies", "Firm", ["89161234567"], created=T0 - 50)
    adapter = await make_b24()

    found = await adapter.lookup("+79161234567")

    assert {(e.kind, e.id, e.created_at) for e in found.entities} == {
        ("contact", str(a), T0),
        ("contact", str(b), T0 + 50),
        ("company", str(c), T0 - 50),
    }


async def test_users_map_to_extensions_through_uf_phone_inner_page_by_page(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    for n in range(60):
        b24.state.add_user(f"User {n}", extension=str(100 + n))
    adapter = await make_b24()

    users = await adapter.users()

    assert len(users) == 60
    assert {u.extension for u in users} == {str(100 + n) for n in range(60)}
    assert b24.record_count("/rest/user.get.json") == 2


async def test_a_ringing_call_card_is_shown_to_ringing_operators_and_hidden_from_the_others(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    anna, boris, vera = (
        b24.state.add_user(n, e) for n, e in (("Anna", "101"), ("Boris", "102"), ("Vera", "103"))
    )
    adapter = await make_b24()
    ringing = call("q1", user_id=str(anna), result="answered")

    card = await adapter.card_start(ringing, key="q1:card")
    await adapter.card_show(card, [str(anna), str(boris), str(vera)])
    shown = set(b24.state.calls[card]["shown_to"])
    await adapter.card_hide(card, [str(boris), str(vera)])  # Anna answered
    after_answer = set(b24.state.calls[card]["shown_to"])
    await adapter.log_call(ringing, key="q1:log")

    assert (shown, after_answer) == ({anna, boris, vera}, {anna})
    [stats] = b24.state.finished
    assert (stats["CALL_ID"], stats["PORTAL_USER_ID"], stats["CALL_FAILED_CODE"]) == (
        card,
        str(anna),
        "200",
    )
    assert b24.record_count("/rest/telephony.externalCall.register.json") == 0  # batched
    assert len(b24.state.calls) == 1


async def test_each_result_finishes_with_its_status_code(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    anna = b24.state.add_user("Anna", "101")
    adapter = await make_b24()
    cases = [
        ("answered", "inbound", "200"),
        ("missed", "inbound", "304"),
        ("busy", "outbound", "486"),
        ("abandoned", "outbound", "603-S"),
        ("abandoned", "inbound", "304"),
        ("failed", "outbound", "OTHER"),
    ]

    for n, (result, direction, _) in enumerate(cases):
        await adapter.log_call(
            call(f"s{n}", user_id=str(anna), result=result, direction=direction), key=f"s{n}"
        )

    assert [r["CALL_FAILED_CODE"] for r in b24.state.finished] == [code for *_, code in cases]
    assert [r["INCOMING"] for r in b24.state.finished] == [
        "2" if direction == "inbound" else "1" for _, direction, _ in cases
    ]


async def test_a_missed_call_by_extension_is_finished_as_304_and_a_task_is_set(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    boris = b24.state.add_user("Boris", "102")
    ivan = b24.state.add_entity("contacts", "Ivan", ["+79161234567"])
    adapter = await make_b24()

    await adapter.log_call(call("m1", extension="102", result="missed", duration_s=0), key="m1")
    await adapter.create_task(
        NewTask(
            text="Call back",
            entity=Entity(kind="contact", id=str(ivan)),
            responsible_user_id=str(boris),
            deadline=T0 + 3600,
        ),
        key="m1:task",
    )

    [stats] = b24.state.finished
    assert (stats["PORTAL_USER_ID"], stats["CALL_FAILED_CODE"], stats["CALL_DURATION"]) == (
        str(boris),
        "304",
        "0",
    )
    [task] = b24.state.tasks
    assert (task["UF_CRM_TASK"], task["RESPONSIBLE_ID"]) == ([f"C_{ivan}"], boris)


async def test_a_click_to_call_is_finished_on_the_call_id_bitrix24_registered(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    anna = b24.state.add_user("Anna", "101")
    adapter = await make_b24()
    form = b24.state.click_to_call(anna, "+79161234567", b24.application_token)

    event = adapter.external_call_start(form)
    await adapter.adopt("ctc-1", event)
    await adapter.log_call(call("ctc-1", direction="outbound", user_id=event.user_id), key="ctc-1")

    [stats] = b24.state.finished
    assert (stats["CALL_ID"], stats["PORTAL_USER_ID"]) == (event.call_id, str(anna))
    assert len(b24.state.calls) == 1  # never registered twice


async def test_a_transferred_call_is_a_new_bitrix24_call_per_leg_with_its_recording(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    anna, boris = b24.state.add_user("Anna", "101"), b24.state.add_user("Boris", "102")
    adapter = await make_b24()
    legs = [
        call("t1", user_id=str(anna), duration_s=30, recording_url="https://cb.example/r/t1?sig=a"),
        call(
            "t1.2",
            user_id=str(boris),
            duration_s=90,
            recording_url="https://cb.example/r/t1.2?sig=b",
        ),
    ]

    for leg in legs:
        await adapter.log_call(leg, key=leg.call_id)
        await adapter.log_call(leg, key=leg.call_id)  # redelivered

    got = [
        (r["EXTERNAL_CALL_ID"], r["PORTAL_USER_ID"], r["CALL_DURATION"]) for r in b24.state.finished
    ]
    assert got == [("t1", str(anna), "30"), ("t1.2", str(boris), "90")]
    records = [b24.state.calls[r["CALL_ID"]]["records"] for r in b24.state.finished]
    assert records == [["https://cb.example/r/t1?sig=a"], ["https://cb.example/r/t1.2?sig=b"]]
