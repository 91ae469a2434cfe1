"""Key derivation of RFC 7296 §2.14 (IKE SA) and §2.17 (child SAs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.crypto.cipher import EncryptionAlgorithm
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.crypto.prf import Prf, prf_plus


@dataclass(frozen=True, slots=True)
class IkeKeys:
    """SK_d, SK_a*, SK_e*, SK_p* of one IKE SA (never shown by ``repr``)."""

    sk_d: bytes = field(repr=False)
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    sk_pi: bytes = field(repr=False)
    sk_pr: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChildKeys:
    """ESP keys: initiator→responder first, then responder→initiator (§2.17)."""

    encr_i: bytes = field(repr=False)
    integ_i: bytes = field(repr=False)
    encr_r: bytes = field(repr=False)
    integ_r: bytes = field(repr=False)


def derive_ike_keys(
    prf: Prf,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> IkeKeys:
    """SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
    = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)."""
    skeyseed = prf(nonce_i + nonce_r, shared_secret)
    lengths = (
        prf.key_bytes,
        integrity.key_bytes,
        integrity.key_bytes,
        encryption.keymat_bytes,
        encryption.keymat_bytes,
        prf.key_bytes,
        prf.key_bytes,
    )
    stream = prf_plus(prf, skeyseed, nonce_i + nonce_r + spi_i + spi_r, sum(lengths))
    parts: list[bytes] = []
    offset = 0
    for length in lengths:
        parts.append(stream[offset : offset + length])
        offset += length
    return IkeKeys(*parts)


def derive_child_keys(
    prf: Prf,
    sk_d: bytes,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes = b"",
) -> ChildKeys:
    """KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken in the order of §2.17."""
    e, a = encryption.keymat_bytes, integrity.key_bytes
    stream = prf_plus(prf, sk_d, shared_secret + nonce_i + nonce_r, 2 * (e + a))
    return ChildKeys(
        stream[:e], stream[e : e + a], stream[e + a : 2 * e + a], stream[2 * e + a : 2 * (e + a)]
    )
