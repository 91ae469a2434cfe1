"""The data path's per-packet helpers: flow keys, the packed outer header, SAD generations."""

from __future__ import annotations

import struct

import pytest

from tunnelgate.esp.ipv4 import build_outer_ipv4, outer_ipv4_packed, packed_address
from tunnelgate.esp.sad import Sad, SadEntry
from tunnelgate.gateway.flow import flow_key, flow_of


def ipv4(
    protocol: int, src: str, dst: str, payload: bytes, *, frag: int = 0, ihl: int = 5
) -> bytes:
    options = bytes(4 * (ihl - 5))
    total = 4 * ihl + len(payload)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        total,
        1,
        frag,
        64,
        protocol,
        0,
        packed_address(src),
        packed_address(dst),
    )
    return header + options + payload


PACKETS = [
    ipv4(6, "10.1.0.10", "10.2.0.10", struct.pack("!HH", 40000, 5201) + bytes(20)),
    ipv4(6, "10.1.0.10", "10.2.0.10", struct.pack("!HH", 40001, 5201) + bytes(20)),
    ipv4(17, "10.1.0.10", "10.2.0.10", struct.pack("!HH", 40000, 5201) + bytes(4)),
    ipv4(17, "10.1.0.11", "10.2.0.10", struct.pack("!HH", 40000, 5201) + bytes(4)),
    ipv4(1, "10.1.0.10", "10.2.0.10", bytes((8, 0, 1, 2)) + bytes(4)),
    ipv4(1, "10.1.0.10", "10.2.0.10", bytes((0, 0, 3, 4)) + bytes(4)),
    ipv4(47, "10.1.0.10", "10.2.0.10", bytes(8)),
    ipv4(47, "10.1.0.10", "10.2.0.12", bytes(8)),
]


def test_equal_keys_mean_equal_flows_and_different_flows_different_keys() -> None:
    keys = [flow_key(p) for p in PACKETS]
    assert all(k is not None for k in keys)
    assert len(set(keys)) == len(PACKETS)
    flows = [flow_of(p) for p in PACKETS]
    assert len(set(flows)) == len(PACKETS)


def test_icmp_key_ignores_the_checksum_and_id() -> None:
    a = ipv4(1, "10.1.0.10", "10.2.0.10", bytes((8, 0, 1, 2, 0, 1, 0, 1)))
    b = ipv4(1, "10.1.0.10", "10.2.0.10", bytes((8, 0, 9, 9, 0, 2, 0, 2)))
    assert flow_key(a) == flow_key(b)
    assert flow_of(a) == flow_of(b)


@pytest.mark.parametrize(
    "packet",
    [
        ipv4(6, "10.1.0.10", "10.2.0.10", bytes(24), frag=3),  # a later fragment
        ipv4(6, "10.1.0.10", "10.2.0.10", bytes(24), frag=0x2000 | 0x100),
        ipv4(6, "10.1.0.10", "10.2.0.10", bytes(24), ihl=6),  # options
        b"\x60" + bytes(39),  # IPv6
        ipv4(6, "10.1.0.10", "10.2.0.10", b"")[:22],  # too short
    ],
)
def test_unusual_packets_have_no_key(packet: bytes) -> None:
    assert flow_key(packet) is None


def test_a_first_fragment_with_more_fragments_has_a_key() -> None:
    packet = ipv4(17, "10.1.0.10", "10.2.0.10", bytes(24), frag=0x2000)
    assert flow_key(packet) is not None


@pytest.mark.parametrize(
    ("df", "tos", "ident", "size"),
    [(False, 0, 0, 0), (True, 0xB8, 0xFFFF, 100), (False, 3, 1234, 1400), (True, 0, 7, 65515)],
)
def test_packed_outer_header_is_the_same_as_build_outer_ipv4(
    df: bool, tos: int, ident: int, size: int
) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expected = build_outer_ipv4("192.0.2.1", "198.51.100.2", payload, df=df, tos=tos, ident=ident)
    got = outer_ipv4_packed(
        packed_address("192.0.2.1"),
        packed_address("198.51.100.2"),
        payload,
        df=df,
        tos=tos,
        ident=ident,
    )
    assert got == expected


def test_packed_outer_header_refuses_oversized_payloads() -> None:
    with pytest.raises(ValueError, match="exceeds 65535"):
        outer_ipv4_packed(bytes(4), bytes(4), bytes(65516))


def test_every_sad_change_bumps_the_generation() -> None:
    sad: Sad[str] = Sad()
    seen = [sad.generation]
    sad.install(SadEntry(0x100, 0x200, "p", "k", "k", "in", "out"))
    seen.append(sad.generation)
    sad.replace(0x100, SadEntry(0x101, 0x201, "p", "k", "k", "in", "out"))
    seen.append(sad.generation)
    sad.remove(0x100)
    seen.append(sad.generation)
    sad.remove(0x999)  # nothing removed: no change
    seen.append(sad.generation)
    sad.lookup_outbound("k")
    seen.append(sad.generation)
    assert seen == [0, 1, 2, 3, 3, 3]
