"""docs/streams.md documents the calls stream as the code writes it."""

from __future__ import annotations

from pathlib import Path

from call_tracker.publisher import F_DATA
from cbcontracts import CALL_EVENT_TYPES

DOC = Path(__file__).resolve().parents[4] / "docs" / "streams.md"


def test_the_calls_stream_section_names_its_field_and_every_event_type() -> None:
    text = DOC.read_text()
    section = text[text.index("## `cb:calls`") :]
    section = section[: section.index("\n## ", 1)]
    assert f"| `{F_DATA.decode()}` |" in section
    for event_type in CALL_EVENT_TYPES:
        assert f"`{event_type.__struct_config__.tag}`" in section
