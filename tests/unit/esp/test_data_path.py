"""The data path's ESP entry points (``seal``, ``open_esp``, ``ChildSa.protect_packet`` /
``unprotect_packet``) against the general ones: same bytes, same refusals, same state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.esp.test_child_sa import pair
from tests.unit.esp.test_packet import COMBOS, inner_ipv4, make, seeded
from tunnelgate.esp.child_sa import Dropped, Protected, Unprotected
from tunnelgate.esp.packet import (
    NEXT_HEADER_IPV4,
    NEXT_HEADER_NO_NEXT,
    EspError,
    decapsulate,
    encapsulate,
    open_esp,
    seal,
)
from tunnelgate.esp.sa import Lifetime, RekeyNeeded, SaExpired

_COMBO = st.sampled_from(COMBOS)
_PAYLOADS = st.lists(st.binary(max_size=300), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(_COMBO, _PAYLOADS)
def test_seal_is_encapsulate_and_open_is_decapsulate(
    combo: tuple[str, str], payloads: list[bytes]
) -> None:
    enc_kw, integ_kw = combo
    ours, reference = make(enc_kw, integ_kw), make(enc_kw, integ_kw)
    rnd_ours, rnd_ref = seeded(5), seeded(5)
    for seq, payload in enumerate(payloads, start=1):  # CBC contexts chain across packets
        inner = inner_ipv4(payload)
        sealed = seal(ours, seq, inner, NEXT_HEADER_IPV4, rnd_ours)
        assert sealed == encapsulate(reference, seq, inner, NEXT_HEADER_IPV4, rnd_ref)
        assert open_esp(ours, sealed) == (inner, NEXT_HEADER_IPV4)
        dummy = seal(ours, seq, payload, NEXT_HEADER_NO_NEXT, rnd_ours)
        assert dummy == encapsulate(reference, seq, payload, NEXT_HEADER_NO_NEXT, rnd_ref)
        assert open_esp(ours, dummy) == (payload, NEXT_HEADER_NO_NEXT)


@settings(max_examples=60, deadline=None)
@given(_COMBO, st.binary(max_size=200), st.integers(0, 199), st.integers(1, 255))
def test_open_refuses_as_decapsulate_does(
    combo: tuple[str, str], payload: bytes, where: int, flip: int
) -> None:
    transform = make(*combo)
    good = encapsulate(transform, 9, inner_ipv4(payload), NEXT_HEADER_IPV4, seeded(1))
    tampered = bytearray(good)
    tampered[where % len(good)] ^= flip
    for data in (bytes(tampered), good[: where % len(good)], good[:-1]):
        try:
            expected: object = decapsulate(make(*combo), data)[1:]
        except EspError as error:
            expected = error.reason
        try:
            got: object = open_esp(transform, data)
        except EspError as error:
            got = error.reason
        assert got == expected


def test_tfc_padded_inner_packet_is_cut() -> None:
    transform = make("aes-gcm-256", "null")
    inner = inner_ipv4(b"x" * 33)
    esp = encapsulate(transform, 1, inner, NEXT_HEADER_IPV4, seeded(1), tfc_padding=40)
    assert open_esp(transform, esp) == (inner, NEXT_HEADER_IPV4)


def test_child_sa_packet_methods_match_protect_and_unprotect() -> None:
    for enc, integ in (("aes-gcm-256", "null"), ("aes-256", "sha-256"), ("3des", "sha-1")):
        a, b = pair(enc, integ)
        ref_a, ref_b = pair(enc, integ)
        rnd, ref_rnd = seeded(8), seeded(8)
        for n in range(5):
            inner = inner_ipv4(bytes([n]) * (10 + n))
            esp = a.protect_packet(inner, NEXT_HEADER_IPV4, 1.0, rnd)
            ref = ref_a.protect(inner, NEXT_HEADER_IPV4, 1.0, ref_rnd)
            assert isinstance(ref, Protected) and esp == ref.esp and not ref.events
            assert isinstance(esp, bytes)
            assert b.unprotect_packet(esp, 1.0) == inner
            assert ref_b.unprotect(esp, 1.0) == Unprotected(inner, NEXT_HEADER_IPV4, False)
            replayed = b.unprotect_packet(esp, 1.0)
            assert replayed == ref_b.unprotect(esp, 1.0) == Dropped("replay")
        assert a.outbound_state.counters() == ref_a.outbound_state.counters()
        assert b.inbound_state.counters() == ref_b.inbound_state.counters()


def test_child_sa_packet_methods_report_lifetime_events() -> None:
    a, b = pair(lifetime=Lifetime(seconds=None, kilobytes=1))  # soft at 870..973 bytes
    inner = inner_ipv4(b"y" * 310)  # 330 bytes: 660, 990, 1320
    # all at the SA's creation instant: no rate is measured, the drawn point stands (D111)
    results = [a.protect_packet(inner, NEXT_HEADER_IPV4, 0.0, seeded(1)) for _ in range(4)]
    assert [type(r) for r in results] == [bytes, bytes, Protected, Protected]
    assert isinstance(results[2], Protected) and isinstance(results[2].events[0], RekeyNeeded)
    assert isinstance(results[3], Protected) and isinstance(results[3].events[0], SaExpired)
    assert isinstance(a.protect_packet(inner, 4, 1.0, seeded(1)), Dropped)
    esps = [r if isinstance(r, bytes) else r.esp for r in results]
    got = [b.unprotect_packet(esp, 0.0) for esp in esps]
    assert got[:2] == [inner, inner]
    assert isinstance(got[2], Unprotected) and isinstance(got[2].events[0], RekeyNeeded)
    assert isinstance(got[3], Unprotected) and isinstance(got[3].events[0], SaExpired)
    assert b.unprotect_packet(esps[0], 1.0) == Dropped("sa-expired")
    dummy = a.protect_packet(b"", NEXT_HEADER_NO_NEXT, 1.0, seeded(1))
    assert isinstance(dummy, Dropped)  # expired


def test_child_sa_dummy_packet_is_unprotected_value() -> None:
    a, b = pair()
    esp = a.protect_packet(b"pad", NEXT_HEADER_NO_NEXT, 1.0, seeded(1))
    assert isinstance(esp, bytes)
    assert b.unprotect_packet(esp, 1.0) == Unprotected(b"pad", NEXT_HEADER_NO_NEXT, True)
