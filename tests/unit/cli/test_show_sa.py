"""``show crypto ipsec sa`` / ``show crypto ikev2 sa``: golden text and ntc-templates parses."""

from __future__ import annotations

import dataclasses

import pytest

from tunnelgate.cli.show_sa import (
    NO_IKEV2_SAS,
    NO_IPSEC_SAS,
    bitmap_words,
    format_ident,
    iv_size,
    show_crypto_ikev2_sa,
    show_crypto_ipsec_sa,
)
from tunnelgate.daemon.view_json import plain
from tunnelgate.gateway import views
from tunnelgate.gateway.snapshot import (
    ChildOfIke,
    ChildSaView,
    EspDirectionView,
    GatewaySnapshot,
    Ident,
    IkeSaView,
)
from tunnelgate.policy.address import ipv6_int
from tunnelgate.policy.selector import ALL_IPV6_ADDRESSES, ALL_PORTS, Range

V6_LOCAL = Range(ipv6_int("2001:db8:1::"), ipv6_int("2001:db8:1::ffff:ffff:ffff:ffff"))
V6_REMOTE = Range(ipv6_int("2001:db8:2::"), ipv6_int("2001:db8:2::ffff:ffff:ffff:ffff"))

INBOUND = EspDirectionView(
    spi=0x5B0A3A14,
    packets=4,
    bytes=400,
    errors=(("replay", 2), ("icv-failed", 1)),
    remaining_kilobytes=4193279,
    remaining_seconds=28777,
    replay_window=64,
    replay_bitmap=0x1F,
)
OUTBOUND = EspDirectionView(
    spi=0x2E9E2C8A,
    packets=5,
    bytes=500,
    errors=(),
    remaining_kilobytes=4055039,
    remaining_seconds=28777,
    replay_window=0,
)
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
    pfs_group=None,
    inbound=INBOUND,
    outbound=OUTBOUND,
    conn_id=4096,
    age_seconds=23,
    overhead=74,
)
SA2 = dataclasses.replace(
    SA1,
    interface="backup",
    map_name="backup_map",
    map_seq=20,
    acl="backup_cryptomap extended permit ip 10.3.0.0 255.255.0.0 10.4.0.0 255.255.0.0",
    local_ident=Ident("10.3.0.0", "255.255.0.0", 0, 0),
    remote_ident=Ident("10.4.0.0", "255.255.0.0", 0, 0),
    local_address="192.0.2.129",
    local_port=4500,
    peer_address="198.51.100.77",
    peer_port=4500,
    udp_encapsulation=True,
    encryption="esp-aes-gcm-256",
    integrity="esp-null",
    inbound=dataclasses.replace(INBOUND, spi=0x0000ABCD, packets=0, errors=(), replay_bitmap=0),
    outbound=dataclasses.replace(OUTBOUND, spi=0xC0FFEE01, packets=0),
    conn_id=8192,
    overhead=82,
)
IKE = IkeSaView(
    tunnel_id=472317229,
    local_address="192.0.2.1",
    local_port=500,
    peer_address="198.51.100.2",
    peer_port=500,
    spi_i=bytes.fromhex("0011223344556677"),
    spi_r=bytes.fromhex("8899aabbccddeeff"),
    role="Initiator",
    status="READY",
    encryption="aes-256",
    integrity="sha256",
    prf="sha256",
    dh_group=19,
    lifetime_seconds=86400,
    active_seconds=12,
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
ONE = GatewaySnapshot(hostname="asa", child_sas=(SA1,), ike_sas=(IKE,))
TWO = GatewaySnapshot(hostname="asa", child_sas=(SA1, SA2))
EMPTY = GatewaySnapshot(hostname="asa")

SA1_TEXT = """\
interface: outside
    Crypto map tag: outside_map, seq num: 1, local addr: 192.0.2.1

      access-list outside_cryptomap extended permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0
      local ident (addr/mask/prot/port): (10.1.0.0/255.255.255.0/0/0)
      remote ident (addr/mask/prot/port): (10.2.0.0/255.255.255.0/0/0)
      current_peer: 198.51.100.2


      #pkts encaps: 5, #pkts encrypt: 5, #pkts digest: 5
      #pkts decaps: 4, #pkts decrypt: 4, #pkts verify: 4
      #pkts compressed: 0, #pkts decompressed: 0
      #pkts not compressed: 5, #pkts comp failed: 0, #pkts decomp failed: 0
      #pre-frag successes: 0, #pre-frag failures: 0, #fragments created: 0
      #PMTUs sent: 0, #PMTUs rcvd: 0, #decapsulated frgs needing reassembly: 0
      #TFC rcvd: 0, #TFC sent: 0
      #Valid ICMP Errors rcvd: 0, #Invalid ICMP Errors rcvd: 0
      #send errors: 0, #recv errors: 0

      local crypto endpt.: 192.0.2.1/500, remote crypto endpt.: 198.51.100.2/500
      path mtu 1500, ipsec overhead 74, media mtu 1500
      PMTU time remaining (sec): 0, DF policy: copy-df
      ICMP error validation: disabled, TFC packets: disabled
      current outbound spi: 2E9E2C8A
      current inbound spi : 5B0A3A14

    inbound esp sas:
      spi: 0x5B0A3A14 (1527396884)
         SA State: active
         transform: esp-aes-256 esp-sha-hmac no compression
         in use settings ={L2L, Tunnel, IKEv2, }
         slot: 0, conn_id: 4096, crypto-map: outside_map
         sa timing: remaining key lifetime (kB/sec): (4193279/28777)
         IV size: 16 bytes
         replay detection support: Y
         Anti replay bitmap:
          0x00000000 0x0000001F
    outbound esp sas:
      spi: 0x2E9E2C8A (782118026)
         SA State: active
         transform: esp-aes-256 esp-sha-hmac no compression
         in use settings ={L2L, Tunnel, IKEv2, }
         slot: 0, conn_id: 4096, crypto-map: outside_map
         sa timing: remaining key lifetime (kB/sec): (4055039/28777)
         IV size: 16 bytes
         replay detection support: Y
         Anti replay bitmap:
          0x00000000 0x00000001
"""

SA2_TEXT = """\
interface: backup
    Crypto map tag: backup_map, seq num: 20, local addr: 192.0.2.129

      access-list backup_cryptomap extended permit ip 10.3.0.0 255.255.0.0 10.4.0.0 255.255.0.0
      local ident (addr/mask/prot/port): (10.3.0.0/255.255.0.0/0/0)
      remote ident (addr/mask/prot/port): (10.4.0.0/255.255.0.0/0/0)
      current_peer: 198.51.100.77


      #pkts encaps: 0, #pkts encrypt: 0, #pkts digest: 0
      #pkts decaps: 0, #pkts decrypt: 0, #pkts verify: 0
      #pkts compressed: 0, #pkts decompressed: 0
      #pkts not compressed: 0, #pkts comp failed: 0, #pkts decomp failed: 0
      #pre-frag successes: 0, #pre-frag failures: 0, #fragments created: 0
      #PMTUs sent: 0, #PMTUs rcvd: 0, #decapsulated frgs needing reassembly: 0
      #TFC rcvd: 0, #TFC sent: 0
      #Valid ICMP Errors rcvd: 0, #Invalid ICMP Errors rcvd: 0
      #send errors: 0, #recv errors: 0

      local crypto endpt.: 192.0.2.129/4500, remote crypto endpt.: 198.51.100.77/4500
      path mtu 1500, ipsec overhead 82, media mtu 1500
      PMTU time remaining (sec): 0, DF policy: copy-df
      ICMP error validation: disabled, TFC packets: disabled
      current outbound spi: C0FFEE01
      current inbound spi : 0000ABCD

    inbound esp sas:
      spi: 0x0000ABCD (43981)
         SA State: active
         transform: esp-aes-gcm-256 esp-null no compression
         in use settings ={L2L, Tunnel,  NAT-T-Encaps, IKEv2, }
         slot: 0, conn_id: 8192, crypto-map: backup_map
         sa timing: remaining key lifetime (kB/sec): (4193279/28777)
         IV size: 8 bytes
         replay detection support: Y
         Anti replay bitmap:
          0x00000000 0x00000000
    outbound esp sas:
      spi: 0xC0FFEE01 (3237998081)
         SA State: active
         transform: esp-aes-gcm-256 esp-null no compression
         in use settings ={L2L, Tunnel,  NAT-T-Encaps, IKEv2, }
         slot: 0, conn_id: 8192, crypto-map: backup_map
         sa timing: remaining key lifetime (kB/sec): (4055039/28777)
         IV size: 8 bytes
         replay detection support: Y
         Anti replay bitmap:
          0x00000000 0x00000001
"""

IKEV2_TEXT = """\
IKEv2 SAs:

Session-id:1, Status:UP-ACTIVE, IKE count:1, CHILD count:1

Tunnel-id Local                                               Remote                                                  Status         Role
 472317229 192.0.2.1/500                                       198.51.100.2/500                                        READY          INITIATOR
      Encr: AES-CBC, keysize: 256, Hash: SHA256, DH Grp:19, Auth sign: PSK, Auth verify: PSK
      Life/Active Time: 86400/12 sec
Child sa: local selector  10.1.0.0/0 - 10.1.0.255/65535
          remote selector 10.2.0.0/0 - 10.2.0.255/65535
          ESP spi in/out: 0x5b0a3a14/0x2e9e2c8a
"""  # noqa: E501


def test_one_sa_golden() -> None:
    assert show_crypto_ipsec_sa(ONE) == SA1_TEXT


def test_two_sas_on_two_maps_golden() -> None:
    assert show_crypto_ipsec_sa(TWO) == SA1_TEXT + "\n" + SA2_TEXT


def test_empty() -> None:
    assert show_crypto_ipsec_sa(EMPTY) == NO_IPSEC_SAS + "\n" == "There are no ipsec sas\n"
    assert show_crypto_ikev2_sa(EMPTY) == NO_IKEV2_SAS + "\n" == "There are no IKEv2 SAs\n"


def test_filters() -> None:
    assert show_crypto_ipsec_sa(TWO, map_name="backup_map") == SA2_TEXT
    assert show_crypto_ipsec_sa(TWO, map_name="nope") == NO_IPSEC_SAS + "\n"
    by_peer = show_crypto_ipsec_sa(TWO, peer="198.51.100.2")
    assert by_peer == "peer address: 198.51.100.2\n" + SA1_TEXT.split("\n", 1)[1]
    assert show_crypto_ipsec_sa(TWO, peer="203.0.113.9") == NO_IPSEC_SAS + "\n"


def test_unlimited_kilobytes() -> None:
    sa = dataclasses.replace(
        SA1,
        inbound=dataclasses.replace(INBOUND, remaining_kilobytes=None),
        outbound=dataclasses.replace(OUTBOUND, remaining_kilobytes=None),
    )
    text = show_crypto_ipsec_sa(GatewaySnapshot(hostname="asa", child_sas=(sa,)))
    assert text.count("         sa timing: remaining key lifetime (sec): 28777\n") == 2
    assert "kB/sec" not in text


def test_detail_lists_drop_counters() -> None:
    text = show_crypto_ipsec_sa(ONE, detail=True)
    expected = """\
      #Valid ICMP Errors rcvd: 0, #Invalid ICMP Errors rcvd: 0
      #pkts no sa (send): 0, #pkts invalid sa (rcv): 0
      #pkts encaps failed (send): 0, #pkts decaps failed (rcv): 0
      #pkts invalid prot (rcv): 0, #pkts verify failed: 1
      #pkts invalid identity (rcv): 0, #pkts invalid len (rcv): 0
      #pkts invalid pad (rcv): 0,
      #pkts invalid ip version (rcv): 0,
      #pkts replay rollover (send): 0, #pkts replay rollover (rcv): 0
      #pkts replay failed (rcv): 2
      #pkts min mtu frag failed (send): 0, #pkts bad frag offset (rcv): 0
      #pkts internal err (send): 0, #pkts internal err (rcv): 0

      local crypto endpt.:"""
    assert expected in text
    assert "#send errors" not in text
    assert "replay failed" not in show_crypto_ipsec_sa(ONE)


def test_ikev2_golden() -> None:
    assert show_crypto_ikev2_sa(ONE) == IKEV2_TEXT


def test_ikev2_detail_adds_lines() -> None:
    text = show_crypto_ikev2_sa(ONE, detail=True)
    assert "      Local spi: 0011223344556677      Remote spi: 8899AABBCCDDEEFF\n" in text
    assert "          Encr: AES-CBC, keysize: 256, esp_hmac: SHA96\n" in text
    assert text.startswith(IKEV2_TEXT.split("Child sa:")[0])


@pytest.mark.parametrize(
    ("keyword", "size"),
    [("esp-aes-256", 16), ("esp-aes-gcm-256", 8), ("esp-3des", 8), ("esp-null", 0)],
)
def test_iv_size(keyword: str, size: int) -> None:
    assert iv_size(keyword) == size


def test_bitmap_words() -> None:
    assert bitmap_words(0x1F, 64) == ["0x00000000", "0x0000001F"]
    assert bitmap_words(1 << 64, 128) == ["0x00000000", "0x00000001", "0x00000000", "0x00000000"]


def test_ntc_templates_parse_matches_snapshot() -> None:
    parse_output = pytest.importorskip("ntc_templates.parse").parse_output
    text = show_crypto_ipsec_sa(TWO)
    rows = parse_output(platform="cisco_asa", command="show crypto ipsec sa", data=text)
    assert len(rows) == 2
    for row, sa in zip(rows, TWO.child_sas, strict=True):
        assert row["interface"] == sa.interface
        assert row["crypto_map_tag"] == sa.map_name
        assert row["sequence_number"] == str(sa.map_seq)
        assert row["local_address"] == sa.local_address
        for side, ident in (("local", sa.local_ident), ("remote", sa.remote_ident)):
            assert row[f"{side}_identity_addr"] == ident.address
            assert row[f"{side}_identity_mask"] == ident.mask
            assert row[f"{side}_identity_protocol"] == str(ident.protocol)
            assert row[f"{side}_identity_port"] == str(ident.port)
        assert row["current_peer"] == sa.peer_address
        assert row["packets_encapsulated"] == str(sa.outbound.packets)
        assert row["packets_decapsulated"] == str(sa.inbound.packets)
        assert row["local_crypto_endpoint"] == sa.local_address
        assert row["remote_crypto_endpoint"] == sa.peer_address
        assert row["path_mtu"] == str(sa.path_mtu)
        assert row["ipsec_overhead"] == str(sa.overhead)
        assert row["current_inbound_spi"] == f"{sa.inbound.spi:08X}"
        assert row["current_outbound_spi"] == f"{sa.outbound.spi:08X}"
        for direction, esp in (("inbound", sa.inbound), ("outbound", sa.outbound)):
            assert int(row[f"{direction}_spi_hex"], 16) == esp.spi
            assert row[f"{direction}_spi_integer"] == str(esp.spi)
            assert row[f"{direction}_encryption"] == sa.encryption
            assert row[f"{direction}_authentication"] == sa.integrity
            assert row[f"{direction}_connection_id"] == str(sa.conn_id)
            assert row[f"{direction}_crypto_map"] == sa.map_name
            assert row[f"{direction}_remaining_lifetime"] == str(esp.remaining_seconds)
            assert row[f"{direction}_remaining_lifetime_kilobytes"] == str(esp.remaining_kilobytes)
            assert row[f"{direction}_iv_size"] == f"{iv_size(sa.encryption)} bytes"
            assert row[f"{direction}_replay_detection"] == "Y"
    assert rows[0]["inbound_settings_in_use"] == "L2L, Tunnel, IKEv2"
    assert rows[1]["inbound_settings_in_use"] == "L2L, Tunnel,  NAT-T-Encaps, IKEv2"


def test_ntc_templates_parse_detail_and_unlimited() -> None:
    parse_output = pytest.importorskip("ntc_templates.parse").parse_output
    sa = dataclasses.replace(SA1, inbound=dataclasses.replace(INBOUND, remaining_kilobytes=None))
    snap = GatewaySnapshot(hostname="asa", child_sas=(sa,))
    text = show_crypto_ipsec_sa(snap, detail=True)
    (row,) = parse_output(platform="cisco_asa", command="show crypto ipsec sa detail", data=text)
    assert row["inbound_remaining_lifetime"] == "28777"
    assert row["inbound_remaining_lifetime_kilobytes"] == ""
    assert row["outbound_spi_integer"] == str(OUTBOUND.spi)


def _renders() -> tuple[str, str]:
    return show_crypto_ipsec_sa(TWO, detail=True), show_crypto_ikev2_sa(ONE, detail=True)


def test_deterministic_and_no_key_material() -> None:
    first = _renders()
    assert first == _renders()
    for text in first:
        allowed = text.replace("remaining key lifetime", "").replace("keysize:", "")
        assert "key" not in allowed.lower()


# --------------------------------------------------------------------------- IPv6 (D113)

SA6 = dataclasses.replace(
    SA1,
    acl="outside_cryptomap extended permit ip 2001:db8:1::/64 2001:db8:2::/64",
    local_ident=views._ident(V6_LOCAL, ALL_PORTS, 0),
    remote_ident=views._ident(V6_REMOTE, ALL_PORTS, 0),
)


def test_an_ipv6_sa_prints_address_prefix_length_protocol_port() -> None:
    text = show_crypto_ipsec_sa(GatewaySnapshot(hostname="asa", child_sas=(SA6,)))
    expected = SA1_TEXT.replace(
        "permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0",
        "permit ip 2001:db8:1::/64 2001:db8:2::/64",
    )
    expected = expected.replace("(10.1.0.0/255.255.255.0/0/0)", "(2001:db8:1::/64/0/0)")
    expected = expected.replace("(10.2.0.0/255.255.255.0/0/0)", "(2001:db8:2::/64/0/0)")
    assert text == expected
    assert "      local ident (addr/mask/prot/port): (2001:db8:1::/64/0/0)\n" in text


@pytest.mark.parametrize(
    ("addresses", "ports", "protocol", "ident", "shown"),
    [
        (V6_LOCAL, ALL_PORTS, 0, Ident("2001:db8:1::", "64", 0, 0), "(2001:db8:1::/64/0/0)"),
        (
            Range(ipv6_int("2001:db8::5"), ipv6_int("2001:db8::5")),
            Range(443, 443),
            6,
            Ident("2001:db8::5", "128", 6, 443),
            "(2001:db8::5/128/6/443)",
        ),
        (ALL_IPV6_ADDRESSES, ALL_PORTS, 0, Ident("::", "0", 0, 0), "(::/0/0/0)"),
        (
            Range(ipv6_int("2001:db8::1"), ipv6_int("2001:db8::3")),
            ALL_PORTS,
            17,
            Ident("2001:db8::1", None, 17, 0, "2001:db8::3"),
            "(2001:db8::1-2001:db8::3/17/0)",
        ),
        (  # IPv4 as before
            Range(0x0A010000, 0x0A0100FF),
            ALL_PORTS,
            0,
            Ident("10.1.0.0", "255.255.255.0", 0, 0),
            "(10.1.0.0/255.255.255.0/0/0)",
        ),
    ],
)
def test_idents_of_both_families(
    addresses: Range, ports: Range, protocol: int, ident: Ident, shown: str
) -> None:
    assert views._ident(addresses, ports, protocol) == ident
    assert format_ident(ident) == shown


def test_the_json_of_an_ipv6_ident() -> None:
    assert plain(SA6.local_ident) == {
        "address": "2001:db8:1::",
        "mask": "64",
        "protocol": 0,
        "port": 0,
        "high": None,
    }


def test_ikev2_child_selectors_of_an_ipv6_sa() -> None:
    assert views._selector_text(V6_LOCAL, ALL_PORTS) == (
        "2001:db8:1::/0 - 2001:db8:1:0:ffff:ffff:ffff:ffff/65535"
    )


def test_ntc_templates_cannot_read_ipv6_idents() -> None:
    """The cisco_asa template's ident values are IPv4 only (``\\d+\\.\\d+\\.\\d+\\.\\d+``):
    an IPv6 SA still parses, with empty ident fields (the line matches no rule)."""
    parse_output = pytest.importorskip("ntc_templates.parse").parse_output
    text = show_crypto_ipsec_sa(GatewaySnapshot(hostname="asa", child_sas=(SA6, SA1)))
    rows = parse_output(platform="cisco_asa", command="show crypto ipsec sa", data=text)
    assert len(rows) == 2
    six, four = rows
    assert (six["crypto_map_tag"], six["current_peer"]) == ("outside_map", "198.51.100.2")
    assert six["inbound_spi_hex"] == "0x5B0A3A14"
    assert (six["local_identity_addr"], six["local_identity_mask"]) == ("", "")
    assert (six["remote_identity_addr"], six["remote_identity_mask"]) == ("", "")
    assert (four["local_identity_addr"], four["local_identity_mask"]) == (
        "10.1.0.0",
        "255.255.255.0",
    )
