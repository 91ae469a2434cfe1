"""The local addresses an IKE engine serves (D115): the IPv4 address of its interface and,
when configured, its IPv6 address ("IPv6 outer": IKE and ESP between IPv6 gateway addresses).

Addresses travel as text, as the engines' peers do: a dotted quad, or RFC 5952 IPv6 text
(``ipaddress.IPv6Address(x).compressed``). An engine's SA uses one of them for its life
(``IkeSa.local_address``, ``Phase1Sa.local_address``): the one of the peer's family when we
initiate, the one the first datagram arrived on when we answer. Everything the RFCs compute
over "our address" uses that one: NAT detection hashes (RFC 7296 §2.23, RFC 3947 §3.2: the
address as on the wire, 4 or 16 octets), the identity when it is the address
(ID_IPV4_ADDR / ID_IPV6_ADDR, type 1 / 5 in both RFC 7296 §3.5 and RFC 2407 §4.6.2.1),
IKEv1 quick-mode host selectors, and the fragmentation MTU (576 for IPv4, 1280 for IPv6).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from tunnelgate.policy.address import address_text, ipv4_text
from tunnelgate.policy.gateway import GatewayPolicy

Address = tuple[str, int]

IPV4_UDP_OVERHEAD = 20 + 8  # IPv4 header + UDP header
IPV6_UDP_OVERHEAD = 40 + 8  # IPv6 header + UDP header
IPV4_MIN_MTU = 576  # RFC 791: every IPv4 host accepts datagrams of 576 octets
IPV6_MIN_MTU = 1280  # RFC 8200 §5: every IPv6 link carries 1280 octets


def is_ipv6_text(address: str) -> bool:
    """Whether address text is IPv6 (only IPv6 text has colons)."""
    return ":" in address


def default_mtu(address: str) -> int:
    """The fragmentation MTU when none is configured: 576 for IPv4, 1280 for IPv6."""
    return IPV6_MIN_MTU if ":" in address else IPV4_MIN_MTU


def ip_udp_overhead(address: str) -> int:
    """The IP and UDP header octets in front of an IKE message to or from ``address``."""
    return IPV6_UDP_OVERHEAD if ":" in address else IPV4_UDP_OVERHEAD


@functools.lru_cache(maxsize=4096)
def canonical(address: str) -> str:
    """An IP address as the engines keep it: a dotted quad, or RFC 5952 IPv6 text;
    ``ValueError`` for anything else."""
    return str(ipaddress.ip_address(address))


def canonical_peer(addr: Address) -> Address:
    """``addr`` with RFC 5952 IPv6 text (IPv4 text is taken as it is: no cost per datagram)."""
    if ":" not in addr[0]:
        return addr
    text = canonical(addr[0])
    return addr if text == addr[0] else (text, addr[1])


def interface_addresses(gateway: GatewayPolicy, interface: str) -> tuple[str, ...]:
    """The addresses of ``interface`` as text: its IPv4 address, then its IPv6 global
    address (``ipv6 address``: ``InterfaceAddress.address6``, ``IPV6_BASE | value``, D114)."""
    iface = gateway.interfaces[interface]
    out: list[str] = []
    if iface.address is not None:
        out.append(ipv4_text(iface.address))
    if iface.address6 is not None:
        out.append(address_text(iface.address6))
    return tuple(out)


class LocalAddresses:
    """The addresses an engine serves, each with the engine's port; ``primary`` is the first
    IPv4 one (the first of any family when there is no IPv4 address)."""

    __slots__ = ("_by_ip", "_v4", "_v6", "all", "primary")

    def __init__(self, addresses: Iterable[str], port: int) -> None:
        seen: dict[str, Address] = {}
        for text in addresses:
            try:
                ip = canonical(text)
            except ValueError:
                raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from None
            seen.setdefault(ip, (ip, port))
        if not seen:
            raise ValueError("no local address")
        self.all: tuple[Address, ...] = tuple(seen.values())
        self._by_ip = seen
        self._v4 = next((a for a in self.all if ":" not in a[0]), None)
        self._v6 = next((a for a in self.all if ":" in a[0]), None)
        self.primary: Address = self._v4 or self.all[0]

    def of_family(self, peer_ip: str) -> Address | None:
        """Our (first) address of the family of ``peer_ip``; None when we have none."""
        return self._v6 if ":" in peer_ip else self._v4

    def for_peer(self, peer_ip: str) -> Address:
        """The address an SA we initiate towards ``peer_ip`` uses (``ValueError``: none)."""
        local = self.of_family(peer_ip)
        if local is None:
            family = "IPv6" if ":" in peer_ip else "IPv4"
            raise ValueError(f"no local {family} address for peer {peer_ip}")
        return local

    def arrival(self, local: Address | str | None, peer_ip: str) -> Address | None:
        """The address a datagram from ``peer_ip`` arrived on: ``local`` (its IP is what
        counts; the port may be 500 or 4500) when it is ours and of the peer's family; our
        address of the peer's family when the caller did not say. None: not one of ours."""
        if local is None:
            return self.of_family(peer_ip)
        ip = local if isinstance(local, str) else local[0]
        found = self._by_ip.get(ip)
        if found is None and ":" in ip:
            try:
                found = self._by_ip.get(canonical(ip))
            except ValueError:
                return None
        if found is None or (":" in found[0]) != (":" in peer_ip):
            return None
        return found


__all__ = [
    "IPV4_MIN_MTU",
    "IPV4_UDP_OVERHEAD",
    "IPV6_MIN_MTU",
    "IPV6_UDP_OVERHEAD",
    "LocalAddresses",
    "canonical",
    "canonical_peer",
    "default_mtu",
    "interface_addresses",
    "ip_udp_overhead",
    "is_ipv6_text",
]
