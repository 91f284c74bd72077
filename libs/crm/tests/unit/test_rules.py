"""The rules table: scenarios, defaults, TOML overrides per scenario and DID, responsibility."""

from __future__ import annotations

import tomllib

import msgspec
import pytest

from cbcrm.rules import Action, Rules, RulesConfig, scenario_of


@pytest.mark.parametrize(
    ("direction", "result", "known", "scenario"),
    [
        ("inbound", "answered", False, "inbound_unknown"),
        ("inbound", "answered", True, "inbound_known"),
        ("inbound", "missed", False, "missed_unknown"),
        ("inbound", "abandoned", True, "missed_known"),
        ("inbound", "busy", True, "missed_known"),
        ("outbound", "answered", False, "outbound_unknown"),
        ("outbound", "answered", True, "outbound_known"),
        ("outbound", "busy", True, "outbound_failed"),
        ("outbound", "failed", False, "outbound_failed"),
        ("internal", "answered", False, None),
    ],
)
def test_each_finished_call_falls_in_one_scenario(
    direction: str, result: str, known: bool, scenario: str | None
) -> None:
    assert scenario_of(direction, result, known) == scenario


DEFAULT_TABLE = [
    ("inbound_unknown", Action(create_contact=True, create_deal=True)),
    ("inbound_known", Action(create_deal=True)),
    ("missed_unknown", Action(create_contact=True, create_task=True, task_deadline_min=30)),
    ("missed_known", Action(create_task=True, task_deadline_min=30)),
    ("outbound_unknown", Action(create_contact=True)),
    ("outbound_known", Action()),
    ("outbound_failed", Action()),
]


@pytest.mark.parametrize(("scenario", "action"), DEFAULT_TABLE)
def test_the_defaults_are_what_a_sales_team_expects(scenario: str, action: Action) -> None:
    assert Rules().action(scenario, "") == action  # type: ignore[arg-type]


CONFIG = """
[rules]
default_user_id = "7"
responsible = ["last_rang", "entity", "default"]
[rules.scenarios.missed_known]
task_deadline_min = 15
[rules.scenarios.inbound_unknown]
unsorted = true
[rules.did."8 (495) 123-45-67".inbound_unknown]
create_deal = false
"""


def rules_from_toml() -> Rules:
    return Rules(msgspec.convert(tomllib.loads(CONFIG)["rules"], RulesConfig))


def test_toml_overrides_a_scenario_and_keeps_the_other_defaults() -> None:
    rules = rules_from_toml()
    assert rules.action("missed_known") == Action(create_task=True, task_deadline_min=15)
    assert rules.action("inbound_unknown") == Action(
        create_contact=True, create_deal=True, unsorted=True
    )


def test_a_did_override_applies_to_that_did_in_any_spelling_only() -> None:
    rules = rules_from_toml()
    support = rules.action("inbound_unknown", "+74951234567")
    assert (support.create_deal, support.unsorted, support.create_contact) == (False, True, True)
    assert rules.action("inbound_unknown", "74957654321").create_deal


@pytest.mark.parametrize(
    ("entity", "rang", "expected"),
    [("5", "6", ("5", "entity")), ("", "6", ("6", "last_rang")), ("", "", ("1", "default"))],
)
def test_responsible_is_the_entitys_then_the_last_operator_who_rang_then_the_default(
    entity: str, rang: str, expected: tuple[str, str]
) -> None:
    assert Rules(RulesConfig(default_user_id="1")).responsible(entity, rang) == expected


def test_the_responsible_order_is_configurable_and_nobody_is_a_valid_answer() -> None:
    assert rules_from_toml().responsible("5", "6") == ("6", "last_rang")
    assert Rules().responsible("", "") == ("", "none")


def test_missed_call_tasks_get_a_deadline_and_texts_name_the_phone() -> None:
    rules = Rules()
    assert rules.deadline(rules.action("missed_unknown"), 1000) == 1000 + 30 * 60
    assert "+79161234567" in rules.text("task_text", "+79161234567")


def test_an_unknown_scenario_in_toml_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"scenarios": {"sometimes": {}}}, RulesConfig)
