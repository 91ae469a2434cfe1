"""The whole running configuration: the one owner of configuration state."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tunnelgate.config.model.access_list import AccessGroup, AccessList
from tunnelgate.config.model.crypto_map import CryptoMapEntry
from tunnelgate.config.model.interface import Interface, Ipv6Route, Route
from tunnelgate.config.model.ipsec import IpsecSettings
from tunnelgate.config.model.isakmp import Ikev1Policy, Ikev2Policy, IsakmpSettings
from tunnelgate.config.model.logging import LoggingSettings
from tunnelgate.config.model.objects import NetworkObject, NetworkObjectGroup
from tunnelgate.config.model.tunnel_group import (
    CertificateMatch,
    Trustpoint,
    TunnelGroup,
    TunnelGroupMap,
)


@dataclass(slots=True)
class RunningConfig:
    """Every configuration family; dicts keep definition order, as the ASA does."""

    hostname: str = "ciscoasa"
    domain_name: str | None = None
    interfaces: dict[str, Interface] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    ipv6_routes: list[Ipv6Route] = field(default_factory=list)
    network_objects: dict[str, NetworkObject] = field(default_factory=dict)
    network_object_groups: dict[str, NetworkObjectGroup] = field(default_factory=dict)
    access_lists: dict[str, AccessList] = field(default_factory=dict)
    access_groups: list[AccessGroup] = field(default_factory=list)
    sysopt_permit_vpn: bool = True
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    aaa: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, service) -> group
    isakmp: IsakmpSettings = field(default_factory=IsakmpSettings)
    ikev1_policies: dict[int, Ikev1Policy] = field(default_factory=dict)
    ikev2_policies: dict[int, Ikev2Policy] = field(default_factory=dict)
    ipsec: IpsecSettings = field(default_factory=IpsecSettings)
    crypto_maps: dict[str, dict[int, CryptoMapEntry]] = field(default_factory=dict)
    dynamic_maps: dict[str, dict[int, CryptoMapEntry]] = field(default_factory=dict)
    crypto_map_interfaces: dict[str, str] = field(default_factory=dict)  # nameif -> map
    trustpoints: dict[str, Trustpoint] = field(default_factory=dict)
    trustpool_policy: bool = False  # ``crypto ca trustpool policy`` was given
    certificate_maps: dict[str, dict[int, list[CertificateMatch]]] = field(default_factory=dict)
    tunnel_groups: dict[str, TunnelGroup] = field(default_factory=dict)
    tunnel_group_map: TunnelGroupMap = field(default_factory=TunnelGroupMap)

    def clone(self) -> RunningConfig:
        """A deep copy, for transactions that must be all-or-nothing."""
        return copy.deepcopy(self)

    def nameif_exists(self, nameif: str) -> bool:
        return any(i.nameif == nameif for i in self.interfaces.values())
