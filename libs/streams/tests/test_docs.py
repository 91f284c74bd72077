"""docs/streams.md documents exactly the fields the code writes."""

from __future__ import annotations

import re
from pathlib import Path

from cbstreams import ActionReply, fields

DOC = Path(__file__).resolve().parents[3] / "docs" / "streams.md"


def _sections() -> dict[str, set[str]]:
    """Heading -> the backticked names in the first column of its field tables."""
    out: dict[str, set[str]] = {}
    heading = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            heading = line.lstrip("# ")
            out[heading] = set()
        elif line.startswith("| `") and heading:
            out[heading].add(re.match(r"\| `([^`]+)`", line)[1])  # type: ignore[index]
    return out


def _find(fragment: str) -> set[str]:
    (names,) = [names for head, names in _sections().items() if fragment in head]
    return names


def _names(consts: tuple[bytes, ...]) -> set[str]:
    return {c.decode() for c in consts}


def test_ami_stream_fields_match_the_code() -> None:
    assert _find("`cb:{pbx}:ami` ") == _names(fields.AMI_FIELDS)


def test_sync_entry_fields_match_the_code() -> None:
    assert _find("Sync entries") == _names(fields.SYNC_FIELDS)
    assert fields.SYNC_EVENT.decode() in DOC.read_text()


def test_action_request_fields_match_the_code() -> None:
    assert _find("`cb:{pbx}:actions`") == _names(fields.ACTION_FIELDS)


def test_action_reply_fields_match_the_struct() -> None:
    assert _find("`cb:{pbx}:reply:<id>`") == set(ActionReply.__struct_fields__)


def test_presence_stream_fields_match_the_code() -> None:
    from cbcontracts.presence import LINE_STATES, PresenceState

    assert _find("`cb:{pbx}:presence` ") == {"data"}
    text = DOC.read_text()
    for name in PresenceState.__struct_fields__:
        assert f"`{name}`" in text
    for state in LINE_STATES:
        assert f"`{state}`" in text
