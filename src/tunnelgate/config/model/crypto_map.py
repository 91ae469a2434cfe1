"""Crypto map and dynamic crypto map entries (one class serves both)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TfcPackets:
    """``set tfc-packets``: each value a number or ``"auto"``."""

    burst: int | str = "auto"
    payload_size: int | str = "auto"
    timeout: int | str = "auto"


@dataclass(slots=True)
class CryptoMapEntry:
    """One sequence number of a crypto map (or dynamic-map) set."""

    seq: int
    match_address: str | None = None
    peers: list[str] = field(default_factory=list)
    ikev1_transform_sets: list[str] = field(default_factory=list)
    ikev2_proposals: list[str] = field(default_factory=list)
    pfs_group: int | None = None
    lifetime_seconds: int | None = None  # None: the global lifetime
    lifetime_kilobytes: int | str | None = None  # int, "unlimited", or None: global
    reverse_route: str | None = None  # None | "static" | "dynamic"
    ikev2_mode: str = "tunnel"  # tunnel | transport | transport-require
    validate_icmp_errors: bool = False
    df_bit: str | None = None  # clear-df | copy-df | set-df; None: not configured
    tfc_packets: TfcPackets | None = None
    nat_t_disable: bool = False
    ikev1_phase1_mode: str = "main"  # main | aggressive (IKEv1 tunnels this entry initiates)
    dynamic_map: str | None = None  # ``ipsec-isakmp dynamic NAME`` (static maps only)
    # ``set pfs`` typed without a group: the ASA shows it so (``set pfs group2`` keeps its group)
    pfs_bare: bool = False
