"""``show ipsec stats``, ``show crypto isakmp stats``, ``show vpn-sessiondb [detail] l2l``:
golden text and ntc-templates parses."""

from __future__ import annotations

import calendar
import dataclasses
from pathlib import Path

import pytest

from tunnelgate.cli.show_stats import (
    NO_SESSIONS,
    duration,
    esp_cipher,
    esp_hash,
    l2l_sessions,
    login_time,
    show_crypto_isakmp_stats,
    show_ipsec_stats,
    show_vpn_sessiondb_l2l,
)
from tunnelgate.gateway.snapshot import (
    ChildOfIke,
    ChildSaView,
    EspDirectionView,
    GatewaySnapshot,
    Ident,
    IkeSaView,
)

TAKEN_AT = float(calendar.timegm((2024, 3, 5, 14, 30, 0)))

SA1 = ChildSaView(
    interface="outside",
    map_name="outside_map",
    map_seq=1,
    dynamic_map=None,
    dynamic_seq=None,
    acl="outside_cryptomap extended permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0",
    local_ident=Ident("10.1.0.0", "255.255.255.0", 0, 0),
    remote_ident=Ident("10.2.0.0", "255.255.255.0", 0, 0),
    local_address="192.0.2.1",
    local_port=500,
    peer_address="198.51.100.2",
    peer_port=500,
    udp_encapsulation=False,
    mode="tunnel",
    ike_version=2,
    encryption="esp-aes-256",
    integrity="esp-sha-hmac",
    pfs_group=19,
    inbound=EspDirectionView(
        spi=0x5B0A3A14,
        packets=40,
        bytes=4000,
        errors=(("replay", 2), ("icv-failed", 1), ("bad-padding", 3)),
        remaining_kilobytes=4608000,
        remaining_seconds=27490,
        replay_window=64,
    ),
    outbound=EspDirectionView(
        spi=0x2E9E2C8A,
        packets=50,
        bytes=5000,
        errors=(("encaps-failed", 4),),
        remaining_kilobytes=4607995,
        remaining_seconds=27490,
        replay_window=0,
    ),
    conn_id=4096,
    age_seconds=1310,
    pre_frag_successes=2,
    pre_frag_failures=1,
    fragments_created=4,
    pmtus_sent=1,
    pmtus_received=3,
    lifetime_seconds=28800,
    lifetime_kilobytes=4608000,
)
SA2 = dataclasses.replace(
    SA1,
    local_ident=Ident("10.3.0.0", "255.255.0.0", 0, 0),
    remote_ident=Ident("10.4.0.0", "255.255.0.0", 0, 0),
    encryption="esp-aes-gcm-256",
    integrity="esp-null",
    pfs_group=None,
    inbound=dataclasses.replace(SA1.inbound, spi=0x11111111, packets=7, bytes=700, errors=()),
    outbound=dataclasses.replace(
        SA1.outbound, spi=0x22222222, packets=8, bytes=800, errors=(), remaining_kilobytes=None
    ),
    age_seconds=100,
    pre_frag_successes=0,
    pre_frag_failures=0,
    fragments_created=0,
    pmtus_sent=0,
    pmtus_received=0,
    lifetime_seconds=None,
    lifetime_kilobytes=None,
)
IKE1 = IkeSaView(
    tunnel_id=7,
    local_address="192.0.2.1",
    local_port=500,
    peer_address="198.51.100.2",
    peer_port=500,
    spi_i=bytes.fromhex("0102030405060708"),
    spi_r=bytes.fromhex("1112131415161718"),
    role="Initiator",
    status="READY",
    encryption="aes-256",
    integrity="sha256",
    prf="sha256",
    dh_group=19,
    lifetime_seconds=86400,
    active_seconds=90061,
    nat_t=False,
    children=(
        ChildOfIke(
            "10.1.0.0/0 - 10.1.0.255/65535",
            "10.2.0.0/0 - 10.2.0.255/65535",
            0x5B0A3A14,
            0x2E9E2C8A,
            "esp-aes-256",
            "esp-sha-hmac",
        ),
    ),
)
SNAP = GatewaySnapshot(
    hostname="asa",
    child_sas=(SA1, SA2),
    ike_sas=(IKE1,),
    drops={"invalid-spi": 5, "acquire-failed": 2, "unsupported-next-header": 1, "no-crypto-map": 9},
    counters={
        "negotiations-started": 6,
        "negotiations-failed": 2,
        "ike-sas-established": 4,
        "child-sas-deleted": 3,
    },
    taken_at=TAKEN_AT,
)


L2L_TEXT = """\
Session Type: LAN-to-LAN

Connection   : 198.51.100.2
Index        : 7                      IP Addr      : 198.51.100.2
Protocol     : IKEv2 IPsec
Encryption   : IKEv2: (1)AES256  IPsec: (1)AES256 (1)AES-GCM-256
Hashing      : IKEv2: (1)SHA256  IPsec: (1)SHA1 (1)none
Bytes Tx     : 5800                   Bytes Rx     : 4700
Login Time   : 13:28:59 UTC Mon Mar 4 2024
Duration     : 1d 1h:01m:01s
"""

L2L_DETAIL_TEXT = """\
Session Type: LAN-to-LAN Detailed

Connection   : 198.51.100.2
Index        : 7                      IP Addr      : 198.51.100.2
Protocol     : IKEv2 IPsec
Encryption   : IKEv2: (1)AES256  IPsec: (1)AES256 (1)AES-GCM-256
Hashing      : IKEv2: (1)SHA256  IPsec: (1)SHA1 (1)none
Bytes Tx     : 5800                   Bytes Rx     : 4700
Login Time   : 13:28:59 UTC Mon Mar 4 2024
Duration     : 1d 1h:01m:01s

IKEv2 Tunnels: 1
IPsec Tunnels: 2

IKEv2:
  Tunnel ID    : 7.1
  UDP Src Port : 500                    UDP Dst Port : 500
  Rem Auth Mode: preSharedKeys
  Loc Auth Mode: preSharedKeys
  Encryption   : AES256                 Hashing      : SHA256
  Rekey Int (T): 86400 Seconds          Rekey Left(T): 0 Seconds
  PRF          : SHA256                 D/H Group    : 19
  Filter Name  :

IPsec:
  Tunnel ID    : 7.2
  Local Addr   : 10.1.0.0/255.255.255.0/0/0
  Remote Addr  : 10.2.0.0/255.255.255.0/0/0
  Encryption   : AES256                 Hashing      : SHA1
  Encapsulation: Tunnel                 PFS Group    : 19
  Rekey Int (T): 28800 Seconds          Rekey Left(T): 27490 Seconds
  Rekey Int (D): 4608000 K-Bytes        Rekey Left(D): 4607995 K-Bytes
  Idle Time Out: 0 Minutes              Idle TO Left : 0 Minutes
  Bytes Tx     : 5000                   Bytes Rx     : 4000
  Pkts Tx      : 50                     Pkts Rx      : 40

IPsec:
  Tunnel ID    : 7.3
  Local Addr   : 10.3.0.0/255.255.0.0/0/0
  Remote Addr  : 10.4.0.0/255.255.0.0/0/0
  Encryption   : AES-GCM-256            Hashing      : none
  Encapsulation: Tunnel
  Rekey Int (T): 27590 Seconds          Rekey Left(T): 27490 Seconds
  Idle Time Out: 0 Minutes              Idle TO Left : 0 Minutes
  Bytes Tx     : 800                    Bytes Rx     : 700
  Pkts Tx      : 8                      Pkts Rx      : 7
"""

IPSEC_STATS_TEXT = """\

IPsec Global Statistics
-----------------------
Active tunnels: 2
Previous tunnels: 3
Inbound
    Bytes: 4700
    Decompressed bytes: 4700
    Packets: 47
    Dropped packets: 6
    Replay failures: 2
    Authentications: 47
    Authentication failures: 1
    Decryptions: 47
    Decryption failures: 3
    Decapsulated fragments needing reassembly: 0
Outbound
    Bytes: 5800
    Uncompressed bytes: 5800
    Packets: 58
    Dropped packets: 4
    Authentications: 58
    Authentication failures: 0
    Encryptions: 58
    Encryption failures: 4
    Fragmentation successes: 2
        Pre-fragmentation successes: 2
        Post-fragmentation successes: 0
    Fragmentation failures: 1
        Pre-fragmentation failures: 1
        Post-fragmentation failures: 0
    Fragments created: 4
    PMTUs sent: 1
    PMTUs recvd: 3
Protocol failures: 1
Missing SA failures: 7
System capacity failures: 0
Inbound SA delete requests: 0
Outbound SA delete requests: 0
Inbound SA destroy calls: 0
Outbound SA destroy calls: 0
"""

ISAKMP_STATS_TEXT = """\

Global IKEv1 Statistics
  Active Tunnels:              0
  Previous Tunnels:            0
  In Octets:                   0
  In Packets:                  0
  In Drop Packets:             0
  In Notifys:                  0
  In P2 Exchanges:             0
  In P2 Exchange Invalids:     0
  In P2 Exchange Rejects:      0
  In P2 Sa Delete Requests:    0
  Out Octets:                  0
  Out Packets:                 0
  Out Drop Packets:            0
  Out Notifys:                 0
  Out P2 Exchanges:            0
  Out P2 Exchange Invalids:    0
  Out P2 Exchange Rejects:     0
  Out P2 Sa Delete Requests:   0
  Initiator Tunnels:           0
  Initiator Fails:             0
  Responder Fails:             0
  System Capacity Fails:       0
  Auth Fails:                  0
  Decrypt Fails:               0
  Hash Valid Fails:            0
  No Sa Fails:                 0

Global IKEv2 Statistics
  Active Tunnels:                          1
  Previous Tunnels:                        3
  In Octets:                               0
  In Packets:                              0
  In Drop Packets:                         0
  In Drop Fragments:                       0
  In Notifys:                              0
  In P2 Exchange:                          0
  In P2 Exchange Invalids:                 0
  In P2 Exchange Rejects:                  0
  In IPSEC Delete:                         0
  In IKE Delete:                           0
  Out Octets:                              0
  Out Packets:                             0
  Out Drop Packets:                        0
  Out Drop Fragments:                      0
  Out Notifys:                             0
  Out P2 Exchange:                         0
  Out P2 Exchange Invalids:                0
  Out P2 Exchange Rejects:                 0
  Out IPSEC Delete:                        0
  Out IKE Delete:                          0
  SAs Locally Initiated:                   6
  SAs Locally Initiated Failed:            2
  SAs Remotely Initiated:                  0
  SAs Remotely Initiated Failed:           0
  System Capacity Failures:                0
  Authentication Failures:                 0
  Decrypt Failures:                        0
  Hash Failures:                           0
  Invalid SPI:                             0
  In Configs:                              0
  Out Configs:                             0
  In Configs Rejects:                      0
  Out Configs Rejects:                     0
  Previous Tunnels Wraps:                  0
  In DPD Messages:                         0
  In DPD Acks:                             0
  In DPD Nacks:                            0
  Out DPD Messages:                        0
  Out DPD Acks:                            0
  Out DPD Nacks:                           0
  In Fragments:                            0
  Out Fragments:                           0
  In Frags Rejected:                       0
  In Frag Reassembled:                     0
"""

EMPTY = GatewaySnapshot(hostname="asa")


def test_l2l_golden() -> None:
    assert show_vpn_sessiondb_l2l(SNAP) == L2L_TEXT


def test_l2l_detail_golden() -> None:
    assert show_vpn_sessiondb_l2l(SNAP, detail=True) == L2L_DETAIL_TEXT


def test_ipsec_stats_golden() -> None:
    assert show_ipsec_stats(SNAP) == IPSEC_STATS_TEXT


def test_isakmp_stats_golden() -> None:
    assert show_crypto_isakmp_stats(SNAP) == ISAKMP_STATS_TEXT


def test_empty_snapshot() -> None:
    assert show_vpn_sessiondb_l2l(EMPTY) == NO_SESSIONS + "\n"
    assert show_vpn_sessiondb_l2l(EMPTY, detail=True) == NO_SESSIONS + "\n"
    stats = show_ipsec_stats(EMPTY)
    assert "Active tunnels: 0\n" in stats
    assert "    Bytes: 0\n" in stats
    isakmp = show_crypto_isakmp_stats(EMPTY)
    assert isakmp.count("Active Tunnels:") == 2
    assert all(line.endswith(("Statistics", " 0")) for line in isakmp.splitlines() if line)


def test_isakmp_counts_ikev1_and_in_negotiation() -> None:
    v1 = dataclasses.replace(IKE1, tunnel_id=8, ike_version=1)
    neg = dataclasses.replace(IKE1, tunnel_id=9, status="IN-NEG")
    text = show_crypto_isakmp_stats(dataclasses.replace(SNAP, ike_sas=(IKE1, v1, neg)))
    v1_part, v2_part = text.split("Global IKEv2 Statistics")
    assert "  Active Tunnels:              1\n" in v1_part
    assert "  Active Tunnels:                          2\n" in v2_part
    # established 4, one of them still up
    assert "  Previous Tunnels:                        3\n" in v2_part


def test_sessions_claim_child_sas_by_spi_then_peer() -> None:
    other = dataclasses.replace(
        IKE1, tunnel_id=8, peer_address="203.0.113.9", children=(), tunnel_group="branch"
    )
    stray = dataclasses.replace(SA2, peer_address="203.0.113.9")
    deleting = dataclasses.replace(IKE1, tunnel_id=9, status="DELETE")
    snap = dataclasses.replace(SNAP, child_sas=(SA1, SA2, stray), ike_sas=(IKE1, other, deleting))
    sessions = l2l_sessions(snap)
    assert [(ike.tunnel_id, sas) for ike, sas in sessions] == [(7, [SA1, SA2]), (8, [stray])]
    text = show_vpn_sessiondb_l2l(snap)
    assert "Connection   : branch\n" in text
    assert text.count("Connection   :") == 2


def test_nat_t_session_uses_ipsec_over_natt() -> None:
    natted = dataclasses.replace(SA1, udp_encapsulation=True, local_port=4500, peer_port=4500)
    ike = dataclasses.replace(IKE1, nat_t=True, local_port=4500, peer_port=61234)
    snap = dataclasses.replace(SNAP, child_sas=(natted,), ike_sas=(ike,))
    text = show_vpn_sessiondb_l2l(snap, detail=True)
    assert "Protocol     : IKEv2 IPsecOverNatT\n" in text
    assert "IPsecOverNatT Tunnels: 1\n" in text
    assert "\nIPsecOverNatT:\n" in text
    assert "  UDP Src Port : 61234                  UDP Dst Port : 4500\n" in text


def test_ike_sa_without_child_sas() -> None:
    snap = dataclasses.replace(SNAP, child_sas=())
    text = show_vpn_sessiondb_l2l(snap)
    assert "Protocol     : IKEv2\n" in text
    assert "Encryption   : IKEv2: (1)AES256\n" in text
    assert "Bytes Tx     : 0                      Bytes Rx     : 0\n" in text


@pytest.mark.parametrize(
    ("keyword", "name"),
    [
        ("esp-aes", "AES128"),
        ("esp-aes-192", "AES192"),
        ("esp-aes-256", "AES256"),
        ("esp-aes-gcm", "AES-GCM-128"),
        ("esp-aes-gcm-256", "AES-GCM-256"),
        ("esp-3des", "3DES"),
        ("esp-null", "none"),
    ],
)
def test_esp_cipher(keyword: str, name: str) -> None:
    assert esp_cipher(keyword) == name


def test_esp_hash() -> None:
    assert esp_hash("esp-sha-hmac") == "SHA1"
    assert esp_hash("esp-sha256-hmac") == "SHA256"
    assert esp_hash("esp-null") == "none"


def test_duration_and_login_time() -> None:
    assert duration(16) == "0h:00m:16s"
    assert duration(52 * 86400 + 6 * 3600 + 35 * 60 + 23) == "52d 6h:35m:23s"
    assert login_time(calendar.timegm((2022, 11, 7, 7, 30, 58))) == "07:30:58 UTC Mon Nov 7 2022"


# --- ntc-templates ------------------------------------------------------------------------


def test_ntc_templates_parse_detail_l2l() -> None:
    parse_output = pytest.importorskip("ntc_templates.parse").parse_output
    text = show_vpn_sessiondb_l2l(SNAP, detail=True)
    rows = parse_output(platform="cisco_asa", command="show vpn-sessiondb detail l2l", data=text)
    assert [row["connection_type"] for row in rows] == ["IKEv2", "IPsec", "IPsec"]
    for row in rows:
        assert row["session_type"] == "LAN-to-LAN"
        assert row["connection"] == row["ip_address"] == "198.51.100.2"
        assert row["index"] == str(IKE1.tunnel_id)
        assert row["protocol"] == "IKEv2 IPsec"
        assert row["total_bytes_transmitted"] == str(SA1.outbound.bytes + SA2.outbound.bytes)
        assert row["total_bytes_received"] == str(SA1.inbound.bytes + SA2.inbound.bytes)
        assert (row["login_time"], row["login_time_zone"]) == ("13:28:59", "UTC")
        assert (row["login_weekday"], row["login_month"], row["login_day"]) == ("Mon", "Mar", "4")
        assert row["login_year"] == "2024"
        assert row["duration"] == "1d 1h:01m:01s"
        assert (row["total_ike_sessions"], row["total_ipsec_sessions"]) == ("1", "2")
    ike, first, second = rows
    assert ike["session_id"] == "1"
    assert (ike["udp_src_port"], ike["udp_dst_port"]) == ("500", "500")
    assert ike["remote_authentication_mode"] == ike["local_authentication_mode"] == "preSharedKeys"
    assert (ike["encryption_method"], ike["hash_method"]) == ("AES256", "SHA256")
    assert (ike["prf"], ike["dh_group"]) == ("SHA256", "19")
    assert (ike["rekey_interval"], ike["rekey_time_left"]) == ("86400", "0")
    for row, sa, session_id in ((first, SA1, "2"), (second, SA2, "3")):
        assert row["session_id"] == session_id
        assert row["local_address_network"] == sa.local_ident.address
        assert row["local_address_mask"] == sa.local_ident.mask
        assert row["remote_address_network"] == sa.remote_ident.address
        assert row["remote_address_mask"] == sa.remote_ident.mask
        assert row["encapsulation"] == "Tunnel"
        assert row["rekey_time_left"] == str(sa.outbound.remaining_seconds)
        assert row["bytes_transmitted"] == str(sa.outbound.bytes)
        assert row["bytes_received"] == str(sa.inbound.bytes)
        assert row["packets_transmitted"] == str(sa.outbound.packets)
        assert row["packets_received"] == str(sa.inbound.packets)
    assert (first["encryption_method"], first["hash_method"]) == ("AES256", "SHA1")
    assert (first["pfs_group"], first["rekey_interval"]) == ("19", "28800")
    assert (first["rekey_data_interval"], first["rekey_data_remaining"]) == ("4608000", "4607995")
    assert (second["encryption_method"], second["hash_method"]) == ("AES-GCM-256", "none")
    assert (second["pfs_group"], second["rekey_data_interval"]) == ("", "")
    assert second["rekey_interval"] == str(SA2.age_seconds + 27490)


def test_ntc_templates_parse_two_natt_sessions() -> None:
    parse_output = pytest.importorskip("ntc_templates.parse").parse_output
    other_sa = dataclasses.replace(SA2, peer_address="203.0.113.9", udp_encapsulation=True)
    other = dataclasses.replace(
        IKE1, tunnel_id=8, peer_address="203.0.113.9", nat_t=True, children=()
    )
    snap = dataclasses.replace(SNAP, child_sas=(SA1, other_sa), ike_sas=(IKE1, other))
    text = show_vpn_sessiondb_l2l(snap, detail=True)
    rows = parse_output(platform="cisco_asa", command="show vpn-sessiondb detail l2l", data=text)
    got = [(r["index"], r["protocol"], r["connection_type"], r["session_id"]) for r in rows]
    assert got == [
        ("7", "IKEv2 IPsec", "IKEv2", "1"),
        ("7", "IKEv2 IPsec", "IPsec", "2"),
        ("8", "IKEv2 IPsecOverNatT", "IKEv2", "1"),
        ("8", "IKEv2 IPsecOverNatT", "IPsecOverNatT", "2"),
    ]


def test_ntc_templates_parse_l2l_summary_lines() -> None:
    """ntc-templates has no ``show vpn-sessiondb l2l`` template: the command resolves to the
    ``show vpn-sessiondb`` summary template, which finds nothing (and must not fail). The
    connection lines are those of the detail layout, so the detail template reads them."""
    pytest.importorskip("ntc_templates.parse")
    import textfsm
    from ntc_templates.parse import parse_output

    text = show_vpn_sessiondb_l2l(SNAP)
    assert parse_output(platform="cisco_asa", command="show vpn-sessiondb l2l", data=text) == []
    templates = Path(pytest.importorskip("ntc_templates").__file__).parent / "templates"
    with (templates / "cisco_asa_show_vpn-sessiondb_detail_l2l.textfsm").open() as f:
        fsm = textfsm.TextFSM(f)
    detailed = text.replace("LAN-to-LAN\n", "LAN-to-LAN Detailed\n", 1)
    (row,) = [dict(zip(fsm.header, r, strict=True)) for r in fsm.ParseText(detailed)]
    assert (row["CONNECTION"], row["INDEX"], row["IP_ADDRESS"]) == (
        "198.51.100.2",
        "7",
        "198.51.100.2",
    )
    assert row["PROTOCOL"] == "IKEv2 IPsec"
    assert row["ENCRYPTION"] == "IKEv2: (1)AES256  IPsec: (1)AES256 (1)AES-GCM-256"
    assert row["HASHING"] == "IKEv2: (1)SHA256  IPsec: (1)SHA1 (1)none"
    assert (row["TOTAL_BYTES_TRANSMITTED"], row["TOTAL_BYTES_RECEIVED"]) == ("5800", "4700")
    assert row["DURATION"] == "1d 1h:01m:01s"


def test_no_templates_for_stats_commands() -> None:
    """If ntc-templates ever gains these templates, this test says to add parse checks."""
    parse_module = pytest.importorskip("ntc_templates.parse")
    for command in ("show ipsec stats", "show crypto isakmp stats"):
        with pytest.raises(parse_module.ParsingException):
            parse_module.parse_output(platform="cisco_asa", command=command, data="\n")
