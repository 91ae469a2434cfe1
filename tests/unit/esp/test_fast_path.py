"""The data path's per-packet helpers (flow keys, the packed outer header, SAD generations)
and the C fast path (``esp/_fast.c``) held to the pure-Python reference it must match."""

from __future__ import annotations

import math
import os
import random as stdlib_random
import select
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from tunnelgate.crypto import registry
from tunnelgate.esp import fast
from tunnelgate.esp.child_sa import ChildSa, Dropped, Protected
from tunnelgate.esp.ipv4 import build_outer_ipv4, outer_ipv4_packed, packed_address
from tunnelgate.esp.packet import EspError, EspKeys, EspTransform, encapsulate, open_esp, seal
from tunnelgate.esp.replay import SEQ_MAX, ReplayWindow
from tunnelgate.esp.sa import RATE_CHECKS, Lifetime, LifetimeReason, RekeyNeeded, SaExpired
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


# ------------------------------------------------------------------- the C fast path

needs_c = pytest.mark.skipif(not fast.available(), reason="the C fast path (_fast) is not built")

GCM_KEYWORDS = ("aes-gcm", "aes-gcm-192", "aes-gcm-256")
LOOPBACK = fast.packed_int(b"\x7f\x00\x00\x01")
SPI_OUT = 0x1000_0001
SPI_IN = 0x2000_0002
RX_BYTES = 70_000


def seeded(seed: int) -> Callable[[int], bytes]:
    return stdlib_random.Random(seed).randbytes


def gcm_transform(keyword: str = "aes-gcm-256", spi: int = SPI_OUT, seed: int = 1) -> EspTransform:
    return esp_transform(keyword, "null", spi, seed)


def esp_transform(encryption: str, integrity: str, spi: int, seed: int) -> EspTransform:
    draw = seeded(seed)
    enc = registry.encryption(registry.Kind.ESP_V2_ENCRYPTION, encryption)
    integ = registry.integrity_algorithm(registry.Kind.ESP_V2_INTEGRITY, integrity)
    return EspTransform(spi, enc, integ, EspKeys(draw(enc.keymat_bytes), draw(integ.key_bytes)))


TRANSFORMS = {keyword: gcm_transform(keyword) for keyword in GCM_KEYWORDS}


def c_sa(transform: EspTransform, encrypt: bool, window_size: int = 64) -> fast.Sa:
    return fast.Sa(transform.keys.encryption_key, transform.spi, encrypt, window_size)


def python_open(transform: EspTransform, esp: bytes) -> tuple[bytes, int] | str:
    """``open_esp`` as ``Sa.open`` reports it: the result, or the EspError's reason."""
    try:
        return open_esp(transform, esp)
    except EspError as error:
        return error.reason


def c_reason(python_reason: str) -> str:
    """The reason ``Sa.open`` gives for a packet Python refuses with ``python_reason``: the C
    side has no "short-packet" (anything under its 36-byte minimum is "bad-length")."""
    return "bad-length" if python_reason == "short-packet" else python_reason


def seal_plaintext(transform: EspTransform, seq: int, plaintext: bytes) -> bytes:
    """A validly authenticated ESP packet around an arbitrary (e.g. badly padded) plaintext."""
    key = transform.keys.encryption_key
    header = struct.pack("!II", transform.spi, seq)
    iv = seq.to_bytes(8, "big")
    return header + iv + AESGCM(key[:-4]).encrypt(key[-4:] + iv, plaintext, header)


def tcp_packet(
    sport: int = 40000, size: int = 60, *, df: bool = False, src: str = "10.1.0.10"
) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, 5201, 1, 0, 0x50, 0x10, 1024, 0, 0)
    payload = bytes(range(256)) * (size // 256 + 1)
    return ipv4(6, src, "10.2.0.10", tcp + payload[: size - 40], frag=0x4000 if df else 0)


# ------------------------------------------------------------ 1. seal: the same bytes


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
@settings(max_examples=25, deadline=None)
@given(
    inner=st.binary(max_size=1500),
    seq=st.integers(1, SEQ_MAX),
    next_header=st.sampled_from([4, 59]),
)
def test_c_seal_is_python_seal(keyword: str, inner: bytes, seq: int, next_header: int) -> None:
    transform = TRANSFORMS[keyword]
    sealed = c_sa(transform, True).seal(seq, inner, next_header)
    assert sealed == seal(transform, seq, inner, next_header, os.urandom)


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_c_seal_every_padding_length(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    sa = c_sa(transform, True)
    for size in (*range(48), 1399, 1400, 1401, 1402, 1500):
        inner = bytes(range(256)) * 6
        for next_header in (4, 59):
            expected = seal(transform, size + 1, inner[:size], next_header, os.urandom)
            assert sa.seal(size + 1, inner[:size], next_header) == expected
            assert (len(expected) - 32) % 4 == 0


@needs_c
def test_seal_refuses_on_an_inbound_sa_and_open_on_an_outbound_one() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with pytest.raises(ValueError, match="not an outbound SA"):
        c_sa(transform, False).seal(1, b"x", 4)
    with pytest.raises(ValueError, match="not an inbound SA"):
        c_sa(transform, True).open(seal(transform, 1, b"x", 59, os.urandom))


@needs_c
@pytest.mark.parametrize(
    "args",
    [
        (bytes(16), 1, True),
        (bytes(37), 1, True),
        (bytes(36), 1, False, 31),
        (bytes(36), 1, True, 1025),
    ],
)
def test_sa_refuses_bad_keys_and_windows(args: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="keymat"):
        fast.Sa(*args)  # type: ignore[arg-type]


# ------------------------------------------------------------ 2. open: the same results


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
@settings(max_examples=25, deadline=None)
@given(inner=st.binary(max_size=1500), seq=st.integers(1, SEQ_MAX))
def test_c_open_is_python_open_for_valid_packets(keyword: str, inner: bytes, seq: int) -> None:
    transform = TRANSFORMS[keyword]
    sa = c_sa(transform, False)
    dummy = seal(transform, seq, inner, 59, os.urandom)  # next header 59: no TFC stripping
    assert sa.open(dummy) == python_open(transform, dummy) == (inner, 59)
    packet = tcp_packet(size=40 + len(inner) % 1400)
    tunnel = seal(transform, seq, packet, 4, os.urandom)
    assert sa.open(tunnel) == python_open(transform, tunnel) == (packet, 4)


@needs_c
@settings(max_examples=60, deadline=None)
@given(
    keyword=st.sampled_from(GCM_KEYWORDS),
    inner=st.binary(max_size=200),
    next_header=st.sampled_from([4, 59]),
    where=st.integers(0, 10_000),
    mask=st.integers(1, 255),
)
def test_c_open_refuses_a_flipped_byte_like_python(
    keyword: str, inner: bytes, next_header: int, where: int, mask: int
) -> None:
    transform = TRANSFORMS[keyword]
    packet = bytearray(seal(transform, 7, inner, next_header, os.urandom))
    packet[where % len(packet)] ^= mask
    expected = python_open(transform, bytes(packet))
    assert isinstance(expected, str)  # every flip is refused (the ICV covers all of it)
    assert expected == "icv-failed"
    assert c_sa(transform, False).open(bytes(packet)) == expected


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_c_open_length_refusals_and_the_short_packet_mapping(keyword: str) -> None:
    """Python says "short-packet" under its 34-byte overhead; C says "bad-length" under its
    36-byte minimum (header, IV, 4 bytes of body, ICV). Everything else is the same."""
    transform = TRANSFORMS[keyword]
    sa = c_sa(transform, False)
    valid = seal(transform, 3, bytes(range(100)), 59, os.urandom)
    seen = set()
    for size in range(len(valid) + 9):
        if size == len(valid):
            continue
        cut = (valid + bytes(8))[:size]
        python = python_open(transform, cut)
        assert isinstance(python, str)  # a shortened or lengthened packet is never valid
        seen.add((python, sa.open(cut)))
        assert sa.open(cut) == c_reason(python)
        if size < 34:
            assert (python, sa.open(cut)) == ("short-packet", "bad-length")
    assert seen == {
        ("short-packet", "bad-length"),
        ("bad-length", "bad-length"),
        ("icv-failed", "icv-failed"),
    }


@needs_c
@settings(max_examples=150, deadline=None)
@given(keyword=st.sampled_from(GCM_KEYWORDS), garbage=st.binary(max_size=2000))
def test_c_open_of_garbage_never_crashes_and_agrees(keyword: str, garbage: bytes) -> None:
    transform = TRANSFORMS[keyword]
    result = c_sa(transform, False).open(garbage)
    assert result in ("icv-failed", "bad-length", "bad-padding")
    python = python_open(transform, garbage)
    assert isinstance(python, str)
    assert result == c_reason(python)


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_c_open_bad_padding_like_python(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    sa = c_sa(transform, False)
    for plaintext in (
        b"abcd" + b"\x01\x03" + bytes((2, 4)),  # padding bytes not 1, 2
        b"abcde" + b"\x02" + bytes((1, 59)),
        b"ab" + b"\x01\x02\x04" + b"\x00" + bytes((3, 59)),
    ):
        packet = seal_plaintext(transform, 9, plaintext)
        assert python_open(transform, packet) == "bad-padding"
        assert sa.open(packet) == "bad-padding"
    good = seal_plaintext(transform, 9, b"abcd" + b"\x01\x02" + bytes((2, 59)))
    assert sa.open(good) == python_open(transform, good) == (b"abcd", 59)


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_c_open_pad_length_beyond_the_plaintext_is_bad_padding(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    packet = seal_plaintext(transform, 9, b"\x00\x00" + bytes((200, 4)))  # pad 200 of 4 bytes
    assert python_open(transform, packet) == "bad-padding"
    assert c_sa(transform, False).open(packet) == "bad-padding"


@needs_c
def test_c_open_does_not_strip_tfc_padding_or_check_the_inner_packet() -> None:
    """Documented difference: ``Sa.open`` returns the plaintext up to the padding, whatever
    the next header; Python's ``open_esp`` checks an inner IPv4 packet (next header 4) and
    cuts TFC padding after it by its total length."""
    transform = TRANSFORMS["aes-gcm-256"]
    sa = c_sa(transform, False)
    packet = tcp_packet(size=60)
    padded = encapsulate(transform, 5, packet, 4, os.urandom, tfc_padding=12)
    assert python_open(transform, padded) == (packet, 4)
    assert sa.open(padded) == (packet + bytes(12), 4)
    not_ipv4 = seal(transform, 6, b"\x60" + bytes(30), 4, os.urandom)
    assert python_open(transform, not_ipv4) == "bad-inner-packet"
    assert sa.open(not_ipv4) == (b"\x60" + bytes(30), 4)


# ------------------------------------------------------------ 3. the replay window

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["check", "commit", "commit"]),
        st.one_of(st.integers(0, 3000), st.integers(0, 140)),
    ),
    max_size=80,
)


def _same_window(sa: fast.Sa, window: ReplayWindow) -> None:
    assert sa.highest == window.highest
    assert sa.bitmap == window.bitmap


def _run(sa: fast.Sa, window: ReplayWindow, ops: list[tuple[str, int]]) -> None:
    for op, seq in ops:
        assert getattr(sa, op)(seq) == getattr(window, op)(seq), (op, seq)
        _same_window(sa, window)


@needs_c
@pytest.mark.parametrize("size", [32, 64, 100, 1024])
@settings(max_examples=60, deadline=None)
@given(ops=_OPS)
def test_c_window_is_replay_window(size: int, ops: list[tuple[str, int]]) -> None:
    sa = c_sa(TRANSFORMS["aes-gcm"], False, size)
    window = ReplayWindow(size)
    assert sa.window_size == size
    _same_window(sa, window)
    _run(sa, window, ops)


@needs_c
@pytest.mark.parametrize("size", [32, 64, 100, 1024])
@settings(max_examples=40, deadline=None)
@given(before=st.lists(st.integers(1, 3000), max_size=60), ops=_OPS)
def test_c_window_set_from_a_replay_window_goes_on_like_it(
    size: int, before: list[int], ops: list[tuple[str, int]]
) -> None:
    window = ReplayWindow(size)
    for seq in before:
        window.commit(seq)
    sa = c_sa(TRANSFORMS["aes-gcm"], False, size)
    sa.commit(5000)  # some other state, overwritten below
    sa.highest = window.highest
    sa.bitmap = window.bitmap
    _same_window(sa, window)
    _run(sa, window, ops)


@needs_c
def test_c_window_table_cases() -> None:
    sa = c_sa(TRANSFORMS["aes-gcm"], False, 1024)
    assert not sa.check(0)
    assert sa.commit(SEQ_MAX)
    assert not sa.commit(SEQ_MAX)
    assert sa.commit(SEQ_MAX - 1023)
    assert not sa.check(SEQ_MAX - 1024)
    assert sa.bitmap == 1 | 1 << 1023
    with pytest.raises(TypeError):
        sa.bitmap = "no"  # type: ignore[assignment]


# ------------------------------------------------------------ 4. sharing EspSaState


def child_pair(
    lifetime: Lifetime | None = None, encryption: str = "aes-gcm-256"
) -> tuple[ChildSa, ChildSa]:
    integrity = "null" if "gcm" in encryption else "sha-256"
    a_to_b = esp_transform(encryption, integrity, SPI_OUT, 1)
    b_to_a = esp_transform(encryption, integrity, SPI_IN, 2)
    life = lifetime or Lifetime()
    a = ChildSa(a_to_b, b_to_a, life, 0.0, seeded(3))
    b = ChildSa(b_to_a, a_to_b, life, 0.0, seeded(4))
    return a, b


@needs_c
def test_outbound_numbers_moved_by_c_are_the_states_and_python_goes_on_from_them() -> None:
    a, b = child_pair()
    sa = a.attach_fast(True)
    assert isinstance(sa, fast.Sa)
    assert (sa.spi, sa.seq, sa.packets, sa.bytes) == (SPI_OUT, 0, 0, 0)
    state = a.outbound_state
    sa.seq, sa.packets, sa.bytes = 5, 5, 5000  # what a C burst of five packets leaves
    assert state.last_seq == 5
    counters = state.counters()
    assert (counters.packets, counters.bytes) == (5, 5000)
    kilobytes = Lifetime().kilobytes
    assert kilobytes is not None
    assert state.remaining(0.0)[0] == kilobytes - 5000 // 1024
    inner = tcp_packet(size=100)
    esp = a.protect_packet(inner, 4, 0.0, os.urandom)
    assert isinstance(esp, bytes)
    assert esp[4:8] == (6).to_bytes(4, "big")
    assert esp == seal(a.outbound, 6, inner, 4, os.urandom) == sa.seal(6, inner, 4)
    assert (sa.seq, sa.packets, sa.bytes) == (6, 6, 5100)
    assert b.unprotect_packet(esp, 0.0) == inner


@needs_c
def test_outbound_limits_are_the_soft_then_the_hard_point_then_zero() -> None:
    a, _ = child_pair(Lifetime(seconds=None, kilobytes=10))
    sa = a.attach_fast(True)
    assert sa is not None
    state = a.outbound_state
    fraction = state.soft_fraction
    assert sa.byte_stop == math.ceil(10 * 1024 / RATE_CHECKS)  # the first rate check (D111)
    assert sa.seq_stop == max(1, int(SEQ_MAX * fraction))
    inner = tcp_packet(size=100)
    sa.bytes = math.ceil(10 * 1024 * fraction) - 1  # one below the soft point
    sa.seq = sa.packets = 40
    soft = a.protect_packet(inner, 4, 0.0, os.urandom)
    assert isinstance(soft, Protected)
    assert soft.events == (RekeyNeeded(SPI_OUT, LifetimeReason.KILOBYTES),)
    assert soft.esp[4:8] == (41).to_bytes(4, "big")
    assert (sa.byte_stop, sa.seq_stop) == (10 * 1024, SEQ_MAX)
    sa.bytes = 10 * 1024 - 1
    hard = a.protect_packet(inner, 4, 0.0, os.urandom)
    assert isinstance(hard, Protected)
    assert hard.events == (SaExpired(SPI_OUT, LifetimeReason.KILOBYTES),)
    assert (sa.seq_stop, sa.byte_stop) == (0, 0)
    assert sa.seq == 42
    assert isinstance(a.protect_packet(inner, 4, 0.0, os.urandom), Dropped)


@needs_c
def test_inbound_window_moves_to_the_c_sa_and_python_uses_it() -> None:
    a, b = child_pair()
    packets = [tcp_packet(sport=40000 + i, size=80) for i in range(6)]
    sealed = [a.protect_packet(p, 4, 0.0, os.urandom) for p in packets]
    assert all(isinstance(s, bytes) for s in sealed)
    assert b.unprotect_packet(sealed[0], 0.0) == packets[0]  # seq 1
    assert b.unprotect_packet(sealed[2], 0.0) == packets[2]  # seq 3
    sa = b.attach_fast(False)
    assert isinstance(sa, fast.Sa)
    state = b.inbound_state
    assert state.replay is sa
    assert (sa.highest, sa.bitmap, sa.packets, sa.bytes) == (3, 0b101, 2, 160)
    assert b.unprotect_packet(sealed[1], 0.0) == packets[1]
    assert (sa.highest, sa.bitmap) == (3, 0b111)
    assert b.unprotect_packet(sealed[5], 0.0) == packets[5]
    assert (sa.highest, sa.bitmap) == (6, 0b111001)
    replay = b.unprotect_packet(sealed[5], 0.0)
    assert isinstance(replay, Dropped)
    assert replay.reason == "replay"
    sa.commit(7)  # a packet the C burst accepted ...
    sa.packets, sa.bytes = sa.packets + 1, sa.bytes + 80
    counters = state.counters()
    assert (counters.packets, counters.bytes) == (5, 400)
    assert counters.errors == (("replay", 1),)
    late = b.unprotect_packet(sealed[4], 0.0)  # seq 5: still inside the window
    assert late == packets[4]
    assert (sa.highest, sa.bitmap) == (7, 0b1110111)


@needs_c
@pytest.mark.parametrize("encryption", ["aes-gmac-256", "null"])
def test_attach_fast_is_none_for_what_c_does_not_implement(encryption: str) -> None:
    integrity = "null" if "gmac" in encryption else "sha-256"
    a_to_b = esp_transform(encryption, integrity, SPI_OUT, 1)
    b_to_a = esp_transform(encryption, integrity, SPI_IN, 2)
    a = ChildSa(a_to_b, b_to_a, Lifetime(), 0.0, seeded(3))
    assert a.attach_fast(True) is None
    assert a.attach_fast(False) is None
    assert isinstance(a.inbound_state.replay, ReplayWindow)


# ------------------------------------------------------------ 5. FastPath plumbing


class Installed:
    """What the flow and SPI caches map to: an object with ``fast_out`` / ``fast_in``."""

    def __init__(self, fast_out: fast.Sa | None = None, fast_in: fast.Sa | None = None) -> None:
        self.fast_out = fast_out
        self.fast_in = fast_in


class Rig:
    """A FastPath on a socketpair "TUN", a gateway UDP socket and a peer socket (loopback)."""

    def __init__(self) -> None:
        self.tun, self.kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.gw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (self.tun, self.kernel, self.gw, self.peer):
            sock.setblocking(False)
        self.gw.bind(("127.0.0.1", 0))
        self.peer.bind(("127.0.0.1", 0))
        self.fp = fast.FastPath(self.tun.fileno())
        self.fp.add_local(LOCAL_INT, self.gw.fileno(), self.gw.fileno())

    @property
    def peer_port(self) -> int:
        return int(self.peer.getsockname()[1])

    def close(self) -> None:
        for sock in (self.tun, self.kernel, self.gw, self.peer):
            sock.close()

    def outbound_sa(self, transform: EspTransform) -> fast.Sa:
        sa = c_sa(transform, True)
        sa.enabled, sa.udp, sa.df_mode, sa.max_inner = 1, 1, 0, 1400
        sa.local = sa.peer = LOCAL_INT
        sa.peer_port = self.peer_port
        return sa

    def inbound_sa(self, transform: EspTransform) -> fast.Sa:
        sa = c_sa(transform, False)
        sa.enabled, sa.udp = 1, 1
        sa.peer = LOCAL_INT
        sa.peer_port = self.peer_port
        return sa


LOCAL_INT = LOOPBACK


@contextmanager
def rig() -> Iterator[Rig]:
    made = Rig()
    try:
        yield made
    finally:
        made.close()


def receive(sock: socket.socket, count: int, timeout: float = 2.0) -> list[tuple[bytes, object]]:
    """``count`` datagrams (waiting for them), then whatever else arrives within 50 ms."""
    got: list[tuple[bytes, object]] = []
    wait = timeout
    while True:
        ready, _, _ = select.select([sock], [], [], wait if len(got) < count else 0.05)
        if not ready:
            return got
        got.append(sock.recvfrom(RX_BYTES))


def from_tun(r: Rig, count: int) -> list[bytes]:
    return [data for data, _ in receive(r.kernel, count)]


@needs_c
def test_tun_burst_returns_unknown_packets_unchanged_in_order() -> None:
    with rig() as r:
        assert r.fp.tun_burst({}, 8) == []
        packets = [tcp_packet(sport=1000 + i, size=60 + i) for i in range(3)]
        for p in packets:
            r.kernel.send(p)
        assert r.fp.tun_burst({}, 8) == packets
        assert r.fp.tun_burst({}, 8) == []
        for p in packets:
            r.kernel.send(p)
        assert r.fp.tun_burst({}, 2) == packets[:2]  # the limit
        assert r.fp.tun_burst({}, 2) == packets[2:]
        assert r.fp.counts() == {}


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_tun_burst_seals_and_sends_over_udp_like_python(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    with rig() as r:
        sa = r.outbound_sa(transform)
        inner = tcp_packet(size=120)
        flows = {flow_key(inner): Installed(fast_out=sa)}
        r.kernel.send(inner)
        assert r.fp.tun_burst(flows, 8) == []
        got = receive(r.peer, 1)
        assert got == [(seal(transform, 1, inner, 4, os.urandom), r.gw.getsockname())]
        assert (sa.seq, sa.packets, sa.bytes) == (1, 1, len(inner))
        assert r.fp.counts() == {"fast-sent": 1}


@needs_c
def test_tun_burst_sends_a_burst_as_separate_datagrams_with_consecutive_seqs() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        sa = r.outbound_sa(transform)
        installed = Installed(fast_out=sa)
        # same sizes (one GSO batch), a shorter last one, then a longer one (a new batch),
        # a DF one (another socket mode), and one of another flow of the same SA
        sizes = [200, 200, 200, 150, 300, 300]
        packets = [tcp_packet(size=s) for s in sizes]
        packets.append(tcp_packet(size=200, df=True))
        packets.append(tcp_packet(sport=50000, size=200))
        flows = {flow_key(p): installed for p in packets}
        for p in packets:
            r.kernel.send(p)
        assert r.fp.tun_burst(flows, 16) == []
        got = [data for data, _ in receive(r.peer, len(packets))]
        expected = [seal(transform, i, p, 4, os.urandom) for i, p in enumerate(packets, 1)]
        assert got == expected
        assert (sa.seq, sa.packets, sa.bytes) == (8, 8, sum(map(len, packets)))
        assert r.fp.counts().get("fast-sent") == 8
        assert set(r.fp.counts()) == {"fast-sent"} or "gso-fallback" in r.fp.counts()


@needs_c
@pytest.mark.parametrize("case", ["too-long", "disabled", "seq-stop", "byte-stop", "no-local"])
def test_tun_burst_hands_back_what_the_sa_may_not_send(case: str) -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        sa = r.outbound_sa(transform)
        sa.seq, sa.packets, sa.bytes = 10, 10, 1000
        inner = tcp_packet(size=300)
        if case == "too-long":
            sa.max_inner = len(inner) - 1
        elif case == "disabled":
            sa.enabled = 0
        elif case == "seq-stop":
            sa.seq_stop = sa.seq + 1
        elif case == "byte-stop":
            sa.byte_stop = sa.bytes + len(inner)
        else:
            sa.local = fast.packed_int(b"\x7f\x00\x00\x02")
        flows = {flow_key(inner): Installed(fast_out=sa)}
        r.kernel.send(inner)
        assert r.fp.tun_burst(flows, 8) == [inner]
        assert (sa.seq, sa.packets, sa.bytes) == (10, 10, 1000)
        assert receive(r.peer, 0) == []
        assert r.fp.counts() == {}


@needs_c
@pytest.mark.parametrize("case", ["max-inner", "seq-stop", "byte-stop"])
def test_tun_burst_sends_right_below_each_limit(case: str) -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        sa = r.outbound_sa(transform)
        sa.seq, sa.packets, sa.bytes = 10, 10, 1000
        inner = tcp_packet(size=300)
        if case == "max-inner":
            sa.max_inner = len(inner)
        elif case == "seq-stop":
            sa.seq_stop = sa.seq + 2
        else:
            sa.byte_stop = sa.bytes + len(inner) + 1
        flows = {flow_key(inner): Installed(fast_out=sa)}
        r.kernel.send(inner)
        assert r.fp.tun_burst(flows, 8) == []
        assert [d for d, _ in receive(r.peer, 1)] == [seal(transform, 11, inner, 4, os.urandom)]
        assert (sa.seq, sa.packets, sa.bytes) == (11, 11, 1300)


@needs_c
def test_tun_burst_mixes_fast_and_slow_packets() -> None:
    transform = TRANSFORMS["aes-gcm"]
    with rig() as r:
        sa = r.outbound_sa(transform)
        fast_one, other, fast_two = tcp_packet(1), tcp_packet(2), tcp_packet(1, size=70)
        not_an_sa = tcp_packet(3)
        flows = {
            flow_key(fast_one): Installed(fast_out=sa),
            flow_key(not_an_sa): Installed(fast_out=None),
        }
        for p in (fast_one, other, not_an_sa, fast_two, b"\x60" + bytes(50)):
            r.kernel.send(p)
        assert r.fp.tun_burst(flows, 8) == [other, not_an_sa, b"\x60" + bytes(50)]
        got = [d for d, _ in receive(r.peer, 2)]
        assert got == [
            seal(transform, 1, fast_one, 4, os.urandom),
            seal(transform, 2, fast_two, 4, os.urandom),
        ]


_IPV4ISH = st.builds(
    lambda first, flags, frag, protocol, rest, length: (
        bytes((first, 0)) + struct.pack("!HHBB", 0, 1, flags, frag) + bytes((64, protocol)) + rest
    )[:length],
    first=st.sampled_from([0x45, 0x45, 0x45, 0x46, 0x44, 0x55, 0x65]),
    flags=st.sampled_from([0, 0x40, 0x20, 0x01, 0x1F, 0x80]),
    frag=st.sampled_from([0, 0, 1, 0x80]),
    protocol=st.sampled_from([1, 6, 17, 47, 50, 0, 255]),
    rest=st.binary(min_size=40, max_size=80),
    length=st.integers(0, 90),
)


@needs_c
@settings(max_examples=40, deadline=None)
@given(
    packets=st.lists(_IPV4ISH, min_size=1, max_size=6),
    chosen=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_tun_burst_flow_keys_are_pythons(packets: list[bytes], chosen: list[bool]) -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        sa = r.outbound_sa(transform)
        installed = Installed(fast_out=sa)
        flows = {}
        for p, pick in zip(packets, chosen, strict=False):
            key = flow_key(p)
            if key is not None and pick:
                flows[key] = installed
        for p in packets:
            r.kernel.send(p)
            before = sa.seq
            slow = r.fp.tun_burst(flows, 1)
            if flow_key(p) in flows:
                assert slow == []
                assert sa.seq == before + 1
                got = [d for d, _ in receive(r.peer, 1)]
                next_header = 41 if p[0] >> 4 == 6 else 4  # IPv6 gets keys too (D113)
                assert got == [seal(transform, sa.seq, p, next_header, os.urandom)]
            else:
                assert slow == [p]
                assert sa.seq == before


# ---------------------------------------------------------------- inbound over UDP


def inbound_rig(
    r: Rig, transform: EspTransform, inner: bytes
) -> tuple[fast.Sa, Installed, dict[int, object], dict[bytes, object]]:
    sa = r.inbound_sa(transform)
    inst = Installed(fast_in=sa)
    spis: dict[int, object] = {transform.spi: ("127.0.0.1", inst)}
    key = flow_key(inner)
    assert key is not None
    passed: dict[bytes, object] = {key: inst}
    return sa, inst, spis, passed


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_udp_burst_opens_and_writes_to_the_tun(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    with rig() as r:
        inner = tcp_packet(size=200)
        sa, _, spis, passed = inbound_rig(r, transform, inner)
        r.peer.sendto(seal(transform, 7, inner, 4, os.urandom), r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        assert r.fp.udp_burst(r.gw.fileno(), spis, passed, 8) == []
        assert from_tun(r, 1) == [inner]
        assert (sa.highest, sa.bitmap, sa.packets, sa.bytes) == (7, 1, 1, len(inner))
        assert r.fp.counts() == {"fast-received": 1}
        assert r.fp.udp_burst(r.gw.fileno(), spis, passed, 8) == []


@needs_c
def test_udp_burst_hands_back_what_it_may_not_take_unchanged() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.1", 0))
        inner = tcp_packet(size=200)
        sa, _, spis, passed = inbound_rig(r, transform, inner)
        esp = seal(transform, 7, inner, 4, os.urandom)
        r.peer.sendto(esp, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        assert r.fp.udp_burst(r.gw.fileno(), spis, passed, 8) == []
        assert from_tun(r, 1) == [inner]
        state = (sa.highest, sa.bitmap, sa.packets, sa.bytes)
        tampered = bytearray(seal(transform, 8, inner, 4, os.urandom))
        tampered[40] ^= 1
        other_spi = seal(gcm_transform(spi=0x3000_0003, seed=9), 9, inner, 4, os.urandom)
        cases: list[tuple[socket.socket, bytes]] = [
            (r.peer, esp),  # a replayed copy
            (r.peer, bytes(tampered)),
            (stranger, seal(transform, 10, inner, 4, os.urandom)),  # another port
            (r.peer, bytes(4) + b"IKE-ish header and payload"),
            (r.peer, b"\xff"),  # NAT-T keepalive
            (r.peer, seal(transform, 11, b"dummy", 59, os.urandom)),  # next header 59
            (r.peer, seal(transform, 12, b"\x45" + bytes(10), 4, os.urandom)),  # < 20 bytes
            (r.peer, other_spi),  # an SPI the cache does not know
        ]
        for sender, datagram in cases:
            sender.sendto(datagram, r.gw.getsockname())
            select.select([r.gw], [], [], 2.0)
            got = r.fp.udp_burst(r.gw.fileno(), spis, passed, 8)
            assert got == [(sender.getsockname(), datagram)]
            assert (sa.highest, sa.bitmap, sa.packets, sa.bytes) == state
        assert from_tun(r, 0) == []
        assert r.fp.counts() == {"fast-received": 1}


@needs_c
def test_udp_burst_returns_a_flow_it_does_not_pass_after_committing() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        inner = tcp_packet(size=200)
        sa, inst, spis, passed = inbound_rig(r, transform, inner)
        elsewhere = tcp_packet(sport=1234, size=90)
        owned_by_another = tcp_packet(sport=4321, size=90)
        passed[flow_key(owned_by_another)] = Installed(fast_in=sa)  # type: ignore[index]
        for seq, p in ((3, elsewhere), (5, owned_by_another), (4, inner)):
            r.peer.sendto(seal(transform, seq, p, 4, os.urandom), r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        source = r.peer.getsockname()
        got = []
        for _ in range(20):  # three datagrams on loopback: a few reads at most
            got += r.fp.udp_burst(r.gw.fileno(), spis, passed, 8)
            if sa.packets == 3:
                break
            select.select([r.gw], [], [], 0.1)
        assert got == [(source, elsewhere, inst), (source, owned_by_another, inst)]
        assert got[0][2] is inst
        assert from_tun(r, 1) == [inner]
        assert (sa.highest, sa.bitmap, sa.packets) == (5, 0b111, 3)
        assert sa.bytes == len(elsewhere) + len(owned_by_another) + len(inner)
        assert r.fp.counts() == {"fast-received": 3}


@needs_c
def test_udp_burst_respects_the_inbound_limits() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        inner = tcp_packet(size=200)
        sa, _, spis, passed = inbound_rig(r, transform, inner)
        sa.byte_stop = len(inner)  # bytes + len must stay below it
        esp = seal(transform, 1, inner, 4, os.urandom)
        r.peer.sendto(esp, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        assert r.fp.udp_burst(r.gw.fileno(), spis, passed, 8) == [(r.peer.getsockname(), esp)]
        assert (sa.highest, sa.packets) == (0, 0)
        sa.byte_stop = len(inner) + 1
        r.peer.sendto(esp, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        assert r.fp.udp_burst(r.gw.fileno(), spis, passed, 8) == []
        assert from_tun(r, 1) == [inner]
        assert (sa.highest, sa.packets) == (1, 1)


@needs_c
def test_a_child_sa_pair_through_two_fast_paths() -> None:
    """Gateway A's C outbound burst to gateway B's C inbound burst, with the SAs from
    ``attach_fast``; Python's ChildSa on B then goes on from the C window."""
    a, b = child_pair()
    with rig() as ra, rig() as rb:
        out = a.attach_fast(True)
        inn = b.attach_fast(False)
        assert out is not None and inn is not None
        out.enabled, out.udp, out.max_inner = 1, 1, 1400
        out.local = out.peer = LOCAL_INT
        out.peer_port = rb.gw.getsockname()[1]
        inn.enabled, inn.udp, inn.peer = 1, 1, LOCAL_INT
        inn.peer_port = ra.gw.getsockname()[1]
        packets = [tcp_packet(size=100 + i) for i in range(3)]
        ra.kernel.send(packets[0])
        ra.kernel.send(packets[1])
        flows = {flow_key(packets[0]): Installed(fast_out=out)}
        inst = Installed(fast_in=inn)
        assert ra.fp.tun_burst(flows, 8) == []
        select.select([rb.gw], [], [], 2.0)
        spis: dict[int, object] = {SPI_OUT: ("127.0.0.1", inst)}
        passed: dict[bytes, object] = {flow_key(packets[0]): inst}  # type: ignore[dict-item]
        got: list[object] = []
        for _ in range(20):
            got += rb.fp.udp_burst(rb.gw.fileno(), spis, passed, 8)
            if inn.packets == 2:
                break
            select.select([rb.gw], [], [], 0.1)
        assert got == []
        assert from_tun(rb, 2) == packets[:2]
        assert a.outbound_state.last_seq == 2
        esp = a.protect_packet(packets[2], 4, 0.0, os.urandom)
        assert isinstance(esp, bytes)
        assert b.unprotect_packet(esp, 0.0) == packets[2]
        assert (inn.highest, inn.bitmap) == (3, 0b111)
        assert b.inbound_state.counters().packets == 3


@needs_c
def test_udp_burst_cuts_tfc_padding_like_python() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        inner = tcp_packet(size=200)
        _, _, spis, passed = inbound_rig(r, transform, inner)
        esp = encapsulate(transform, 1, inner, 4, os.urandom, tfc_padding=16)
        assert open_esp(transform, esp) == (inner, 4)
        r.peer.sendto(esp, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        assert r.fp.udp_burst(r.gw.fileno(), spis, passed, 8) == []
        assert from_tun(r, 1) == [inner]


@needs_c
def test_udp_burst_hands_back_an_inner_packet_python_refuses() -> None:
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        inner = bytearray(tcp_packet(size=200))
        inner[2:4] = (400).to_bytes(2, "big")  # claims more bytes than it has
        sa, _, spis, passed = inbound_rig(r, transform, bytes(inner))
        esp = seal(transform, 1, bytes(inner), 4, os.urandom)
        assert python_open(transform, esp) == "bad-inner-packet"
        r.peer.sendto(esp, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        got = r.fp.udp_burst(r.gw.fileno(), spis, passed, 8)
        assert from_tun(r, 0) == []
        assert got == [(r.peer.getsockname(), esp)]
        assert (sa.highest, sa.packets) == (0, 0)


# ---------------------------------------------------------------- IPv6 inner packets (D113)


def ipv6_packet(next_header: int, payload: bytes, src: str = "2001:db8:1::10") -> bytes:
    from ipaddress import IPv6Address

    from tunnelgate.esp.ipv6 import Ipv6Header

    header = Ipv6Header(IPv6Address(src), IPv6Address("2001:db8:2::10"), next_header, len(payload))
    return header.build() + payload


IPV6_PACKETS = [
    ipv6_packet(6, struct.pack("!HH", 40000, 5201) + bytes(30)),
    ipv6_packet(6, struct.pack("!HH", 40001, 5201) + bytes(30)),
    ipv6_packet(17, struct.pack("!HH", 40000, 5201) + bytes(4)),
    ipv6_packet(58, bytes((128, 0, 1, 2)) + bytes(4)),
    ipv6_packet(58, bytes((129, 0, 1, 2)) + bytes(4)),
    ipv6_packet(47, bytes(8)),
    ipv6_packet(6, struct.pack("!HH", 40000, 5201) + bytes(30), src="2001:db8:1::11"),
]


def test_ipv6_keys_are_their_own_and_tell_flows_apart() -> None:
    keys = [flow_key(p) for p in IPV6_PACKETS]
    assert all(k is not None and len(k) in (37, 34, 33) for k in keys)
    assert len(set(keys)) == len(keys)
    assert {len(k) for k in (flow_key(p) for p in PACKETS) if k} & {37, 34, 33} == set()
    for packet, key in zip(IPV6_PACKETS, keys, strict=True):
        same_flow = [p for p, k in zip(IPV6_PACKETS, keys, strict=True) if k == key]
        assert all(flow_of(p) == flow_of(packet) for p in same_flow)
    hop_by_hop = ipv6_packet(0, bytes((6, 0)) + bytes(6) + struct.pack("!HH", 1, 2) + bytes(16))
    assert flow_key(hop_by_hop) is None  # extension headers: classified in full
    assert flow_key(IPV6_PACKETS[0][:-1]) is None  # shorter than its payload length


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_tun_burst_seals_ipv6_with_next_header_41_like_python(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    with rig() as r:
        sa = r.outbound_sa(transform)
        flows = {flow_key(p): Installed(fast_out=sa) for p in IPV6_PACKETS}
        for p in IPV6_PACKETS:
            r.kernel.send(p)
        assert r.fp.tun_burst(flows, 16) == []
        got = [d for d, _ in receive(r.peer, len(IPV6_PACKETS))]
        assert got == [
            seal(transform, seq, p, 41, os.urandom) for seq, p in enumerate(IPV6_PACKETS, 1)
        ]
        assert open_esp(transform, got[0]) == (IPV6_PACKETS[0], 41)


@needs_c
@pytest.mark.parametrize("keyword", GCM_KEYWORDS)
def test_udp_burst_opens_ipv6_and_cuts_tfc_padding(keyword: str) -> None:
    transform = TRANSFORMS[keyword]
    with rig() as r:
        inner = IPV6_PACKETS[0]
        sa, _, spis, passed = inbound_rig(r, transform, inner)
        r.peer.sendto(seal(transform, 3, inner, 41, os.urandom), r.gw.getsockname())
        padded = seal(transform, 4, inner + bytes(24), 41, os.urandom)  # TFC padding after it
        r.peer.sendto(padded, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        got: list[object] = []
        for _ in range(20):
            got += r.fp.udp_burst(r.gw.fileno(), spis, passed, 8)
            if sa.packets == 2:
                break
            select.select([r.gw], [], [], 0.1)
        assert got == []
        assert from_tun(r, 2) == [inner, inner]
        assert (sa.highest, sa.packets, sa.bytes) == (4, 2, 2 * len(inner))


@needs_c
def test_an_ipv6_inner_packet_under_next_header_4_is_handed_back() -> None:
    """The next header must say what the packet is: Python refuses the mismatch."""
    transform = TRANSFORMS["aes-gcm-256"]
    with rig() as r:
        inner = IPV6_PACKETS[0]
        sa, _, spis, passed = inbound_rig(r, transform, inner)
        esp = seal(transform, 5, inner, 4, os.urandom)
        r.peer.sendto(esp, r.gw.getsockname())
        select.select([r.gw], [], [], 2.0)
        slow = r.fp.udp_burst(r.gw.fileno(), spis, passed, 8)
        assert [item[1] for item in slow] == [esp]  # untouched: the window did not move
        assert (sa.highest, sa.packets) == (0, 0)


_IPV6ISH = st.builds(
    lambda next_header, plen, body, cut: (
        bytes((0x60, 0, 0, 0)) + plen.to_bytes(2, "big") + bytes((next_header, 64)) + body
    )[: 40 + cut],
    next_header=st.sampled_from([6, 17, 58, 0, 43, 44, 60, 59, 41, 255]),
    plen=st.integers(0, 200),
    body=st.binary(min_size=32, max_size=240),
    cut=st.integers(0, 200),
)


@settings(max_examples=300, deadline=None)
@given(_IPV6ISH)
def test_random_ipv6_packets_classify_or_are_refused_and_keys_agree(packet: bytes) -> None:
    """Bad IPv6 from the protected side (D113): ``flow_of`` answers or raises ``NotIpv4``
    with a reason, never anything else; a key, when there is one, stands for that flow."""
    from tunnelgate.gateway.flow import NotIpv4

    try:
        flow = flow_of(packet)
    except NotIpv4 as exc:
        assert str(exc)
        flow = None
    key = flow_key(packet)
    if key is not None:
        assert flow is not None and len(key) in (37, 34, 33)
        assert key[0] == flow.protocol
