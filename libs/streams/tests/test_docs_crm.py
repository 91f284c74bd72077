"""docs/streams.md documents exactly the fields crm-sync and the dead-letter stream write."""

from __future__ import annotations

import re
from pathlib import Path

from cbstreams import fields
from cbstreams.deadletter import DEAD_FIELDS

DOC = Path(__file__).resolve().parents[3] / "docs" / "streams.md"


def _names_under(fragment: str) -> set[str]:
    """The backticked first-column names of the field tables under the heading with
    ``fragment``."""
    names: set[str] = set()
    inside = False
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            inside = fragment in line
        elif inside and (m := re.match(r"\| `([^`]+)`", line)):
            names.add(m[1])
    return names


def _decoded(consts: tuple[bytes, ...]) -> set[str]:
    return {c.decode() for c in consts}


def test_crm_command_fields_match_the_code() -> None:
    assert _names_under("`cb:crm:commands`") == _decoded(fields.CRM_COMMAND_FIELDS)


def test_crm_event_fields_match_the_code() -> None:
    assert _names_under("`cb:crm:events`") == _decoded(fields.CRM_EVENT_FIELDS)


def test_dead_letter_fields_match_the_code() -> None:
    assert _names_under("`cb:dead`") == _decoded(DEAD_FIELDS)
