"""IPv6 between the gateways (D114): interface IPv6 addresses and ``ipv6 route`` compiled
into the policy, the IPv6 route lookup, the local address of a tunnel, IPv6 peers and the
tunnel groups named by them.

Addresses are address integers (IPv6: ``IPV6_BASE | value``), built from text with
``ipv6_int`` as the daemon builds them from sockets.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.address import IPV6_BASE, address_bytes, address_text, ipv4_int, ipv6_int
from tunnelgate.policy.gateway import GatewayPolicy, InterfaceAddress, StaticRoute, StaticRoute6
from tunnelgate.policy.tunnel_group_lookup import (
    BY_DEFAULT_L2L,
    BY_IKE_ID,
    BY_PEER_ADDRESS,
    PSK,
    TunnelGroupMatch,
    find_tunnel_group,
)

SITE = """\
interface GigabitEthernet0/0
 nameif outside
 ip address 203.0.113.1 255.255.255.0
 ipv6 address 2001:db8:1::1/64
interface GigabitEthernet0/1
 nameif inside
 ip address 10.0.0.1 255.255.255.0
 ipv6 address 2001:db8:a::1/48
 ipv6 enable
interface GigabitEthernet0/2
 nameif dmz
 ipv6 enable
interface GigabitEthernet0/3
 nameif spare
 shutdown
 ipv6 address 2001:db8:5::1/64
route outside 0.0.0.0 0.0.0.0 203.0.113.254
ipv6 route outside ::/0 2001:db8:1::fe
ipv6 route inside 2001:db8:b::/48 2001:db8:a::fe 10
ipv6 route dmz 2001:db8:b::/48 fe80::9 5
ipv6 route inside 2001:db8:b:1::/64 2001:db8:a::fd
crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-256
 protocol esp integrity sha-256
access-list VPN extended permit ip 2001:db8:a::/48 2001:db8:20::/48
crypto map M 10 match address VPN
crypto map M 10 set peer 2001:db8:2::1 198.51.100.2
crypto map M 10 set ikev2 ipsec-proposal P
crypto map M interface outside
tunnel-group 2001:db8:2::1 type ipsec-l2l
tunnel-group 2001:db8:2::1 ipsec-attributes
 ikev1 pre-shared-key v1-by-ipv6
 ikev2 remote-authentication pre-shared-key v2-by-ipv6
 ikev2 local-authentication pre-shared-key local
tunnel-group 198.51.100.2 type ipsec-l2l
tunnel-group 198.51.100.2 ipsec-attributes
 ikev1 pre-shared-key v1-by-ipv4
"""


def policy(text: str = SITE) -> GatewayPolicy:
    return compile_config(load(text))


def v6(text: str) -> int:
    return ipv6_int(text)


# --------------------------------------------------------------------------- compile


def test_interfaces_compile_with_their_ipv6_address_and_prefix() -> None:
    p = policy()
    assert p.interfaces == {
        "outside": InterfaceAddress(
            "outside", ipv4_int("203.0.113.1"), ipv4_int("255.255.255.0"), v6("2001:db8:1::1"), 64
        ),
        "inside": InterfaceAddress(
            "inside", ipv4_int("10.0.0.1"), ipv4_int("255.255.255.0"), v6("2001:db8:a::1"), 48
        ),
        # ``ipv6 enable`` alone: a link-local address, which is no tunnel endpoint
        "dmz": InterfaceAddress("dmz", None, None, None, None),
    }  # a shut-down interface is left out, as for IPv4
    assert p.interfaces["outside"].address6 == IPV6_BASE | int(
        ipaddress.IPv6Address("2001:db8:1::1")
    )


def test_ipv6_routes_compile_and_ipv4_routes_stay_as_they_were() -> None:
    p = policy()
    assert p.routes == (StaticRoute("outside", 0, 0, ipv4_int("203.0.113.254"), 1),)
    assert p.ipv6_routes == (
        StaticRoute6("outside", v6("::"), 0, v6("2001:db8:1::fe"), 1),
        StaticRoute6("inside", v6("2001:db8:b::"), 48, v6("2001:db8:a::fe"), 10),
        StaticRoute6("dmz", v6("2001:db8:b::"), 48, v6("fe80::9"), 5),
        StaticRoute6("inside", v6("2001:db8:b:1::"), 64, v6("2001:db8:a::fd"), 1),
    )


def test_a_configuration_without_ipv6_compiles_as_before() -> None:
    p = policy(
        "interface eth0\n nameif outside\n ip address 203.0.113.1 255.255.255.0\n"
        "route outside 0.0.0.0 0.0.0.0 203.0.113.254\n"
    )
    assert p.interfaces["outside"] == InterfaceAddress(
        "outside", ipv4_int("203.0.113.1"), ipv4_int("255.255.255.0")
    )
    assert p.ipv6_routes == ()


# --------------------------------------------------------------------------- route lookup


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        # connected networks beat the default route; a /64 connected beats nothing longer
        ("2001:db8:1::77", ("outside", None)),
        ("2001:db8:a:ffff::1", ("inside", None)),
        # the default route
        ("2001:db8:99::1", ("outside", "2001:db8:1::fe")),
        ("2001:db8:20::9", ("outside", "2001:db8:1::fe")),
        # two /48 routes: the lower distance (dmz, 5) wins over inside (10)
        ("2001:db8:b:2::1", ("dmz", "fe80::9")),
        # the longest prefix (/64) wins over a /48 of lower distance
        ("2001:db8:b:1::1", ("inside", "2001:db8:a::fd")),
        # the shut-down interface's network is not connected: the default route takes it
        ("2001:db8:5::9", ("outside", "2001:db8:1::fe")),
    ],
)
def test_ipv6_egress_by_connected_networks_and_routes(
    destination: str, expected: tuple[str, str | None]
) -> None:
    nameif, hop = expected
    assert policy().egress_interface(v6(destination)) == (
        nameif,
        v6(hop) if hop is not None else None,
    )


def test_a_connected_network_beats_a_route_of_the_same_length() -> None:
    p = policy(SITE + "ipv6 route dmz 2001:db8:1::/64 fe80::7 1\n")
    assert p.egress_interface(v6("2001:db8:1::5")) == ("outside", None)


def test_equal_routes_keep_the_configuration_order() -> None:
    p = policy(
        "interface eth0\n nameif a\n ipv6 address 2001:db8:1::1/64\n"
        "interface eth1\n nameif b\n ipv6 address 2001:db8:2::1/64\n"
        "ipv6 route b 2001:db8:9::/48 2001:db8:2::fe 3\n"
        "ipv6 route a 2001:db8:9::/48 2001:db8:1::fe 3\n"
    )
    assert p.egress_interface(v6("2001:db8:9::1")) == ("b", v6("2001:db8:2::fe"))


def test_without_a_matching_ipv6_route_the_crypto_acl_routes_it() -> None:
    """No ``ipv6 route ::/0``: an IPv6 destination that no connected network or route
    covers leaves by the crypto map that protects it (D113), else by nothing."""
    p = policy(SITE.replace("ipv6 route outside ::/0 2001:db8:1::fe\n", ""))
    assert p.egress_interface(v6("2001:db8:20::9")) == ("outside", None)
    assert p.egress_interface(v6("2001:db8:99::1")) is None
    assert p.egress_interface(v6("2001:db8:1::9")) == ("outside", None)  # connected


def test_ipv4_lookups_are_unchanged_and_never_take_an_ipv6_route() -> None:
    p = policy()
    assert p.egress_interface(ipv4_int("10.0.0.9")) == ("inside", None)
    assert p.egress_interface(ipv4_int("192.0.2.9")) == ("outside", ipv4_int("203.0.113.254"))
    only_v6 = policy(
        "interface eth0\n nameif outside\n ipv6 address 2001:db8:1::1/64\n"
        "ipv6 route outside ::/0 2001:db8:1::fe\n"
    )
    assert only_v6.egress_interface(ipv4_int("192.0.2.9")) is None
    # the low bits of an IPv6 address are no IPv4 address
    assert only_v6.egress_interface(ipv4_int("0.0.0.1")) is None


_SETS = st.lists(
    st.tuples(st.integers(0, 2**16 - 1), st.integers(0, 24), st.integers(1, 4)),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(_SETS, _SETS, st.integers(0, 2**16 - 1))
def test_the_ipv6_lookup_agrees_with_a_reference(
    connected: list[tuple[int, int, int]], routes: list[tuple[int, int, int]], target: int
) -> None:
    """Longest prefix, then connected, then distance, then order — against ipaddress.

    Networks live in 2001:db8::/32 with the 16 bits after it drawn, so that they overlap."""

    def address(bits: int) -> ipaddress.IPv6Address:
        return ipaddress.IPv6Address((0x20010DB8 << 96) | (bits << 80) | 1)

    interfaces = {
        f"if{i}": InterfaceAddress(f"if{i}", None, None, IPV6_BASE | int(address(b)), 32 + n)
        for i, (b, n, _d) in enumerate(connected)
    }
    statics = tuple(
        StaticRoute6(
            f"r{i}",
            IPV6_BASE | int(ipaddress.IPv6Network(f"{address(b)}/{32 + n}", strict=False)[0]),
            32 + n,
            IPV6_BASE | (i + 1),
            d,
        )
        for i, (b, n, d) in enumerate(routes)
    )
    gateway = GatewayPolicy("gw", interfaces=interfaces, ipv6_routes=statics)
    destination = address(target)
    candidates = [
        (iface.prefix6, 0, -i, (iface.nameif, None))
        for i, iface in enumerate(interfaces.values())
        if destination
        in ipaddress.IPv6Network(
            f"{address_text(iface.address6 or 0)}/{iface.prefix6}", strict=False
        )
    ] + [
        (r.length, -r.distance, -i, (r.interface, r.gateway))
        for i, r in enumerate(statics)
        if destination in ipaddress.IPv6Network(f"{address_text(r.network)}/{r.length}")
    ]
    expected = max(candidates)[3] if candidates else None
    assert gateway.egress_interface(IPV6_BASE | int(destination)) == expected


# --------------------------------------------------------------------------- local addresses


def test_interface_for_finds_ipv4_and_ipv6_addresses() -> None:
    p = policy()
    assert p.interface_for(v6("2001:db8:1::1")) == "outside"
    assert p.interface_for(v6("2001:db8:a::1")) == "inside"
    assert p.interface_for(ipv4_int("203.0.113.1")) == "outside"
    assert p.interface_for(v6("2001:db8:1::2")) is None
    assert p.interface_for(v6("2001:db8:5::1")) is None  # shut down
    assert p.interface_for(v6("::cb00:7101")) is None  # 203.0.113.1's bits, but IPv6


def test_local_address_by_family() -> None:
    p = policy()
    assert p.local_address("outside", 4) == ipv4_int("203.0.113.1")
    assert p.local_address("outside", 6) == v6("2001:db8:1::1")
    assert p.local_address("dmz", 6) is None
    assert p.local_address("dmz", 4) is None
    assert p.local_address("nowhere", 6) is None
    assert p.local_address("spare", 6) is None  # shut down
    with pytest.raises(ValueError, match="family is 4 or 6"):
        p.local_address("outside", 5)


def test_local_address_towards_a_peer_takes_the_peers_family() -> None:
    p = policy()
    peers = p.crypto_maps["outside"].entries[0].peers
    assert peers == ("2001:db8:2::1", "198.51.100.2")
    local = [p.local_address_towards("outside", ipv6_int(peers[0]))]
    local.append(p.local_address_towards("outside", ipv4_int(peers[1])))
    assert [address_text(a) for a in local if a is not None] == ["2001:db8:1::1", "203.0.113.1"]


# --------------------------------------------------------------------------- tunnel groups


def _found(match: object) -> tuple[str, str]:
    assert isinstance(match, TunnelGroupMatch), match
    return match.group.name, match.how


@pytest.mark.parametrize(
    "spelling",
    [
        "2001:db8:2::1",
        # the daemon's form: RFC 5952 text of the socket's address
        ipaddress.IPv6Address(address_bytes(ipv6_int("2001:db8:2::1"))).compressed,
        "2001:0db8:0002:0000:0000:0000:0000:0001",
        "2001:DB8:2::1",
    ],
)
def test_a_tunnel_group_is_found_by_an_ipv6_peer_address(spelling: str) -> None:
    p = policy()
    main_mode = find_tunnel_group(p, peer_address=spelling, version=1, auth=PSK)
    assert _found(main_mode) == ("2001:db8:2::1", BY_PEER_ADDRESS)
    ikev2 = find_tunnel_group(p, peer_address=spelling, version=2, auth=PSK, ike_id=None)
    assert _found(ikev2) == ("2001:db8:2::1", BY_PEER_ADDRESS)
    assert isinstance(main_mode, TunnelGroupMatch)
    assert main_mode.group.ikev1_psk is not None
    assert main_mode.group.ikev1_psk.value == b"v1-by-ipv6"


def test_an_ipv6_ike_identity_names_its_group() -> None:
    p = policy()
    match = find_tunnel_group(
        p, peer_address="2001:db8:99::1", version=2, auth=PSK, ike_id="2001:DB8:2:0::1"
    )
    assert _found(match) == ("2001:db8:2::1", BY_IKE_ID)


def test_an_unknown_ipv6_peer_falls_to_the_default_group() -> None:
    p = policy(SITE + "tunnel-group DefaultL2LGroup ipsec-attributes\n ikev1 pre-shared-key d\n")
    match = find_tunnel_group(p, peer_address="2001:db8:2::2", version=1, auth=PSK)
    assert _found(match) == ("DefaultL2LGroup", BY_DEFAULT_L2L)
    v4 = find_tunnel_group(p, peer_address="198.51.100.2", version=1, auth=PSK)
    assert _found(v4) == ("198.51.100.2", BY_PEER_ADDRESS)
