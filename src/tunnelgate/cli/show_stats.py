"""``show ipsec stats``, ``show crypto isakmp stats`` and ``show vpn-sessiondb [detail] l2l``.

Layout sources: the sample outputs of the Cisco ASA 9.x command reference for ``show ipsec
stats`` and ``show crypto isakmp stats`` (no ntc-templates template exists for either), and for
``show vpn-sessiondb [detail] l2l`` the ntc-templates ``cisco_asa_show_vpn-sessiondb_detail_l2l``
template and its ASA captures. Every function is pure: it formats a :class:`GatewaySnapshot`.

What tunnelgate derives and what it prints as 0:

* ``show ipsec stats`` sums the counters of the child SAs in the snapshot, so it covers the SAs
  installed now, not those already deleted. ``Previous tunnels`` reads the counter
  ``child-sas-deleted`` and ``Missing SA failures`` the drops ``invalid-spi`` and
  ``acquire-failed``; ``Protocol failures`` the drop ``unsupported-next-header``. Always 0
  (not tracked): Decapsulated fragments needing reassembly, Outbound Authentication failures,
  Post-fragmentation successes/failures, System capacity failures, the SA delete request and
  destroy call counters.
* ``show crypto isakmp stats``: Active Tunnels counts the IKE SAs of each version; IKEv2
  ``Previous Tunnels`` is ``ike-sas-established`` minus the established SAs still up; ``SAs
  Locally Initiated`` is ``negotiations-started`` and ``SAs Locally Initiated Failed`` is
  ``negotiations-failed`` (tunnelgate does not tell apart who initiated a failed negotiation).
  Every octet, packet, exchange, notify, DPD and fragment counter is 0: not tracked.
* ``show vpn-sessiondb l2l``: one session per established (READY) IKE SA, with the child SAs
  listed under it (by SPI, else by peer address). ``Idle Time Out`` is always 0 (no idle
  timeout); ``Login Time`` is ``snapshot.taken_at`` minus the IKE SA's age, in UTC.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from tunnelgate.cli.layout_json import key_of
from tunnelgate.gateway.snapshot import ChildSaView, GatewaySnapshot, IkeSaView

NO_SESSIONS = "INFO: There are presently no active sessions"

# snapshot.counters / snapshot.drops keys read here
CHILD_SAS_DELETED = "child-sas-deleted"
IKE_SAS_ESTABLISHED = "ike-sas-established"
NEGOTIATIONS_STARTED = "negotiations-started"
NEGOTIATIONS_FAILED = "negotiations-failed"
MISSING_SA_DROPS = ("invalid-spi", "acquire-failed")
PROTOCOL_DROPS = ("unsupported-next-header",)

# EspDirectionView.errors reasons → the ``show ipsec stats`` failure counters they feed
REPLAY_ERRORS = ("replay",)
AUTH_ERRORS = ("icv-failed",)
DECRYPT_ERRORS = ("decaps-failed", "bad-padding", "invalid-pad")
ENCRYPT_ERRORS = ("encaps-failed",)

# ESP keyword prefix → the ASA's sessiondb name (longest prefix wins)
ESP_CIPHERS: dict[str, str] = {
    "esp-aes-gcm-256": "AES-GCM-256",
    "esp-aes-gcm-192": "AES-GCM-192",
    "esp-aes-gcm": "AES-GCM-128",
    "esp-aes-gmac-256": "AES-GMAC-256",
    "esp-aes-gmac-192": "AES-GMAC-192",
    "esp-aes-gmac": "AES-GMAC-128",
    "esp-aes-256": "AES256",
    "esp-aes-192": "AES192",
    "esp-aes": "AES128",
    "esp-3des": "3DES",
    "esp-des": "DES",
    "esp-null": "none",
}
ESP_HASHES: dict[str, str] = {
    "esp-md5-hmac": "MD5",
    "esp-sha-hmac": "SHA1",
    "esp-sha256-hmac": "SHA256",
    "esp-sha384-hmac": "SHA384",
    "esp-sha512-hmac": "SHA512",
    "esp-null": "none",
    "esp-none": "none",
}
IKE_CIPHERS: dict[str, str] = {
    "aes-128": "AES128",
    "aes-192": "AES192",
    "aes-256": "AES256",
    "aes-gcm-128": "AES-GCM-128",
    "aes-gcm-192": "AES-GCM-192",
    "aes-gcm-256": "AES-GCM-256",
    "3des": "3DES",
    "des": "DES",
}
IKE_HASHES: dict[str, str] = {
    "md5": "MD5",
    "sha": "SHA1",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
    "null": "none",
    "none": "none",
}
AUTH_MODES: dict[str, str] = {
    "PSK": "preSharedKeys",
    "RSA": "rsaCertificate",
    "ECDSA": "ecdsaCertificate",
}


# --- show ipsec stats ---------------------------------------------------------------------


def show_ipsec_stats(snapshot: GatewaySnapshot) -> str:
    """``show ipsec stats``: global IPsec counters, summed over the snapshot's child SAs."""
    sas = snapshot.child_sas
    inb = [sa.inbound for sa in sas]
    out = [sa.outbound for sa in sas]
    in_bytes = sum(d.bytes for d in inb)
    in_packets = sum(d.packets for d in inb)
    out_bytes = sum(d.bytes for d in out)
    out_packets = sum(d.packets for d in out)
    in_errors = [e for d in inb for e in d.errors]
    out_errors = [e for d in out for e in d.errors]
    pre_ok = sum(sa.pre_frag_successes for sa in sas)
    pre_failed = sum(sa.pre_frag_failures for sa in sas)
    drops = snapshot.drops
    lines = [
        "",
        "IPsec Global Statistics",
        "-----------------------",
        f"Active tunnels: {len(sas)}",
        f"Previous tunnels: {snapshot.counters.get(CHILD_SAS_DELETED, 0)}",
        "Inbound",
        f"    Bytes: {in_bytes}",
        f"    Decompressed bytes: {in_bytes}",
        f"    Packets: {in_packets}",
        f"    Dropped packets: {_total(in_errors)}",
        f"    Replay failures: {_total(in_errors, REPLAY_ERRORS)}",
        f"    Authentications: {in_packets}",
        f"    Authentication failures: {_total(in_errors, AUTH_ERRORS)}",
        f"    Decryptions: {in_packets}",
        f"    Decryption failures: {_total(in_errors, DECRYPT_ERRORS)}",
        "    Decapsulated fragments needing reassembly: 0",
        "Outbound",
        f"    Bytes: {out_bytes}",
        f"    Uncompressed bytes: {out_bytes}",
        f"    Packets: {out_packets}",
        f"    Dropped packets: {_total(out_errors)}",
        f"    Authentications: {out_packets}",
        "    Authentication failures: 0",
        f"    Encryptions: {out_packets}",
        f"    Encryption failures: {_total(out_errors, ENCRYPT_ERRORS)}",
        f"    Fragmentation successes: {pre_ok}",
        f"        Pre-fragmentation successes: {pre_ok}",
        "        Post-fragmentation successes: 0",
        f"    Fragmentation failures: {pre_failed}",
        f"        Pre-fragmentation failures: {pre_failed}",
        "        Post-fragmentation failures: 0",
        f"    Fragments created: {sum(sa.fragments_created for sa in sas)}",
        f"    PMTUs sent: {sum(sa.pmtus_sent for sa in sas)}",
        f"    PMTUs recvd: {sum(sa.pmtus_received for sa in sas)}",
        f"Protocol failures: {sum(drops.get(r, 0) for r in PROTOCOL_DROPS)}",
        f"Missing SA failures: {sum(drops.get(r, 0) for r in MISSING_SA_DROPS)}",
        "System capacity failures: 0",
        "Inbound SA delete requests: 0",
        "Outbound SA delete requests: 0",
        "Inbound SA destroy calls: 0",
        "Outbound SA destroy calls: 0",
    ]
    return "\n".join(lines) + "\n"


def _total(errors: Iterable[tuple[str, int]], reasons: tuple[str, ...] | None = None) -> int:
    """The sum of ``errors`` counts, only those with one of ``reasons`` if given."""
    return sum(n for reason, n in errors if reasons is None or reason in reasons)


# --- show crypto isakmp stats -------------------------------------------------------------

IKEV1_STATS: tuple[str, ...] = (
    "Active Tunnels",
    "Previous Tunnels",
    "In Octets",
    "In Packets",
    "In Drop Packets",
    "In Notifys",
    "In P2 Exchanges",
    "In P2 Exchange Invalids",
    "In P2 Exchange Rejects",
    "In P2 Sa Delete Requests",
    "Out Octets",
    "Out Packets",
    "Out Drop Packets",
    "Out Notifys",
    "Out P2 Exchanges",
    "Out P2 Exchange Invalids",
    "Out P2 Exchange Rejects",
    "Out P2 Sa Delete Requests",
    "Initiator Tunnels",
    "Initiator Fails",
    "Responder Fails",
    "System Capacity Fails",
    "Auth Fails",
    "Decrypt Fails",
    "Hash Valid Fails",
    "No Sa Fails",
)

IKEV2_STATS: tuple[str, ...] = (
    "Active Tunnels",
    "Previous Tunnels",
    "In Octets",
    "In Packets",
    "In Drop Packets",
    "In Drop Fragments",
    "In Notifys",
    "In P2 Exchange",
    "In P2 Exchange Invalids",
    "In P2 Exchange Rejects",
    "In IPSEC Delete",
    "In IKE Delete",
    "Out Octets",
    "Out Packets",
    "Out Drop Packets",
    "Out Drop Fragments",
    "Out Notifys",
    "Out P2 Exchange",
    "Out P2 Exchange Invalids",
    "Out P2 Exchange Rejects",
    "Out IPSEC Delete",
    "Out IKE Delete",
    "SAs Locally Initiated",
    "SAs Locally Initiated Failed",
    "SAs Remotely Initiated",
    "SAs Remotely Initiated Failed",
    "System Capacity Failures",
    "Authentication Failures",
    "Decrypt Failures",
    "Hash Failures",
    "Invalid SPI",
    "In Configs",
    "Out Configs",
    "In Configs Rejects",
    "Out Configs Rejects",
    "Previous Tunnels Wraps",
    "In DPD Messages",
    "In DPD Acks",
    "In DPD Nacks",
    "Out DPD Messages",
    "Out DPD Acks",
    "Out DPD Nacks",
    "In Fragments",
    "Out Fragments",
    "In Frags Rejected",
    "In Frag Reassembled",
)


def show_crypto_isakmp_stats(snapshot: GatewaySnapshot) -> str:
    """``show crypto isakmp stats``: the Global IKEv1 and Global IKEv2 Statistics sections."""
    counters = snapshot.counters
    v1 = [sa for sa in snapshot.ike_sas if sa.ike_version == 1]
    v2 = [sa for sa in snapshot.ike_sas if sa.ike_version != 1]
    up = sum(1 for sa in v2 if sa.status == "READY")
    v1_values = {"Active Tunnels": len(v1)}
    v2_values = {
        "Active Tunnels": len(v2),
        "Previous Tunnels": max(0, counters.get(IKE_SAS_ESTABLISHED, 0) - up),
        "SAs Locally Initiated": counters.get(NEGOTIATIONS_STARTED, 0),
        "SAs Locally Initiated Failed": counters.get(NEGOTIATIONS_FAILED, 0),
    }
    lines = [
        "",
        "Global IKEv1 Statistics",
        *(f"  {name + ':':<29}{v1_values.get(name, 0)}" for name in IKEV1_STATS),
        "",
        "Global IKEv2 Statistics",
        *(f"  {name + ':':<41}{v2_values.get(name, 0)}" for name in IKEV2_STATS),
    ]
    return "\n".join(lines) + "\n"


# --- show vpn-sessiondb [detail] l2l ------------------------------------------------------


def show_vpn_sessiondb_l2l(snapshot: GatewaySnapshot, detail: bool = False) -> str:
    """``show vpn-sessiondb l2l`` / ``show vpn-sessiondb detail l2l``: one LAN-to-LAN session
    per established IKE SA."""
    sessions = l2l_sessions(snapshot)
    if not sessions:
        return NO_SESSIONS + "\n"
    header = "Session Type: LAN-to-LAN" + (" Detailed" if detail else "")
    blocks = [_session_block(ike, sas, snapshot.taken_at, detail) for ike, sas in sessions]
    return header + "\n\n" + "\n".join(blocks)


def l2l_sessions(snapshot: GatewaySnapshot) -> list[tuple[IkeSaView, list[ChildSaView]]]:
    """Each READY IKE SA with its child SAs: those whose SPIs it lists, then unclaimed child
    SAs to the same peer (they go to the first session with that peer)."""
    ikes = [ike for ike in snapshot.ike_sas if ike.status == "READY"]
    sessions: list[tuple[IkeSaView, list[ChildSaView]]] = [(ike, []) for ike in ikes]
    claimed: set[int] = set()
    for ike, members in sessions:
        spis = {child.spi_in for child in ike.children}
        for n, sa in enumerate(snapshot.child_sas):
            if n not in claimed and sa.inbound.spi in spis:
                members.append(sa)
                claimed.add(n)
    for n, sa in enumerate(snapshot.child_sas):
        if n in claimed:
            continue
        for ike, members in sessions:
            if ike.peer_address == sa.peer_address:
                members.append(sa)
                break
    return sessions


# A sessiondb row: one ``Label : value`` column, or two side by side
Row = tuple[str, str] | tuple[str, str, str, str]


def _session_rows(
    ike: IkeSaView, sas: list[ChildSaView], now: float, detail: bool
) -> tuple[list[Row], list[Row], list[list[Row]], str, str]:
    """One session's rows: its summary, the detail ``IKEv2:`` rows and one list of rows per
    ``IPsec:`` tunnel; then the IKE and IPsec section names."""
    ike_name = f"IKEv{ike.ike_version}"
    ipsec_name = (
        "IPsecOverNatT" if ike.nat_t or any(sa.udp_encapsulation for sa in sas) else "IPsec"
    )
    ike_cipher = IKE_CIPHERS.get(ike.encryption, ike.encryption.upper())
    ike_hash = _ike_hash(ike.integrity)
    ciphers = _tally(esp_cipher(sa.encryption) for sa in sas)
    hashes = _tally(esp_hash(sa.integrity) for sa in sas)
    protocol = f"{ike_name} {ipsec_name}" if sas else ike_name
    encryption = f"{ike_name}: (1){ike_cipher}" + (f"  {ipsec_name}: {ciphers}" if sas else "")
    hashing = f"{ike_name}: (1){ike_hash}" + (f"  {ipsec_name}: {hashes}" if sas else "")
    bytes_tx = sum(sa.outbound.bytes for sa in sas)
    bytes_rx = sum(sa.inbound.bytes for sa in sas)
    summary: list[Row] = [
        ("Connection", ike.tunnel_group or ike.peer_address),
        ("Index", str(ike.tunnel_id), "IP Addr", ike.peer_address),
        ("Protocol", protocol),
        ("Encryption", encryption),
        ("Hashing", hashing),
        ("Bytes Tx", str(bytes_tx), "Bytes Rx", str(bytes_rx)),
        ("Login Time", login_time(now - ike.active_seconds)),
        ("Duration", duration(ike.active_seconds)),
    ]
    if not detail:
        return summary, [], [], ike_name, ipsec_name
    ike_rows = _ike_tunnel(ike, ike_cipher, ike_hash)
    tunnels = [_ipsec_tunnel(ike.tunnel_id, n, sa) for n, sa in enumerate(sas, 2)]
    return summary, ike_rows, tunnels, ike_name, ipsec_name


def _render_row(row: Row, indent: str = "") -> str:
    if len(row) == 2:
        label, value = row[0], row[1]
        return f"{indent}{label:<13}: {value}".rstrip()
    return indent + _pair(row[0], row[1], row[2], row[3])


def _row_values(rows: list[Row]) -> dict[str, object]:
    out: dict[str, object] = {}
    for row in rows:
        for label, value in zip(row[::2], row[1::2], strict=True):
            out[key_of(label)] = int(value) if value.isdigit() else value
    return out


def _session_block(ike: IkeSaView, sas: list[ChildSaView], now: float, detail: bool) -> str:
    """One ``Connection :`` block, ending with a newline."""
    summary, ike_rows, tunnels, ike_name, ipsec_name = _session_rows(ike, sas, now, detail)
    lines = [_render_row(row) for row in summary]
    if detail:
        lines += ["", f"{ike_name} Tunnels: 1", f"{ipsec_name} Tunnels: {len(sas)}", ""]
        lines += [f"{ike_name}:", *(_render_row(row, "  ") for row in ike_rows)]
        for rows in tunnels:
            lines += ["", f"{ipsec_name}:", *(_render_row(row, "  ") for row in rows)]
    return "\n".join(lines) + "\n"


def vpn_sessiondb_l2l_values(snapshot: GatewaySnapshot, detail: bool = False) -> list[object]:
    """``show vpn-sessiondb [detail] l2l --json``: the fields of each session block, with the
    detail sub-blocks under ``ike`` and ``ipsec`` (keys are the labels in snake case)."""
    out: list[object] = []
    for ike, sas in l2l_sessions(snapshot):
        summary, ike_rows, tunnels, _, ipsec_name = _session_rows(
            ike, sas, snapshot.taken_at, detail
        )
        values = _row_values(summary)
        values["ike_version"], values["ipsec_protocol"] = ike.ike_version, ipsec_name
        if detail:
            values["ike"] = _row_values(ike_rows)
            values["ipsec"] = [_row_values(rows) for rows in tunnels]
        out.append(values)
    return out


def _pair(left: str, left_value: str, right: str, right_value: str) -> str:
    """Two ``Label : value`` columns: labels padded to 13, the right one 38 columns on."""
    return f"{left:<13}: {left_value:<23}{right:<13}: {right_value}"


def _ike_tunnel(ike: IkeSaView, cipher: str, hash_: str) -> list[Row]:
    """The rows of the detail ``IKEv2:`` sub-block."""
    left = max(0, ike.lifetime_seconds - ike.active_seconds)
    return [
        ("Tunnel ID", f"{ike.tunnel_id}.1"),
        ("UDP Src Port", str(ike.peer_port), "UDP Dst Port", str(ike.local_port)),
        ("Rem Auth Mode", AUTH_MODES.get(ike.auth_verify, ike.auth_verify)),
        ("Loc Auth Mode", AUTH_MODES.get(ike.auth_sign, ike.auth_sign)),
        ("Encryption", cipher, "Hashing", hash_),
        ("Rekey Int (T)", f"{ike.lifetime_seconds} Seconds", "Rekey Left(T)", f"{left} Seconds"),
        ("PRF", _ike_hash(ike.prf), "D/H Group", str(ike.dh_group)),
        ("Filter Name", ""),
    ]


def _ipsec_tunnel(index: int, n: int, sa: ChildSaView) -> list[Row]:
    """The rows of one detail ``IPsec:`` (or ``IPsecOverNatT:``) sub-block."""
    out = sa.outbound
    left_s = out.remaining_seconds if out.remaining_seconds is not None else 0
    int_s = sa.lifetime_seconds if sa.lifetime_seconds is not None else sa.age_seconds + left_s
    encapsulation: Row = ("Encapsulation", sa.mode.capitalize())
    if sa.pfs_group is not None:
        encapsulation = ("Encapsulation", sa.mode.capitalize(), "PFS Group", str(sa.pfs_group))
    rows: list[Row] = [
        ("Tunnel ID", f"{index}.{n}"),
        ("Local Addr", sessiondb_ident(sa, local=True)),
        ("Remote Addr", sessiondb_ident(sa, local=False)),
        ("Encryption", esp_cipher(sa.encryption), "Hashing", esp_hash(sa.integrity)),
        encapsulation,
        ("Rekey Int (T)", f"{int_s} Seconds", "Rekey Left(T)", f"{left_s} Seconds"),
    ]
    if out.remaining_kilobytes is not None:
        int_kb = sa.lifetime_kilobytes
        if int_kb is None:
            int_kb = out.remaining_kilobytes + -(-out.bytes // 1024)
        rows.append(
            (
                "Rekey Int (D)",
                f"{int_kb} K-Bytes",
                "Rekey Left(D)",
                f"{out.remaining_kilobytes} K-Bytes",
            )
        )
    rows += [
        ("Idle Time Out", "0 Minutes", "Idle TO Left", "0 Minutes"),
        ("Bytes Tx", str(out.bytes), "Bytes Rx", str(sa.inbound.bytes)),
        ("Pkts Tx", str(out.packets), "Pkts Rx", str(sa.inbound.packets)),
    ]
    return rows


def sessiondb_ident(sa: ChildSaView, *, local: bool) -> str:
    """``10.1.0.0/255.255.255.0/0/0`` (address/mask/protocol/port); a range as ``low-high``."""
    ident = sa.local_ident if local else sa.remote_ident
    if ident.mask is None:
        return f"{ident.address}-{ident.high}/{ident.protocol}/{ident.port}"
    return f"{ident.address}/{ident.mask}/{ident.protocol}/{ident.port}"


def _tally(names: Iterable[str]) -> str:
    """``(2)AES256 (1)AES-GCM-256``: each name once, after how many tunnels use it."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return " ".join(f"({count}){name}" for name, count in counts.items())


def esp_cipher(keyword: str) -> str:
    """The sessiondb name of an ESP encryption keyword: ``esp-aes-256`` → ``AES256``."""
    for prefix in sorted(ESP_CIPHERS, key=len, reverse=True):
        if keyword.startswith(prefix):
            return ESP_CIPHERS[prefix]
    return keyword.removeprefix("esp-").upper()


def esp_hash(keyword: str) -> str:
    """The sessiondb name of an ESP integrity keyword: ``esp-sha-hmac`` → ``SHA1``."""
    return ESP_HASHES.get(keyword, keyword.removeprefix("esp-").removesuffix("-hmac").upper())


def _ike_hash(name: str) -> str:
    return IKE_HASHES.get(name, name.upper())


def login_time(when: float) -> str:
    """``07:30:58 UTC Mon Nov 7 2022``: the ASA's login time, in UTC."""
    t = time.gmtime(when)
    return f"{time.strftime('%H:%M:%S', t)} UTC {time.strftime('%a %b', t)} {t.tm_mday} {t.tm_year}"


def duration(seconds: int) -> str:
    """``0h:00m:16s``, or ``52d 6h:35m:23s`` past a day."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h:{minutes:02}m:{secs:02}s"
    return f"{days}d {text}" if days else text


__all__ = [
    "NO_SESSIONS",
    "duration",
    "esp_cipher",
    "esp_hash",
    "l2l_sessions",
    "login_time",
    "sessiondb_ident",
    "show_crypto_isakmp_stats",
    "show_ipsec_stats",
    "show_vpn_sessiondb_l2l",
    "vpn_sessiondb_l2l_values",
]
