"""Every live scenario recorded on a real Asterisk (``tests/fixtures/live/…``, written by the
live matrix in ``callbridge capture`` format: ``NAME.ami`` + ``NAME.times.jsonl``) replayed
through the reducer against its truth, without Asterisk.

Truth: ``NAME.truth.json`` beside the capture, or an ``EXPECTED.json`` in its folder keyed by
NAME; either ``{"calls": [...]}`` with the fields of ``../shared/captures/EXPECTED.json``
(caller, called, direction, rang, answered_by, status or result, outcome, ring_seconds,
talk_seconds, hangup_by, transferred_to, …) — only the fields a truth states are compared. A
truth with ``"xfail": "<pattern>"`` is a pattern the tracker cannot express yet (strict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from call_tracker.reducer.topology import Topology
from call_tracker.replay import capture_entries, replay
from cbcontracts import CallEnded

LIVE = Path(__file__).resolve().parents[1] / "fixtures" / "live"
TOPOLOGY = Topology(pbx="lab")


def _truth(ami: Path) -> dict[str, Any] | None:
    name = ami.name.removesuffix(".ami")
    own = ami.with_name(f"{name}.truth.json")
    if own.exists():
        return dict(json.loads(own.read_text()))
    shared = ami.parent / "EXPECTED.json"
    if shared.exists():
        found = json.loads(shared.read_text()).get(name)
        return dict(found) if found is not None else None
    return None


CASES = sorted(p for p in LIVE.rglob("*.ami") if _truth(p) is not None) if LIVE.exists() else []


def _check(got: CallEnded, want: dict[str, Any]) -> None:
    for field, attr in (("caller", "caller"), ("called", "called"), ("direction", "direction"),
                        ("outcome", "outcome"), ("hangup_by", "hangup_by"),
                        ("pbx_app", "pbx_app")):  # fmt: skip
        if field in want:
            assert getattr(got, attr) == want[field], field
    if "rang" in want:
        assert list(got.rang) == list(want["rang"])
    if "answered_by" in want:
        assert (got.answered_by or None) == (want["answered_by"] or None)
    result = want.get("result", want.get("status"))
    if result is not None:
        assert got.result == result
    for field, attr in (("ring_seconds", "ring_seconds"), ("talk_seconds", "talk_seconds")):
        if field in want:
            assert abs(getattr(got, attr) - want[field]) <= 1, field
    if want.get("transferred_to"):
        expected = want["transferred_to"]
        expected = expected if isinstance(expected, list) else [expected]
        assert list(got.transferred_to)[-len(expected) :] == expected


@pytest.mark.skipif(not CASES, reason=f"no live fixtures with a truth under {LIVE} yet")
@pytest.mark.parametrize("ami", CASES, ids=lambda p: str(p.relative_to(LIVE)))
def test_the_live_recording_gives_its_truth(ami: Path) -> None:
    truth = _truth(ami)
    assert truth is not None
    if truth.get("xfail"):
        pytest.xfail(f"pattern the tracker cannot express yet: {truth['xfail']}")
    ended = [e for e in replay(capture_entries(ami), TOPOLOGY) if isinstance(e, CallEnded)]
    calls = truth.get("calls", [])
    assert len(ended) == len(calls)
    by_id = {e.call_id: e for e in ended}
    for i, want in enumerate(calls):
        got = by_id.get(want.get("linkedid", ""), ended[i])
        _check(got, want)
