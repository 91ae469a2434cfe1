"""The local addresses of an IKE engine (D115): text forms, the choice per peer family, the
address a datagram arrived on, and the fragmentation MTU per family."""

from __future__ import annotations

import pytest

from tunnelgate.ike.addresses import (
    LocalAddresses,
    canonical,
    canonical_peer,
    default_mtu,
    ip_udp_overhead,
)
from tunnelgate.ike.v1.fragmentation import max_message_size


def test_text_is_kept_as_a_dotted_quad_or_rfc_5952() -> None:
    assert canonical("2001:DB8:0:0:0::1") == "2001:db8::1"
    assert canonical("2001:db8:0:1:0:0:0:1") == "2001:db8:0:1::1"  # the longest run of zeros
    assert canonical("192.0.2.1") == "192.0.2.1"
    with pytest.raises(ValueError):
        canonical("192.0.2.256")
    assert canonical_peer(("2001:DB8::1", 4500)) == ("2001:db8::1", 4500)
    peer = ("198.51.100.2", 500)
    assert canonical_peer(peer) is peer  # IPv4 text is not parsed per datagram


def test_the_primary_address_is_the_ipv4_one_and_each_family_has_its_own() -> None:
    local = LocalAddresses(["2001:db8::1", "192.0.2.1", "192.0.2.1"], 500)
    assert local.primary == ("192.0.2.1", 500)
    assert local.all == (("2001:db8::1", 500), ("192.0.2.1", 500))
    assert local.for_peer("198.51.100.2") == ("192.0.2.1", 500)
    assert local.for_peer("2001:db8:b::2") == ("2001:db8::1", 500)
    only6 = LocalAddresses(["2001:db8::1"], 500)
    assert only6.primary == ("2001:db8::1", 500)
    with pytest.raises(ValueError, match=r"no local IPv4 address for peer 198\.51\.100\.2"):
        only6.for_peer("198.51.100.2")
    with pytest.raises(ValueError, match="no local address"):
        LocalAddresses([], 500)
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        LocalAddresses(["outside"], 500)


def test_the_arrival_address_must_be_ours_and_of_the_peers_family() -> None:
    local = LocalAddresses(["192.0.2.1", "2001:db8::1"], 500)
    assert local.arrival(None, "198.51.100.2") == ("192.0.2.1", 500)  # as before: IPv4
    assert local.arrival(None, "2001:db8:b::2") == ("2001:db8::1", 500)
    assert local.arrival(("192.0.2.1", 4500), "198.51.100.2") == ("192.0.2.1", 500)
    assert local.arrival("2001:DB8::1", "2001:db8:b::2") == ("2001:db8::1", 500)
    assert local.arrival(("192.0.2.9", 500), "198.51.100.2") is None  # not ours
    assert local.arrival(("192.0.2.1", 500), "2001:db8:b::2") is None  # other family
    assert local.arrival(("not an address", 500), "2001:db8:b::2") is None
    assert LocalAddresses(["192.0.2.1"], 500).arrival(None, "2001:db8:b::2") is None


def test_the_fragmentation_mtu_and_headers_follow_the_family() -> None:
    assert (default_mtu("192.0.2.1"), ip_udp_overhead("192.0.2.1")) == (576, 28)
    assert (default_mtu("2001:db8::1"), ip_udp_overhead("2001:db8::1")) == (1280, 48)
    assert max_message_size(576, 500) == 548
    assert max_message_size(1280, 500, ipv6=True) == 1232
    assert max_message_size(1280, 4500, ipv6=True) == 1228  # the non-ESP marker
