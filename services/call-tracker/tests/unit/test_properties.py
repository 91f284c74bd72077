"""Properties: calls interleaved in any order-preserving way each give the same events as
alone; redelivered or duplicated entries never give a second event."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from call_tracker.fixtures import load_fixture
from call_tracker.reducer import RawEntry, new_state
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from cbcontracts import CallEvent

FIXTURES = Path(__file__).parent / "fixtures"
SINGLE_CALL = [
    "inbound_answered", "inbound_missed", "inbound_busy", "inbound_group", "inbound_queue",
    "outbound", "click_to_call", "blind_transfer_ami", "attended_transfer_ami", "internal",
    "dial_timeout", "queue_abandon", "redirect_transfer", "pickup", "hold",
    # recorded on a real Asterisk 20 with chan_sip phones (test_patterns.py)
    # (not sip20_c2c_local_rejected: its failed OriginateResponse is matched by channel name,
    # and copies here share channel names, which Asterisk never does)
    "sip20_sip_internal", "sip20_c2c_local_answered",
    "sip20_forward_external_answered", "sip20_forward_external_unanswered",
    "sip20_group_local_busy_noanswer", "sip20_ivr_only", "sip20_voicemail", "sip20_agi_bot",
    "sip20_pickup_group", "sip20_pickup_directed", "lab22_group_all_dnd",
    "lab22_group_mobile_answered", "lab22_queue_local_answered", "lab22_feature_blonde",
    "lab20_refer_blind", "lab20_c2c_phone_answered",
]  # fmt: skip
ENTRIES = {name: load_fixture(FIXTURES / f"{name}.jsonl") for name in SINGLE_CALL}
TOPOLOGY = Topology(pbx="prop")
_IDS = re.compile(rb"((?:Uniqueid|Linkedid): )(\S+)")


def _copy(entries: list[RawEntry], k: int) -> list[RawEntry]:
    """The same call with its own ids (copy ``k``)."""
    tag = f"-{k}".encode()
    return [e._replace(raw=_IDS.sub(lambda m: m[1] + m[2] + tag, e.raw)) for e in entries]


def _renumber(entries: list[RawEntry]) -> list[RawEntry]:
    return [e._replace(id=f"{i + 1}-0") for i, e in enumerate(entries)]


def _by_call(events: list[CallEvent]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for event in events:
        fields = msgspec.to_builtins(event)
        del fields["event_id"]
        out[event.call_id].append(fields)
    return dict(out)


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[list[RawEntry]], list[RawEntry]]:
    names = draw(st.lists(st.sampled_from(SINGLE_CALL), min_size=2, max_size=4))
    calls = [_copy(ENTRIES[name], k) for k, name in enumerate(names)]
    order = draw(st.permutations([k for k, c in enumerate(calls) for _ in c]))
    cursors = [0] * len(calls)
    merged = []
    for k in order:
        merged.append(calls[k][cursors[k]])
        cursors[k] += 1
    return calls, merged


@settings(max_examples=150, deadline=None)
@given(interleavings())
def test_interleaved_calls_each_give_the_same_events_as_alone(
    case: tuple[list[list[RawEntry]], list[RawEntry]],
) -> None:
    calls, merged = case
    alone: dict[str, list[dict[str, object]]] = {}
    for call in calls:
        alone.update(_by_call(replay(_renumber(call), TOPOLOGY)))
    assert _by_call(replay(_renumber(merged), TOPOLOGY)) == alone


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SINGLE_CALL),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), max_size=20),
)
def test_redelivered_entries_give_no_second_event(
    name: str, redeliveries: list[tuple[int, int]]
) -> None:
    entries = ENTRIES[name]
    stream = list(entries)
    for which, delay in sorted(redeliveries, reverse=True):
        i = which % len(entries)
        pos = stream.index(entries[i]) + 1 + delay % (len(stream) - stream.index(entries[i]))
        stream.insert(pos, entries[i])
    clean = replay(entries, TOPOLOGY)
    assert replay(stream, TOPOLOGY) == clean
    assert len({e.event_id for e in clean}) == len(clean)


def test_replaying_the_whole_stream_twice_adds_nothing() -> None:
    entries = ENTRIES["attended_transfer_ami"]
    state = new_state(TOPOLOGY)
    first = replay(entries, TOPOLOGY, state)
    assert first
    assert replay(entries, TOPOLOGY, state) == []
