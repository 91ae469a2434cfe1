"""The ASA configuration as data: one mutable ``RunningConfig`` owning every family.

Names are kept unresolved (a crypto map names its ACL); reference checks live in
``tunnelgate.config.checks`` and compilation in later layers.
"""

from tunnelgate.config.model.access_list import (
    AccessGroup,
    AccessList,
    Ace,
    AddressSpec,
    PortSpec,
    Remark,
)
from tunnelgate.config.model.crypto_map import CryptoMapEntry, TfcPackets
from tunnelgate.config.model.interface import Interface, Ipv6Route, Route
from tunnelgate.config.model.ipsec import IpsecProposal, IpsecSettings, TransformSet
from tunnelgate.config.model.isakmp import Ikev1Policy, Ikev2Policy, IsakmpSettings
from tunnelgate.config.model.logging import LoggingHost, LoggingSettings
from tunnelgate.config.model.objects import GroupMember, NetworkObject, NetworkObjectGroup
from tunnelgate.config.model.running import RunningConfig
from tunnelgate.config.model.tunnel_group import (
    CertificateMatch,
    IpsecAttributes,
    Keepalive,
    Secret,
    Trustpoint,
    TunnelGroup,
    TunnelGroupMap,
)

__all__ = [
    "AccessGroup",
    "AccessList",
    "Ace",
    "AddressSpec",
    "CertificateMatch",
    "CryptoMapEntry",
    "GroupMember",
    "Ikev1Policy",
    "Ikev2Policy",
    "Interface",
    "IpsecAttributes",
    "IpsecProposal",
    "IpsecSettings",
    "Ipv6Route",
    "IsakmpSettings",
    "Keepalive",
    "LoggingHost",
    "LoggingSettings",
    "NetworkObject",
    "NetworkObjectGroup",
    "PortSpec",
    "Remark",
    "Route",
    "RunningConfig",
    "Secret",
    "TfcPackets",
    "TransformSet",
    "Trustpoint",
    "TunnelGroup",
    "TunnelGroupMap",
]
