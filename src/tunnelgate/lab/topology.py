"""The lab's address plan, as data: two sites joined by an "internet", optionally through a NAT.

Only documentation ranges (192.0.2.0/24, 198.51.100.0/24) stand for the internet; the sites and
the NAT's inside use 10.x, and the sites also have IPv6 networks of the documentation prefix
(2001:db8:1::/64, 2001:db8:2::/64) for IPv6 carried through the IPv4 tunnel (D113); without the
NAT the internet carries IPv6 too (2001:db8:ff:a::/64, 2001:db8:ff:b::/64), for tunnels between
the gateways over IPv6. Every table below is read by :mod:`tunnelgate.lab.command`; nothing else
knows the addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST_A, GW_A, INET, GW_B, HOST_B, NAT = "host-a", "gw-a", "inet", "gw-b", "host-b", "nat"
ALL_NODES: tuple[str, ...] = (HOST_A, GW_A, INET, GW_B, HOST_B, NAT)
GATEWAYS: tuple[str, ...] = (GW_A, GW_B)

GW_A_PUBLIC = "192.0.2.1"
GW_B_PUBLIC = "198.51.100.2"
GW_B_BEHIND_NAT = "10.99.0.2"


@dataclass(frozen=True)
class Link:
    """A veth pair: interface ``a_if`` in node ``a`` <-> interface ``b_if`` in node ``b``."""

    a: str
    a_if: str
    b: str
    b_if: str


@dataclass(frozen=True)
class Address:
    """An address (CIDR notation) on an interface of a node."""

    node: str
    ifname: str
    cidr: str


@dataclass(frozen=True)
class Plan:
    """Everything ``lab up`` creates, in creation order."""

    nat: bool
    nodes: tuple[str, ...]
    links: tuple[Link, ...]
    addresses: tuple[Address, ...]
    default_routes: tuple[tuple[str, str], ...]  # (node, next hop), IPv4 or IPv6
    forwarding: tuple[str, ...]  # nodes that forward (IPv4; the gateways IPv6 too)
    rp_filter_off: tuple[str, ...]  # nodes with rp_filter disabled
    nft: tuple[tuple[str, str], ...]  # (node, nft ruleset)
    configs: tuple[tuple[str, str], ...]  # (gateway, file name in examples/lab)


_COMMON_LINKS = (
    Link(HOST_A, "eth0", GW_A, "eth1"),
    Link(GW_A, "eth0", INET, "eth0"),
    Link(GW_B, "eth1", HOST_B, "eth0"),
)
HOST_A_V6, HOST_B_V6 = "2001:db8:1::10", "2001:db8:2::10"
GW_A_PUBLIC_V6, GW_B_PUBLIC_V6 = "2001:db8:ff:a::1", "2001:db8:ff:b::2"  # IPv6 "internet"
_COMMON_ADDRESSES = (
    Address(HOST_A, "eth0", "10.1.0.10/24"),
    Address(GW_A, "eth1", "10.1.0.1/24"),
    Address(GW_A, "eth0", f"{GW_A_PUBLIC}/24"),
    Address(INET, "eth0", "192.0.2.254/24"),
    Address(INET, "eth1", "198.51.100.254/24"),
    Address(GW_B, "eth1", "10.2.0.1/24"),
    Address(HOST_B, "eth0", "10.2.0.10/24"),
    Address(HOST_A, "eth0", f"{HOST_A_V6}/64"),
    Address(GW_A, "eth1", "2001:db8:1::1/64"),
    Address(GW_B, "eth1", "2001:db8:2::1/64"),
    Address(HOST_B, "eth0", f"{HOST_B_V6}/64"),
    Address(GW_A, "eth0", f"{GW_A_PUBLIC_V6}/64"),
    Address(INET, "eth0", "2001:db8:ff:a::fe/64"),
    Address(INET, "eth1", "2001:db8:ff:b::fe/64"),
)
_COMMON_ROUTES = (
    (HOST_A, "10.1.0.1"),
    (GW_A, "192.0.2.254"),
    (HOST_B, "10.2.0.1"),
    (HOST_A, "2001:db8:1::1"),
    (HOST_B, "2001:db8:2::1"),
    (GW_A, "2001:db8:ff:a::fe"),
)

# The NAT: masquerade what leaves the public side from the inside, and forward IKE/NAT-T arriving
# on the public address to gw-b so that gw-a can initiate to 198.51.100.2.
NAT_RULESET = f"""\
table ip lab {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "eth1" ip daddr {GW_B_PUBLIC} udp dport {{ 500, 4500 }} dnat to {GW_B_BEHIND_NAT}
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth1" ip saddr 10.99.0.0/24 masquerade
  }}
}}
"""

DIRECT = Plan(
    nat=False,
    nodes=(HOST_A, GW_A, INET, GW_B, HOST_B),
    links=(*_COMMON_LINKS, Link(INET, "eth1", GW_B, "eth0")),
    addresses=(
        *_COMMON_ADDRESSES,
        Address(GW_B, "eth0", f"{GW_B_PUBLIC}/24"),
        Address(GW_B, "eth0", f"{GW_B_PUBLIC_V6}/64"),
    ),
    default_routes=(*_COMMON_ROUTES, (GW_B, "198.51.100.254"), (GW_B, "2001:db8:ff:b::fe")),
    forwarding=(GW_A, INET, GW_B),
    rp_filter_off=(GW_A, GW_B),
    nft=(),
    configs=((GW_A, "gw-a.cfg"), (GW_B, "gw-b.cfg")),
)

BEHIND_NAT = Plan(
    nat=True,
    nodes=(HOST_A, GW_A, INET, NAT, GW_B, HOST_B),
    links=(*_COMMON_LINKS, Link(INET, "eth1", NAT, "eth1"), Link(NAT, "eth0", GW_B, "eth0")),
    addresses=(
        *_COMMON_ADDRESSES,
        Address(NAT, "eth1", f"{GW_B_PUBLIC}/24"),
        Address(NAT, "eth0", "10.99.0.1/24"),
        Address(GW_B, "eth0", f"{GW_B_BEHIND_NAT}/24"),
    ),
    default_routes=(*_COMMON_ROUTES, (NAT, "198.51.100.254"), (GW_B, "10.99.0.1")),
    forwarding=(GW_A, INET, NAT, GW_B),
    rp_filter_off=(GW_A, GW_B),
    nft=((NAT, NAT_RULESET),),
    configs=((GW_A, "gw-a.cfg"), (GW_B, "gw-b-nat.cfg")),
)


def plan(nat: bool) -> Plan:
    """The plan of a lab with or without the NAT in front of gw-b."""
    return BEHIND_NAT if nat else DIRECT


def interfaces(p: Plan, node: str) -> tuple[str, ...]:
    """The interface names of ``node`` in plan ``p``."""
    names = [lk.a_if for lk in p.links if lk.a == node] + [
        lk.b_if for lk in p.links if lk.b == node
    ]
    return tuple(sorted(names))
