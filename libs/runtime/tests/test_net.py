"""Address allow-lists (FastAGI's PBX allow-list)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbruntime import address_allowed, parse_networks


def test_addresses_networks_and_ipv4_mapped_peers() -> None:
    nets = parse_networks(["127.0.0.1", "10.20.0.0/16", "::1"])
    assert address_allowed("127.0.0.1", nets)
    assert address_allowed("10.20.3.4", nets)
    assert address_allowed("::ffff:10.20.3.4", nets)  # a dual-stack socket's IPv4 peer
    assert address_allowed("::1", nets)
    assert not address_allowed("10.21.0.1", nets)
    assert not address_allowed("127.0.0.2", nets)
    assert not address_allowed("", nets)
    assert not address_allowed(None, nets)
    assert not address_allowed("not-an-address", nets)
    assert not address_allowed("127.0.0.1", ())


def test_a_bad_entry_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        parse_networks(["10.0.0.300"])


@given(st.ip_addresses(v=4), st.integers(min_value=8, max_value=32))
def test_an_address_is_allowed_exactly_when_inside_the_network(
    addr: ipaddress.IPv4Address, prefix: int
) -> None:
    net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    (parsed,) = parse_networks([str(net)])
    assert address_allowed(str(addr), [parsed])
    outside = int(net.broadcast_address) + 1
    if outside < 2**32:
        assert not address_allowed(str(ipaddress.IPv4Address(outside)), [parsed])
