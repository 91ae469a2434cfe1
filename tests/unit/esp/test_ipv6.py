"""IPv6 for ESP (esp/ipv6.py): layouts against scapy, the extension header walk, tunnel and
transport mode cross-checked with scapy's SecurityAssociation, source fragmentation, Packet
Too Big, the UDP checksum of port 4500, and Hypothesis round trips and fuzzing."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    defragment6,
    fragment6,
)
from scapy.layers.ipsec import ESP, SecurityAssociation, split_for_transport
from scapy.packet import Packet, Raw

from tests.unit.esp.test_packet import SCAPY_SUITES, make, seeded
from tunnelgate.esp import ipv6
from tunnelgate.esp.ipv6 import (
    FragmentInfo,
    Ipv6Error,
    Ipv6Header,
    attach,
    fragment,
    fragment_info,
    outer_fields,
    outer_ipv6_packed,
    packed_address,
    packet_too_big,
    parse_header,
    reassemble,
    split,
    transport_join,
    transport_split,
    tunnel_wrap,
    udp_checksum,
    udp_checksum_ok,
    udp_datagram,
    udp_encap_packet,
    upper_layer,
)
from tunnelgate.esp.packet import EspTransform, decapsulate, encapsulate

A = IPv6Address
SRC, DST = "2001:db8::1", "2001:db8:0:1::2"
VIA = "2001:db8:ffff::9"
GATEWAY = "2001:db8::fe"
# AES-GCM and AES-CBC + HMAC-SHA-256 at least; the others scapy shares with us too
SUITES = [s for s in SCAPY_SUITES if s[0] in ("aes-gcm-256", "aes-gcm", "aes", "aes-256")]


def chain(name: str, payload: bytes = b"datagram") -> Packet:
    """Named extension header chains (scapy-built) for the layout and ESP tests."""
    ip = IPv6(src=SRC, dst=DST, hlim=33, tc=0x2E, fl=0xBEEF)
    udp = UDP(sport=1234, dport=53) / Raw(payload)
    hbh, route = IPv6ExtHdrHopByHop(), IPv6ExtHdrRouting(addresses=[VIA])
    packets: dict[str, Packet] = {
        "plain": ip / udp,
        "hbh": ip / hbh / udp,
        "hbh-routing": ip / hbh / route / udp,
        "full": ip / hbh / IPv6ExtHdrDestOpt() / route / IPv6ExtHdrDestOpt() / udp,
        "dest-last": ip / hbh / IPv6ExtHdrDestOpt() / udp,
    }
    return packets[name]


CHAINS = ["plain", "hbh", "hbh-routing", "full", "dest-last"]


def _offset_of(packet: Packet, layer: type[Packet]) -> int:
    return len(bytes(packet)) - len(bytes(packet[layer]))


# ------------------------------------------------------------------ header
@pytest.mark.parametrize(
    ("tc", "fl", "hlim", "nh", "plen"),
    [(0, 0, 64, 50, 0), (0xB8, 0xFFFFF, 255, 17, 1400), (0xFF, 1, 0, 0, 65535)],
)
def test_header_build_matches_scapy(tc: int, fl: int, hlim: int, nh: int, plen: int) -> None:
    header = Ipv6Header(A(SRC), A(DST), nh, plen, hlim, tc, fl)
    theirs = IPv6(src=SRC, dst=DST, tc=tc, fl=fl, hlim=hlim, nh=nh, plen=plen)
    assert header.build() == bytes(theirs)
    assert parse_header(header.build() + bytes(plen)) == header


def test_header_build_refuses_out_of_range_fields() -> None:
    for bad in (
        Ipv6Header(A(SRC), A(DST), 17, 0, traffic_class=256),
        Ipv6Header(A(SRC), A(DST), 17, 0, flow_label=1 << 20),
        Ipv6Header(A(SRC), A(DST), 17, 65536),
        Ipv6Header(A(SRC), A(DST), 256, 0),
        Ipv6Header(A(SRC), A(DST), 17, 0, hop_limit=-1),
    ):
        with pytest.raises(ValueError):
            bad.build()


@pytest.mark.parametrize("name", CHAINS)
def test_parse_and_split_scapy_packets(name: str) -> None:
    packet = chain(name)
    raw = bytes(packet)
    header, payload = split(raw + b"\0" * 6)  # Ethernet minimum-frame padding is dropped
    assert (header.src, header.dst) == (A(SRC), A(DST))
    assert (header.hop_limit, header.traffic_class, header.flow_label) == (33, 0x2E, 0xBEEF)
    theirs = IPv6(raw)
    assert (header.next_header, header.payload_length) == (theirs.nh, theirs.plen)
    assert header.payload_length == len(raw) - 40
    assert payload == raw[40:]


def test_parse_errors_are_specific() -> None:
    raw = bytes(chain("plain"))
    cases = [
        (raw[:39], "shorter than the 40-byte header"),
        (b"\x45" + raw[1:], "IP version 4, expected 6"),
        (raw[:-1], "payload length 16 exceeds the 15 bytes"),
    ]
    for data, message in cases:
        with pytest.raises(Ipv6Error, match=message):
            parse_header(data)


# ------------------------------------------------------------------ extension headers
@pytest.mark.parametrize("name", CHAINS)
def test_upper_layer_follows_the_chain(name: str) -> None:
    packet = chain(name)
    assert upper_layer(bytes(packet)) == (_offset_of(packet, UDP), 17)
    assert fragment_info(bytes(packet)) is None


def test_upper_layer_through_a_fragment_header_and_special_protocols() -> None:
    frag = IPv6(src=SRC, dst=DST) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(id=77, m=1)
    packet = frag / UDP() / Raw(b"12345678")
    assert upper_layer(bytes(packet)) == (56, 17)
    assert fragment_info(bytes(packet)) == FragmentInfo(48, 17, 0, True, 77)
    later = IPv6(src=SRC, dst=DST) / IPv6ExtHdrFragment(nh=6, offset=3, id=9) / Raw(b"x" * 8)
    assert fragment_info(bytes(later)) == FragmentInfo(40, 6, 24, False, 9)
    # the data of a non-first fragment is not parsed as the headers its Next Header names
    data = IPv6(src=SRC, dst=DST) / IPv6ExtHdrFragment(nh=60, offset=1, id=9) / Raw(b"\xff" * 8)
    assert upper_layer(bytes(data)) == (48, 60)
    no_next = IPv6(src=SRC, dst=DST) / IPv6ExtHdrDestOpt(nh=59)
    assert upper_layer(bytes(no_next)) == (48, 59)
    esp = IPv6(src=SRC, dst=DST) / IPv6ExtHdrHopByHop(nh=50) / Raw(bytes(16))
    assert upper_layer(bytes(esp)) == (48, 50)


def _with_chain(next_header: int, body: bytes) -> bytes:
    return Ipv6Header(A(SRC), A(DST), next_header, len(body)).build() + body


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (_with_chain(0, b"\x11"), "extension header 0 at offset 40 is truncated"),
        (_with_chain(60, b"\x11\x01" + bytes(6)), r"60 at offset 40 \(16 bytes\) runs past"),
        (_with_chain(44, b"\x11\x00\x00"), r"44 at offset 40 \(8 bytes\) runs past"),
        (_with_chain(60, b"\x00" + bytes(7) + b"\x11" + bytes(7)), "hop-by-hop options header"),
        (_with_chain(0, b""), "truncated"),  # a jumbogram's payload length of 0
        (_with_chain(0, b"\x2b\x00" + bytes(6)), "43 at offset 48 is truncated"),
    ],
)
def test_malformed_chains(packet: bytes, message: str) -> None:
    for function in (upper_layer, transport_split, fragment_info):
        with pytest.raises(Ipv6Error, match=message):
            function(packet)


# ------------------------------------------------------------------ tunnel mode
def test_tunnel_wrap_and_packed_variant_match_scapy() -> None:
    esp = bytes(range(60))
    ours = tunnel_wrap(esp, A(SRC), A(DST), traffic_class=0xB9, flow_label=0x12345)
    theirs = IPv6(src=SRC, dst=DST, nh=50, tc=0xB9, fl=0x12345) / Raw(esp)
    assert ours == bytes(theirs)
    packed = outer_ipv6_packed(
        packed_address(SRC), packed_address(DST), esp, traffic_class=0xB9, flow_label=0x12345
    )
    assert packed == ours
    udp = tunnel_wrap(esp, A(SRC), A(DST), hop_limit=1, next_header=17)
    assert udp == outer_ipv6_packed(A(SRC).packed, A(DST).packed, esp, hop_limit=1, next_header=17)
    with pytest.raises(ValueError):
        tunnel_wrap(bytes(65536), A(SRC), A(DST))
    with pytest.raises(ValueError):
        outer_ipv6_packed(A(SRC).packed, A(DST).packed, bytes(65536))


def test_outer_fields_copy_traffic_class_and_flow_label() -> None:
    # RFC 4301 §5.1.2.2 with RFC 6040 normal mode: DSCP and ECN (CE included) copied
    assert outer_fields(bytes(IPv6(src=SRC, dst=DST, tc=0xBB, fl=0xABCDE))) == (0xBB, 0xABCDE)
    assert outer_fields(bytes(IP(src="10.0.0.1", dst="10.0.0.2", tos=0x2A))) == (0x2A, 0)
    with pytest.raises(Ipv6Error):
        outer_fields(b"\x60" + bytes(10))


def _scapy_sa(transform: EspTransform, crypt: str, auth: str | None, **extra: Any) -> Any:
    kwargs: dict[str, Any] = dict(extra)
    if auth is not None:
        kwargs.update(auth_algo=auth, auth_key=transform.keys.integrity_key)
    return SecurityAssociation(
        ESP,
        spi=transform.spi,
        seq_num=1,
        crypt_algo=crypt,
        crypt_key=transform.keys.encryption_key,
        **kwargs,
    )


def _iv(transform: EspTransform, esp: bytes) -> bytes:
    return esp[8 : 8 + transform.encryption.iv_bytes]


@pytest.mark.parametrize(("enc_kw", "integ_kw", "crypt", "auth"), SUITES)
@pytest.mark.parametrize("name", ["plain", "full"])
def test_tunnel_mode_against_scapy(
    enc_kw: str, integ_kw: str, crypt: str, auth: str | None, name: str
) -> None:
    transform = make(enc_kw, integ_kw, seed=21)
    inner = bytes(chain(name, b"tunnelled" * 5))
    tc, fl = outer_fields(inner)
    outer_header = IPv6(src=GATEWAY, dst=VIA, tc=tc, fl=fl)
    sa = _scapy_sa(transform, crypt, auth, tunnel_header=outer_header)
    # ours → scapy
    esp = encapsulate(transform, 7, inner, 41, seeded(7))
    outer = tunnel_wrap(esp, A(GATEWAY), A(VIA), traffic_class=tc, flow_label=fl)
    assert bytes(sa.decrypt(IPv6(outer))) == inner
    assert bytes(sa.encrypt(IPv6(inner), seq_num=7, iv=_iv(transform, esp))) == outer
    # scapy → ours
    theirs = bytes(sa.encrypt(IPv6(inner), seq_num=8))
    header, payload = split(theirs + b"pad")
    assert (header.next_header, header.traffic_class, header.flow_label) == (50, tc, fl)
    assert decapsulate(transform, payload) == (8, inner, 41)


# ------------------------------------------------------------------ transport mode
@pytest.mark.parametrize("name", CHAINS)
def test_transport_split_places_esp(name: str) -> None:
    packet = chain(name)
    raw = bytes(packet)
    headers, next_header, payload = transport_split(raw + b"\0\0")
    if name == "full":  # ESP after the routing header, final destination options protected
        split_at, expected_next = _offset_of(packet, IPv6ExtHdrRouting) + 24, 60
    elif name == "dest-last":  # a last destination options header is protected (see module)
        split_at, expected_next = 48, 60
    else:
        split_at, expected_next = _offset_of(packet, UDP), 17
    assert (len(headers), next_header, payload) == (split_at, expected_next, raw[split_at:])
    assert parse_header(headers).payload_length == split_at - 40
    assert upper_layer(attach(headers, b"E" * 16)) == (split_at, 50)
    assert transport_join(headers, next_header, payload) == raw
    if name != "dest-last":  # scapy (like Linux) keeps a lone destination options before
        assert (headers, next_header) == _scapy_split(packet)


def _scapy_split(packet: Packet) -> tuple[bytes, int]:
    header, next_header, _ = split_for_transport(packet, 50)
    header.plen = len(bytes(header)) - 40
    return bytes(header), next_header


@pytest.mark.parametrize(("enc_kw", "integ_kw", "crypt", "auth"), SUITES)
@pytest.mark.parametrize("name", ["plain", "hbh-routing", "full"])
def test_transport_mode_against_scapy(
    enc_kw: str, integ_kw: str, crypt: str, auth: str | None, name: str
) -> None:
    transform = make(enc_kw, integ_kw, seed=22)
    packet = chain(name, b"transport" * 7)
    raw = bytes(packet)
    sa = _scapy_sa(transform, crypt, auth)
    # ours → scapy: the same bytes scapy builds with our IV, and scapy decrypts it
    headers, next_header, payload = transport_split(raw)
    esp = encapsulate(transform, 3, payload, next_header, seeded(3))
    protected = attach(headers, esp)
    assert bytes(sa.encrypt(packet, seq_num=3, iv=_iv(transform, esp))) == protected
    assert bytes(sa.decrypt(IPv6(protected))) == raw
    # scapy → ours
    theirs = bytes(sa.encrypt(packet, seq_num=4))
    offset, protocol = upper_layer(theirs)
    assert protocol == 50
    result = decapsulate(transform, theirs[offset:])
    assert transport_join(theirs[:offset], result.next_header, result.inner) == raw


def test_transport_mode_lone_destination_options_either_side() -> None:
    """We protect a last destination options header; scapy (Linux) leaves it before ESP.
    Either placement is allowed (RFC 4303 §3.1.1) and both are taken on receipt."""
    transform = make("aes-gcm", "null", seed=23)
    packet = chain("dest-last")
    raw = bytes(packet)
    sa = _scapy_sa(transform, "AES-GCM", None)
    headers, next_header, payload = transport_split(raw)
    assert next_header == 60
    protected = attach(headers, encapsulate(transform, 1, payload, next_header, seeded()))
    assert bytes(sa.decrypt(IPv6(protected))) == raw
    theirs = bytes(sa.encrypt(packet))
    offset, _ = upper_layer(theirs)
    assert offset == 56  # after hop-by-hop and destination options
    result = decapsulate(transform, theirs[offset:])
    assert result.next_header == 17
    assert transport_join(theirs[:offset], 17, result.inner) == raw


def test_transport_join_checks_the_headers() -> None:
    headers, _, _ = transport_split(bytes(chain("hbh-routing")))
    with pytest.raises(ValueError):
        transport_join(headers, 256, b"")
    with pytest.raises(Ipv6Error, match="shorter than the 40-byte header"):
        transport_join(headers[:30], 17, b"")
    with pytest.raises(Ipv6Error, match="IP version 0"):
        transport_join(bytes(40), 17, b"")
    with pytest.raises(Ipv6Error, match="expected ESP"):
        transport_join(bytes(chain("plain"))[:40], 17, b"")  # next header 17, not 50
    with pytest.raises(Ipv6Error, match=r"43 at offset 48 \(24 bytes\) runs past"):
        transport_join(headers[:-8], 17, b"")
    with pytest.raises(Ipv6Error, match="exceeds 65535"):
        transport_join(headers, 17, bytes(65536 - len(headers) + 40))
    with pytest.raises(Ipv6Error, match="IP version"):
        attach(b"\x40" + bytes(39), b"")


# ------------------------------------------------------------------ fragmentation
def _scapy_with_fragment_header(name: str, ident: int, payload: bytes) -> Packet:
    """The same packet with scapy's Fragment header placed where RFC 8200 §4.5 puts it."""
    ip = IPv6(src=SRC, dst=DST, hlim=33, tc=0x2E, fl=0xBEEF)
    udp = UDP(sport=1234, dport=53) / Raw(payload)
    frag = IPv6ExtHdrFragment(id=ident)
    hbh, route = IPv6ExtHdrHopByHop(), IPv6ExtHdrRouting(addresses=[VIA])
    packets: dict[str, Packet] = {
        "plain": ip / frag / udp,
        "hbh": ip / hbh / frag / udp,
        "hbh-routing": ip / hbh / route / frag / udp,
        "full": ip / hbh / IPv6ExtHdrDestOpt() / route / frag / IPv6ExtHdrDestOpt() / udp,
        "dest-last": ip / hbh / frag / IPv6ExtHdrDestOpt() / udp,
    }
    return packets[name]


@pytest.mark.parametrize("name", CHAINS)
@pytest.mark.parametrize("mtu", [1280, 1283, 1500])
def test_fragment_matches_scapy_fragment6(name: str, mtu: int) -> None:
    payload = bytes(range(256)) * 13
    raw = bytes(chain(name, payload))
    ours = fragment(raw, mtu, 0xDEADBEEF)
    theirs = [
        bytes(p) for p in fragment6(_scapy_with_fragment_header(name, 0xDEADBEEF, payload), mtu)
    ]
    assert ours == theirs
    assert len(ours) >= 3
    assert all(len(piece) <= mtu for piece in ours)
    infos = [fragment_info(piece) for piece in ours]
    assert all(info is not None and info.ident == 0xDEADBEEF for info in infos)
    assert [len(split(p)[1]) for p in ours[:-1]] == [len(split(ours[0])[1])] * (len(ours) - 1)
    assert bytes(defragment6([IPv6(piece) for piece in ours])) == raw
    assert reassemble(ours[::-1]) == raw


def test_fragment_leaves_fitting_packets_whole_and_refuses_bad_input() -> None:
    raw = bytes(chain("full"))
    assert fragment(raw + b"\0\0", 1280, 1) == [raw]
    big = bytes(chain("hbh", bytes(3000)))
    with pytest.raises(ValueError, match="below the IPv6 minimum"):
        fragment(big, 1279, 1)
    with pytest.raises(ValueError, match="32-bit"):
        fragment(big, 1280, 2**32)
    pieces = fragment(big, 1280, 5)
    grown = attach(pieces[0][:48], pieces[0][48:] + bytes(400))  # a first fragment, too big
    with pytest.raises(Ipv6Error, match="already a fragment"):
        fragment(grown, 1280, 6)
    huge_route = IPv6ExtHdrRouting(addresses=[VIA] * 120)  # 1928-byte routing header
    with pytest.raises(Ipv6Error, match="leaves no room"):
        fragment(bytes(IPv6(src=SRC, dst=DST) / huge_route / UDP() / Raw(bytes(99))), 1500, 1)
    long_dest = IPv6ExtHdrDestOpt(options=[], autopad=0, len=200) / Raw(bytes(1606))
    with pytest.raises(Ipv6Error, match="RFC 7112"):
        fragment(bytes(IPv6(src=SRC, dst=DST, nh=60) / long_dest), 1280, 1)


def test_an_atomic_fragment_reassembles_alone() -> None:
    atomic = IPv6(src=SRC, dst=DST) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(id=3) / UDP()
    assert fragment_info(bytes(atomic)) == FragmentInfo(48, 17, 0, False, 3)  # RFC 6946
    assert reassemble([bytes(atomic)]) == bytes(
        IPv6(src=SRC, dst=DST) / IPv6ExtHdrHopByHop() / UDP()
    )


def test_reassemble_refuses_incomplete_or_inconsistent_fragments() -> None:
    pieces = fragment(bytes(chain("hbh-routing", bytes(4000))), 1280, 42)
    other = fragment(bytes(chain("hbh-routing", bytes(4000))), 1280, 43)
    cases: list[tuple[list[bytes], str]] = [
        ([], "no fragments"),
        (pieces[1:], "first fragment"),
        (pieces[:1] + pieces[2:], "leaves a gap"),
        (pieces + pieces[1:2], "overlaps"),
        (pieces[:-1], "wrong M flag"),
        (pieces[:1] + other[1:], "different packets"),
        ([*pieces[:-1], bytes(chain("plain"))], "without a Fragment header"),
    ]
    for fragments, message in cases:
        with pytest.raises(Ipv6Error, match=message):
            reassemble(fragments)
    odd = bytearray(pieces[0])
    odd[4:6] = (int.from_bytes(odd[4:6], "big") - 1).to_bytes(2, "big")
    with pytest.raises(Ipv6Error, match="not a multiple of 8"):
        reassemble([bytes(odd), *pieces[1:]])
    tail = IPv6(src=SRC, dst=DST) / IPv6ExtHdrFragment(nh=17, offset=8188, id=42) / Raw(bytes(64))
    head = (
        IPv6(src=SRC, dst=DST) / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=42) / Raw(bytes(65504))
    )
    with pytest.raises(Ipv6Error, match="exceeds 65535"):
        reassemble([bytes(head), bytes(tail)])


# ------------------------------------------------------------------ Packet Too Big
def test_packet_too_big_matches_scapy_and_its_checksum() -> None:
    invoking = bytes(chain("full", bytes(range(256)) * 6))
    ptb = packet_too_big(invoking, 1400, GATEWAY)
    assert ptb is not None
    assert len(ptb) == 1280  # as much of the invoking packet as fits (RFC 4443 §3.2)
    expected = IPv6(src=GATEWAY, dst=SRC) / ICMPv6PacketTooBig(mtu=1400) / Raw(invoking[:1232])
    assert ptb == bytes(expected)
    parsed = IPv6(ptb)
    sent = parsed[ICMPv6PacketTooBig].cksum
    del parsed[ICMPv6PacketTooBig].cksum
    assert IPv6(bytes(parsed))[ICMPv6PacketTooBig].cksum == sent  # scapy recomputes the same
    assert ipv6.upper_checksum(GATEWAY, SRC, 58, ptb[40:]) == 0
    small = bytes(chain("plain"))
    short = packet_too_big(small + b"\0\0", 1280, A(GATEWAY))
    assert short is not None
    assert short[48:] == small  # link padding is not quoted
    with pytest.raises(ValueError):
        packet_too_big(small, 1279, GATEWAY)


def test_no_packet_too_big_for_icmpv6_errors_or_unusable_sources() -> None:
    error = IPv6(src=SRC, dst=DST) / ICMPv6DestUnreach() / Raw(bytes(chain("plain")))
    assert packet_too_big(bytes(error), 1280, GATEWAY) is None
    behind = IPv6(src=SRC, dst=DST) / IPv6ExtHdrHopByHop() / ICMPv6PacketTooBig()
    assert packet_too_big(bytes(behind / Raw(bytes(64))), 1280, GATEWAY) is None
    echo = IPv6(src=SRC, dst=DST) / ICMPv6EchoRequest(data=b"ping")
    assert packet_too_big(bytes(echo), 1280, GATEWAY) is not None  # informational: answered
    later = IPv6(src=SRC, dst=DST) / IPv6ExtHdrFragment(nh=58, offset=1) / Raw(b"\x01" * 8)
    assert packet_too_big(bytes(later), 1280, GATEWAY) is not None  # type not visible
    for source in ("::", "ff02::1"):
        assert packet_too_big(bytes(IPv6(src=source, dst=DST) / UDP()), 1280, GATEWAY) is None
    to_multicast = IPv6(src=SRC, dst="ff05::2") / UDP()  # allowed for PTB (RFC 4443 §2.4)
    assert packet_too_big(bytes(to_multicast), 1280, GATEWAY) is not None


# ------------------------------------------------------------------ UDP 4500
def test_udp_datagram_and_checksum_match_scapy() -> None:
    esp = bytes(range(77))
    theirs = bytes(IPv6(src=SRC, dst=DST) / UDP(sport=4500, dport=4500) / Raw(esp))
    assert udp_encap_packet(A(SRC), A(DST), esp) == theirs
    assert udp_datagram(SRC, DST, esp) == theirs[40:]
    assert udp_checksum(A(SRC), A(DST), theirs[40:]) == int.from_bytes(theirs[46:48], "big")
    assert udp_checksum(A(SRC).packed, DST, theirs[40:]) == udp_checksum(SRC, DST, theirs[40:])
    assert udp_checksum_ok(SRC, DST, theirs[40:])
    assert not udp_checksum_ok(SRC, DST, theirs[40:46] + b"\0\0" + theirs[48:])  # RFC 8200 §8.1
    assert not udp_checksum_ok(SRC, "2001:db8::4", theirs[40:])
    assert not udp_checksum_ok(SRC, DST, theirs[40:44])
    with pytest.raises(Ipv6Error, match="shorter than its header"):
        udp_checksum(SRC, DST, b"1234567")
    with pytest.raises(ValueError):
        udp_datagram(SRC, DST, bytes(65528))


def test_a_computed_zero_udp_checksum_is_sent_as_ffff() -> None:
    header = struct.pack("!HHHH", 4500, 4500, 10, 0)
    partial = ~ipv6.upper_checksum(SRC, DST, 17, header + b"\0\0") & 0xFFFF  # the raw sum
    filler = (0xFFFF - partial).to_bytes(2, "big")  # makes the one's complement sum 0xFFFF
    assert ipv6.upper_checksum(SRC, DST, 17, header + filler) == 0
    assert udp_datagram(SRC, DST, filler)[6:8] == b"\xff\xff"
    assert bytes(IPv6(src=SRC, dst=DST) / UDP(sport=4500, dport=4500) / Raw(filler))[46:48] == (
        b"\xff\xff"
    )


@pytest.mark.parametrize(("enc_kw", "integ_kw", "crypt", "auth"), SUITES[:2])
def test_udp_encapsulated_tunnel_mode_scapy_decrypts(
    enc_kw: str, integ_kw: str, crypt: str, auth: str | None
) -> None:
    transform = make(enc_kw, integ_kw, seed=24)
    inner = bytes(chain("hbh", b"behind a NAT"))
    sa = _scapy_sa(
        transform,
        crypt,
        auth,
        tunnel_header=IPv6(src=GATEWAY, dst=VIA),
        nat_t_header=UDP(sport=4500, dport=4500),
    )
    packet = udp_encap_packet(A(GATEWAY), A(VIA), encapsulate(transform, 1, inner, 41, seeded()))
    assert udp_checksum_ok(GATEWAY, VIA, split(packet)[1])
    assert bytes(sa.decrypt(IPv6(packet))) == inner


# ------------------------------------------------------------------ Hypothesis
addresses = st.binary(min_size=16, max_size=16).map(IPv6Address)


@settings(max_examples=60, deadline=None)
@given(
    src=addresses,
    dst=addresses,
    next_header=st.integers(0, 255),
    hop_limit=st.integers(0, 255),
    traffic_class=st.integers(0, 255),
    flow_label=st.integers(0, 0xFFFFF),
    payload=st.binary(max_size=100),
    padding=st.binary(max_size=8),
)
def test_build_parse_round_trip(
    src: IPv6Address,
    dst: IPv6Address,
    next_header: int,
    hop_limit: int,
    traffic_class: int,
    flow_label: int,
    payload: bytes,
    padding: bytes,
) -> None:
    header = Ipv6Header(src, dst, next_header, len(payload), hop_limit, traffic_class, flow_label)
    packet = header.build() + payload
    assert split(packet + padding) == (header, payload)
    wrapped = tunnel_wrap(
        payload,
        src,
        dst,
        hop_limit=hop_limit,
        traffic_class=traffic_class,
        flow_label=flow_label,
        next_header=next_header,
    )
    assert wrapped == packet
    assert outer_fields(packet) == (traffic_class, flow_label)


@st.composite
def chains(
    draw: st.DrawFn, *, fragments: bool = True, min_payload: int = 0, max_payload: int = 200
) -> bytes:
    """A well-formed packet with a random extension header chain (built by hand here)."""
    kinds = draw(st.lists(st.sampled_from([43, 60] + [44] * fragments), max_size=5))
    if draw(st.booleans()):
        kinds.insert(0, 0)
    upper = draw(st.sampled_from([6, 17, 50, 58, 59, 51, 4, 41]))
    body = b""
    for index, kind in enumerate(kinds):
        following = kinds[index + 1] if index + 1 < len(kinds) else upper
        if kind == 44:
            field = draw(st.integers(0, 0xFFFF)) & 0xFFF9
            body += struct.pack("!BBHI", following, 0, field, draw(st.integers(0, 2**32 - 1)))
        else:
            units = draw(st.integers(0, 3))
            body += bytes((following, units)) + draw(
                st.binary(min_size=units * 8 + 6, max_size=units * 8 + 6)
            )
    body += draw(st.binary(min_size=min_payload, max_size=max_payload))
    first = kinds[0] if kinds else upper
    header = Ipv6Header(
        draw(addresses),
        draw(addresses),
        first,
        len(body),
        draw(st.integers(0, 255)),
        draw(st.integers(0, 255)),
        draw(st.integers(0, 0xFFFFF)),
    )
    return header.build() + body


@settings(max_examples=300, deadline=None)
@given(packet=chains(), padding=st.binary(max_size=8), esp=st.binary(max_size=40))
def test_transport_split_join_round_trip(packet: bytes, padding: bytes, esp: bytes) -> None:
    headers, next_header, payload = transport_split(packet + padding)
    assert transport_join(headers, next_header, payload) == packet
    assert (headers[:4], headers[7:40]) == (packet[:4], packet[7:40])  # only lengths, a pointer
    protected = attach(headers, esp)
    assert upper_layer(protected) == (len(headers), 50)
    assert len(headers) + len(payload) == len(packet)
    offset, protocol = upper_layer(packet)
    if offset == len(headers):  # nothing left after ESP's place but the upper layer
        assert next_header == protocol


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    packet=chains(fragments=False, min_payload=1000, max_payload=5000),
    mtu=st.integers(1280, 3000),
    ident=st.integers(0, 2**32 - 1),
    order=st.randoms(use_true_random=False),
)
def test_fragment_reassemble_round_trip(packet: bytes, mtu: int, ident: int, order: Any) -> None:
    pieces = fragment(packet, mtu, ident)
    assert all(len(piece) <= mtu for piece in pieces)
    if len(pieces) == 1:
        assert pieces == [packet]
        return
    infos = [fragment_info(piece) for piece in pieces]
    assert [info.more for info in infos if info is not None] == [True] * (len(pieces) - 1) + [False]
    order.shuffle(pieces)
    assert reassemble(pieces) == packet


def _only_ipv6_errors(data: bytes) -> None:
    calls: list[Callable[[], object]] = [
        lambda: parse_header(data),
        lambda: split(data),
        lambda: upper_layer(data),
        lambda: fragment_info(data),
        lambda: transport_split(data),
        lambda: transport_join(data, 17, b"x"),
        lambda: attach(data, b"x"),
        lambda: fragment(data, 1280, 1),
        lambda: reassemble([data]),
        lambda: packet_too_big(data, 1280, GATEWAY),
        lambda: outer_fields(data),
    ]
    for call in calls:
        with contextlib.suppress(Ipv6Error):
            call()


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=120))
def test_random_bytes_raise_only_ipv6_error(data: bytes) -> None:
    _only_ipv6_errors(data)
    _only_ipv6_errors(b"\x60" + data)


def _mutate(packet: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    mutated = bytearray(packet[:cut] if cut < len(packet) else packet)
    for position, mask in flips:
        if position < len(mutated):
            mutated[position] ^= mask
    return bytes(mutated)


flip_lists = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)), max_size=3)


@settings(max_examples=400, deadline=None)
@given(packet=chains(max_payload=40), cut=st.integers(0, 400), flips=flip_lists)
def test_mutated_packets_raise_only_ipv6_error(
    packet: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:
    _only_ipv6_errors(_mutate(packet, cut, flips))


@settings(max_examples=100, deadline=None)
@given(
    packet=chains(fragments=False, min_payload=1300, max_payload=2600),
    which=st.integers(0, 2),
    cut=st.integers(0, 400),
    flips=flip_lists,
)
def test_mutated_fragments_raise_only_ipv6_error(
    packet: bytes, which: int, cut: int, flips: list[tuple[int, int]]
) -> None:
    pieces = fragment(packet, 1280, 99)
    which %= len(pieces)
    pieces[which] = _mutate(pieces[which], cut, flips)
    with contextlib.suppress(Ipv6Error):
        whole = reassemble(pieces)
        assert len(whole) == 40 + int.from_bytes(whole[4:6], "big")


@pytest.mark.parametrize(
    "kw",
    [
        {"traffic_class": 256},
        {"flow_label": 1 << 20},
        {"hop_limit": 256},
        {"next_header": -1},
        {"src": bytes(4)},
    ],
)
def test_the_packed_outer_header_refuses_fields_out_of_range(kw: dict[str, object]) -> None:
    args: dict[str, object] = {"src": bytes(16), "dst": bytes(16), "esp_payload": b"x"}
    args.update(kw)
    with pytest.raises(ValueError):
        ipv6.outer_ipv6_packed(**args)  # type: ignore[arg-type]
