"""Recording links: signed, expiring, verified by the same code the gateway uses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from cbcrm.links import LinkSigner

NOW = 1_800_000_000


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path.rsplit("/", 1)[1], query["expires"][0], query["sig"][0]


def test_a_link_is_bound_to_its_tenant() -> None:
    signer = LinkSigner("s3cret", "https://cb.example.com", ttl_s=600)
    url = signer.url("c1", tenant="acme", now=NOW)
    assert urlsplit(url).path == "/v1/recordings/acme/c1"
    call_id, expires, sig = parts(url)
    assert signer.verify(call_id, expires, sig, tenant="acme", now=NOW)
    assert not signer.verify(call_id, expires, sig, tenant="globex", now=NOW)


def test_a_link_verifies_until_it_expires() -> None:
    signer = LinkSigner("s3cret", "https://cb.example.com/", ttl_s=600)
    url = signer.url("1700000000.42", tenant="t", now=NOW)
    assert url.startswith("https://cb.example.com/v1/recordings/t/1700000000.42?expires=")
    call_id, expires, sig = parts(url)
    assert signer.verify(call_id, expires, sig, tenant="t", now=NOW + 599)
    assert not signer.verify(call_id, expires, sig, tenant="t", now=NOW + 601)


@pytest.mark.parametrize("tamper", ["call", "expires", "sig", "secret"])
def test_a_tampered_link_is_refused(tamper: str) -> None:
    signer = LinkSigner("s3cret", ttl_s=600)
    call_id, expires, sig = parts(signer.url("c1", tenant="t", now=NOW))
    if tamper == "call":
        call_id = "c2"
    elif tamper == "expires":
        expires = str(int(expires) + 3600)
    elif tamper == "sig":
        sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    else:
        signer = LinkSigner("other", ttl_s=600)
    assert not signer.verify(call_id, expires, sig, tenant="t", now=NOW)


def test_garbage_expiry_is_refused_not_raised() -> None:
    assert not LinkSigner("k").verify("c1", "soon", "00", tenant="t", now=NOW)


def test_the_secret_never_shows_in_the_repr_and_may_not_be_empty() -> None:
    assert "s3cret" not in repr(LinkSigner("s3cret"))
    with pytest.raises(ValueError, match="empty"):
        LinkSigner("")
