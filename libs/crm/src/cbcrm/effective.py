"""The "effective entity": which of several matches a call belongs to, and why.

A shared office number or a duplicate contact makes a lookup return several entities.
Picking "the first one" is how peers end up logging one call on the wrong card (or on
several). The rule here is explicit, configurable, and returns its reason, which crm-sync
records on the call and shows on the card ("why this card").

Default — Kommo's documented call-popup rule:

1. take the **oldest** contact with the number;
2. if it has exactly one open deal, show that deal;
3. otherwise show the contact;
4. if no contact matches, do the same with companies.

Configurable (:class:`EffectiveRule`): the kinds tried and their order, which match wins
(``oldest``, ``newest``, or ``most_open_deals`` with the oldest breaking ties), and whether a
single open deal is shown instead of its entity.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .adapter import Deal, Entity, EntityKind, Lookup

__all__ = ["Effective", "EffectiveRule", "Pick", "Target", "choose"]

Pick = Literal["oldest", "newest", "most_open_deals"]
Target = Literal["deal", "contact", "company", "lead", "none"]


class EffectiveRule(msgspec.Struct, frozen=True, kw_only=True):
    """How to choose. The defaults are Kommo's call-popup rule."""

    kinds: tuple[EntityKind, ...] = ("contact", "company")
    pick: Pick = "oldest"
    single_open_deal: bool = True  # show the entity's only open deal instead of the entity


class Effective(msgspec.Struct, frozen=True, kw_only=True):
    """The choice: ``entity`` (None when nothing matched), ``deal`` when the rule shows the
    entity's single open deal, ``target`` what the card opens, ``code`` a stable
    machine-readable reason and ``reason`` the same in words."""

    entity: Entity | None = None
    deal: Deal | None = None
    target: Target = "none"
    code: str = "no_match"
    reason: str = "no contact or company has this number"
    candidates: int = 0
    open_deals: tuple[Deal, ...] = ()

    @property
    def known(self) -> bool:
        return self.entity is not None


def _open_deals(lookup: Lookup, entity: Entity) -> tuple[Deal, ...]:
    return tuple(d for d in lookup.deals.get(entity.id, ()) if d.is_open)


def _winner(lookup: Lookup, matches: list[Entity], pick: Pick) -> Entity:
    by_age = sorted(matches, key=lambda e: (e.created_at, e.id))
    if pick == "newest":
        return by_age[-1]
    if pick == "most_open_deals":
        return max(by_age, key=lambda e: len(_open_deals(lookup, e)))  # first max: oldest
    return by_age[0]


_PICK_WORDS = {"oldest": "oldest", "newest": "newest", "most_open_deals": "most open deals of"}


def choose(lookup: Lookup, rule: EffectiveRule | None = None) -> Effective:
    """Apply ``rule`` (default: Kommo's) to what a CRM returned for one number."""
    rule = rule or EffectiveRule()
    for kind in rule.kinds:
        matches = [e for e in lookup.entities if e.kind == kind]
        if not matches:
            continue
        entity = _winner(lookup, matches, rule.pick)
        n = len(matches)
        code = f"only_{kind}" if n == 1 else f"{rule.pick}_{kind}"
        words = f"the only {kind}" if n == 1 else f"{_PICK_WORDS[rule.pick]} {n} {kind}s"
        open_deals = _open_deals(lookup, entity)
        if rule.single_open_deal and len(open_deals) == 1:
            return Effective(
                entity=entity,
                deal=open_deals[0],
                target="deal",
                code=f"{code}.single_open_deal",
                reason=f"{words}; its single open deal",
                candidates=n,
                open_deals=open_deals,
            )
        why = "no open deal" if not open_deals else f"{len(open_deals)} open deals"
        return Effective(
            entity=entity,
            target=kind,
            code=f"{code}.{'no_open_deal' if not open_deals else 'several_open_deals'}",
            reason=f"{words} ({why})",
            candidates=n,
            open_deals=open_deals,
        )
    return Effective()
