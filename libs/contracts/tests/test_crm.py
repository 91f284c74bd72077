"""CRM commands and events: tagged, round-trip, evolution-safe."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cbcontracts.crm import (
    CallSynced,
    CardData,
    CardEntity,
    CardShow,
    CrmFailed,
    Leg,
    SyncCall,
    decode_command,
    decode_crm_event,
    encode_command,
    encode_crm_event,
)

BASE: dict[str, Any] = {
    "key": "main/1-0/3/sync",
    "event_id": "main/1-0/3",
    "call_id": "1.1",
    "pbx": "main",
}


def test_a_sync_call_command_round_trips_with_its_type_tag() -> None:
    cmd = SyncCall(
        **BASE,
        direction="inbound",
        result="answered",
        phone="+79161234567",
        legs=(Leg(extension="100", started_at=5, duration_s=30), Leg(extension="101")),
    )
    data = encode_command(cmd)
    assert msgspec.json.decode(data)["type"] == "crm.sync_call"
    assert decode_command(data) == cmd


def test_card_commands_and_events_round_trip() -> None:
    show = CardShow(**BASE, extensions=("100", "101"))
    assert decode_command(encode_command(show)) == show
    for event in (
        CardData(event_id="e/card", call_id="1.1", pbx="main", at=1, phone="+7916",
                 entity=CardEntity(kind="contact", id="3"), reason_code="only_contact"),
        CallSynced(event_id="e/synced", call_id="1.1", pbx="main", at=2, scenario="missed_known"),
        CrmFailed(event_id="e/err", call_id="1.1", pbx="main", at=3, command="crm.sync_call",
                  key="k", error="422", permanent=True),
    ):  # fmt: skip
        assert decode_crm_event(encode_crm_event(event)) == event


def test_readers_skip_fields_they_do_not_know() -> None:
    data = msgspec.json.encode({**BASE, "type": "crm.card_hide", "extensions": ["1"], "new": 1})
    assert decode_command(data).call_id == "1.1"


def test_an_unknown_command_type_is_an_error() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_command(msgspec.json.encode({**BASE, "type": "crm.dance"}))
