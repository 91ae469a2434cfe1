"""Everything one gateway's configuration decides, compiled: the input of every policy query."""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.pki.credentials import NO_CREDENTIALS, Credentials
from tunnelgate.policy.acl import Acl
from tunnelgate.policy.address import is_ipv6
from tunnelgate.policy.crypto_map import CryptoMapSet
from tunnelgate.policy.ike import Ikev1Policy, Ikev2Policy, TunnelGroup, TunnelGroupMap

DEFAULT_L2L_GROUP = "DefaultL2LGroup"


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    nameif: str
    address: int | None
    mask: int | None


@dataclass(frozen=True, slots=True)
class StaticRoute:
    interface: str
    network: int
    mask: int
    gateway: int
    distance: int = 1


@dataclass(frozen=True, slots=True)
class GatewayPolicy:
    """A compiled configuration. ``crypto_maps`` is keyed by interface nameif."""

    hostname: str
    domain_name: str | None = None
    interfaces: dict[str, InterfaceAddress] = field(default_factory=dict)
    routes: tuple[StaticRoute, ...] = ()
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
        """The nameif whose own address is ``address``."""
        for iface in self.interfaces.values():
            if iface.address == address:
                return iface.nameif
        return None

    def egress_interface(self, destination: int) -> tuple[str, int | None] | None:
        """Route lookup: (nameif, next hop; None when connected). Longest prefix wins, then
        connected networks, then the lowest distance. IPv6 (D113): the configuration has no
        IPv6 routes or addresses yet, so an IPv6 destination leaves by the first interface
        (in configuration order) whose crypto map set has a permit ACE towards it."""
        if is_ipv6(destination):
            return self._ipv6_egress(destination)
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

    def _ipv6_egress(self, destination: int) -> tuple[str, int | None] | None:
        for nameif, cmap in self.crypto_maps.items():
            for entry in cmap.entries:
                if entry.acl is None:
                    continue
                for rule in entry.acl.permits:
                    if any(destination in s.destination for s in rule.selectors):
                        return nameif, None
        return None
