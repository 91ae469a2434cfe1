"""Compiled crypto map sets: what the SPD and the negotiation rules work on."""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.policy.acl import Acl

STATIC, DYNAMIC = "static", "dynamic"


@dataclass(frozen=True, slots=True)
class TransformSet:
    """An IKEv1 transform set with ASA keywords (``esp-aes-256``, ``esp-sha-hmac``)."""

    name: str
    encryption: str
    integrity: str | None  # None or "esp-none": no integrity
    mode: str = "tunnel"  # tunnel | transport


@dataclass(frozen=True, slots=True)
class IpsecProposal:
    """An IKEv2 IPsec proposal, lists most secure first (ASA keywords)."""

    name: str
    encryption: tuple[str, ...]
    integrity: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tfc:
    """``set tfc-packets``: dummy packets per burst, their payload bytes, seconds between
    bursts; ``None`` = auto (drawn per burst within the command's range)."""

    burst: int | None = None  # 1-16
    payload_size: int | None = None  # 64-1024
    timeout_s: int | None = None  # 10-60


@dataclass(frozen=True, slots=True)
class MapEntry:
    """One entry of a crypto map set, dynamic-map entries included (resolved and ordered)."""

    map: str  # the crypto map set's name
    seq: int  # the static entry's sequence number (for a dynamic entry: the parent's)
    kind: str = STATIC  # static | dynamic
    dynamic_map: str | None = None  # for dynamic entries: the dynamic map's name …
    dynamic_seq: int | None = None  # … and that entry's own sequence number
    acl: Acl | None = None
    peers: tuple[str, ...] = ()
    transform_sets: tuple[TransformSet, ...] = ()
    proposals: tuple[IpsecProposal, ...] = ()
    pfs_group: int | None = None
    lifetime_seconds: int = 28800
    lifetime_kilobytes: int | None = 4608000  # None: unlimited
    ikev2_mode: str = "tunnel"  # tunnel | transport | transport-require
    reverse_route: str | None = None
    ikev1_phase1_mode: str = "main"  # main | aggressive
    incomplete: str | None = None  # why a static entry is incomplete; it drops what reaches it
    df_bit: str = "copy-df"  # clear-df | copy-df | set-df: the outer header's DF
    validate_icmp_errors: bool = False
    tfc: Tfc | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.kind == DYNAMIC

    @property
    def label(self) -> str:
        if self.is_dynamic:
            return f"crypto dynamic-map {self.dynamic_map} {self.dynamic_seq}"
        return f"crypto map {self.map} {self.seq}"


@dataclass(frozen=True, slots=True)
class CryptoMapSet:
    """Entries in evaluation order: static entries by seq, then dynamic-map entries."""

    name: str
    interface: str | None
    entries: tuple[MapEntry, ...]
