"""The call-event contract: tags, round trips, evolution rules."""

from __future__ import annotations

import msgspec
import pytest

import cbcontracts
from cbcontracts import (
    CALL_EVENT_TYPES,
    CallAnswered,
    CallEnded,
    CallRinging,
    CallStarted,
    decode_event,
    decode_record,
    encode_event,
    encode_record,
    record_from_ended,
)


def _ended() -> CallEnded:
    return CallEnded(
        event_id="main/1-0/0",
        call_id="1795740925.0",
        pbx="main",
        seq=5,
        at=2_000_000,
        direction="inbound",
        external="79161234567",
        did="4951234567",
        result="answered",
        rang=("100", "101"),
        answered_by="101",
        started_at=1_000_000,
    )


def test_every_event_type_has_an_explicit_dotted_tag() -> None:
    tags = [t.__struct_config__.tag for t in CALL_EVENT_TYPES]
    assert all(isinstance(tag, str) and tag.startswith("call.") for tag in tags)
    assert len(set(tags)) == len(tags)


def test_an_event_round_trips_through_json_with_its_type_tag() -> None:
    event = CallRinging(
        event_id="main/1-0/1", call_id="x", pbx="main", seq=1, at=5, extension="100"
    )
    data = encode_event(event)
    assert b'"type":"call.ringing"' in data
    assert decode_event(data) == event


def test_defaults_are_left_out_of_the_wire_form() -> None:
    data = encode_event(CallStarted(event_id="e", call_id="c", pbx="p", seq=0, at=1))
    assert b"originate_id" not in data
    assert b"reconstructed" not in data


def test_unknown_fields_from_a_newer_producer_are_skipped() -> None:
    data = (
        b'{"type":"call.answered","event_id":"e","call_id":"c","pbx":"p","seq":2,"at":3,'
        b'"answered_by":"100","brand_new_field":{"x":1}}'
    )
    event = decode_event(data)
    assert isinstance(event, CallAnswered)
    assert event.answered_by == "100"


def test_an_unknown_event_type_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(
            b'{"type":"call.exploded","event_id":"e","call_id":"c","pbx":"p","seq":1,"at":1}'
        )


def test_events_are_frozen() -> None:
    event = _ended()
    with pytest.raises(AttributeError):
        event.seq = 9  # type: ignore[misc]


def test_a_record_made_from_call_ended_round_trips_and_lists_its_extensions() -> None:
    record = record_from_ended(_ended())
    assert decode_record(encode_record(record)) == record
    assert record.ended_at == 2_000_000
    assert record.extensions == ("100", "101")


def test_the_public_api_is_pinned() -> None:
    assert sorted(cbcontracts.__all__) == sorted(
        name
        for name in dir(cbcontracts)
        if not name.startswith("_") and name not in {"calls", "crm", "presence", "records", "voice"}
    )


def test_an_outcome_this_reader_does_not_know_decodes_and_falls_back_to_the_result() -> None:
    data = encode_event(msgspec.structs.replace(_ended(), outcome="fax", result="answered"))
    event = decode_event(data)
    assert isinstance(event, CallEnded)
    assert event.outcome == "fax"
    assert cbcontracts.result_of_outcome(event.outcome, event.result) == "answered"
    assert cbcontracts.result_of_outcome("voicemail", "missed") == "answered"


def test_an_event_from_before_outcomes_existed_still_decodes() -> None:
    data = encode_event(_ended())
    assert b"outcome" not in data
    event = decode_event(data)
    assert isinstance(event, CallEnded)
    assert event.outcome == ""


def test_every_outcome_maps_to_a_result_and_pbx_outcomes_count_as_answered() -> None:
    results = set(cbcontracts.Result.__args__)  # type: ignore[attr-defined]
    assert set(cbcontracts.OUTCOME_RESULT.values()) <= results
    assert set(cbcontracts.PBX_OUTCOMES) <= set(cbcontracts.OUTCOMES)
    assert all(cbcontracts.OUTCOME_RESULT[o] == "answered" for o in cbcontracts.PBX_OUTCOMES)


def test_the_record_keeps_the_outcome_and_the_pbx_app() -> None:
    ended = msgspec.structs.replace(_ended(), outcome="voicemail", pbx_app="VoiceMail")
    record = record_from_ended(ended)
    assert (record.outcome, record.pbx_app) == ("voicemail", "VoiceMail")
    assert decode_record(encode_record(record)) == record


def test_docs_streams_lists_exactly_the_known_outcomes() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "streams.md").read_text()
    section = doc.split("### Call outcomes", 1)[1].split("\n#", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M)) == set(cbcontracts.OUTCOMES)
