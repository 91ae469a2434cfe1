"""What ``show`` commands read: a frozen picture of the gateway's SAs at one instant.

The gateway fills these values (``Gateway.snapshot(now)``); the show formatters only
format them, so they can be tested with hand-made snapshots. No key material appears here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Ident:
    """One side of a child SA's traffic, as ``show crypto ipsec sa`` prints it:
    ``(address/mask/protocol/port)``; ``mask`` is a dotted mask (IPv4) or a prefix length
    (IPv6: ``2001:db8:1::/64``), None for a range that is not a prefix (``high`` is then its
    last address)."""

    address: str
    mask: str | None
    protocol: int
    port: int  # 0: any port
    high: str | None = None


@dataclass(frozen=True, slots=True)
class EspDirectionView:
    """One direction of a child SA (an inbound or outbound ESP SA)."""

    spi: int
    packets: int  # encaps/encrypt/digest outbound, decaps/decrypt/verify inbound
    bytes: int
    errors: tuple[tuple[str, int], ...]  # drop counts by reason (replay, icv-failed, …)
    remaining_kilobytes: int | None  # None: unlimited
    remaining_seconds: int | None  # None: unlimited
    replay_window: int  # 0 for outbound SAs
    replay_bitmap: int = 0  # inbound: bit i set = sequence (highest - i) was received
    state: str = "active"  # active | rekeyed (still decrypting until deleted)


@dataclass(frozen=True, slots=True)
class ChildSaView:
    """One child SA pair, with what ``show crypto ipsec sa`` prints about it."""

    interface: str  # nameif
    map_name: str
    map_seq: int
    dynamic_map: str | None
    dynamic_seq: int | None
    acl: str | None  # ``NAME extended permit ip …`` (after ``access-list``; None if dynamic)
    local_ident: Ident
    remote_ident: Ident
    local_address: str
    local_port: int  # 500 natively, 4500 with UDP encapsulation
    peer_address: str
    peer_port: int
    udp_encapsulation: bool
    mode: str  # tunnel | transport
    ike_version: int
    encryption: str  # ASA keywords: esp-aes-256, esp-aes-gcm-256, …
    integrity: str  # esp-sha-hmac, esp-sha256-hmac, esp-null (none) …
    pfs_group: int | None
    inbound: EspDirectionView
    outbound: EspDirectionView
    conn_id: int
    age_seconds: int
    send_errors: int = 0
    recv_errors: int = 0
    path_mtu: int = 1500
    overhead: int = 0  # bytes ESP (and UDP) add per packet at most
    media_mtu: int = 1500
    pmtu_remaining_seconds: int = 0  # until a lowered path MTU is reset (pmtu-aging)
    df_policy: str = "copy-df"
    icmp_validation: bool = False
    tfc_enabled: bool = False
    pre_frag_successes: int = 0
    pre_frag_failures: int = 0
    fragments_created: int = 0
    pmtus_sent: int = 0
    pmtus_received: int = 0
    tfc_sent: int = 0
    tfc_received: int = 0
    valid_icmp_errors: int = 0
    invalid_icmp_errors: int = 0
    lifetime_seconds: int | None = None  # negotiated lifetime (``show vpn-sessiondb`` Rekey Int)
    lifetime_kilobytes: int | None = None  # None: unlimited or not known


@dataclass(frozen=True, slots=True)
class ChildOfIke:
    """A child SA line under ``show crypto ikev2 sa``."""

    local_selector: str  # e.g. ``10.1.0.0/0 - 10.1.0.255/65535``
    remote_selector: str
    spi_in: int
    spi_out: int
    encryption: str
    integrity: str


@dataclass(frozen=True, slots=True)
class IkeSaView:
    """One IKE SA with what ``show crypto ikev2 sa [detail]`` prints."""

    tunnel_id: int
    local_address: str
    local_port: int
    peer_address: str
    peer_port: int
    spi_i: bytes
    spi_r: bytes
    role: str  # Initiator | Responder
    status: str  # READY | IN-NEG | DELETE
    encryption: str  # e.g. AES-CBC keysize 256 → "aes-256"
    integrity: str  # sha256 …
    prf: str
    dh_group: int
    lifetime_seconds: int
    active_seconds: int
    nat_t: bool
    ike_version: int = 2
    children: tuple[ChildOfIke, ...] = ()
    auth_sign: str = "PSK"  # how we authenticated: PSK | RSA | ECDSA
    auth_verify: str = "PSK"  # how the peer authenticated
    tunnel_group: str | None = None  # the connection profile; None: named after the peer


@dataclass(frozen=True, slots=True)
class GatewaySnapshot:
    hostname: str
    child_sas: tuple[ChildSaView, ...] = ()
    ike_sas: tuple[IkeSaView, ...] = ()
    drops: dict[str, int] = field(default_factory=dict)  # data-path drops by reason
    counters: dict[str, int] = field(default_factory=dict)  # packets in/out, negotiations…
    taken_at: float = 0.0  # UNIX time of the snapshot (``show vpn-sessiondb`` Login Time)
    # what the IKE engines dropped or refused by reason, ``ikev2 …``/``ikev1 …`` (COOKIEs
    # demanded, half-open SAs expired, malformed messages, fragments held…)
    ike_drops: dict[str, int] = field(default_factory=dict)


__all__ = [
    "ChildOfIke",
    "ChildSaView",
    "EspDirectionView",
    "GatewaySnapshot",
    "Ident",
    "IkeSaView",
]
