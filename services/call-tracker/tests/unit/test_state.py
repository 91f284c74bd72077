"""Topology, the state's persistence, entry ordering, sync reconciliation edge cases."""

from __future__ import annotations

import json
from pathlib import Path

from call_tracker.fixtures import load_fixture
from call_tracker.reducer import RawEntry, new_state, reduce
from call_tracker.reducer.model import decode_call, encode_call, entry_key
from call_tracker.reducer.topology import KIND_LOCAL, KIND_OPERATOR, KIND_TRUNK, Topology
from cbcontracts import CallEnded

FIXTURES = Path(__file__).parent / "fixtures"
TOPOLOGY = Topology(pbx="t")


def test_channels_are_told_apart_by_their_endpoint() -> None:
    assert TOPOLOGY.classify("PJSIP/trunk-0000004b") == (KIND_TRUNK, "")
    assert TOPOLOGY.classify("PJSIP/100-00000001") == (KIND_OPERATOR, "100")
    assert TOPOLOGY.classify("PJSIP/101") == (KIND_OPERATOR, "101")
    assert TOPOLOGY.classify("Local/101@from-internal-00000000;2") == (KIND_LOCAL, "101")
    assert Topology(pbx="t", trunks=frozenset({"PJSIP/prov"})).classify("PJSIP/prov-1")[0] == (
        KIND_TRUNK
    )


def test_entry_ids_order_like_the_stream() -> None:
    assert entry_key("1700000000000-10") > entry_key("1700000000000-9")
    assert entry_key("1700000000001-0") > entry_key("1700000000000-99")


def test_a_live_call_survives_a_round_trip_through_its_stored_form() -> None:
    entries = load_fixture(FIXTURES / "inbound_group.jsonl")
    half, rest = entries[: len(entries) // 2], entries[len(entries) // 2 :]
    state = new_state(TOPOLOGY)
    for entry in half:
        reduce(state, entry)
    restored = new_state(TOPOLOGY)
    restored.last = state.last
    restored.calls = {k: decode_call(encode_call(c)) for k, c in state.calls.items()}
    a = [e for entry in rest for e in reduce(state, entry)[1]]
    b = [e for entry in rest for e in reduce(restored, entry)[1]]
    assert a == b
    assert any(isinstance(e, CallEnded) for e in a)


def test_the_dirty_set_names_every_call_changed_or_finished() -> None:
    state = new_state(TOPOLOGY, track_dirty=True)
    for entry in load_fixture(FIXTURES / "same_numbers.jsonl"):
        reduce(state, entry)
    assert state.dirty == {"1800000000.1", "1800000000.5"}
    assert state.calls == {}


def test_an_empty_sync_snapshot_ends_every_live_call_as_reconstructed() -> None:
    state = new_state(TOPOLOGY)
    entries = load_fixture(FIXTURES / "inbound_queue.jsonl")
    for entry in entries[:20]:
        reduce(state, entry)
    assert state.calls
    sync = RawEntry("999-0", b"", entries[20].rx, b"callbridge.sync", json.dumps([]).encode())
    _, events = reduce(state, sync)
    assert isinstance(events[-1], CallEnded)
    assert events[-1].reconstructed
    assert state.calls == {}


def test_a_live_call_persisted_before_the_newer_fields_still_decodes() -> None:
    import msgspec

    leg = ["1.1", "PJSIP/100-00000001", KIND_OPERATOR, "100", 1, False]  # before own/via
    old = ["1.0", 5, 0, False, "inbound", "79161234567", "4951234567", "79161234567", "495",
           "", 0, 0, 0, "", "", False, "", "", "", False, False, False, False, False, "system",
           0, False, ["100"], ["100"], [], {"1.1": leg}]  # fmt: skip
    call = decode_call(msgspec.msgpack.encode(old))
    assert (call.caller, call.rang) == ("79161234567", ["100"])
    assert (call.n_rung, call.merged_into) == (0, "")
    assert (call.legs["1.1"].ext, call.legs["1.1"].own, call.legs["1.1"].via) == ("100", False, "")
