"""The production patterns the tracker once got wrong, each on frames recorded from a real
Asterisk and the truth of the call as the scenario made it (who dialled, who rang, who
answered, for how long). ``sip20_*``: Asterisk 20.20, chan_sip phones and trunk, a dialplan
with Local ring-group members and follow-me, VoiceMail after no answer, an IVR, an AGI script,
``*8`` / ``PickupChan`` pickup. ``lab22_*`` / ``lab20_*``: pbxlab's FreePBX-like dialplan on
Asterisk 22 (PJSIP) and 20 (chan_sip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from call_tracker.fixtures import load_fixture
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from cbcontracts import CallAnswered, CallEnded, CallRinging, CallRingingStopped

FIXTURES = Path(__file__).parent / "fixtures"
TOPOLOGY = Topology(pbx="lab")

_IN = {"direction": "inbound", "caller": "79161234567"}
TRUTH: dict[str, dict[str, Any]] = {
    # chan_sip creates the phone's channel Down: still an internal call, with its callee
    "sip20_sip_internal": {"direction": "internal", "caller": "200", "called": "201",
                           "rang": ("201",), "answered_by": "201", "outcome": "answered",
                           "ring": 2, "talk": 3},
    # Originate of Local/200@from-internal, then 79031112233 via the trunk (answers after 2 s,
    # hangs up after 3 s): the operator's own leg is not the answer
    "sip20_c2c_local_answered": {"direction": "outbound", "caller": "200",
                                 "called": "79031112233", "rang": ("200", "79031112233"),
                                 "answered_by": "79031112233", "outcome": "answered",
                                 "ring": 2, "talk": 3},
    # the operator rejects (486): the client is never dialled (its number from the failed
    # OriginateResponse, which names no Uniqueid)
    "sip20_c2c_local_rejected": {"direction": "outbound", "caller": "200",
                                 "called": "79031112233", "rang": ("200",),
                                 "answered_by": "", "outcome": "failed", "result": "failed"},
    # 200 does not answer in 3 s, follow-me dials 79990001122 through a Local channel
    "sip20_forward_external_answered": {**_IN, "called": "4950000005",
                                        "rang": ("200", "79990001122"),
                                        "answered_by": "79990001122", "outcome": "answered",
                                        "talk": 3},
    "sip20_forward_external_unanswered": {**_IN, "called": "4950000005",
                                          "rang": ("200", "79990001122"), "answered_by": "",
                                          "outcome": "missed"},
    # ring group of Local members: 200 busy, 201 rings out: the group went unanswered
    "sip20_group_local_busy_noanswer": {**_IN, "called": "4950000004", "rang": ("200", "201"),
                                        "answered_by": "", "outcome": "missed",
                                        "result": "missed"},
    "sip20_ivr_only": {**_IN, "called": "4950000001", "rang": (), "answered_by": "",
                       "outcome": "ivr", "pbx_app": "BackGround", "result": "answered",
                       "talk": 3},
    "sip20_voicemail": {**_IN, "called": "4950000002", "rang": ("200",), "answered_by": "",
                        "outcome": "voicemail", "pbx_app": "VoiceMail", "result": "answered",
                        "ring": 3, "talk": 3},
    "sip20_agi_bot": {**_IN, "called": "4950000003", "rang": (), "answered_by": "",
                      "outcome": "bot", "pbx_app": "AGI", "result": "answered", "talk": 2},
    # 200 rings, 201 picks it up with *8 / PickupChan(SIP/200) after 2 s and talks 2 s (the
    # picker's phone never rang)
    "sip20_pickup_group": {**_IN, "called": "4951234567", "rang": ("200",),
                           "answered_by": "201", "outcome": "answered", "ring": 2, "talk": 2},
    "sip20_pickup_directed": {**_IN, "called": "4951234567", "rang": ("200",),
                              "answered_by": "201", "outcome": "answered", "talk": 2},
    # the tracker lost AMI while 200 rang (2 s) and came back to both channels Up in one
    # bridge: answered, at the latest at the snapshot (3.5 s), talk until the end (7.5 s)
    "sip20_gap_ringing_answered": {**_IN, "called": "4951234567", "rang": ("200",),
                                   "answered_by": "200", "outcome": "answered", "ring": 3,
                                   "talk": 3},
    # --- the pbxlab dialplan (FreePBX-like: macro-dial-one wrappers, DND = busy, Local
    # members), recorded on Asterisk 22 (PJSIP, lab22_*) and 20 (chan_sip, lab20_*); only the
    # events the tracker reads are kept (CEL, Cdr, RTCP, VarSet noise dropped)
    # ring group 600, both members on DND: every callee busy although no phone rang
    "lab22_group_all_dnd": {**_IN, "called": "4951000002", "rang": (), "answered_by": "",
                            "outcome": "busy", "result": "busy"},
    # ring group 601: 100 and the mobile 79990000001 (through the trunk); the mobile answers
    "lab22_group_mobile_answered": {**_IN, "called": "4951000003",
                                    "rang": ("79990000001", "100"),
                                    "answered_by": "79990000001", "outcome": "answered",
                                    "ring": 2, "talk": 3},
    # queue support, Local/EXT@from-queue/n members: 100 answers after 2 s; the caller, who
    # began its 3 s of talk when the queue answered it, hangs up half a second later
    "lab22_queue_local_answered": {**_IN, "called": "4951000004", "rang": ("100", "101"),
                                   "answered_by": "100", "outcome": "answered", "ring": 2,
                                   "talk": 0},
    # *2 attended transfer completed while 101 still rang (blonde); 101 answers after
    "lab22_feature_blonde": {**_IN, "called": "4951000001", "rang": ("100", "101"),
                             "answered_by": "100", "outcome": "answered",
                             "transferred_to": ("101",), "extension": "101"},
    # SIP REFER from 200 to 201 (blind), 201 answers after 2 s and talks 3 s
    "lab20_refer_blind": {**_IN, "called": "4951000001", "rang": ("200", "201"),
                          "answered_by": "200", "outcome": "answered",
                          "transferred_to": ("201",), "extension": "201"},
    # Originate of the chan_sip phone SIP/200, then 79031112233 (answers after 2 s, 3 s talk)
    "lab20_c2c_phone_answered": {"direction": "outbound", "caller": "200",
                                 "called": "79031112233", "rang": ("200", "79031112233"),
                                 "answered_by": "79031112233", "outcome": "answered",
                                 "ring": 2, "talk": 3},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_the_recorded_call_is_what_the_scenario_made(name: str) -> None:
    events = replay(load_fixture(FIXTURES / f"{name}.jsonl"), TOPOLOGY)
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert len(ended) == 1, "exactly one call: no phantom call for a picker or an operator"
    got, want = ended[0], TRUTH[name]
    assert got.direction == want["direction"]
    assert got.caller == want["caller"]
    assert got.called == want.get("called", "")
    assert got.rang == want["rang"]
    assert got.answered_by == want["answered_by"]
    assert got.answered_by != got.caller or not got.caller
    assert got.outcome == want["outcome"]
    assert got.result == want.get("result", got.result)
    assert got.pbx_app == want.get("pbx_app", "")
    if "ring" in want:
        assert abs(got.ring_seconds - want["ring"]) <= 1
    if "talk" in want:
        assert abs(got.talk_seconds - want["talk"]) <= 1
    if "transferred_to" in want:
        assert got.transferred_to == want["transferred_to"]
    if "extension" in want:
        assert got.extension == want["extension"]


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_every_card_shown_is_hidden_or_answered(name: str) -> None:
    events = replay(load_fixture(FIXTURES / f"{name}.jsonl"), TOPOLOGY)
    ringing: set[str] = set()
    for e in events:
        if isinstance(e, CallRinging):
            ringing.add(e.extension)
        elif isinstance(e, CallRingingStopped | CallAnswered):
            ringing.discard(e.extension)
    assert not ringing


def test_the_click_to_call_operator_answering_is_not_the_call_answer() -> None:
    events = replay(load_fixture(FIXTURES / "sip20_c2c_local_answered.jsonl"), TOPOLOGY)
    answered = [e.answered_by for e in events if isinstance(e, CallAnswered)]
    assert answered == ["200", "79031112233"]  # the card, then the client
    (ended,) = [e for e in events if isinstance(e, CallEnded)]
    assert ended.extension == "200"


def test_a_pickup_leaves_no_call_of_the_picker_behind() -> None:
    from call_tracker.reducer import new_state

    state = new_state(TOPOLOGY)
    replay(load_fixture(FIXTURES / "sip20_pickup_group.jsonl"), TOPOLOGY, state)
    assert state.calls == {}


@pytest.mark.parametrize("name", ["phone_attended_transfer", "phone_blonde_transfer"])
def test_a_phone_transfer_ends_the_consultation_and_moves_the_call_to_its_target(
    name: str,
) -> None:
    """REFER with Replaces (hand-written from Asterisk's AttendedTransfer shape): the
    consultation 100 -> 101 is a call of its own; it ends at the transfer and is never
    reconstructed; the customer's call goes to 101 (blonde: 101 still ringing, answers later)."""
    from call_tracker.reducer import new_state
    from cbcontracts import CallTransferred

    state = new_state(TOPOLOGY)
    events = replay(load_fixture(FIXTURES / f"{name}.jsonl"), TOPOLOGY, state)
    ended = {e.call_id: e for e in events if isinstance(e, CallEnded)}
    assert set(ended) == {"1800000000.1", "1800000000.3"}
    customer, consult = ended["1800000000.1"], ended["1800000000.3"]
    assert consult.at < customer.at  # the consultation ended at the transfer
    assert (consult.direction, consult.caller, consult.called) == ("internal", "100", "101")
    (xfer,) = [e for e in events if isinstance(e, CallTransferred)]
    assert (xfer.call_id, xfer.kind, xfer.from_extension, xfer.to_extension) == (
        "1800000000.1", "attended", "100", "101")  # fmt: skip
    assert customer.answered_by == "100"
    assert customer.extension == "101"
    assert customer.transferred_to == ("101",)
    assert state.calls == {}  # nothing left to reconstruct at the next sync


def test_whatever_the_gap_the_snapshot_of_a_talking_call_makes_it_answered() -> None:
    """The AMI link drops at any moment before the answer and comes back with both channels
    Up in one bridge (the real snapshot): the call is answered by 200, never missed."""
    entries = load_fixture(FIXTURES / "sip20_gap_ringing_answered.jsonl")
    sync = next(i for i, e in enumerate(entries) if e.snap)
    for start in range(sync):
        events = replay(entries[:start] + entries[sync:], TOPOLOGY)
        (ended,) = [e for e in events if isinstance(e, CallEnded)]
        assert (ended.outcome, ended.answered_by) == ("answered", "200"), start
        assert ended.talk_seconds >= 3, start


def test_asterisk_calling_a_transferer_back_rings_in_the_transferred_call() -> None:
    """Asterisk 20 chan_sip, *2 to 201 completed while 201 rang (blonde); 201 never answers, so
    Asterisk calls 200 back (twice, a dial without a caller, like an Originate) and retries 201.
    The call-backs ring in the transferred call, and so does the retry (a Local channel with a
    Linkedid of its own, bridged into the call): no click-to-call or other call is invented."""
    events = replay(load_fixture(FIXTURES / "lab20_blonde_unanswered_callback.jsonl"), TOPOLOGY)
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert [(e.direction, e.answered_by, e.outcome) for e in ended] == [
        ("inbound", "200", "answered")
    ]
    call = ended[0].call_id
    rings_200 = [e for e in events if isinstance(e, CallRinging) and e.extension == "200"]
    assert [e.call_id for e in rings_200] == [call] * 3  # the call, then two call-backs
    assert {e.call_id for e in events} == {call}


def test_callers_put_in_a_conference_by_the_pbx_are_not_missed() -> None:
    """Asterisk 22, DID -> ConfBridge: two callers (6 s, 2 s) and a phone dialling 800 (its
    own call never dialled anyone: no call). Outcome conference, result answered."""
    events = replay(load_fixture(FIXTURES / "lab22_conference.jsonl"), TOPOLOGY)
    ended = {e.caller: e for e in events if isinstance(e, CallEnded)}
    assert set(ended) == {"79161234567", "79035550000"}
    for caller, talk in (("79161234567", 6), ("79035550000", 2)):
        got = ended[caller]
        assert (got.outcome, got.result, got.pbx_app) == ("conference", "answered", "ConfBridge")
        assert got.answered_by == ""
        assert abs(got.talk_seconds - talk) <= 1
