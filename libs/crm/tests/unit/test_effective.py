"""The effective-entity rule table (Kommo's call-popup rule by default)."""

from __future__ import annotations

import pytest

from cbcrm.adapter import Deal, Entity, EntityKind, Lookup
from cbcrm.effective import EffectiveRule, choose


def ent(kind: EntityKind, id_: str, created: int) -> Entity:
    return Entity(kind=kind, id=id_, created_at=created, phones=("+79161234567",))


def deal(id_: str, is_open: bool = True) -> Deal:
    return Deal(id=id_, is_open=is_open)


def lookup(*entities: Entity, **deals: tuple[Deal, ...]) -> Lookup:
    return Lookup(phone="+79161234567", entities=entities, deals=dict(deals))


C_OLD, C_NEW = ent("contact", "c1", 100), ent("contact", "c2", 200)
CO_OLD, CO_NEW = ent("company", "k1", 50), ent("company", "k2", 300)

# (lookup, target, entity id, deal id, code)
TABLE = [
    (lookup(), "none", None, None, "no_match"),
    (lookup(C_NEW), "contact", "c2", None, "only_contact.no_open_deal"),
    (lookup(C_NEW, C_OLD), "contact", "c1", None, "oldest_contact.no_open_deal"),
    (
        lookup(C_NEW, C_OLD, c1=(deal("d1"), deal("d0", False))),
        "deal",
        "c1",
        "d1",
        "oldest_contact.single_open_deal",
    ),
    (
        lookup(C_OLD, C_NEW, c1=(deal("d1"), deal("d2"))),
        "contact",
        "c1",
        None,
        "oldest_contact.several_open_deals",
    ),
    (lookup(C_NEW, C_OLD, c2=(deal("d9"),)), "contact", "c1", None, "oldest_contact.no_open_deal"),
    (lookup(CO_NEW, C_NEW), "contact", "c2", None, "only_contact.no_open_deal"),
    (lookup(CO_NEW, CO_OLD), "company", "k1", None, "oldest_company.no_open_deal"),
    (lookup(CO_OLD, k1=(deal("d5"),)), "deal", "k1", "d5", "only_company.single_open_deal"),
    (lookup(ent("lead", "l1", 1)), "none", None, None, "no_match"),
]


@pytest.mark.parametrize(("found", "target", "entity", "deal_id", "code"), TABLE)
def test_kommos_rule_chooses_the_documented_entity_and_says_why(
    found: Lookup, target: str, entity: str | None, deal_id: str | None, code: str
) -> None:
    chosen = choose(found)
    assert chosen.target == target
    assert (chosen.entity.id if chosen.entity else None) == entity
    assert (chosen.deal.id if chosen.deal else None) == deal_id
    assert chosen.code == code
    assert chosen.reason


def test_the_reason_counts_the_duplicates() -> None:
    chosen = choose(lookup(C_NEW, C_OLD, ent("contact", "c3", 150)))
    assert chosen.reason == "oldest 3 contacts (no open deal)"
    assert chosen.candidates == 3


def test_the_newest_pick_is_configurable() -> None:
    assert choose(lookup(C_OLD, C_NEW), EffectiveRule(pick="newest")).entity == C_NEW


def test_most_open_deals_wins_and_the_oldest_breaks_ties() -> None:
    rule = EffectiveRule(pick="most_open_deals", single_open_deal=False)
    busy = lookup(C_OLD, C_NEW, c2=(deal("a"), deal("b")), c1=(deal("c"),))
    assert choose(busy, rule).entity == C_NEW
    assert choose(lookup(C_NEW, C_OLD), rule).entity == C_OLD


def test_companies_can_be_tried_first() -> None:
    rule = EffectiveRule(kinds=("company", "contact"))
    assert choose(lookup(C_OLD, CO_NEW), rule).entity == CO_NEW


def test_the_single_open_deal_can_be_left_out() -> None:
    chosen = choose(lookup(C_OLD, c1=(deal("d1"),)), EffectiveRule(single_open_deal=False))
    assert (chosen.target, chosen.deal, chosen.open_deals) == ("contact", None, (deal("d1"),))
