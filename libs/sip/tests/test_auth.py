"""Digest answers (RFC 2617 §3.5's worked example; SHA-256 per RFC 7616)."""

from __future__ import annotations

import pytest

from cbsip import Challenge, Credentials, SipParseError, answer
from cbsip.message import parse_params


def test_rfc2617_example_gives_its_response() -> None:
    ch = Challenge.parse(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    value = answer(
        ch, Credentials("Mufasa", "Circle Of Life"), "GET", "/dir/index.html",
        nc=1, cnonce="0a4f113b",
    )  # fmt: skip
    p = parse_params(value.removeprefix("Digest "))
    assert p["response"] == "6629fae49393a05397450978507c4ef1"
    assert p["nc"] == "00000001"
    assert p["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"


def test_sha256_is_supported_and_unknown_algorithms_are_refused() -> None:
    ch = Challenge.parse('Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth"')
    value = answer(ch, Credentials("u", "p"), "SUBSCRIBE", "sip:100@pbx", cnonce="c")
    assert len(parse_params(value.removeprefix("Digest "))["response"]) == 64
    with pytest.raises(SipParseError, match="algorithm"):
        Challenge.parse('Digest realm="r", nonce="n", algorithm=SHA-512-256')
    with pytest.raises(SipParseError, match="scheme"):
        Challenge.parse('Basic realm="r"')


def test_credentials_never_show_the_password() -> None:
    assert "hunter2" not in repr(Credentials("u", "hunter2"))
