"""Pseudo-random functions (HMAC, RFC 2104) and the IKEv2 ``prf+`` expansion (RFC 7296 §2.13).

IKEv2 PRF transforms (IANA Transform Type 2) and the IKEv1 hash attribute both select one
of these: IKEv1 uses HMAC with the negotiated hash as its prf (RFC 2409 §4).
"""

from __future__ import annotations

import hmac as _stdlib_hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """A fresh pyca hash object for ``md5``, ``sha1``, ``sha256``, ``sha384`` or ``sha512``."""
    return _HASHES[name]()


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    """Full-length HMAC (RFC 2104) of ``data`` under ``key``: OpenSSL's one-shot HMAC through
    the standard library (the same function as pyca's ``hmac.HMAC``, without building a hash
    and an HMAC object per call: IKE computes a dozen per SA), pyca where it refuses."""
    try:
        return _stdlib_hmac.digest(key, data, hash_name)
    except ValueError:  # pragma: no cover - e.g. MD5 refused by a FIPS-mode OpenSSL
        mac = hmac.HMAC(key, hash_algorithm(hash_name))
        mac.update(data)
        return mac.finalize()


@dataclass(frozen=True, slots=True)
class Prf:
    """One HMAC PRF: output length and preferred key length in bytes (RFC 7296 §2.13)."""

    name: str
    hash_name: str
    output_bytes: int
    # SK_d, SK_pi and SK_pr take this length (RFC 7296 §2.14: the PRF's preferred key size,
    # which for HMAC PRFs is the output length, RFC 4868 §2.1.2).
    key_bytes: int

    def __call__(self, key: bytes, data: bytes) -> bytes:
        """``prf(key, data)``: the untruncated HMAC."""
        return hmac_digest(self.hash_name, key, data)


PRF_HMAC_MD5 = Prf("prf-hmac-md5", "md5", 16, 16)
PRF_HMAC_SHA1 = Prf("prf-hmac-sha1", "sha1", 20, 20)
PRF_HMAC_SHA2_256 = Prf("prf-hmac-sha2-256", "sha256", 32, 32)
PRF_HMAC_SHA2_384 = Prf("prf-hmac-sha2-384", "sha384", 48, 48)
PRF_HMAC_SHA2_512 = Prf("prf-hmac-sha2-512", "sha512", 64, 64)

# RFC 7296 §2.13: the one-octet counter limits prf+ to 255 blocks.
PRF_PLUS_MAX_BLOCKS = 255


def prf_plus(prf: Prf, key: bytes, seed: bytes, length: int) -> bytes:
    """``prf+(K, S)`` truncated to ``length`` bytes (RFC 7296 §2.13).

    T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); raises ``ValueError`` past 255 blocks.
    """
    if length < 0:
        raise ValueError("prf+ length must not be negative")
    blocks = -(-length // prf.output_bytes)
    if blocks > PRF_PLUS_MAX_BLOCKS:
        raise ValueError(
            f"prf+ can produce at most {PRF_PLUS_MAX_BLOCKS * prf.output_bytes} bytes "
            f"with {prf.name}, {length} asked"
        )
    out = bytearray()
    block = b""
    for counter in range(1, blocks + 1):
        block = prf(key, block + seed + bytes((counter,)))
        out += block
    return bytes(out[:length])


__all__ = [
    "PRF_HMAC_MD5",
    "PRF_HMAC_SHA1",
    "PRF_HMAC_SHA2_256",
    "PRF_HMAC_SHA2_384",
    "PRF_HMAC_SHA2_512",
    "PRF_PLUS_MAX_BLOCKS",
    "Prf",
    "hash_algorithm",
    "hmac_digest",
    "prf_plus",
]
