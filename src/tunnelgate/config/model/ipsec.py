"""Transform sets, IKEv2 IPsec proposals and the global ``crypto ipsec`` settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TransformSet:
    """``crypto ipsec ikev1 transform-set NAME ENC [AUTH]`` (+ ``mode transport``)."""

    name: str
    encryption: str  # esp-aes, esp-aes-192, esp-aes-256, esp-des, esp-3des, esp-null
    integrity: str | None = None  # esp-md5-hmac, esp-sha-hmac, esp-none; None: not given
    mode: str = "tunnel"  # tunnel | transport


@dataclass(slots=True)
class IpsecProposal:
    """``crypto ipsec ikev2 ipsec-proposal NAME``: lists ordered most to least secure."""

    name: str
    encryption: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IpsecSettings:
    """Global ``crypto ipsec`` settings (and the transform sets / proposals it owns)."""

    transform_sets: dict[str, TransformSet] = field(default_factory=dict)
    proposals: dict[str, IpsecProposal] = field(default_factory=dict)
    lifetime_seconds: int = 28800
    lifetime_kilobytes: int | str = 4608000  # or "unlimited"
    pmtu_aging_minutes: int | None = None  # None: infinite
    fragmentation: str = "before-encryption"  # default for interfaces not listed
    fragmentation_interfaces: dict[str, str] = field(default_factory=dict)
    inner_routing_lookup: bool = False
