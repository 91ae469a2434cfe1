"""``show crypto ipsec sa`` and ``show crypto ikev2 sa``, laid out as a Cisco ASA 9.x prints them.

Layout source: the ASA 9.x sample outputs that ntc-templates parses (its
``cisco_asa_show_crypto_ipsec_sa`` template and test capture), Cisco's documented examples of
``show crypto ipsec sa detail`` and ``show crypto ikev2 sa``. Every function here is pure: it
formats a :class:`GatewaySnapshot` and never reads anything else. Snapshots hold no key
material, so none can be printed.
"""

from __future__ import annotations

from tunnelgate.gateway.snapshot import (
    ChildOfIke,
    ChildSaView,
    EspDirectionView,
    GatewaySnapshot,
    Ident,
    IkeSaView,
)

NO_IPSEC_SAS = "There are no ipsec sas"
NO_IKEV2_SAS = "There are no IKEv2 SAs"

# ESP encryption keyword prefix → IV size in bytes (longest prefix wins).
IV_SIZE: dict[str, int] = {
    "esp-aes-gcm": 8,
    "esp-aes-gmac": 8,
    "esp-aes": 16,
    "esp-3des": 8,
    "esp-des": 8,
    "esp-null": 0,
}

# Drop reasons (``EspDirectionView.errors`` keys) → the detail counter they feed.
DETAIL_ERROR_KEYS: dict[str, str] = {
    "no-sa": "no sa (send)",
    "invalid-spi": "invalid sa (rcv)",
    "encaps-failed": "encaps failed (send)",
    "decaps-failed": "decaps failed (rcv)",
    "invalid-prot": "invalid prot (rcv)",
    "icv-failed": "verify failed",
    "invalid-identity": "invalid identity (rcv)",
    "invalid-len": "invalid len (rcv)",
    "invalid-pad": "invalid pad (rcv)",
    "invalid-ip-version": "invalid ip version (rcv)",
    "replay-rollover-send": "replay rollover (send)",
    "replay-rollover": "replay rollover (rcv)",
    "replay": "replay failed (rcv)",
    "min-mtu-frag-failed": "min mtu frag failed (send)",
    "bad-frag-offset": "bad frag offset (rcv)",
    "internal-err-send": "internal err (send)",
    "internal-err": "internal err (rcv)",
    # tunnelgate's own drop reasons (esp/, gateway/) under the ASA counter they belong to
    "bad-padding": "invalid pad (rcv)",
    "bad-length": "invalid len (rcv)",
    "short-packet": "invalid len (rcv)",
    "bad-inner-packet": "invalid ip version (rcv)",
    "invalid-selectors": "invalid identity (rcv)",
    "spi-peer-mismatch": "invalid identity (rcv)",
    "sa-expired": "decaps failed (rcv)",
    "sequence-exhausted": "replay rollover (send)",
}

# The ASA's detail counter lines, in order; a trailing "" keeps the ASA's dangling comma.
DETAIL_LINES: tuple[tuple[str, ...], ...] = (
    ("no sa (send)", "invalid sa (rcv)"),
    ("encaps failed (send)", "decaps failed (rcv)"),
    ("invalid prot (rcv)", "verify failed"),
    ("invalid identity (rcv)", "invalid len (rcv)"),
    ("invalid pad (rcv)", ""),
    ("invalid ip version (rcv)", ""),
    ("replay rollover (send)", "replay rollover (rcv)"),
    ("replay failed (rcv)",),
    ("min mtu frag failed (send)", "bad frag offset (rcv)"),
    ("internal err (send)", "internal err (rcv)"),
)

# IKE encryption (snapshot spelling) → (ASA name, key size or None).
IKE_ENCRYPTION: dict[str, tuple[str, int | None]] = {
    "aes-128": ("AES-CBC", 128),
    "aes-192": ("AES-CBC", 192),
    "aes-256": ("AES-CBC", 256),
    "aes-gcm-128": ("AES-GCM", 128),
    "aes-gcm-192": ("AES-GCM", 192),
    "aes-gcm-256": ("AES-GCM", 256),
    "3des": ("3DES", None),
    "des": ("DES", None),
}

# IKE integrity → the ASA's ``Hash:`` value.
IKE_HASH: dict[str, str] = {
    "md5": "MD596",
    "sha": "SHA96",
    "sha1": "SHA96",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
    "null": "N/A",
    "none": "N/A",
}

# ESP integrity keyword → the ``esp_hmac:`` value of ``show crypto ikev2 sa detail``.
ESP_HMAC: dict[str, str] = {
    "esp-md5-hmac": "MD596",
    "esp-sha-hmac": "SHA96",
    "esp-sha256-hmac": "SHA256",
    "esp-sha384-hmac": "SHA384",
    "esp-sha512-hmac": "SHA512",
    "esp-null": "N/A",
}

IKE_STATUS: dict[str, str] = {"READY": "UP-ACTIVE", "IN-NEG": "IN-NEG", "DELETE": "DELETE"}

IKEV2_HEADER = f"{'Tunnel-id':<10}{'Local':<52}{'Remote':<56}{'Status':<15}Role"

I1, I2, I3 = " " * 4, " " * 6, " " * 9  # the ASA's three indentation levels


# --- show crypto ipsec sa -----------------------------------------------------------------


def show_crypto_ipsec_sa(
    snapshot: GatewaySnapshot,
    *,
    peer: str | None = None,
    map_name: str | None = None,
    detail: bool = False,
) -> str:
    """``show crypto ipsec sa [peer A | map NAME] [detail]``: SAs grouped by interface."""
    sas = [sa for sa in snapshot.child_sas if _selected(sa, peer, map_name)]
    if not sas:
        return NO_IPSEC_SAS + "\n"
    if peer is not None:
        return f"peer address: {peer}\n" + "\n".join([_sa_block(sa, detail) for sa in sas])
    groups: dict[str, list[ChildSaView]] = {}
    for sa in sas:
        groups.setdefault(sa.interface, []).append(sa)
    return "\n".join(
        [
            f"interface: {name}\n" + "\n".join([_sa_block(sa, detail) for sa in members])
            for name, members in groups.items()
        ]
    )


def _selected(sa: ChildSaView, peer: str | None, map_name: str | None) -> bool:
    """Whether ``sa`` passes the ``peer`` / ``map`` filters."""
    if peer is not None and sa.peer_address != peer:
        return False
    return map_name is None or map_name in (sa.map_name, sa.dynamic_map)


def _map_tag(sa: ChildSaView) -> tuple[str, int]:
    """The tag and seq the ASA shows: the dynamic map's for dynamic entries."""
    if sa.dynamic_map is not None:
        return sa.dynamic_map, sa.dynamic_seq if sa.dynamic_seq is not None else sa.map_seq
    return sa.map_name, sa.map_seq


def _sa_block(sa: ChildSaView, detail: bool) -> str:
    """One ``Crypto map tag:`` block, ending with a newline (one f-string: ``show`` prints
    20,000 of these)."""
    tag, seq = _map_tag(sa)
    acl = f"{I2}access-list {sa.acl}\n" if sa.acl is not None else ""
    counters = "".join([f"{I2}{line}\n" for line in _counter_lines(sa, detail)])
    inbound, outbound = sa.inbound, sa.outbound
    # the lines both directions share
    head = (
        f"{I3}transform: {sa.encryption} {sa.integrity} no compression\n"
        f"{I3}in use settings ={{{_settings(sa)}}}\n"
        f"{I3}slot: 0, conn_id: {sa.conn_id}, crypto-map: {tag}\n"
    )
    tail = (
        f"{I3}IV size: {iv_size(sa.encryption)} bytes\n"
        f"{I3}replay detection support: Y\n"
        f"{I3}Anti replay bitmap:\n"
    )
    return (
        f"{I1}Crypto map tag: {tag}, seq num: {seq}, local addr: {sa.local_address}\n"
        "\n"
        f"{acl}"
        f"{I2}local ident (addr/mask/prot/port): {format_ident(sa.local_ident)}\n"
        f"{I2}remote ident (addr/mask/prot/port): {format_ident(sa.remote_ident)}\n"
        f"{I2}current_peer: {sa.peer_address}\n"
        "\n"
        "\n"
        f"{counters}"
        "\n"
        f"{I2}local crypto endpt.: {sa.local_address}/{sa.local_port}, "
        f"remote crypto endpt.: {sa.peer_address}/{sa.peer_port}\n"
        f"{I2}path mtu {sa.path_mtu}, ipsec overhead {sa.overhead}, media mtu {sa.media_mtu}\n"
        f"{I2}PMTU time remaining (sec): {sa.pmtu_remaining_seconds}, "
        f"DF policy: {sa.df_policy}\n"
        f"{I2}ICMP error validation: {_enabled(sa.icmp_validation)}, "
        f"TFC packets: {_enabled(sa.tfc_enabled)}\n"
        f"{I2}current outbound spi: {outbound.spi:08X}\n"
        f"{I2}current inbound spi : {inbound.spi:08X}\n"
        "\n"
        f"{I1}inbound esp sas:\n"
        f"{I2}spi: 0x{inbound.spi:08X} ({inbound.spi})\n"
        f"{I3}SA State: {inbound.state}\n"
        f"{head}"
        f"{I3}sa timing: {_timing(inbound)}\n"
        f"{tail}"
        f"{_bitmap_text(inbound)}"
        f"{I1}outbound esp sas:\n"
        f"{I2}spi: 0x{outbound.spi:08X} ({outbound.spi})\n"
        f"{I3}SA State: {outbound.state}\n"
        f"{head}"
        f"{I3}sa timing: {_timing(outbound)}\n"
        f"{tail}"
        f"{OUTBOUND_BITMAP}"
    )


# what the ASA shows as the anti-replay bitmap of every outbound SA
OUTBOUND_BITMAP = f"{I3} 0x00000000 0x00000001\n"


def _bitmap_text(esp: EspDirectionView) -> str:
    """An inbound SA's anti-replay bitmap lines (two 32-bit words a line)."""
    if esp.replay_window <= 64:  # the usual window: one line
        bitmap = esp.replay_bitmap
        return f"{I3} 0x{(bitmap >> 32) & 0xFFFFFFFF:08X} 0x{bitmap & 0xFFFFFFFF:08X}\n"
    words = bitmap_words(esp.replay_bitmap, esp.replay_window)
    return "".join(f"{I3} " + " ".join(words[i : i + 2]) + "\n" for i in range(0, len(words), 2))


def format_ident(ident: Ident) -> str:
    """``(addr/mask/prot/port)`` (IPv6: ``(2001:db8:1::/64/0/0)``, the mask a prefix length);
    a non-prefix range prints as ``(low-high/prot/port)``."""
    if ident.mask is None:
        return f"({ident.address}-{ident.high}/{ident.protocol}/{ident.port})"
    return f"({ident.address}/{ident.mask}/{ident.protocol}/{ident.port})"


def _counter_lines(sa: ChildSaView, detail: bool) -> list[str]:
    """The ``#pkts …`` block; ``detail`` replaces the error totals with their breakdown."""
    out, inb = sa.outbound.packets, sa.inbound.packets
    lines = [
        f"#pkts encaps: {out}, #pkts encrypt: {out}, #pkts digest: {out}",
        f"#pkts decaps: {inb}, #pkts decrypt: {inb}, #pkts verify: {inb}",
        "#pkts compressed: 0, #pkts decompressed: 0",
        f"#pkts not compressed: {out}, #pkts comp failed: 0, #pkts decomp failed: 0",
        f"#pre-frag successes: {sa.pre_frag_successes}, "
        f"#pre-frag failures: {sa.pre_frag_failures}, "
        f"#fragments created: {sa.fragments_created}",
        f"#PMTUs sent: {sa.pmtus_sent}, #PMTUs rcvd: {sa.pmtus_received}, "
        "#decapsulated frgs needing reassembly: 0",
        f"#TFC rcvd: {sa.tfc_received}, #TFC sent: {sa.tfc_sent}",
        f"#Valid ICMP Errors rcvd: {sa.valid_icmp_errors}, "
        f"#Invalid ICMP Errors rcvd: {sa.invalid_icmp_errors}",
    ]
    if detail:
        return lines + _detail_lines(sa)
    return [*lines, f"#send errors: {sa.send_errors}, #recv errors: {sa.recv_errors}"]


def _detail_lines(sa: ChildSaView) -> list[str]:
    """The per-reason drop counters of ``show crypto ipsec sa detail``."""
    counts: dict[str, int] = {}
    for reason, count in (*sa.inbound.errors, *sa.outbound.errors):
        label = DETAIL_ERROR_KEYS.get(reason)
        if label is not None:
            counts[label] = counts.get(label, 0) + count
    return [
        ", ".join(
            f"#pkts {label}: {counts.get(label, 0)}" if label else "" for label in row
        ).rstrip()
        for row in DETAIL_LINES
    ]


def _enabled(flag: bool) -> str:
    return "enabled" if flag else "disabled"


def _settings(sa: ChildSaView) -> str:
    """The ``in use settings`` set, e.g. ``L2L, Tunnel,  NAT-T-Encaps, IKEv2, ``."""
    nat = " NAT-T-Encaps, " if sa.udp_encapsulation else ""  # the ASA: after two spaces
    return f"L2L, {sa.mode.capitalize()}, {nat}IKEv{sa.ike_version}, "


def _timing(esp: EspDirectionView) -> str:
    """``remaining key lifetime (kB/sec): (K/S)``, or ``(sec): S`` when kB is unlimited."""
    seconds = esp.remaining_seconds if esp.remaining_seconds is not None else 0
    if esp.remaining_kilobytes is None:
        return f"remaining key lifetime (sec): {seconds}"
    return f"remaining key lifetime (kB/sec): ({esp.remaining_kilobytes}/{seconds})"


def iv_size(encryption: str) -> int:
    """IV size in bytes for an ASA ESP encryption keyword."""
    for prefix in _IV_PREFIXES:
        if encryption.startswith(prefix):
            return IV_SIZE[prefix]
    return 0


_IV_PREFIXES = sorted(IV_SIZE, key=len, reverse=True)  # longest prefix first


def bitmap_words(bitmap: int, window: int) -> list[str]:
    """The anti-replay bitmap as 32-bit words, most significant first (at least two)."""
    count = max(2, -(-window // 32))
    return [f"0x{(bitmap >> (32 * i)) & 0xFFFFFFFF:08X}" for i in reversed(range(count))]


# --- show crypto ikev2 sa -----------------------------------------------------------------


def show_crypto_ikev2_sa(snapshot: GatewaySnapshot, *, detail: bool = False) -> str:
    """``show crypto ikev2 sa [detail]``: one session per IKE SA, with its child SAs."""
    ike_sas = [ike for ike in snapshot.ike_sas if ike.ike_version == 2]
    if not ike_sas:
        return NO_IKEV2_SAS + "\n"
    sessions = [_ike_session(n, ike, detail) for n, ike in enumerate(ike_sas, 1)]
    return "IKEv2 SAs:\n\n" + "\n".join(sessions)


# --- show crypto ikev1 sa / show crypto isakmp sa ------------------------------------------

NO_IKEV1_SAS = "There are no IKEv1 SAs"
IKEV1_HASH = {
    "sha": "SHA",
    "md5": "MD5",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
}


def show_crypto_ikev1_sa(snapshot: GatewaySnapshot, *, detail: bool = False) -> str:
    """``show crypto ikev1 sa [detail]``: the ASA 9.x blocks; ``detail`` uses the one-line
    table that automation parses (ntc-templates ``cisco_asa_show_crypto_ikev1_sa_detail``)."""
    ike_sas = [ike for ike in snapshot.ike_sas if ike.ike_version == 1]
    if not ike_sas:
        return NO_IKEV1_SAS + "\n"
    if detail:
        rows = ["IKE Peer        Type Dir  Rky State        Encrypt Hash    Auth      Lifetime"]
        for n, ike in enumerate(ike_sas, 1):
            direction = "Init" if ike.role == "Initiator" else "Resp"
            state = "MM_Active" if ike.status == "READY" else "MM_WAIT_MSG"
            hash_name = IKEV1_HASH.get(ike.integrity, ike.integrity).lower()
            rows.append(
                f"{n:<3} {ike.peer_address:<15} L2L  {direction:<4} No  {state:<12} "
                f"{ike.encryption.replace('-', ''):<7} {hash_name:<7} preshared "
                f"{ike.lifetime_seconds}"
            )
        return "\n".join(rows) + "\n"
    active = sum(1 for ike in ike_sas if ike.status == "READY")
    lines = [
        "IKEv1 SAs:",
        "",
        f"   Active SA: {active}",
        "    Rekey SA: 0 (A tunnel will report 1 Active and 1 Rekey SA during rekey)",
        f"Total IKE SA: {len(ike_sas)}",
        "",
    ]
    for n, ike in enumerate(ike_sas, 1):
        state = "MM_ACTIVE" if ike.status == "READY" else "MM_WAIT_MSG"
        role = "initiator" if ike.role == "Initiator" else "responder"
        lines += [
            f"{n:<3} IKE Peer: {ike.peer_address}",
            f"    Type    : {'L2L':<15} Role    : {role}",
            f"    Rekey   : {'no':<15} State   : {state}",
            "",
        ]
    return "\n".join(lines)


def show_crypto_isakmp_sa(snapshot: GatewaySnapshot, *, detail: bool = False) -> str:
    """``show crypto isakmp sa [detail]``: the IKEv1 section, then the IKEv2 one."""
    return (
        show_crypto_ikev1_sa(snapshot, detail=detail)
        + "\n"
        + show_crypto_ikev2_sa(snapshot, detail=detail)
    )


def _ike_session(session_id: int, ike: IkeSaView, detail: bool) -> str:
    """One ``Session-id:`` block, ending with a newline."""
    status = IKE_STATUS.get(ike.status, ike.status)
    local = f"{ike.local_address}/{ike.local_port}"
    remote = f"{ike.peer_address}/{ike.peer_port}"
    more = "".join([f"{I2}{line}\n" for line in _ike_detail(session_id, ike)]) if detail else ""
    return (
        f"Session-id:{session_id}, Status:{status}, IKE count:1, "
        f"CHILD count:{len(ike.children)}\n"
        "\n"
        f"{IKEV2_HEADER}\n"
        f"{ike.tunnel_id:>10} {local:<51} {remote:<55} {ike.status:<14} {ike.role.upper()}\n"
        f"{I2}{ike_algorithms(ike)}\n"
        f"{I2}Life/Active Time: {ike.lifetime_seconds}/{ike.active_seconds} sec\n"
        f"{more}" + "".join([_child_text(child, detail) for child in ike.children])
    )


def ike_algorithms(ike: IkeSaView) -> str:
    """``Encr: AES-CBC, keysize: 256, Hash: SHA256, DH Grp:19, Auth sign: PSK, …``."""
    name, keysize = IKE_ENCRYPTION.get(ike.encryption, (ike.encryption.upper(), None))
    encr = f"Encr: {name}" + (f", keysize: {keysize}" if keysize is not None else "")
    hash_ = IKE_HASH.get(ike.integrity, ike.integrity.upper())
    return (
        f"{encr}, Hash: {hash_}, DH Grp:{ike.dh_group}, "
        f"Auth sign: {ike.auth_sign}, Auth verify: {ike.auth_verify}"
    )


def _ike_detail(session_id: int, ike: IkeSaView) -> list[str]:
    """The extra lines of ``show crypto ikev2 sa detail`` (SPIs are public identifiers)."""
    local_spi, remote_spi = (
        (ike.spi_i, ike.spi_r) if ike.role.lower() == "initiator" else (ike.spi_r, ike.spi_i)
    )
    return [
        f"Session-id: {session_id}",
        f"Status Description: {_status_description(ike.status)}",
        f"Local spi: {local_spi.hex().upper():<22}Remote spi: {remote_spi.hex().upper()}",
        f"Local id: {ike.local_address}",
        f"Remote id: {ike.peer_address}",
        f"PRF: {IKE_HASH.get(ike.prf, ike.prf.upper())}",
        f"NAT-T is {'detected' if ike.nat_t else 'not detected'}",
    ]


def _status_description(status: str) -> str:
    """The ASA's wording for an IKE SA state."""
    return {"READY": "Negotiation done", "IN-NEG": "Negotiating"}.get(status, "Deleting")


def _child_text(child: ChildOfIke, detail: bool) -> str:
    """``Child sa:`` lines for one child SA, each ending with a newline."""
    text = (
        f"Child sa: local selector  {child.local_selector}\n"
        f"          remote selector {child.remote_selector}\n"
        f"          ESP spi in/out: 0x{child.spi_in:08x}/0x{child.spi_out:08x}\n"
    )
    if detail:
        text += (
            "          AH spi in/out: 0x0/0x0\n"
            "          CPI in/out: 0x0/0x0\n"
            f"          Encr: {_child_encr(child.encryption)}, "
            f"esp_hmac: {ESP_HMAC.get(child.integrity, child.integrity.upper())}\n"
            "          ah_hmac: None, comp: IPCOMP_NONE, mode tunnel\n"
        )
    return text


def _child_encr(encryption: str) -> str:
    """``AES-CBC, keysize: 256`` for an ESP keyword such as ``esp-aes-256``."""
    name, keysize = IKE_ENCRYPTION.get(encryption.removeprefix("esp-"), (encryption.upper(), None))
    return name + (f", keysize: {keysize}" if keysize is not None else "")


__all__ = [
    "NO_IKEV1_SAS",
    "NO_IKEV2_SAS",
    "NO_IPSEC_SAS",
    "bitmap_words",
    "format_ident",
    "ike_algorithms",
    "iv_size",
    "show_crypto_ikev1_sa",
    "show_crypto_ikev2_sa",
    "show_crypto_ipsec_sa",
    "show_crypto_isakmp_sa",
]
