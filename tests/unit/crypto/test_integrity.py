"""Truncated HMAC integrity against RFC 4868 §2.7.2 and RFC 2202 truncation vectors."""

from __future__ import annotations

import pytest

from tunnelgate.crypto.errors import IntegrityCheckFailed
from tunnelgate.crypto.integrity import (
    AUTH_HMAC_MD5_96,
    AUTH_HMAC_SHA1_96,
    AUTH_HMAC_SHA2_256_128,
    AUTH_HMAC_SHA2_384_192,
    AUTH_HMAC_SHA2_512_256,
    AUTH_NONE,
    Integrity,
)

H = bytes.fromhex
JEFE_DATA = b"what do ya want for nothing?"

# (source, algorithm, key, data, full HMAC from the RFC); the ICV is its leftmost icv_bytes.
VECTORS: list[tuple[str, Integrity, bytes, bytes, str]] = [
    (
        "RFC 4868 §2.7.2 AUTH256-1",
        AUTH_HMAC_SHA2_256_128,
        b"\x0b" * 32,
        b"Hi There",
        "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7",
    ),
    (
        "RFC 4868 §2.7.2 AUTH256-2",
        AUTH_HMAC_SHA2_256_128,
        b"Jefe" * 8,
        JEFE_DATA,
        "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6",
    ),
    (
        "RFC 4868 §2.7.2 AUTH256-3",
        AUTH_HMAC_SHA2_256_128,
        b"\xaa" * 32,
        b"\xdd" * 50,
        "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0",
    ),
    (
        "RFC 4868 §2.7.2 AUTH384-1",
        AUTH_HMAC_SHA2_384_192,
        b"\x0b" * 48,
        b"Hi There",
        "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc"
        "4c5df61d5b3297b4fb68dab9f1b582c2",
    ),
    (
        "RFC 4868 §2.7.2 AUTH384-2",
        AUTH_HMAC_SHA2_384_192,
        b"Jefe" * 12,
        JEFE_DATA,
        "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5"
        "349524ca4e82400cbde0686d403371c9",
    ),
    (
        "RFC 4868 §2.7.2 AUTH512-1",
        AUTH_HMAC_SHA2_512_256,
        b"\x0b" * 64,
        b"Hi There",
        "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"
        "ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b",
    ),
    (
        "RFC 4868 §2.7.2 AUTH512-2",
        AUTH_HMAC_SHA2_512_256,
        b"Jefe" * 16,
        JEFE_DATA,
        "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"
        "6aa334ae9fb9afc2184932d8695e397bfa0ffb93466cfcceaae38c833b7dba38",
    ),
    # RFC 2202 test case 5 ("Test With Truncation"): HMAC-MD5-96 / HMAC-SHA-1-96
    (
        "RFC 2202 §2 case 5",
        AUTH_HMAC_MD5_96,
        b"\x0c" * 16,
        b"Test With Truncation",
        "56461ef2342edc00f9bab995690efd4c",
    ),
    (
        "RFC 2202 §3 case 5",
        AUTH_HMAC_SHA1_96,
        b"\x0c" * 20,
        b"Test With Truncation",
        "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
    ),
]


@pytest.mark.parametrize(
    ("source", "alg", "key", "data", "full"), VECTORS, ids=[v[0] for v in VECTORS]
)
def test_truncated_icv(source: str, alg: Integrity, key: bytes, data: bytes, full: str) -> None:
    icv = alg.sign(key, data)
    assert icv == H(full)[: alg.icv_bytes], source
    alg.verify(key, data, icv)


@pytest.mark.parametrize(
    ("alg", "key_bytes", "icv_bytes"),
    [
        (AUTH_HMAC_MD5_96, 16, 12),  # RFC 2403: 96-bit ICV
        (AUTH_HMAC_SHA1_96, 20, 12),  # RFC 2404: 96-bit ICV
        (AUTH_HMAC_SHA2_256_128, 32, 16),  # RFC 4868 §2.6
        (AUTH_HMAC_SHA2_384_192, 48, 24),
        (AUTH_HMAC_SHA2_512_256, 64, 32),
        (AUTH_NONE, 0, 0),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_lengths(alg: Integrity, key_bytes: int, icv_bytes: int) -> None:
    assert (alg.key_bytes, alg.icv_bytes) == (key_bytes, icv_bytes)


@pytest.mark.parametrize("alg", [v[1] for v in VECTORS[::3]], ids=lambda a: a.name)
def test_verify_rejects_any_changed_byte(alg: Integrity) -> None:
    key, data = b"\x01" * alg.key_bytes, b"payload"
    icv = alg.sign(key, data)
    for i in range(len(icv)):
        bad = bytearray(icv)
        bad[i] ^= 0x80
        with pytest.raises(IntegrityCheckFailed):
            alg.verify(key, data, bytes(bad))
    with pytest.raises(IntegrityCheckFailed):
        alg.verify(key, data + b"x", icv)
    with pytest.raises(IntegrityCheckFailed):
        alg.verify(key, data, icv[:-1])


def test_none_integrity() -> None:
    assert AUTH_NONE.sign(b"", b"data") == b""
    AUTH_NONE.verify(b"", b"data", b"")
    with pytest.raises(IntegrityCheckFailed):
        AUTH_NONE.verify(b"", b"data", b"\x00")


def test_wrong_key_length_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="32-byte key"):
        AUTH_HMAC_SHA2_256_128.sign(b"short", b"data")
