"""Every real capture in ../shared/captures gives the call EXPECTED.json describes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from call_tracker.reducer.topology import Topology
from call_tracker.replay import capture_entries, replay
from cbcontracts import CallEnded

# CI clones the repo next to shared/, exactly as in development (../shared).
CAPTURES = Path(__file__).resolve().parents[4].parent / "shared" / "captures"
EXPECTED: dict[str, Any] = (
    json.loads((CAPTURES / "EXPECTED.json").read_text())
    if (CAPTURES / "EXPECTED.json").exists()
    else {}
)

pytestmark = pytest.mark.skipif(not EXPECTED, reason=f"no captures at {CAPTURES}")


def _ended(name: str) -> list[CallEnded]:
    events = replay(capture_entries(CAPTURES / f"{name}.ami"), Topology(pbx="lab"))
    return [e for e in events if isinstance(e, CallEnded)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_capture_gives_exactly_the_expected_calls(name: str) -> None:
    ended = _ended(name)
    expected = EXPECTED[name]["calls"]
    assert len(ended) == len(expected)
    for got, want in zip(ended, expected, strict=True):
        assert got.call_id == want["linkedid"]
        assert got.caller == want["caller"]
        assert got.called == want["called"]
        assert got.direction == want["direction"]
        assert list(got.rang) == want["rang"]
        assert (got.answered_by or None) == want["answered_by"]
        assert got.result == want["status"]
        assert abs(got.ring_seconds - want["ring_seconds"]) <= 1
        assert abs(got.talk_seconds - want["talk_seconds"]) <= 1
        assert got.hangup_by == want["hangup_by"]
        assert (got.recording_file or None) == want["recording_file"]
        if "transferred_to" in want:
            assert got.transferred_to[-1] == want["transferred_to"]
        if "queue" in want:
            assert got.queue == want["queue"]
        if "originate_actionid" in want:
            assert got.originate_id == want["originate_actionid"]
        if "operator" in want:
            assert got.extension == want["operator"]
