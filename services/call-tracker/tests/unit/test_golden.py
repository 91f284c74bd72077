"""The project's own fixtures (cacofonisk style): the call events written beside each one,
and a tracker attached mid-call (the first N entries missing) never crashes or leaves a
card open."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest

from call_tracker.fixtures import load_fixture
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from cbcontracts import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    CallRingingStopped,
    CallStarted,
)

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = sorted(p.name.removesuffix(".jsonl") for p in FIXTURES.glob("*.jsonl"))
TOPOLOGY = Topology(pbx="test")


def test_there_is_a_fixture_for_every_required_scenario() -> None:
    required = {
        "inbound_answered", "inbound_missed", "inbound_busy", "inbound_group", "inbound_queue",
        "outbound", "click_to_call", "blind_transfer_ami", "attended_transfer_ami", "internal",
        "dial_timeout", "queue_abandon", "redirect_transfer", "pickup", "hold", "same_numbers",
        "sync_outage",
    }  # fmt: skip
    assert required <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_fixture_gives_the_call_events_written_beside_it(name: str) -> None:
    events = replay(load_fixture(FIXTURES / f"{name}.jsonl"), TOPOLOGY)
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    assert json.loads(msgspec.json.encode(events)) == expected


def _check_consistent(events: list[CallEvent]) -> None:
    per_call: dict[str, list[CallEvent]] = defaultdict(list)
    for event in events:
        per_call[event.call_id].append(event)
    for call_events in per_call.values():
        assert [e.seq for e in call_events] == list(range(1, len(call_events) + 1))
        assert isinstance(call_events[0], CallStarted)
        assert sum(isinstance(e, CallEnded) for e in call_events) == 1
        assert isinstance(call_events[-1], CallEnded)
        ringing: set[str] = set()
        for e in call_events:
            if isinstance(e, CallRinging):
                assert e.extension not in ringing
                ringing.add(e.extension)
            elif isinstance(e, CallRingingStopped | CallAnswered):
                ringing.discard(e.extension)  # (an extension may ring again: a call-back)


@pytest.mark.parametrize("name", NAMES)
def test_a_tracker_attached_mid_call_never_crashes_and_closes_every_card(name: str) -> None:
    entries = load_fixture(FIXTURES / f"{name}.jsonl")
    for skip in range(len(entries)):
        _check_consistent(replay(entries[skip:], TOPOLOGY))


def test_two_calls_with_the_same_numbers_stay_two_calls() -> None:
    events = replay(load_fixture(FIXTURES / "same_numbers.jsonl"), TOPOLOGY)
    ended = {e.call_id: e for e in events if isinstance(e, CallEnded)}
    assert len(ended) == 2
    assert sorted(e.answered_by for e in ended.values()) == ["100", "101"]


def test_a_redirected_call_follows_to_the_new_extension_with_the_original_caller() -> None:
    events = replay(load_fixture(FIXTURES / "redirect_transfer.jsonl"), TOPOLOGY)
    ringing = [e for e in events if isinstance(e, CallRinging) and e.extension == "101"]
    assert ringing
    assert ringing[0].external == "79161234567"
    assert ringing[0].did == "4951234567"
