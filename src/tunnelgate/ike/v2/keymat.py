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
    return _split(prf, prf, skeyseed, encryption, integrity, nonce_i + nonce_r + spi_i + spi_r)


def derive_rekeyed_ike_keys(
    old_prf: Prf,
    old_sk_d: bytes,
    new_prf: Prf,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> IkeKeys:
    """The keys of a rekeyed IKE SA (RFC 7296 §2.18): SKEYSEED = prf(SK_d (old), g^ir (new)
    | Ni | Nr), then prf+ over the new SPIs. Both use the old SA's PRF, as strongSwan does;
    key lengths follow the new SA's algorithms."""
    skeyseed = old_prf(old_sk_d, shared_secret + nonce_i + nonce_r)
    seed = nonce_i + nonce_r + spi_i + spi_r
    return _split(old_prf, new_prf, skeyseed, encryption, integrity, seed)


def _split(
    stream_prf: Prf,
    new_prf: Prf,
    skeyseed: bytes,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    seed: bytes,
) -> IkeKeys:
    lengths = (
        new_prf.key_bytes,
        integrity.key_bytes,
        integrity.key_bytes,
        encryption.keymat_bytes,
        encryption.keymat_bytes,
        new_prf.key_bytes,
        new_prf.key_bytes,
    )
    stream = prf_plus(stream_prf, skeyseed, seed, sum(lengths))
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
