"""Pure parts of the client: action encoding, MD5 key, pending replies, backoff, public API."""

from __future__ import annotations

import hashlib
import itertools

import pytest

import aioami
from aioami import parse_frame
from aioami._actions import ActionIds, Pending, encode_action, md5_key
from aioami._connect import backoff


def test_an_action_encodes_action_id_and_repeats_list_values() -> None:
    wire = encode_action("Originate", "id-1", {"Channel": "PJSIP/100", "Variable": ["A=1", "B=2"]})
    assert wire == (
        b"Action: Originate\r\nActionID: id-1\r\nChannel: PJSIP/100\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\n\r\n"
    )


@pytest.mark.parametrize(
    "headers",
    [{"Channel": "x\r\nAction: Hangup"}, {"Bad\nKey": "x"}, {"Variable": ["ok", "no\rpe"]}],
)
def test_line_breaks_in_headers_are_refused_without_echoing_the_value(
    headers: dict[str, str | list[str]],
) -> None:
    with pytest.raises(ValueError, match="line break") as info:
        encode_action("Originate", "id", headers)
    assert "Hangup" not in str(info.value)


def test_the_client_owns_the_action_id() -> None:
    with pytest.raises(ValueError, match="set by the client"):
        encode_action("Ping", "id", {"ActionID": "mine"})


def test_md5_key_is_md5hex_of_challenge_then_secret() -> None:
    expected = hashlib.md5(b"12345678pw", usedforsecurity=False).hexdigest()
    assert md5_key("12345678", "pw") == expected


def test_action_ids_are_unique_per_client_and_carry_the_marker() -> None:
    one, two = ActionIds(), ActionIds()
    assert one.prefix != two.prefix
    first = one.next()
    assert first != one.next()
    assert one.marker in f"ActionID: {first}".encode()


async def test_a_list_pending_completes_on_eventlist_complete_only() -> None:
    pending = Pending("QueueStatus", "id-1", is_list=True)
    start = parse_frame(b"Response: Success\r\nActionID: id-1\r\nEventList: start")
    item = parse_frame(b"Event: QueueParams\r\nActionID: id-1")
    done = parse_frame(b"Event: QueueStatusComplete\r\nActionID: id-1\r\nEventList: Complete")
    assert pending.feed(start) == (True, False)
    assert pending.feed(item) == (True, False)
    assert pending.feed(done) == (True, True)
    assert pending.events == [item, done]


async def test_a_list_action_refused_completes_at_its_response() -> None:
    pending = Pending("QueueStatus", "id-1", is_list=True)
    error = parse_frame(b"Response: Error\r\nActionID: id-1\r\nMessage: Permission denied")
    assert pending.feed(error) == (True, True)


async def test_events_carrying_a_plain_actions_id_are_not_claimed() -> None:
    pending = Pending("Originate", "id-1")
    event = parse_frame(b"Event: OriginateResponse\r\nActionID: id-1\r\nResponse: Success")
    assert pending.feed(event) == (False, False)
    reply = parse_frame(b"Response: Success\r\nActionID: id-1")
    assert pending.feed(reply) == (True, True)
    assert pending.response is reply


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    delays = list(itertools.islice(backoff(0.5, 4.0), 8))
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    for delay, cap in zip(delays, caps, strict=True):
        assert cap / 2 <= delay <= cap
    assert len(set(delays)) > 1


def test_the_public_api_is_pinned() -> None:
    assert set(aioami.__all__) >= {
        "AMIClient",
        "AMIConfig",
        "ActionResult",
        "ClientStats",
        "FrameBatch",
        "Snapshot",
        "tls_context",
        "FrameSplitter",
        "parse_frame",
        "event_name",
    }
    assert aioami.AMIClient is aioami.client.AMIClient
    assert "secret" not in repr(aioami.AMIConfig(username="u", secret="hunter2")).lower()
