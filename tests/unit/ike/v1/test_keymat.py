"""Phase-1 keymat (RFC 2409 §5, App. B) against an independent stdlib computation.

No published IKEv1 PSK known-answer vectors were at hand (RFC 2409 has none; strongSwan's
unit tests do not cover keymat_v1), so each formula is recomputed here straight from the RFC
text with ``hmac``/``hashlib`` — a second implementation sharing no code with
``tunnelgate.ike.v1.keymat`` (which goes through ``tunnelgate.crypto`` and pyca).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tunnelgate.crypto.prf import PRF_HMAC_MD5, PRF_HMAC_SHA1, Prf
from tunnelgate.ike.v1.keymat import (
    derive_phase1_keys,
    exchange_iv,
    expand_key,
    hash_i,
    hash_r,
    phase1_iv,
    skeyid_psk,
)

PSK = b"v1secret"
NI, NR = bytes(range(16)), bytes(range(100, 132))
GXY = bytes.fromhex("17") * 192  # g^xy of MODP 1536 (group 5) length
GXI, GXR = b"\x01" * 192, b"\x02" * 192
CKY_I, CKY_R = bytes.fromhex("0011223344556677"), bytes.fromhex("8899aabbccddeeff")
SAI_B = bytes.fromhex("00000001000000010000002c01010001")  # DOI, situation, proposal start
IDII_B = bytes.fromhex("011101f4cb007101")  # ID_IPV4_ADDR, UDP, 500, 203.0.113.1


def mac(name: str, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, name).digest()


@pytest.mark.parametrize(("prf", "name"), [(PRF_HMAC_SHA1, "sha1"), (PRF_HMAC_MD5, "md5")])
@pytest.mark.parametrize("key_bytes", [16, 24, 32])
def test_skeyid_family_and_cipher_key(prf: Prf, name: str, key_bytes: int) -> None:
    skeyid = mac(name, PSK, NI + NR)  # §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b)
    assert skeyid_psk(prf, PSK, NI, NR) == skeyid
    d = mac(name, skeyid, GXY + CKY_I + CKY_R + b"\x00")
    a = mac(name, skeyid, d + GXY + CKY_I + CKY_R + b"\x01")
    e = mac(name, skeyid, a + GXY + CKY_I + CKY_R + b"\x02")
    # App. B: Ka = K1 | K2 | K3 with K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)
    k1 = mac(name, e, b"\x00")
    k2 = mac(name, e, k1)
    expected_key = (
        e[:key_bytes] if len(e) >= key_bytes else (k1 + k2 + mac(name, e, k2))[:key_bytes]
    )
    keys = derive_phase1_keys(prf, skeyid, GXY, CKY_I, CKY_R, key_bytes)
    assert (keys.skeyid, keys.skeyid_d, keys.skeyid_a, keys.skeyid_e) == (skeyid, d, a, e)
    assert keys.encryption_key == expected_key


def test_expansion_only_when_skeyid_e_is_too_short() -> None:
    e = bytes(20)
    assert expand_key(PRF_HMAC_SHA1, e, 16) == e[:16]  # aes-128 from SHA-1: truncated
    ka = expand_key(PRF_HMAC_SHA1, e, 32)  # aes-256 from SHA-1: K1 | K2
    k1 = mac("sha1", e, b"\x00")
    assert ka == (k1 + mac("sha1", e, k1))[:32]


def test_hash_i_and_hash_r() -> None:
    skeyid = mac("sha1", PSK, NI + NR)
    assert hash_i(PRF_HMAC_SHA1, skeyid, GXI, GXR, CKY_I, CKY_R, SAI_B, IDII_B) == mac(
        "sha1", skeyid, GXI + GXR + CKY_I + CKY_R + SAI_B + IDII_B
    )
    assert hash_r(PRF_HMAC_SHA1, skeyid, GXI, GXR, CKY_I, CKY_R, SAI_B, IDII_B) == mac(
        "sha1", skeyid, GXR + GXI + CKY_R + CKY_I + SAI_B + IDII_B
    )


def test_ivs_are_the_plain_hash_cut_to_the_block() -> None:
    assert phase1_iv("sha1", GXI, GXR, 16) == hashlib.sha1(GXI + GXR).digest()[:16]
    assert phase1_iv("md5", GXI, GXR, 8) == hashlib.md5(GXI + GXR).digest()[:8]
    last = bytes(range(16))
    assert (
        exchange_iv("sha1", last, 0x01020304, 16)
        == (hashlib.sha1(last + b"\x01\x02\x03\x04").digest()[:16])
    )
