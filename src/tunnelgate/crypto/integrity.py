"""Integrity algorithms: HMAC truncated to the ICV length (RFC 2403, 2404, 4868).

One interface for the IKEv2 SK payload checksum and the ESP ICV. ``verify`` compares in
constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac as _stdlib_hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hmac

from tunnelgate.crypto.errors import IntegrityCheckFailed
from tunnelgate.crypto.prf import hash_algorithm, hmac_digest


@dataclass(frozen=True, slots=True)
class Integrity:
    """An integrity transform: key length (SK_a / ESP auth key) and ICV length, in bytes."""

    name: str
    hash_name: str | None  # None: the NONE transform (AEAD ciphers carry their own ICV)
    key_bytes: int
    icv_bytes: int

    def sign(self, key: bytes, data: bytes) -> bytes:
        """The ICV of ``data``: the HMAC's leftmost ``icv_bytes`` bytes (one-shot: IKE signs
        each message with a key it uses once or twice, ESP keeps a ``KeyedIntegrity``)."""
        if self.hash_name is None:
            return b""
        if len(key) != self.key_bytes:
            raise ValueError(f"{self.name} takes a {self.key_bytes}-byte key, got {len(key)}")
        return hmac_digest(self.hash_name, key, data)[: self.icv_bytes]

    def verify(self, key: bytes, data: bytes, icv: bytes) -> None:
        """Raise ``IntegrityCheckFailed`` unless ``icv`` is the ICV of ``data`` (constant time)."""
        if not _stdlib_hmac.compare_digest(self.sign(key, data), icv):
            raise IntegrityCheckFailed(f"{self.name}: integrity check value mismatch")


class KeyedIntegrity:
    """An ``Integrity`` with its HMAC keyed once (one per SA direction); each ICV copies it."""

    __slots__ = ("_mac", "integrity")

    def __init__(self, integrity: Integrity, key: bytes) -> None:
        self.integrity = integrity
        self._mac: hmac.HMAC | None = None
        if integrity.hash_name is not None:
            if len(key) != integrity.key_bytes:
                raise ValueError(
                    f"{integrity.name} takes a {integrity.key_bytes}-byte key, got {len(key)}"
                )
            self._mac = hmac.HMAC(key, hash_algorithm(integrity.hash_name))

    def sign(self, data: bytes) -> bytes:
        """The ICV of ``data``: the HMAC's leftmost ``icv_bytes`` bytes."""
        if self._mac is None:
            return b""
        mac = self._mac.copy()
        mac.update(data)
        return mac.finalize()[: self.integrity.icv_bytes]

    def verify(self, data: bytes, icv: bytes) -> None:
        """Raise ``IntegrityCheckFailed`` unless ``icv`` is the ICV of ``data`` (constant time)."""
        if not _stdlib_hmac.compare_digest(self.sign(data), icv):
            raise IntegrityCheckFailed(f"{self.integrity.name}: integrity check value mismatch")


# Key and ICV lengths: RFC 2403 §2 (MD5-96), RFC 2404 §2 (SHA1-96), RFC 4868 §2.1 / §2.6
# (SHA-256-128, SHA-384-192, SHA-512-256: key = hash output length, ICV = half of it).
AUTH_NONE = Integrity("none", None, 0, 0)
AUTH_HMAC_MD5_96 = Integrity("hmac-md5-96", "md5", 16, 12)
AUTH_HMAC_SHA1_96 = Integrity("hmac-sha1-96", "sha1", 20, 12)
AUTH_HMAC_SHA2_256_128 = Integrity("hmac-sha2-256-128", "sha256", 32, 16)
AUTH_HMAC_SHA2_384_192 = Integrity("hmac-sha2-384-192", "sha384", 48, 24)
AUTH_HMAC_SHA2_512_256 = Integrity("hmac-sha2-512-256", "sha512", 64, 32)

__all__ = [
    "AUTH_HMAC_MD5_96",
    "AUTH_HMAC_SHA1_96",
    "AUTH_HMAC_SHA2_256_128",
    "AUTH_HMAC_SHA2_384_192",
    "AUTH_HMAC_SHA2_512_256",
    "AUTH_NONE",
    "Integrity",
    "KeyedIntegrity",
]
