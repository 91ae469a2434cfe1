"""Compiled IKE policies, identities and tunnel groups (the inputs of phase-1 decisions)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Ikev1Policy:
    priority: int
    authentication: str  # pre-share | rsa-sig
    encryption: str
    hash: str
    group: int
    lifetime_seconds: int


@dataclass(frozen=True, slots=True)
class Ikev2Policy:
    """Lists most secure first (``config/keywords.py`` strength tables)."""

    priority: int
    encryption: tuple[str, ...]
    integrity: tuple[str, ...]
    prf: tuple[str, ...]
    group: tuple[int, ...]
    lifetime_seconds: int


@dataclass(frozen=True, slots=True)
class PreSharedKey:
    """A usable key (hex already decoded to bytes). Never shown by ``repr``."""

    value: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class TunnelGroup:
    name: str
    type: str  # ipsec-l2l | remote-access
    ikev1_psk: PreSharedKey | None = None
    ikev1_trust_point: str | None = None
    ikev2_local_psk: PreSharedKey | None = None
    ikev2_local_certificate: str | None = None
    ikev2_remote_psk: PreSharedKey | None = None
    ikev2_remote_certificate: bool = False
    peer_id_validate: str = "req"
    keepalive: tuple[int, int] | None = (10, 2)  # (threshold, retry); None: disabled


@dataclass(frozen=True, slots=True)
class CertificateRule:
    field_name: str  # subject-name | issuer-name
    attribute: str | None
    operator: str  # eq | ne | co | nc
    value: str


@dataclass(frozen=True, slots=True)
class TunnelGroupMap:
    enabled: tuple[str, ...]  # of rules, ou, ike-id, peer-ip
    default_group: str | None
    rules: tuple[tuple[str, int, str], ...]  # (certificate map, index, tunnel group), in order
    certificate_maps: dict[str, tuple[tuple[int, tuple[CertificateRule, ...]], ...]] = field(
        default_factory=dict
    )
