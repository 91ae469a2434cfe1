"""IPv6 protected traffic over the IPv4 IKEv1 pair (D113): quick mode with IPv6 proxy
identities (RFC 2407 §4.6.2.1: ID_IPV6_ADDR 5, ID_IPV6_ADDR_SUBNET 6, ID_IPV6_ADDR_RANGE 8).

Same timeline as ``test_ikev1_quick_mode.py``; QM1 carries IDci = ID_IPV6_ADDR_SUBNET
2001:db8:1::/64 and IDcr = ID_IPV6_ADDR_SUBNET 2001:db8:2::/64.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocol.test_ikev1_quick_mode import (
    assert_same_child,
    children,
    events,
    initiate,
    setup,
)
from tunnelgate.ike.v1.constants import IdType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.events import ChildSaFailed
from tunnelgate.ike.v1.payloads import IdPayload
from tunnelgate.ike.v1.proxy_id import host_selector, id_of, proxy_ids, responder_selector
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.address import IPV6_BASE, IPV6_ONES, ipv4_int, ipv6_int
from tunnelgate.policy.selector import ALL_PORTS, Range, Selector


def acl(*aces: str) -> dict[str, str]:
    return {"acl": "".join(f"access-list VPN extended permit {ace}\n" for ace in aces)}


def v6(network: str) -> Range:
    net = ipaddress.IPv6Network(network)
    return Range(IPV6_BASE | int(net.network_address), IPV6_BASE | int(net.broadcast_address))


def test_quick_mode_with_ipv6_proxy_identities() -> None:
    network, hq, branch = setup(
        hq=acl("ip 2001:db8:1::/64 2001:db8:2::/64"),
        branch=acl("ip 2001:db8:2::/64 2001:db8:1::/64"),
    )
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = children(hq), children(branch)
    assert_same_child(h, b)
    assert h.selector == Selector(0, v6("2001:db8:1::/64"), v6("2001:db8:2::/64"))
    assert h.selector.describe() == "ip 2001:db8:1::/64 2001:db8:2::/64"


def test_a_dual_stack_acl_gets_one_quick_mode_per_family() -> None:
    network, hq, branch = setup(
        hq=acl(
            "ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0",
            "tcp host 2001:db8:1::5 host 2001:db8:2::9 eq 443",
        ),
        branch=acl(
            "ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0",
            "tcp host 2001:db8:2::9 eq 443 host 2001:db8:1::5",
        ),
    )
    sa = initiate(network, hq)
    network.run(max_seconds=5)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.create_child(sa, entry, entry.acl.permits[1], network.clock.now)
    network.run(max_seconds=5)
    (first_h, second_h), (first_b, second_b) = children(hq), children(branch)
    assert_same_child(first_h, first_b)
    assert_same_child(second_h, second_b)
    assert first_h.selector.describe() == "ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0"
    assert second_h.selector.describe() == "6 host 2001:db8:1::5 host 2001:db8:2::9 eq 443"


def test_ipv6_identities_outside_the_responders_acl_are_invalid_id_information() -> None:
    network, hq, branch = setup(
        hq=acl("ip 2001:db8:1::/64 2001:db8:2::/64"),
        branch=acl("ip 2001:db8:2::/64 2001:db8:9::/64"),
    )
    initiate(network, hq)
    network.run(max_seconds=5)
    (refused,) = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
    assert refused.notify == "INVALID_ID_INFORMATION"


def test_identities_of_two_families_are_invalid_id_information() -> None:
    network, hq, branch = setup(
        hq=acl("ip 2001:db8:1::/64 2001:db8:2::/64"),
        branch=acl("ip 2001:db8:2::/64 2001:db8:1::/64"),
    )
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    mixed = Selector(
        0, Range(ipv4_int("10.1.0.0"), ipv4_int("10.1.255.255")), v6("2001:db8:2::/64")
    )
    hq.initiate(entry, Rule("permit", (mixed,), "VPN", 1, "(mixed by hand)"), network.clock.now)
    network.run(max_seconds=5)
    (refused,) = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
    assert refused.notify == "INVALID_ID_INFORMATION"
    assert "two address families" in refused.reason


# --------------------------------------------------------------------------- the identities


def test_ipv6_ranges_take_the_three_ipv6_id_types() -> None:
    host = Range(ipv6_int("2001:db8::1"), ipv6_int("2001:db8::1"))
    subnet = v6("2001:db8:1::/64")
    span = Range(ipv6_int("2001:db8::1"), ipv6_int("2001:db8::ff"))
    assert id_of(host, ALL_PORTS, 0) == IdPayload(
        IdType.ID_IPV6_ADDR, ipaddress.IPv6Address("2001:db8::1").packed, 0, 0
    )
    mask = ipaddress.IPv6Network("2001:db8:1::/64").netmask.packed
    assert id_of(subnet, ALL_PORTS, 0) == IdPayload(
        IdType.ID_IPV6_ADDR_SUBNET, ipaddress.IPv6Address("2001:db8:1::").packed + mask, 0, 0
    )
    assert id_of(span, Range(443, 443), 6) == IdPayload(
        IdType.ID_IPV6_ADDR_RANGE,
        ipaddress.IPv6Address("2001:db8::1").packed + ipaddress.IPv6Address("2001:db8::ff").packed,
        6,
        443,
    )
    assert [int(t) for t in (IdType.ID_IPV6_ADDR, IdType.ID_IPV6_ADDR_SUBNET)] == [5, 6]
    assert int(IdType.ID_IPV6_ADDR_RANGE) == 8


ipv6_ranges = st.tuples(st.integers(0, IPV6_ONES), st.integers(0, IPV6_ONES)).map(
    lambda ab: Range(IPV6_BASE | min(ab), IPV6_BASE | max(ab))
)
ipv6_prefixes = st.tuples(st.integers(0, IPV6_ONES), st.integers(0, 128)).map(
    lambda al: v6(str(ipaddress.IPv6Network((al[0], al[1]), strict=False)))
)


@given(st.one_of(ipv6_ranges, ipv6_prefixes), st.one_of(ipv6_ranges, ipv6_prefixes))
def test_ipv6_proxy_identities_round_trip(local: Range, remote: Range) -> None:
    selector = Selector(17, local, remote, Range(500, 500), ALL_PORTS)
    idci, idcr = proxy_ids(selector)
    assert responder_selector(idci, idcr) == selector.mirrored()


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        (IdPayload(IdType.ID_IPV6_ADDR, bytes(4), 0, 0), "type 5 of 4 octets"),
        (IdPayload(IdType.ID_IPV6_ADDR_SUBNET, bytes(16), 0, 0), "type 6 of 16 octets"),
        (IdPayload(IdType.ID_IPV6_ADDR_SUBNET, bytes(16) + b"\x0f" * 16, 0, 0), "not contiguous"),
        (IdPayload(IdType.ID_IPV6_ADDR_RANGE, b"\x01" * 16 + bytes(16), 0, 0), "type 8 of 32"),
        (IdPayload(IdType.ID_IPV4_ADDR, bytes(16), 0, 0), "type 1 of 16 octets"),
    ],
)
def test_malformed_ipv6_identities_are_invalid_id_information(
    identity: IdPayload, reason: str
) -> None:
    with pytest.raises(Phase1Error, match=reason):
        responder_selector(identity, identity)


def test_subnet_identities_ignore_host_bits_of_the_address() -> None:
    data = ipaddress.IPv6Address("2001:db8:1::77").packed
    mask = ipaddress.IPv6Network("::/64").netmask.packed
    identity = IdPayload(IdType.ID_IPV6_ADDR_SUBNET, data + mask, 0, 0)
    assert responder_selector(identity, identity).source == v6("2001:db8:1::/64")


def test_no_identities_mean_the_two_ike_addresses() -> None:
    assert host_selector("203.0.113.1", "198.51.100.2").describe() == (
        "ip host 203.0.113.1 host 198.51.100.2"
    )
