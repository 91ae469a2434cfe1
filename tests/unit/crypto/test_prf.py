"""HMAC PRFs against RFC 2202 / RFC 4231, and prf+ against an independent expansion."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tunnelgate.crypto.prf import (
    PRF_HMAC_MD5,
    PRF_HMAC_SHA1,
    PRF_HMAC_SHA2_256,
    PRF_HMAC_SHA2_384,
    PRF_HMAC_SHA2_512,
    Prf,
    prf_plus,
)

H = bytes.fromhex
HI_THERE = b"Hi There"
JEFE_DATA = b"what do ya want for nothing?"
LARGE_KEY_DATA = b"Test Using Larger Than Block-Size Key - Hash Key First"

VECTORS: list[tuple[str, Prf, bytes, bytes, str]] = [
    # RFC 2202 §2, HMAC-MD5 test cases 1, 2, 6
    (
        "RFC 2202 §2 case 1",
        PRF_HMAC_MD5,
        b"\x0b" * 16,
        HI_THERE,
        "9294727a3638bb1c13f48ef8158bfc9d",
    ),
    ("RFC 2202 §2 case 2", PRF_HMAC_MD5, b"Jefe", JEFE_DATA, "750c783e6ab0b503eaa86e310a5db738"),
    (
        "RFC 2202 §2 case 6",
        PRF_HMAC_MD5,
        b"\xaa" * 80,
        LARGE_KEY_DATA,
        "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
    ),
    # RFC 2202 §3, HMAC-SHA-1 test cases 1, 2, 6
    (
        "RFC 2202 §3 case 1",
        PRF_HMAC_SHA1,
        b"\x0b" * 20,
        HI_THERE,
        "b617318655057264e28bc0b6fb378c8ef146be00",
    ),
    (
        "RFC 2202 §3 case 2",
        PRF_HMAC_SHA1,
        b"Jefe",
        JEFE_DATA,
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    ),
    (
        "RFC 2202 §3 case 6",
        PRF_HMAC_SHA1,
        b"\xaa" * 80,
        LARGE_KEY_DATA,
        "aa4ae5e15272d00e95705637ce8a3b55ed402112",
    ),
    # RFC 4231 §4.2 (test case 1) — also RFC 4868 §2.7.1 PRF-1
    (
        "RFC 4231 §4.2 SHA-256",
        PRF_HMAC_SHA2_256,
        b"\x0b" * 20,
        HI_THERE,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        "RFC 4231 §4.2 SHA-384",
        PRF_HMAC_SHA2_384,
        b"\x0b" * 20,
        HI_THERE,
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6",
    ),
    (
        "RFC 4231 §4.2 SHA-512",
        PRF_HMAC_SHA2_512,
        b"\x0b" * 20,
        HI_THERE,
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
    # RFC 4231 §4.3 (test case 2)
    (
        "RFC 4231 §4.3 SHA-256",
        PRF_HMAC_SHA2_256,
        b"Jefe",
        JEFE_DATA,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        "RFC 4231 §4.3 SHA-384",
        PRF_HMAC_SHA2_384,
        b"Jefe",
        JEFE_DATA,
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
    ),
    (
        "RFC 4231 §4.3 SHA-512",
        PRF_HMAC_SHA2_512,
        b"Jefe",
        JEFE_DATA,
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
    # RFC 4231 §4.7 (test case 6, key longer than the block)
    (
        "RFC 4231 §4.7 SHA-256",
        PRF_HMAC_SHA2_256,
        b"\xaa" * 131,
        LARGE_KEY_DATA,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        "RFC 4231 §4.7 SHA-384",
        PRF_HMAC_SHA2_384,
        b"\xaa" * 131,
        LARGE_KEY_DATA,
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952",
    ),
    (
        "RFC 4231 §4.7 SHA-512",
        PRF_HMAC_SHA2_512,
        b"\xaa" * 131,
        LARGE_KEY_DATA,
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    ),
]


@pytest.mark.parametrize(
    ("source", "prf", "key", "data", "expected"), VECTORS, ids=[v[0] for v in VECTORS]
)
def test_hmac_prf_vectors(source: str, prf: Prf, key: bytes, data: bytes, expected: str) -> None:
    assert prf(key, data) == H(expected), source


def test_rfc4231_4_6_truncation_case() -> None:
    # RFC 4231 §4.6 (test case 5): only the leftmost 128 bits are specified.
    out = PRF_HMAC_SHA2_256(b"\x0c" * 20, b"Test With Truncation")
    assert out[:16] == H("a3b6167473100ee06e0c796c2955552b")


def _independent_prf_plus(hash_name: str, key: bytes, seed: bytes, length: int) -> bytes:
    """RFC 7296 §2.13 written out again with the standard library's hmac."""
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = hmac.new(key, t + seed + bytes([n]), getattr(hashlib, hash_name)).digest()
        out += t
        n += 1
    return out[:length]


@pytest.mark.parametrize(
    "prf",
    [PRF_HMAC_MD5, PRF_HMAC_SHA1, PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512],
    ids=lambda p: p.name,
)
@pytest.mark.parametrize("length", [0, 1, 20, 32, 33, 100, 212, 1000])
def test_prf_plus_matches_independent_expansion(prf: Prf, length: int) -> None:
    key = bytes(range(prf.key_bytes))
    seed = b"Ni" * 8 + b"Nr" * 8 + bytes(range(16))
    assert prf_plus(prf, key, seed, length) == _independent_prf_plus(
        prf.hash_name, key, seed, length
    )


def test_prf_plus_first_block_is_prf_of_seed_and_one() -> None:
    key, seed = b"k" * 20, b"seed"
    assert prf_plus(PRF_HMAC_SHA1, key, seed, 20) == PRF_HMAC_SHA1(key, seed + b"\x01")


def test_prf_plus_stops_at_255_blocks() -> None:
    assert len(prf_plus(PRF_HMAC_SHA1, b"k", b"s", 255 * 20)) == 255 * 20
    with pytest.raises(ValueError, match="at most"):
        prf_plus(PRF_HMAC_SHA1, b"k", b"s", 255 * 20 + 1)
