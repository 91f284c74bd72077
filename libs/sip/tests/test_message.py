"""SIP message parsing: round trips, stream framing at any cut, and the bounds on input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbsip import Headers, Limits, Request, Response, SipParseError, StreamFramer, parse
from cbsip.message import parse_params

token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~", min_size=1, max_size=20)
value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=","),
    max_size=60,
).map(str.strip)
header_items = st.lists(
    st.tuples(token.filter(lambda t: Headers.key(t) != "content-length"), value), max_size=20
)
bodies = st.binary(max_size=2000)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(st.sampled_from(["SUBSCRIBE", "NOTIFY", "OPTIONS", "INFO"]))
    uri = "sip:" + draw(token) + "@127.0.0.1"
    return Request(method, uri, Headers(draw(header_items)), draw(bodies))


@given(requests())
def test_a_request_survives_encode_and_parse(req: Request) -> None:
    got = parse(req.encode())
    assert isinstance(got, Request)
    assert (got.method, got.uri, got.body) == (req.method, req.uri, req.body)
    assert [(n, v) for n, v in got.headers if n != "Content-Length"] == list(req.headers)


@given(st.integers(100, 699), value, header_items, bodies)
def test_a_response_survives_encode_and_parse(
    status: int, reason: str, items: list[tuple[str, str]], body: bytes
) -> None:
    got = parse(Response(status, reason, Headers(items), body).encode())
    assert isinstance(got, Response)
    assert (got.status, got.body) == (status, body)


@given(st.lists(requests(), min_size=1, max_size=5), st.data())
def test_a_stream_cut_anywhere_gives_the_same_messages(
    reqs: list[Request], data: st.DataObject
) -> None:
    wire = b"\r\n".join(r.encode() for r in reqs)  # keepalive CRLFs between messages
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    framer = StreamFramer()
    frames: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        frames += framer.feed(wire[a:b])
    assert [parse(f).encode() for f in frames] == [r.encode() for r in reqs]


@given(st.binary(max_size=3000))
def test_garbage_raises_only_the_parse_error(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse(data)


@given(st.binary(max_size=3000))
def test_garbage_on_a_stream_raises_only_the_parse_error(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        StreamFramer(Limits(max_message=2000)).feed(data)


def _request(headers: int = 3, body: bytes = b"") -> bytes:
    lines = ["OPTIONS sip:a@b SIP/2.0"] + [f"X-H{i}: v" for i in range(headers)]
    return ("\r\n".join(lines) + f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def test_limits_refuse_too_many_headers_a_long_line_a_big_body_and_a_big_message() -> None:
    limits = Limits(max_message=5000, max_headers=10, max_header_line=100, max_body=1000)
    parse(_request(headers=8), limits)
    with pytest.raises(SipParseError, match="more than 10 header"):
        parse(_request(headers=20), limits)
    with pytest.raises(SipParseError, match="over 100 bytes"):
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nX: " + b"v" * 200 + b"\r\n\r\n", limits)
    with pytest.raises(SipParseError, match="body of 2000"):
        parse(_request(body=b"x" * 2000), limits)
    with pytest.raises(SipParseError, match="over 5000"):
        parse(_request(body=b"x" * 6000), limits)


def test_a_stream_that_never_ends_its_headers_is_refused_at_the_limit() -> None:
    framer = StreamFramer(Limits(max_message=1000))
    framer.feed(b"NOTIFY sip:a@b SIP/2.0\r\n")
    for _ in range(9):
        framer.feed(b"X-Pad: " + b"a" * 90 + b"\r\n")  # 915 bytes so far: still allowed
    with pytest.raises(SipParseError):
        framer.feed(b"X-Pad: " + b"a" * 90 + b"\r\n")


def test_a_stream_message_without_content_length_is_refused() -> None:
    with pytest.raises(SipParseError, match="Content-Length"):
        StreamFramer().feed(b"NOTIFY sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n")


def test_compact_forms_and_folded_lines_are_understood() -> None:
    msg = parse(
        b"NOTIFY sip:w@h SIP/2.0\r\ni: abc\r\no: dialog\r\nSubscription-State: active;\r\n"
        b" expires=60\r\nl: 2\r\n\r\nok"
    )
    assert msg.headers.get("Call-ID") == "abc"
    assert msg.headers.get("event") == "dialog"
    assert msg.headers.get("subscription-state") == "active; expires=60"
    assert msg.body == b"ok"


def test_headers_cannot_be_built_with_line_breaks() -> None:
    with pytest.raises(ValueError, match="framing"):
        Headers().add("X", "a\r\nInjected: yes")


def test_params_keep_quoted_separators() -> None:
    assert parse_params(';a=1;reason="x;y";flag') == {"a": "1", "reason": "x;y", "flag": ""}
