"""Errors raised by the crypto package; all are ``ValueError`` subclasses (like DecodeError).

The IKE and ESP engines convert them at their boundary into a notify, a drop reason and
a counter; peer input never makes them escape the public API.
"""

from __future__ import annotations


class CryptoError(ValueError):
    """Base class: bytes from a peer that the algorithm refuses."""


class InvalidKeyExchange(CryptoError):
    """The peer's key exchange data is malformed or fails the RFC 6989 / RFC 5903 checks."""


class IntegrityCheckFailed(CryptoError):
    """An ICV (HMAC or AEAD tag) did not verify."""


class InvalidCiphertext(CryptoError):
    """Ciphertext of a length the cipher cannot decrypt (e.g. not a whole number of blocks)."""


class UnknownAlgorithm(KeyError):
    """No registry entry for the keyword or transform asked for."""
