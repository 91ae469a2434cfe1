"""IKE policies and the global ``crypto isakmp`` / ``crypto ikev1|ikev2`` settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Ikev1Policy:
    """``crypto ikev1 policy N``: one value per parameter, spec defaults."""

    priority: int
    authentication: str = "pre-share"
    encryption: str = "3des"
    hash: str = "sha"
    group: int = 2
    lifetime_seconds: int = 86400


@dataclass(slots=True)
class Ikev2Policy:
    """``crypto ikev2 policy N``: lists kept ordered most to least secure."""

    priority: int
    encryption: list[str] = field(default_factory=lambda: ["3des"])
    integrity: list[str] = field(default_factory=lambda: ["sha"])
    prf: list[str] = field(default_factory=lambda: ["sha"])
    group: list[int] = field(default_factory=lambda: [2])
    lifetime_seconds: int = 86400


@dataclass(slots=True)
class IsakmpSettings:
    """Global ISAKMP/IKE settings that are not policies."""

    ikev1_enabled: list[str] = field(default_factory=list)  # interface nameifs
    ikev2_enabled: list[str] = field(default_factory=list)
    ikev1_am_disable: bool = False
    identity: str = "auto"  # address | hostname | key-id | auto
    identity_key_id: str | None = None
    ikev2_notify_invalid_selectors: bool = False
    ikev2_fragmentation: bool = True
    ikev2_fragmentation_mtu: int | None = None  # None: 576 (IPv4) / 1280 (IPv6)
    ikev2_fragmentation_method: str = "ietf"
    nat_traversal: bool = True
    nat_keepalive_seconds: int = 20
    ipsec_over_tcp: bool = False
    ipsec_over_tcp_ports: list[int] = field(default_factory=lambda: [10000])
    reload_wait: bool = False
    disconnect_notify: bool = False
