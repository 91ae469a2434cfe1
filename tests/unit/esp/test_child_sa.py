"""A child SA pair between two gateways: protect on one side, unprotect on the other."""

from __future__ import annotations

import random as stdlib_random
from collections.abc import Callable
from ipaddress import IPv4Address

import pytest

from tunnelgate.crypto import registry
from tunnelgate.esp.child_sa import ChildSa, Dropped, Protected, Unprotected
from tunnelgate.esp.ipv4 import Ipv4Header
from tunnelgate.esp.packet import NEXT_HEADER_IPV4, NEXT_HEADER_NO_NEXT, EspKeys, EspTransform
from tunnelgate.esp.sa import (
    Direction,
    EspSaState,
    Lifetime,
    LifetimeReason,
    RekeyNeeded,
    SaExpired,
)


def seeded(seed: int) -> Callable[[int], bytes]:
    generator = stdlib_random.Random(seed)
    return generator.randbytes


def transform(spi: int, encryption: str, integrity: str, seed: int) -> EspTransform:
    draw = seeded(seed)
    enc = registry.encryption(registry.Kind.ESP_V2_ENCRYPTION, encryption)
    integ = registry.integrity_algorithm(registry.Kind.ESP_V2_INTEGRITY, integrity)
    keys = EspKeys(draw(enc.keymat_bytes), draw(integ.key_bytes))
    return EspTransform.from_keywords(spi, encryption, integrity, keys)


def pair(
    encryption: str = "aes-gcm-256",
    integrity: str = "null",
    lifetime: Lifetime | None = None,
) -> tuple[ChildSa, ChildSa]:
    """Gateway A and B of one child SA: A's outbound is B's inbound and vice versa."""
    a_to_b = transform(0x1000_0001, encryption, integrity, 1)
    b_to_a = transform(0x2000_0002, encryption, integrity, 2)
    life = lifetime or Lifetime()
    a = ChildSa(a_to_b, b_to_a, life, 0.0, seeded(3))
    b = ChildSa(b_to_a, a_to_b, life, 0.0, seeded(4))
    return a, b


def packet(payload: bytes = b"hello through the tunnel") -> bytes:
    header = Ipv4Header(
        src=IPv4Address("10.1.0.1"),
        dst=IPv4Address("10.2.0.1"),
        protocol=17,
        total_length=20 + len(payload),
    )
    return header.build() + payload


def send(sender: ChildSa, inner: bytes, now: float = 1.0, **kwargs: int) -> bytes:
    result = sender.protect(inner, NEXT_HEADER_IPV4, now, seeded(9), **kwargs)
    assert isinstance(result, Protected)
    return result.esp


@pytest.mark.parametrize(
    ("encryption", "integrity"),
    [("aes-gcm-256", "null"), ("aes-256", "sha-256"), ("3des", "sha-1"), ("null", "md5")],
)
def test_both_directions_carry_packets_and_count_them(encryption: str, integrity: str) -> None:
    a, b = pair(encryption, integrity)
    inner = packet()
    for _ in range(3):
        got = b.unprotect(send(a, inner), 1.0)
        assert got == Unprotected(inner, NEXT_HEADER_IPV4, False)
    back = a.unprotect(send(b, inner), 1.0)
    assert isinstance(back, Unprotected) and back.inner == inner
    assert a.outbound_state.counters().packets == 3
    assert b.inbound_state.counters().packets == 3
    assert b.inbound_state.counters().bytes == 3 * len(inner)
    assert a.inbound_state.counters().packets == 1


def test_a_replayed_packet_is_dropped_and_counted() -> None:
    a, b = pair()
    esp = send(a, packet())
    assert isinstance(b.unprotect(esp, 1.0), Unprotected)
    assert b.unprotect(esp, 1.0) == Dropped("replay")
    assert b.inbound_state.counters().errors == (("replay", 1),)
    assert b.inbound_state.counters().packets == 1


def test_reordered_packets_inside_the_window_are_accepted() -> None:
    a, b = pair()
    sent = [send(a, packet(bytes([n]) * 8)) for n in range(10)]
    for esp in reversed(sent):
        assert isinstance(b.unprotect(esp, 1.0), Unprotected)
    assert b.inbound_state.counters().packets == 10


def test_a_forged_packet_does_not_move_the_window() -> None:
    a, b = pair("aes-256", "sha-1")
    esp = send(a, packet())
    forged = esp[:-1] + bytes([esp[-1] ^ 1])
    assert b.unprotect(forged, 1.0) == Dropped("icv-failed")
    assert isinstance(b.unprotect(esp, 1.0), Unprotected)  # the genuine one still gets in
    assert b.inbound_state.counters().errors == (("icv-failed", 1),)


def test_short_input_is_refused_not_raised() -> None:
    _, b = pair()
    for junk in (b"", b"\x00" * 7, b"\x10\x00\x00\x01" + b"\x00" * 12):
        result = b.unprotect(junk, 1.0)
        assert isinstance(result, Dropped) and result.reason in {"short-packet", "replay"}


def test_dummy_packets_are_reported_as_dummy() -> None:
    a, b = pair()
    result = a.protect(b"", NEXT_HEADER_NO_NEXT, 1.0, seeded(9), tfc_padding=40)
    assert isinstance(result, Protected)
    got = b.unprotect(result.esp, 1.0)
    assert isinstance(got, Unprotected) and got.dummy


def test_kilobyte_lifetime_asks_for_a_rekey_then_expires_the_sa() -> None:
    a, b = pair(lifetime=Lifetime(seconds=None, kilobytes=100))
    inner = packet(bytes(1004))  # 1 KB per packet
    events: list[object] = []
    for _ in range(100):
        result = a.protect(inner, NEXT_HEADER_IPV4, 1.0, seeded(9))
        assert isinstance(result, Protected)
        events.extend(result.events)
        b.unprotect(result.esp, 1.0)
    spi = a.outbound.spi
    assert events == [
        RekeyNeeded(spi, LifetimeReason.KILOBYTES),
        SaExpired(spi, LifetimeReason.KILOBYTES),
    ]
    assert a.protect(inner, NEXT_HEADER_IPV4, 1.0, seeded(9)) == Dropped("sa-expired")


def test_seconds_lifetime_by_tick() -> None:
    a, _ = pair(lifetime=Lifetime(seconds=100, kilobytes=None))
    assert a.tick(50.0) == ()
    soft = a.tick(96.0)
    assert {type(event) for event in soft} == {RekeyNeeded}
    hard = a.tick(100.0)
    assert {type(event) for event in hard} == {SaExpired} and len(hard) == 2


def test_sequence_exhaustion_stops_sending() -> None:
    a, _ = pair()
    a.outbound_state = EspSaState(
        a.outbound.spi, Direction.OUTBOUND, Lifetime(), 0.0, seeded(5), seq_limit=2
    )
    send(a, packet())
    last = a.protect(packet(), NEXT_HEADER_IPV4, 1.0, seeded(9))
    assert isinstance(last, Protected)
    assert last.events == (SaExpired(a.outbound.spi, LifetimeReason.SEQUENCE),)
    assert a.protect(packet(), NEXT_HEADER_IPV4, 1.0, seeded(9)) == Dropped("sa-expired")
    assert a.outbound_state.counters().errors == (("sa-expired", 1),)
