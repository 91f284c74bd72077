"""amoCRM adapter through the fake amoCRM over real HTTP: lookup, creation, call logging."""

from __future__ import annotations

from cbcrm.adapter import CallLog, Entity, NewContact, NewDeal, NewTask
from cbcrm.fakes import FakeAmoCrm
from cbcrm.fakes.amocrm_state import phones_of

from .conftest import MakeAmo

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


async def test_known_caller_is_found_by_trailing_digits_with_only_open_leads(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    anna = amo.state.add_user("Anna", admin=True)
    ivan = amo.state.add_contact("Ivan", ["8 (916) 123-45-67"], responsible=anna, created_at=T0)
    open_lead = amo.state.add_lead("Boiler", contacts=[ivan], responsible=anna)
    amo.state.add_lead("Old order", contacts=[ivan], status_id=142)
    adapter = await make_amo()

    found = await adapter.lookup("+79161234567")

    assert [(e.kind, e.id, e.name) for e in found.entities] == [("contact", str(ivan), "Ivan")]
    assert found.entities[0].phones == ("+79161234567",)
    assert found.entities[0].responsible_user_id == str(anna)
    assert [d.id for d in found.deals[str(ivan)]] == [str(open_lead)]
    searches = [r for r in amo.requests if r.path == "/api/v4/contacts"]
    assert ("query", "9161234567") in searches[0].query


async def test_unknown_caller_gets_a_contact_and_a_deal_and_the_call_lands_on_the_deal(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    adapter = await make_amo()
    assert (await adapter.lookup("+79990001122")).entities == ()
    assert amo.record_count("/api/v4/contacts", status=204) == 1

    contact = await adapter.create_contact(
        NewContact(name="+79990001122", phone="+79990001122"), key="k1"
    )
    again = await adapter.create_contact(
        NewContact(name="+79990001122", phone="+79990001122"), key="k1"
    )
    deal = await adapter.create_deal(NewDeal(name="Inbound call", entity=contact), key="k2")
    await adapter.log_call(call("c1", phone="+79990001122", entity=contact), key="c1:log")

    assert again.id == contact.id
    assert len(amo.state.contacts) == 1
    assert phones_of(amo.state.contacts[int(contact.id)]) == ["+79990001122"]
    assert amo.state.leads[int(deal.id)]["_embedded"]["contacts"] == [{"id": int(contact.id)}]
    [logged] = amo.state.calls
    assert (logged["entity_type"], logged["entity_id"]) == ("lead", int(deal.id))


async def test_several_matching_contacts_and_companies_are_all_returned_with_creation_times(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    older = amo.state.add_contact("Older", ["+79161234567"], created_at=T0)
    newer = amo.state.add_contact("Newer", ["79161234567"], created_at=T0 + 100)
    firm = amo.state.add_company("Firm", ["+7 916 123 45 67"], created_at=T0 - 100)
    amo.state.add_contact("Other", ["+79161234500"], created_at=T0)
    adapter = await make_amo()

    found = await adapter.lookup("+79161234567")

    got = {(e.kind, e.id, e.created_at) for e in found.entities}
    assert got == {
        ("contact", str(older), T0),
        ("contact", str(newer), T0 + 100),
        ("company", str(firm), T0 - 100),
    }


async def test_a_missed_call_is_logged_as_not_reached_and_a_task_is_set_for_the_responsible(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    boris = amo.state.add_user("Boris")
    ivan = amo.state.add_contact("Ivan", ["+79161234567"], responsible=boris)
    adapter = await make_amo()
    entity = Entity(kind="contact", id=str(ivan))

    await adapter.log_call(call("m1", result="missed", duration_s=0), key="m1:log")
    task_id = await adapter.create_task(
        NewTask(
            text="Call back", entity=entity, responsible_user_id=str(boris), deadline=T0 + 3600
        ),
        key="m1:task",
    )

    [logged] = amo.state.calls
    assert (logged["call_status"], logged["duration"], logged["direction"]) == (6, 0, "inbound")
    [task] = amo.state.tasks
    assert str(task["id"]) == task_id
    assert (task["entity_type"], task["entity_id"], task["complete_till"]) == (
        "contacts",
        ivan,
        T0 + 3600,
    )
    assert task["responsible_user_id"] == boris


async def test_an_outbound_and_a_click_to_call_are_logged_for_the_operator_who_dialled(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    anna = amo.state.add_user("Anna")
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo()

    await adapter.log_call(call("o1", direction="outbound", user_id=str(anna)), key="o1:log")
    await adapter.log_call(
        call("ctc1", direction="outbound", user_id=str(anna), result="busy", duration_s=0),
        key="ctc1:log",
    )

    out, ctc = amo.state.calls
    assert (out["direction"], out["call_status"], out["call_responsible"]) == ("outbound", 4, anna)
    assert (ctc["uniq"], ctc["call_status"], ctc["created_by"]) == ("ctc1", 7, anna)


async def test_a_transferred_call_is_logged_once_per_leg_for_each_operator_with_its_recording(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    anna, boris = amo.state.add_user("Anna"), amo.state.add_user("Boris")
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo()
    legs = [
        call("t1", user_id=str(anna), duration_s=30, recording_url="https://cb.example/r/t1?sig=a"),
        call(
            "t1.2",
            user_id=str(boris),
            duration_s=95,
            recording_url="https://cb.example/r/t1.2?sig=b",
        ),
    ]

    for leg in legs:
        await adapter.log_call(leg, key=f"{leg.call_id}:log")
        await adapter.log_call(leg, key=f"{leg.call_id}:log")  # a redelivery

    got = [(c["uniq"], c["responsible_user_id"], c["duration"], c["link"]) for c in amo.state.calls]
    assert got == [
        ("t1", anna, 30, "https://cb.example/r/t1?sig=a"),
        ("t1.2", boris, 95, "https://cb.example/r/t1.2?sig=b"),
    ]


async def test_a_call_logged_again_after_a_lost_record_is_recognised_by_its_uniq(
    amo: FakeAmoCrm, make_amo: MakeAmo, redis_client: object
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo()
    first = await adapter.log_call(call("d1"), key="d1:log")

    second = await adapter.log_call(call("d1"), key="another-key")

    assert first != second == "uniq:d1"
    assert len(amo.state.calls) == 1


async def test_a_call_amocrm_cannot_match_becomes_a_note_on_the_entity_we_know(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    lead = amo.state.add_lead("Deal without contact")
    adapter = await make_amo()

    logged = await adapter.log_call(
        call("n1", phone="+79995550000", entity=Entity(kind="lead", id=str(lead))), key="n1:log"
    )

    assert logged.startswith("note:")
    [note] = amo.state.notes
    assert (note["entity"], note["entity_id"], note["note_type"]) == ("leads", lead, "call_in")
    assert note["params"]["uniq"] == "n1"


async def test_an_unknown_caller_can_become_an_unsorted_sip_entry_once(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    adapter = await make_amo()
    missed = call("u1", phone="+79995550000", result="missed", duration_s=0)

    uid = await adapter.create_unsorted(missed, did="+74950000000", key="u1:unsorted")
    again = await adapter.create_unsorted(missed, did="+74950000000", key="u1:unsorted")

    [entry] = amo.state.unsorted
    assert uid == again == entry["uid"]
    assert entry["metadata"]["from"] == "+79995550000"
    assert entry["metadata"]["phone"] == "+74950000000"
    assert entry["metadata"]["uniq"] == "u1"


async def test_users_are_read_page_by_page_with_extensions_from_settings(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    ids = [amo.state.add_user(f"User {i}") for i in range(260)]
    adapter = await make_amo(extensions={str(ids[0]): "101"})

    users = await adapter.users()

    assert len(users) == 260
    assert users[0].extension == "101"
    assert amo.record_count("/api/v4/users") == 2


async def test_a_contact_created_as_unsorted_comes_with_its_lead_for_the_deal_step(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    adapter = await make_amo()

    first = call("u9", phone="+79995550000", duration_s=42, user_id="", extension="101")
    contact = await adapter.create_contact(
        NewContact(name="New caller", phone="+79995550000", unsorted=True, call=first,
                   called="+74951234567"), key="u:contact")  # fmt: skip
    deal = await adapter.create_deal(
        NewDeal(name="Inbound call", entity=contact, unsorted=True), key="u:deal"
    )

    [entry] = amo.state.unsorted
    meta = entry["metadata"]
    assert (meta["uniq"], meta["from"], meta["phone"]) == ("u9", "+79995550000", "+74951234567")
    assert (meta["duration"], meta["is_call_event_needed"]) == (42, True)
    assert entry["_embedded"]["contacts"][0]["name"] == "New caller"
    # the entry holds the call's one event: logging the call adds none
    assert (await adapter.log_call(first, key="u:log")).startswith("unsorted:")
    assert [c["uniq"] for c in amo.state.calls] == ["u9"]
    assert amo.record_count("/api/v4/calls") == 0
    assert contact.id != deal.id
    assert amo.record_count("/api/v4/leads") == 0  # no second, visible lead


async def test_a_note_goes_to_the_deal_the_rule_chose_when_amocrm_cannot_match(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    contact = amo.state.add_contact("Ivan", ["+79990000001"])
    lead = amo.state.add_lead("Chosen", contacts=[contact])
    adapter = await make_amo()
    entity = Entity(kind="contact", id=str(contact))

    await adapter.log_call(
        call("dn1", phone="+79995550000", entity=entity, deal_id=str(lead)), key="dn1"
    )

    [note] = amo.state.notes
    assert (note["entity"], note["entity_id"]) == ("leads", lead)
