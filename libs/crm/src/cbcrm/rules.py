"""What to do in the CRM for a call, per DID and scenario, without code.

Seven scenarios (:data:`Scenario`), each with an :class:`Action`: log the call, create a
contact, create a deal (only when the entity has no open deal), create a task with a
deadline, or send the unknown caller to amoCRM's Unsorted (a flag on the created contact and
deal that the amoCRM adapter honours; others ignore it). Defaults are what a sales team
expects; TOML overrides them per scenario and per DID::

    [crm.rules]
    default_user_id = "1"
    responsible = ["entity", "last_rang", "default"]
    [crm.rules.scenarios.missed_known]
    task_deadline_min = 15
    [crm.rules.did."+74951234567".inbound_unknown]   # the support line: no deals
    create_deal = false

The responsible user is the first known of: the entity's responsible, the last operator
whose phone rang, the configured default.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .exceptions import InvalidPhone
from .phones import normalize

__all__ = [
    "Action",
    "ActionPatch",
    "ResponsibleSource",
    "Rules",
    "RulesConfig",
    "Scenario",
    "scenario_of",
]

Scenario = Literal[
    "inbound_unknown",
    "inbound_known",
    "missed_unknown",
    "missed_known",
    "outbound_unknown",
    "outbound_known",
    "outbound_failed",
]
ResponsibleSource = Literal["entity", "last_rang", "default"]


class Action(msgspec.Struct, frozen=True, kw_only=True):
    log_call: bool = True
    create_contact: bool = False
    create_deal: bool = False  # only if the entity has no open deal
    create_task: bool = False
    task_deadline_min: int = 60
    unsorted: bool = False  # amoCRM: an Unsorted entry instead of a contact + deal


class ActionPatch(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An override: fields left out keep the value below them."""

    log_call: bool | None = None
    create_contact: bool | None = None
    create_deal: bool | None = None
    create_task: bool | None = None
    task_deadline_min: int | None = None
    unsorted: bool | None = None

    def apply(self, action: Action) -> Action:
        changes = {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}
        return msgspec.structs.replace(action, **changes)


DEFAULTS: dict[Scenario, Action] = {
    "inbound_unknown": Action(create_contact=True, create_deal=True),
    "inbound_known": Action(create_deal=True),
    "missed_unknown": Action(create_contact=True, create_task=True, task_deadline_min=30),
    "missed_known": Action(create_task=True, task_deadline_min=30),
    "outbound_unknown": Action(create_contact=True),
    "outbound_known": Action(),
    "outbound_failed": Action(),
}


class RulesConfig(msgspec.Struct, frozen=True, kw_only=True):
    scenarios: dict[Scenario, ActionPatch] = {}
    did: dict[str, dict[Scenario, ActionPatch]] = {}
    responsible: tuple[ResponsibleSource, ...] = ("entity", "last_rang", "default")
    default_user_id: str = ""
    contact_name: str = "Новый клиент {phone}"
    deal_name: str = "Звонок {phone}"
    task_text: str = "Перезвонить {phone}: пропущенный звонок"


_SCENARIOS: dict[tuple[str, bool, bool], Scenario] = {
    ("inbound", True, True): "inbound_known",
    ("inbound", True, False): "inbound_unknown",
    ("inbound", False, True): "missed_known",
    ("inbound", False, False): "missed_unknown",
    ("outbound", True, True): "outbound_known",
    ("outbound", True, False): "outbound_unknown",
    ("outbound", False, True): "outbound_failed",
    ("outbound", False, False): "outbound_failed",
}


def scenario_of(direction: str, result: str, known: bool) -> Scenario | None:
    """The scenario of a finished call; None for internal calls (nothing to log)."""
    return _SCENARIOS.get((direction, result == "answered", known))


def _did_key(did: str) -> str:
    try:
        phone = normalize(did)
    except InvalidPhone:
        return did
    return phone.e164 or phone.extension


class Rules:
    """The configured rules, resolved."""

    def __init__(self, config: RulesConfig | None = None) -> None:
        self.config = config or RulesConfig()
        self._did = {_did_key(k): v for k, v in self.config.did.items()}

    def action(self, scenario: Scenario, did: str = "") -> Action:
        """Defaults, then the scenario override, then the DID's override."""
        action = DEFAULTS[scenario]
        if (patch := self.config.scenarios.get(scenario)) is not None:
            action = patch.apply(action)
        if did and (patch := self._did.get(_did_key(did), {}).get(scenario)) is not None:
            action = patch.apply(action)
        return action

    def responsible(self, entity_user: str, last_rang_user: str) -> tuple[str, str]:
        """``(user id, source)``; ``("", "none")`` when no source knows anyone."""
        found = {
            "entity": entity_user,
            "last_rang": last_rang_user,
            "default": self.config.default_user_id,
        }
        for source in self.config.responsible:
            if found[source]:
                return found[source], source
        return "", "none"

    def deadline(self, action: Action, now_s: int) -> int:
        """The task deadline (unix s) for a call that ended at ``now_s``."""
        return now_s + action.task_deadline_min * 60

    def text(self, template: Literal["contact_name", "deal_name", "task_text"], phone: str) -> str:
        return str(getattr(self.config, template)).format(phone=phone)
