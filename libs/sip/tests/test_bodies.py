"""NOTIFY bodies as Asterisk really sends them (tests/bodies/), and hostile XML refused."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbsip import (
    SipParseError,
    parse_dialog_info,
    parse_multipart,
    parse_pidf,
    parse_rlmi,
)

BODIES = Path(__file__).parent / "bodies"


def body(name: str) -> tuple[str, bytes]:
    content_type, _, data = (BODIES / name).read_bytes().partition(b"\n\n")
    return content_type.decode(), data


def test_dialog_info_from_idle_to_ringing_to_talking_to_held() -> None:
    idle = parse_dialog_info(body("dialog-idle.txt")[1])
    assert (idle.entity, idle.full, [d.state for d in idle.dialogs]) == (
        "sip:101@127.0.0.1", True, ["terminated"],
    )  # fmt: skip
    ringing = parse_dialog_info(body("dialog-ringing.txt")[1])
    (d,) = ringing.dialogs
    assert (d.state, d.direction, d.remote, d.remote_display) == (
        "early", "recipient", "sip:100@127.0.0.1", "Anna",
    )  # fmt: skip
    assert ringing.version == 2
    (talking,) = parse_dialog_info(body("dialog-confirmed.txt")[1]).dialogs
    assert (talking.state, talking.held) == ("confirmed", False)
    (held,) = parse_dialog_info(body("dialog-held.txt")[1]).dialogs
    assert (held.state, held.held) == ("confirmed", True)


def test_pidf_with_asterisks_presence_supplement() -> None:
    gone = parse_pidf(body("pidf-unavailable.txt")[1])
    assert (gone.basic, gone.note) == ("closed", "Unavailable")
    ready = parse_pidf(body("pidf-ready.txt")[1])
    assert (ready.basic, ready.note, ready.presence_type) == ("open", "Ready", "not_set")
    on_hold = parse_pidf(body("pidf-on-hold.txt")[1])
    assert on_hold.note == "On hold"
    assert on_hold.activities == ("on-the-phone",)


def test_a_resource_list_notify_names_each_resource_and_its_part() -> None:
    content_type, data = body("rlmi-partial-ringing.txt")
    parts = parse_multipart(data, content_type)
    assert [p.content_type for p in parts] == [
        "application/rlmi+xml",
        "application/dialog-info+xml",
    ]
    rlmi = parse_rlmi(parts[0].body)
    assert (rlmi.version, rlmi.full) == (3, False)
    (res,) = rlmi.resources
    assert (res.uri, res.state) == ("sip:101@127.0.0.1", "active")
    assert res.cid == parts[1].content_id
    assert parse_dialog_info(parts[1].body).dialogs[0].state == "early"
    full_type, full = body("rlmi-full.txt")
    first = parse_rlmi(parse_multipart(full, full_type)[0].body)
    assert first.full
    assert len(first.resources) == 5


def test_entity_expansion_and_dtds_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><dialog-info version="1">&b;</dialog-info>'
    )
    with pytest.raises(SipParseError):
        parse_dialog_info(bomb)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<presence><note>&x;</note></presence>"
    )
    with pytest.raises(SipParseError):
        parse_pidf(external)


def test_bounds_on_xml_and_multipart() -> None:
    many = b"<dialog-info version='1'>" + b"<dialog id='x'/>" * 3000 + b"</dialog-info>"
    with pytest.raises(SipParseError, match="elements"):
        parse_dialog_info(many)
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(20))
    assert len(parse_multipart(parts + b"--b--", "multipart/related;boundary=b")) == 20
    with pytest.raises(SipParseError, match="more than 10 parts"):
        parse_multipart(parts + b"--b--", "multipart/related;boundary=b", max_parts=10)
    with pytest.raises(SipParseError, match="boundary"):
        parse_multipart(parts, "multipart/related")
    with pytest.raises(SipParseError, match="version"):
        parse_dialog_info(b"<dialog-info version='x'/>")


@given(st.binary(max_size=2000), st.text(max_size=80))
def test_any_body_gives_a_result_or_the_parse_error(data: bytes, content_type: str) -> None:
    for parser in (parse_dialog_info, parse_pidf, parse_rlmi):
        with contextlib.suppress(SipParseError):
            parser(data)
    with contextlib.suppress(SipParseError):
        parse_multipart(data, content_type)
