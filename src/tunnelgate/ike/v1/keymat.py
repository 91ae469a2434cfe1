"""Phase-1 key material of RFC 2409 §5 for pre-shared keys and signatures, and the CBC IVs
of Appendix B.

    SKEYID   = prf(pre-shared-key, Ni_b | Nr_b)                       (§5, PSK)
    SKEYID   = prf(Ni_b | Nr_b, g^xy)                                 (§5, signatures)
    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
    HASH_I   = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
    HASH_R   = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)

The cipher key is the start of SKEYID_e, or of Ka = K1 | K2 | … with K1 = prf(SKEYID_e, 0)
and Kn = prf(SKEYID_e, Kn-1) when the cipher needs more bits than the prf gives (App. B).
The first phase-1 IV is hash(g^xi | g^xr); the first IV of a later exchange is
hash(last phase-1 CBC block | M-ID) (App. B), both cut to the cipher's block size. ``hash`` is
the negotiated hash itself, the prf its HMAC (RFC 2409 §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes

from tunnelgate.crypto.prf import Prf, hash_algorithm


@dataclass(frozen=True, slots=True)
class Phase1Keys:
    """The SKEYID family and the cipher key of one ISAKMP SA (never shown by ``repr``)."""

    skeyid: bytes = field(repr=False)
    skeyid_d: bytes = field(repr=False)
    skeyid_a: bytes = field(repr=False)
    skeyid_e: bytes = field(repr=False)
    encryption_key: bytes = field(repr=False)


def skeyid_psk(prf: Prf, pre_shared_key: bytes, nonce_i: bytes, nonce_r: bytes) -> bytes:
    """SKEYID for pre-shared key authentication: prf(pre-shared-key, Ni_b | Nr_b) (§5)."""
    return prf(pre_shared_key, nonce_i + nonce_r)


def skeyid_signature(prf: Prf, nonce_i: bytes, nonce_r: bytes, shared_secret: bytes) -> bytes:
    """SKEYID for signature authentication (RSA, DSS, ECDSA per RFC 4754 §7):
    prf(Ni_b | Nr_b, g^xy) (§5)."""
    return prf(nonce_i + nonce_r, shared_secret)


def expand_key(prf: Prf, skeyid_e: bytes, key_bytes: int) -> bytes:
    """The cipher key: SKEYID_e cut to ``key_bytes``, or Ka = K1 | K2 | … (App. B)."""
    if len(skeyid_e) >= key_bytes:
        return skeyid_e[:key_bytes]
    out = block = prf(skeyid_e, b"\x00")
    while len(out) < key_bytes:
        block = prf(skeyid_e, block)
        out += block
    return out[:key_bytes]


def derive_phase1_keys(
    prf: Prf,
    skeyid: bytes,
    shared_secret: bytes,
    cookie_i: bytes,
    cookie_r: bytes,
    key_bytes: int,
) -> Phase1Keys:
    """SKEYID_d, SKEYID_a, SKEYID_e from SKEYID and g^xy (§5), and the cipher key (App. B)."""
    tail = shared_secret + cookie_i + cookie_r
    skeyid_d = prf(skeyid, tail + b"\x00")
    skeyid_a = prf(skeyid, skeyid_d + tail + b"\x01")
    skeyid_e = prf(skeyid, skeyid_a + tail + b"\x02")
    return Phase1Keys(skeyid, skeyid_d, skeyid_a, skeyid_e, expand_key(prf, skeyid_e, key_bytes))


def hash_i(
    prf: Prf,
    skeyid: bytes,
    public_i: bytes,
    public_r: bytes,
    cookie_i: bytes,
    cookie_r: bytes,
    sa_i_body: bytes,
    id_i_body: bytes,
) -> bytes:
    """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) (§5)."""
    return prf(skeyid, public_i + public_r + cookie_i + cookie_r + sa_i_body + id_i_body)


def hash_r(
    prf: Prf,
    skeyid: bytes,
    public_i: bytes,
    public_r: bytes,
    cookie_i: bytes,
    cookie_r: bytes,
    sa_i_body: bytes,
    id_r_body: bytes,
) -> bytes:
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) (§5)."""
    return prf(skeyid, public_r + public_i + cookie_r + cookie_i + sa_i_body + id_r_body)


def digest(hash_name: str, data: bytes) -> bytes:
    """The negotiated hash (not its HMAC) of ``data``."""
    h = hashes.Hash(hash_algorithm(hash_name))
    h.update(data)
    return h.finalize()


def phase1_iv(hash_name: str, public_i: bytes, public_r: bytes, block_bytes: int) -> bytes:
    """The IV of the first encrypted phase-1 message: hash(g^xi | g^xr) (App. B)."""
    return digest(hash_name, public_i + public_r)[:block_bytes]


def exchange_iv(
    hash_name: str, last_phase1_block: bytes, message_id: int, block_bytes: int
) -> bytes:
    """The first IV of an exchange after phase 1: hash(last phase-1 CBC block | M-ID) (App. B)."""
    return digest(hash_name, last_phase1_block + message_id.to_bytes(4, "big"))[:block_bytes]


def quick_mode_hash(prf: Prf, skeyid_a: bytes, message_id: int, *parts: bytes) -> bytes:
    """HASH(1) = prf(SKEYID_a, M-ID | rest), HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest)
    (§5.5) and the informational HASH(1) = prf(SKEYID_a, M-ID | N/D) (§5.7): ``parts``
    follow the M-ID; ``rest`` is the message after the HASH payload, headers included."""
    return prf(skeyid_a, message_id.to_bytes(4, "big") + b"".join(parts))


def quick_mode_hash3(
    prf: Prf, skeyid_a: bytes, message_id: int, nonce_i: bytes, nonce_r: bytes
) -> bytes:
    """HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (§5.5)."""
    return prf(skeyid_a, b"\x00" + message_id.to_bytes(4, "big") + nonce_i + nonce_r)


def quick_mode_keymat(
    prf: Prf,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    size: int,
    shared_secret: bytes = b"",
) -> bytes:
    """KEYMAT of one direction (§5.5): K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b |
    Nr_b), Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), K1 | K2 | …
    cut to ``size``; ``spi`` is the SPI of the receiving side."""
    seed = shared_secret + bytes([protocol]) + spi + nonce_i + nonce_r
    out = block = prf(skeyid_d, seed)
    while len(out) < size:
        block = prf(skeyid_d, block + seed)
        out += block
    return out[:size]


__all__ = [
    "Phase1Keys",
    "derive_phase1_keys",
    "digest",
    "exchange_iv",
    "expand_key",
    "hash_i",
    "hash_r",
    "phase1_iv",
    "quick_mode_hash",
    "quick_mode_hash3",
    "quick_mode_keymat",
    "skeyid_psk",
    "skeyid_signature",
]
