"""Everything one gateway's configuration decides, compiled: the input of every policy query."""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.pki.credentials import NO_CREDENTIALS, Credentials
from tunnelgate.policy.acl import Acl
from tunnelgate.policy.address import is_ipv6, network_range
from tunnelgate.policy.crypto_map import CryptoMapSet
from tunnelgate.policy.ike import Ikev1Policy, Ikev2Policy, TunnelGroup, TunnelGroupMap

DEFAULT_L2L_GROUP = "DefaultL2LGroup"


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    """An interface's addresses: IPv4 ``address``/``mask`` (32-bit integers) and the IPv6
    global address (D114): ``address6`` an address integer (``IPV6_BASE | value``) and
    ``prefix6`` its prefix length."""

    nameif: str
    address: int | None
    mask: int | None
    address6: int | None = None
    prefix6: int | None = None

    def address_of(self, family: int) -> int | None:
        """The interface's address integer of IP version ``family`` (4 or 6), or None."""
        if family == 4:
            return self.address
        if family == 6:
            return self.address6
        raise ValueError(f"family is 4 or 6, not {family!r}")


@dataclass(frozen=True, slots=True)
class StaticRoute:
    interface: str
    network: int
    mask: int
    gateway: int
    distance: int = 1


@dataclass(frozen=True, slots=True)
class StaticRoute6:
    """``ipv6 route``: ``network`` and ``gateway`` are address integers (``IPV6_BASE |
    value``), ``length`` the prefix length (D114)."""

    interface: str
    network: int
    length: int
    gateway: int
    distance: int = 1

    def covers(self, destination: int) -> bool:
        low, high = network_range(self.network, self.length)
        return low <= destination <= high


@dataclass(frozen=True, slots=True)
class GatewayPolicy:
    """A compiled configuration. ``crypto_maps`` is keyed by interface nameif."""

    hostname: str
    domain_name: str | None = None
    interfaces: dict[str, InterfaceAddress] = field(default_factory=dict)
    routes: tuple[StaticRoute, ...] = ()
    ipv6_routes: tuple[StaticRoute6, ...] = ()
    crypto_maps: dict[str, CryptoMapSet] = field(default_factory=dict)
    unbound_maps: dict[str, CryptoMapSet] = field(default_factory=dict)  # not on an interface
    ikev1_policies: tuple[Ikev1Policy, ...] = ()
    ikev2_policies: tuple[Ikev2Policy, ...] = ()
    ikev1_enabled: frozenset[str] = frozenset()
    ikev2_enabled: frozenset[str] = frozenset()
    ikev1_aggressive_mode: bool = True
    identity: str = "auto"
    identity_key_id: str | None = None
    nat_traversal: bool = True
    ikev2_fragmentation: bool = True
    ikev2_notify_invalid_selectors: bool = False
    ikev2_fragmentation_mtu: int | None = None  # None: 576 (IPv4)
    tunnel_groups: dict[str, TunnelGroup] = field(default_factory=dict)
    tunnel_group_map: TunnelGroupMap | None = None
    ipsec_lifetime_seconds: int = 28800
    ipsec_lifetime_kilobytes: int | None = 4608000
    nat_keepalive_seconds: int = 20
    # data path (issue 5)
    permit_vpn: bool = True  # sysopt connection permit-vpn: decrypted traffic skips ACLs
    access_groups_in: dict[str, Acl] = field(default_factory=dict)  # nameif -> inbound ACL
    fragmentation: str = "before-encryption"  # crypto ipsec fragmentation (default)
    fragmentation_interfaces: dict[str, str] = field(default_factory=dict)
    pmtu_aging_minutes: int | None = None  # None: infinite
    inner_routing_lookup: bool = False
    # certificates and keys (issue 9): built from the trustpoints and the key store
    credentials: Credentials = NO_CREDENTIALS

    def fragmentation_for(self, nameif: str) -> str:
        """``before-encryption`` or ``after-encryption`` on interface ``nameif``."""
        return self.fragmentation_interfaces.get(nameif, self.fragmentation)

    def interface_for(self, address: int) -> str | None:
        """The nameif whose own address (IPv4, or IPv6 global) is ``address``."""
        for iface in self.interfaces.values():
            if address in (iface.address, iface.address6):
                return iface.nameif
        return None

    def local_address(self, nameif: str, family: int) -> int | None:
        """Interface ``nameif``'s own address integer of IP version ``family`` (4 or 6): the
        local end of a tunnel over that interface (D114); None when the interface is not
        known (or shut down) or has no address of that family."""
        iface = self.interfaces.get(nameif)
        return iface.address_of(family) if iface is not None else None

    def local_address_towards(self, nameif: str, peer: int) -> int | None:
        """Interface ``nameif``'s own address of the family of address integer ``peer``."""
        return self.local_address(nameif, 6 if is_ipv6(peer) else 4)

    def egress_interface(self, destination: int) -> tuple[str, int | None] | None:
        """Route lookup: (nameif, next hop; None when connected). Longest prefix wins, then
        connected networks, then the lowest distance (then configuration order). An IPv6
        destination is looked up in the interfaces' IPv6 networks and the ``ipv6 route``s
        (D114) only, never in IPv4 routes (a default route's mask of 0 would otherwise match
        it); when none covers it, it leaves by the first interface (in configuration order)
        whose crypto map set has a permit ACE towards it (D113)."""
        if is_ipv6(destination):
            return self._ipv6_route(destination) or self._ipv6_egress(destination)
        candidates: list[tuple[int, int, str, int | None]] = []
        for iface in self.interfaces.values():
            if (
                iface.address is not None
                and iface.mask is not None
                and destination & iface.mask == iface.address & iface.mask
            ):
                candidates.append((iface.mask.bit_count(), 0, iface.nameif, None))
        for route in self.routes:
            if destination & route.mask == route.network & route.mask:
                candidates.append(
                    (route.mask.bit_count(), -route.distance, route.interface, route.gateway)
                )
        if not candidates:
            return None
        best = max(candidates, key=lambda c: (c[0], c[1]))
        return best[2], best[3]

    def _ipv6_route(self, destination: int) -> tuple[str, int | None] | None:
        candidates: list[tuple[int, int, str, int | None]] = []
        for iface in self.interfaces.values():
            if iface.address6 is None or iface.prefix6 is None:
                continue
            low, high = network_range(iface.address6, iface.prefix6)
            if low <= destination <= high:
                candidates.append((iface.prefix6, 0, iface.nameif, None))
        for route in self.ipv6_routes:
            if route.covers(destination):
                candidates.append((route.length, -route.distance, route.interface, route.gateway))
        if not candidates:
            return None
        best = max(candidates, key=lambda c: (c[0], c[1]))
        return best[2], best[3]

    def _ipv6_egress(self, destination: int) -> tuple[str, int | None] | None:
        for nameif, cmap in self.crypto_maps.items():
            for entry in cmap.entries:
                if entry.acl is None:
                    continue
                for rule in entry.acl.permits:
                    if any(destination in s.destination for s in rule.selectors):
                        return nameif, None
        return None
