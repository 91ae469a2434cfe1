"""The C fast path's CBC + HMAC SAs (AES-CBC, 3DES, DES with every ESP HMAC) against the
pure-Python transform: what one seals the other opens, both refuse the same packets for the
same reasons, and ``ChildSa.attach_fast`` gives such SAs to the C side."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.esp.test_fast_path import esp_transform, needs_c, python_open, tcp_packet
from tunnelgate.esp import fast
from tunnelgate.esp.child_sa import ChildSa
from tunnelgate.esp.packet import EspTransform, seal
from tunnelgate.esp.sa import Lifetime

pytestmark = needs_c

CASES = [
    (encryption, integrity)
    for encryption in ("aes", "aes-192", "aes-256")
    for integrity in ("md5", "sha-1", "sha-256", "sha-384", "sha-512")
] + [("3des", "sha-1"), ("3des", "md5"), ("des", "sha-1"), ("3des", "sha-512")]
IDS = [f"{e}+{i}" for e, i in CASES]
TRANSFORMS = {case: esp_transform(*case, spi=0x3000_0003, seed=n) for n, case in enumerate(CASES)}


def c_sa(transform: EspTransform, encrypt: bool) -> fast.Sa:
    enc, integrity = transform.encryption, transform.integrity
    assert integrity.hash_name is not None
    return fast.Sa(
        transform.keys.encryption_key,
        transform.spi,
        encrypt,
        cipher="aes-cbc" if enc.block_bytes == 16 else "3des-cbc",
        auth_key=transform.keys.integrity_key,
        digest=integrity.hash_name,
        icv=integrity.icv_bytes,
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=15, deadline=None)
@given(inner=st.binary(max_size=1500), seq=st.integers(1, 2**32 - 1))
def test_what_c_seals_python_opens_and_the_other_way(
    case: tuple[str, str], inner: bytes, seq: int
) -> None:
    transform = TRANSFORMS[case]
    sealed = c_sa(transform, True).seal(seq, inner, 59)
    assert python_open(transform, sealed) == (inner, 59)
    assert len(sealed) == len(seal(transform, seq, inner, 59, os.urandom))  # same padding
    from_python = seal(transform, seq, inner, 59, os.urandom)
    assert c_sa(transform, False).open(from_python) == (inner, 59)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_flipped_byte_is_refused_like_python(case: tuple[str, str]) -> None:
    transform = TRANSFORMS[case]
    opener = c_sa(transform, False)
    packet = seal(transform, 5, tcp_packet(size=100), 4, os.urandom)
    for at in range(len(packet)):
        broken = bytearray(packet)
        broken[at] ^= 0x01
        assert opener.open(bytes(broken)) == python_open(transform, bytes(broken)) == "icv-failed"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_lengths_that_cannot_be_cbc_are_bad_length(case: tuple[str, str]) -> None:
    transform = TRANSFORMS[case]
    opener = c_sa(transform, False)
    packet = seal(transform, 5, tcp_packet(size=100), 4, os.urandom)
    icv = transform.integrity.icv_bytes
    odd = packet[: -icv - 1] + packet[-icv:]  # the ciphertext one byte short of a block
    assert opener.open(odd) == "bad-length" == python_open(transform, odd)
    assert opener.open(packet[:20]) == "bad-length"


def test_ivs_are_fresh_per_packet() -> None:
    transform = TRANSFORMS[("aes-256", "sha-256")]
    sealer = c_sa(transform, True)
    ivs = {sealer.seal(1, b"same", 4)[8:24] for _ in range(50)}
    assert len(ivs) == 50


def test_bad_parameters_are_refused() -> None:
    transform = TRANSFORMS[("aes-256", "sha-256")]
    key, auth = transform.keys.encryption_key, transform.keys.integrity_key
    with pytest.raises(ValueError):
        fast.Sa(key, 0x1000, True, cipher="aes-cbc")  # no HMAC
    with pytest.raises(ValueError):
        fast.Sa(key[:20], 0x1000, True, cipher="aes-cbc", auth_key=auth, digest="sha256", icv=16)
    with pytest.raises(RuntimeError):
        fast.Sa(key, 0x1000, True, cipher="aes-cbc", auth_key=auth, digest="nope", icv=16)
    with pytest.raises(RuntimeError):  # an ICV longer than the digest
        fast.Sa(key, 0x1000, True, cipher="aes-cbc", auth_key=auth, digest="md5", icv=20)


def test_attach_fast_takes_cbc_sas_and_both_paths_agree() -> None:
    out_t = TRANSFORMS[("aes-256", "sha-256")]
    in_t = TRANSFORMS[("3des", "sha-1")]
    sender = ChildSa(out_t, in_t, Lifetime(), 0.0, os.urandom)
    receiver = ChildSa(in_t, out_t, Lifetime(), 0.0, os.urandom)
    c_out = sender.attach_fast(outbound=True)
    c_in = receiver.attach_fast(outbound=False)
    assert c_out is not None and c_in is not None
    inner = tcp_packet(size=300)
    for seq in (1, 2):
        esp = c_out.seal(seq, inner, 4)
        c_out.seq = seq  # as the C burst does
        assert receiver.unprotect_packet(esp, 1.0) == inner  # Python opens, C's window moves
    assert c_in.highest == 2
    assert sender.protect_packet(inner, 4, 1.0, os.urandom) is not None
    assert sender.outbound_state.last_seq == 3
