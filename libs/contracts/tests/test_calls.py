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
        if not name.startswith("_") and name not in {"calls", "crm", "records", "voice"}
    )
