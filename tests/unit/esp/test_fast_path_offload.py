"""The C fast path on a TUN with ``IFF_VNET_HDR`` (``esp/_fast.c``): TCP/IPv4 super-segments
read from the TUN are cut as the kernel cuts them, partial checksums are completed, and
consecutive TCP segments decrypted in one burst are written back as one GSO packet.

The "TUN" is an AF_UNIX datagram socketpair (frame boundaries like a TUN); the expected
packets are built independently with scapy, which computes every checksum."""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP  # type: ignore[import-untyped]
from scapy.layers.inet6 import IPv6  # type: ignore[import-untyped]
from scapy.packet import Raw  # type: ignore[import-untyped]

from tests.unit.esp.test_fast_path import LOOPBACK, TRANSFORMS, Installed, needs_c
from tunnelgate.esp import fast
from tunnelgate.esp.packet import open_esp, seal
from tunnelgate.gateway.flow import flow_key

pytestmark = needs_c

VNET = struct.Struct("=BBHHHH")  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
NEEDS_CSUM, GSO_NONE, GSO_TCPV4, GSO_TCPV6 = 1, 0, 1, 4
MSS = 1448
TRANSFORM = TRANSFORMS["aes-gcm-256"]


class VnetRig:
    """A FastPath with vnet headers on a socketpair "TUN", a gateway UDP socket, a peer."""

    def __init__(self) -> None:
        self.tun, self.kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.gw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (self.tun, self.kernel, self.gw, self.peer):
            sock.setblocking(False)
        for sock in (self.kernel, self.tun):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.gw.bind(("127.0.0.1", 0))
        self.peer.bind(("127.0.0.1", 0))
        self.fp = fast.FastPath(self.tun.fileno(), vnet_hdr=True)
        self.fp.add_local(LOOPBACK, self.gw.fileno(), self.gw.fileno())

    def close(self) -> None:
        for sock in (self.tun, self.kernel, self.gw, self.peer):
            sock.close()

    def outbound(self) -> fast.Sa:
        sa = fast.Sa(TRANSFORM.keys.encryption_key, TRANSFORM.spi, True)
        sa.enabled, sa.udp, sa.df_mode, sa.max_inner = 1, 1, 0, 1500
        sa.local = sa.peer = LOOPBACK
        sa.peer_port = self.peer.getsockname()[1]
        return sa

    def inbound(self) -> fast.Sa:
        sa = fast.Sa(TRANSFORM.keys.encryption_key, TRANSFORM.spi, False)
        sa.enabled, sa.udp, sa.peer = 1, 1, LOOPBACK
        sa.peer_port = self.peer.getsockname()[1]
        return sa

    def frames(self) -> list[bytes]:
        out = []
        while select.select([self.kernel], [], [], 0.2)[0]:
            out.append(self.kernel.recv(70_000))
        return out

    def datagrams(self) -> list[bytes]:
        out = []
        while select.select([self.peer], [], [], 0.2)[0]:
            out.append(self.peer.recv(70_000))
        return out


@contextmanager
def vnet_rig() -> Iterator[VnetRig]:
    rig = VnetRig()
    try:
        yield rig
    finally:
        rig.close()


def segment(
    i: int,
    *,
    flags: str = "A",
    size: int = MSS,
    sport: int = 40000,
    seq0: int = 1000,
    ident: int = 100,
) -> bytes:
    """Segment ``i`` of a TCP stream 10.1.0.10 -> 10.2.0.10, as the kernel would cut it."""
    packet = (
        IP(src="10.1.0.10", dst="10.2.0.10", id=(ident + i) & 0xFFFF, flags="DF", ttl=63)
        / TCP(
            sport=sport,
            dport=5201,
            seq=seq0 + MSS * i,
            ack=77,
            flags=flags,
            window=501,
            options=[("NOP", None), ("NOP", None), ("Timestamp", (11, 22))],
        )
        / Raw(bytes([i % 251]) * size)
    )
    return bytes(packet)


def super_segment(count: int, last: int = MSS, flags: str = "PA") -> bytes:
    """``count`` segments' worth of data in one TCP/IPv4 packet (the TUN's GSO_TCPV4 read),
    its TCP checksum partial (the pseudo-header sum, as the kernel leaves it)."""
    payload = b"".join(bytes([i % 251]) * (MSS if i < count - 1 else last) for i in range(count))
    packet = bytearray(
        bytes(
            IP(src="10.1.0.10", dst="10.2.0.10", id=100, flags="DF", ttl=63)
            / TCP(
                sport=40000,
                dport=5201,
                seq=1000,
                ack=77,
                flags=flags,
                window=501,
                options=[("NOP", None), ("NOP", None), ("Timestamp", (11, 22))],
            )
            / Raw(payload)
        )
    )
    tcp_len = len(packet) - 20
    pseudo = sum(struct.unpack("!4H", packet[12:20])) + 6 + tcp_len
    while pseudo >> 16:
        pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
    packet[36:38] = pseudo.to_bytes(2, "big")
    return bytes(packet)


def frame(
    packet: bytes,
    *,
    gso: int = GSO_NONE,
    flags: int = 0,
    size: int = 0,
    start: int = 0,
    offset: int = 0,
) -> bytes:
    return VNET.pack(flags, gso, 52 if gso else 0, size, start, offset) + packet


def test_a_super_segment_is_cut_as_the_kernel_cuts_it() -> None:
    with vnet_rig() as rig:
        big = super_segment(5, last=700)
        rig.kernel.send(frame(big, gso=GSO_TCPV4, flags=NEEDS_CSUM, size=MSS, start=20, offset=16))
        slow = rig.fp.tun_burst({}, 8)  # no flow cached: every segment goes to Python
        expected = [
            segment(i, size=MSS if i < 4 else 700, flags="PA" if i == 4 else "A") for i in range(5)
        ]
        assert slow == expected
        assert rig.fp.counts() == {"tun-super-segments": 1}


def test_cut_segments_of_a_cached_flow_are_sealed_in_order() -> None:
    with vnet_rig() as rig:
        sa = rig.outbound()
        big = super_segment(3)
        flows: dict[bytes, object] = {flow_key(segment(0)) or b"": Installed(fast_out=sa)}
        rig.kernel.send(frame(big, gso=GSO_TCPV4, flags=NEEDS_CSUM, size=MSS, start=20, offset=16))
        assert rig.fp.tun_burst(flows, 8) == []
        sent = rig.datagrams()
        assert [open_esp(TRANSFORM, d)[0] for d in sent] == [
            segment(i, flags="PA" if i == 2 else "A") for i in range(3)
        ]
        assert sent == [
            seal(TRANSFORM, i + 1, segment(i, flags="PA" if i == 2 else "A"), 4, os.urandom)
            for i in range(3)
        ]
        assert (sa.seq, sa.packets) == (3, 3)


def test_a_partial_checksum_is_completed_and_a_plain_frame_passes_as_is() -> None:
    with vnet_rig() as rig:
        udp = bytearray(
            bytes(
                IP(src="10.1.0.10", dst="10.2.0.10") / UDP(sport=5, dport=6) / Raw(b"hello world")
            )
        )
        good = bytes(udp)
        pseudo = sum(struct.unpack("!4H", udp[12:20])) + 17 + (len(udp) - 20)
        udp[26:28] = (pseudo % 0xFFFF).to_bytes(2, "big")
        rig.kernel.send(frame(bytes(udp), flags=NEEDS_CSUM, start=20, offset=6))
        rig.kernel.send(frame(good))
        assert rig.fp.tun_burst({}, 8) == [good, good]


@pytest.mark.parametrize(
    "bad",
    [
        b"\x00" * 12,
        frame(segment(0), gso=3, size=MSS),
        frame(segment(0), flags=NEEDS_CSUM, start=2000, offset=6),
    ],
    ids=["short", "udp-gso", "checksum-beyond-the-packet"],
)
def test_frames_it_cannot_take_are_counted_and_dropped(bad: bytes) -> None:
    with vnet_rig() as rig:
        rig.kernel.send(bad)
        assert rig.fp.tun_burst({}, 8) == []
        assert rig.fp.counts() == {"tun-bad-frame": 1}


def deliver(
    rig: VnetRig, inners: list[bytes], next_header: int = 4
) -> tuple[fast.Sa, list[object]]:
    """Seal ``inners`` (sequence numbers 1, 2, …) from the peer; one ``udp_burst``."""
    sa = rig.inbound()
    inst = Installed(fast_in=sa)
    spis: dict[int, object] = {TRANSFORM.spi: ("127.0.0.1", inst)}
    passed: dict[bytes, object] = {}
    for inner in inners:
        key = flow_key(inner)
        assert key is not None
        passed[key] = inst
    for seq, inner in enumerate(inners, 1):
        rig.peer.sendto(seal(TRANSFORM, seq, inner, next_header, os.urandom), rig.gw.getsockname())
    time.sleep(0.05)
    slow = rig.fp.udp_burst(rig.gw.fileno(), spis, passed, 64)
    return sa, slow  # type: ignore[return-value]


def split_gso(data: bytes) -> list[bytes]:
    """What the kernel makes of one GSO_TCPV4 write: the segments (scapy recomputes the
    checksums it checks)."""
    flags, gso, hdr_len, size, start, offset = VNET.unpack_from(data)
    packet = data[VNET.size :]
    assert (flags, gso, start, offset) == (NEEDS_CSUM, GSO_TCPV4, 20, 16)
    header, payload = packet[:hdr_len], packet[hdr_len:]
    ip = IP(packet)
    out = []
    for i, at in enumerate(range(0, len(payload), size)):
        piece = payload[at : at + size]
        seg = IP(header + piece)
        seg.len, seg.id = hdr_len + len(piece), ip.id + i
        seg[TCP].seq = ip[TCP].seq + at
        if at + size < len(payload):
            seg[TCP].flags = seg[TCP].flags & ~0x08  # PSH on the last only
        del seg.chksum, seg[TCP].chksum
        out.append(bytes(seg))
    return out


def test_consecutive_segments_are_written_as_one_gso_packet() -> None:
    with vnet_rig() as rig:
        inners = [segment(i, flags="PA" if i == 4 else "A") for i in range(5)]
        sa, slow = deliver(rig, inners)
        assert slow == []
        (written,) = rig.frames()
        flags, gso, hdr_len, size, start, offset = VNET.unpack_from(written)
        assert (flags, gso, hdr_len, size, start, offset) == (
            NEEDS_CSUM,
            GSO_TCPV4,
            52,
            MSS,
            20,
            16,
        )
        packet = written[VNET.size :]
        assert len(packet) == 52 + 5 * MSS
        # the TCP checksum field holds the pseudo-header sum (the kernel completes it)
        pseudo = sum(struct.unpack("!4H", packet[12:20])) + 6 + len(packet) - 20
        while pseudo >> 16:
            pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
        assert packet[36:38] == pseudo.to_bytes(2, "big")
        assert IP(packet).chksum == IP(bytes(IP(packet))).chksum  # the IP checksum is right
        assert split_gso(written) == inners
        assert rig.fp.counts() == {"fast-received": 5, "tun-coalesced": 5}
        assert (sa.packets, sa.bytes) == (5, sum(map(len, inners)))


@pytest.mark.parametrize(
    "inners",
    [
        [segment(0), segment(2)],  # a gap in the sequence numbers
        [segment(0, flags="PA"), segment(1)],  # PSH ends a GSO packet
        [segment(0, size=700), segment(1, seq0=1000 + 700 - MSS)],  # short: only the last
        [segment(0), segment(1, sport=40001)],  # another flow
        [segment(0), segment(1, flags="FA")],  # FIN is never gathered
        [segment(0, size=0), segment(1, size=0)],  # no data (pure ACKs)
    ],
    ids=["gap", "psh", "short-first", "other-flow", "fin", "no-data"],
)
def test_segments_that_may_not_be_joined_are_written_one_by_one(inners: list[bytes]) -> None:
    with vnet_rig() as rig:
        _, slow = deliver(rig, inners)
        assert slow == []
        assert rig.frames() == [bytes(VNET.size) + inner for inner in inners]


def test_a_segment_with_a_wrong_tcp_checksum_is_never_gathered() -> None:
    with vnet_rig() as rig:
        broken = bytearray(segment(1))
        broken[36] ^= 0xFF
        inners = [segment(0), bytes(broken), segment(2)]
        _, slow = deliver(rig, inners)
        assert slow == []
        # written as it came (the receiving host drops it); nothing joins across it
        assert rig.frames() == [bytes(VNET.size) + inner for inner in inners]


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(st.binary(max_size=3000), min_size=1, max_size=6))
def test_random_tun_frames_never_crash_and_only_whole_packets_come_back(
    frames: list[bytes],
) -> None:
    with vnet_rig() as rig:
        sa = rig.outbound()
        flows: dict[bytes, object] = {flow_key(segment(0)) or b"": Installed(fast_out=sa)}
        for data in frames:
            rig.kernel.send(data)
        slow = rig.fp.tun_burst(flows, 16)
        counts = rig.fp.counts()
        # each frame is dropped as bad, or gives packets back (never a vnet header) or sent
        assert counts.get("tun-bad-frame", 0) <= len(frames)
        for packet in slow:
            assert len(packet) <= 65535
        assert sa.packets == counts.get("fast-sent", 0) == len(rig.datagrams())


@settings(max_examples=60, deadline=None)
@given(datagrams=st.lists(st.binary(min_size=1, max_size=2000), min_size=1, max_size=6))
def test_random_datagrams_to_udp_4500_never_crash_and_come_back_untouched(
    datagrams: list[bytes],
) -> None:
    with vnet_rig() as rig:
        sa = rig.inbound()
        inst = Installed(fast_in=sa)
        # every datagram claims the SA's SPI: the worst case, all the way to the ICV check
        spi = TRANSFORM.spi.to_bytes(4, "big")
        sent = [spi + d for d in datagrams]
        for data in sent:
            rig.peer.sendto(data, rig.gw.getsockname())
        time.sleep(0.02)
        spis: dict[int, object] = {TRANSFORM.spi: ("127.0.0.1", inst)}
        slow = rig.fp.udp_burst(rig.gw.fileno(), spis, {}, 64)
        assert [item[1] for item in slow] == sent  # refused before any state changed
        assert (sa.highest, sa.packets, sa.bytes) == (0, 0, 0)
        assert rig.frames() == []


# ---------------------------------------------------------------- TCP over IPv6 (D113)

V6_SRC, V6_DST = "2001:db8:1::10", "2001:db8:2::10"
MSS6 = 1428  # 20 bytes less than IPv4's for the larger header


def segment6(i: int, *, size: int = MSS6, flags: str = "A", sport: int = 40000) -> bytes:
    """Segment ``i`` of a TCP/IPv6 stream, as the kernel would cut it (scapy's checksum)."""
    return bytes(
        IPv6(src=V6_SRC, dst=V6_DST, hlim=63)
        / TCP(
            sport=sport,
            dport=5201,
            seq=1000 + MSS6 * i,
            ack=77,
            flags=flags,
            window=501,
            options=[("NOP", None), ("NOP", None), ("Timestamp", (11, 22))],
        )
        / Raw(bytes([i % 251]) * size)
    )


def super_segment6(count: int, last: int = MSS6) -> bytes:
    """A GSO_TCPV6 read: ``count`` segments' data, the TCP checksum the pseudo-header sum."""
    payload = b"".join(bytes([i % 251]) * (MSS6 if i < count - 1 else last) for i in range(count))
    packet = bytearray(
        bytes(
            IPv6(src=V6_SRC, dst=V6_DST, hlim=63)
            / TCP(
                sport=40000,
                dport=5201,
                seq=1000,
                ack=77,
                flags="PA",
                window=501,
                options=[("NOP", None), ("NOP", None), ("Timestamp", (11, 22))],
            )
            / Raw(payload)
        )
    )
    pseudo = sum(struct.unpack("!16H", packet[8:40])) + 6 + len(packet) - 40
    while pseudo >> 16:
        pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
    packet[56:58] = pseudo.to_bytes(2, "big")
    return bytes(packet)


@needs_c
def test_an_ipv6_super_segment_is_cut_as_the_kernel_cuts_it() -> None:
    with vnet_rig() as rig:
        big = super_segment6(4, last=500)
        rig.kernel.send(frame(big, gso=GSO_TCPV6, flags=NEEDS_CSUM, size=MSS6, start=40, offset=16))
        slow = rig.fp.tun_burst({}, 8)
        expected = [
            segment6(i, size=MSS6 if i < 3 else 500, flags="PA" if i == 3 else "A")
            for i in range(4)
        ]
        assert slow == expected
        assert rig.fp.counts() == {"tun-super-segments": 1}


@needs_c
def test_cut_ipv6_segments_of_a_cached_flow_are_sealed_with_next_header_41() -> None:
    with vnet_rig() as rig:
        sa = rig.outbound()
        flows: dict[bytes, object] = {flow_key(segment6(0)) or b"": Installed(fast_out=sa)}
        big = super_segment6(3)
        rig.kernel.send(frame(big, gso=GSO_TCPV6, flags=NEEDS_CSUM, size=MSS6, start=40, offset=16))
        assert rig.fp.tun_burst(flows, 8) == []
        sent = rig.datagrams()
        assert [open_esp(TRANSFORM, d) for d in sent] == [
            (segment6(i, flags="PA" if i == 2 else "A"), 41) for i in range(3)
        ]


@needs_c
def test_consecutive_ipv6_segments_are_written_as_one_gso_packet() -> None:
    with vnet_rig() as rig:
        inners = [segment6(i, flags="PA" if i == 3 else "A") for i in range(4)]
        sa, slow = deliver(rig, inners, next_header=41)
        assert slow == []
        (written,) = rig.frames()
        flags, gso, hdr_len, size, start, offset = VNET.unpack_from(written)
        assert (flags, gso, hdr_len, size, start, offset) == (
            NEEDS_CSUM,
            GSO_TCPV6,
            72,
            MSS6,
            40,
            16,
        )
        packet = written[VNET.size :]
        assert len(packet) == 72 + 4 * MSS6
        assert int.from_bytes(packet[4:6], "big") == len(packet) - 40
        pseudo = sum(struct.unpack("!16H", packet[8:40])) + 6 + len(packet) - 40
        while pseudo >> 16:
            pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
        assert packet[56:58] == pseudo.to_bytes(2, "big")
        # what the kernel makes of it: the original segments
        header, payload = packet[:hdr_len], packet[hdr_len:]
        pieces = []
        for i, at in enumerate(range(0, len(payload), size)):
            seg = IPv6(header + payload[at : at + size])
            seg.plen = hdr_len - 40 + len(payload[at : at + size])
            seg[TCP].seq = 1000 + at
            if at + size < len(payload):
                seg[TCP].flags = seg[TCP].flags & ~0x08
            del seg[TCP].chksum
            pieces.append(bytes(seg))
            assert i < 4
        assert pieces == inners
        assert rig.fp.counts() == {"fast-received": 4, "tun-coalesced": 4}
        assert (sa.packets, sa.bytes) == (4, sum(map(len, inners)))


@needs_c
def test_an_ipv4_and_an_ipv6_segment_of_the_same_ports_are_never_joined() -> None:
    with vnet_rig() as rig:
        inners = [segment6(0), segment(1)]
        _, slow = deliver(rig, inners[:1], next_header=41)
        _, slow2 = deliver(rig, inners[1:])
        assert slow == slow2 == []
        assert [f[VNET.size :] for f in rig.frames()] == inners


@needs_c
@settings(max_examples=80, deadline=None)
@given(
    gso=st.sampled_from([GSO_TCPV4, GSO_TCPV6]),
    size=st.integers(0, 3000),
    start=st.integers(0, 120),
    cut=st.integers(0, 5000),
    flips=st.lists(st.tuples(st.integers(0, 120), st.integers(1, 255)), max_size=4),
)
def test_damaged_super_segments_never_crash(
    gso: int, size: int, start: int, cut: int, flips: list[tuple[int, int]]
) -> None:
    """Super-segments with wrong sizes, offsets and header bytes: cut or dropped, never a
    crash or a read past the frame."""
    packet = bytearray(super_segment6(4) if gso == GSO_TCPV6 else super_segment(4))
    for at, value in flips:
        packet[at % len(packet)] ^= value
    data = frame(bytes(packet[: max(1, len(packet) - cut)]), gso=gso, size=size, start=start)
    with vnet_rig() as rig:
        rig.kernel.send(data)
        slow = rig.fp.tun_burst({}, 8)
        counts = rig.fp.counts()
        assert counts.get("tun-super-segments", 0) == 1
        assert all(len(p) <= 65535 for p in slow)
        assert slow or counts.get("tun-bad-frame") == 1
