"""Encryption for the IKEv2 SK payload and for ESP behind one interface.

``encrypt(key, iv, plaintext, aad)`` / ``decrypt(key, iv, ciphertext, aad)``; the caller
supplies the IV (randomness is injected) and does the padding, which differs between IKE
(RFC 7296 §3.14) and ESP (RFC 4303 §2.4). Modes:

* CBC (AES RFC 3602, 3DES RFC 2451, DES RFC 2405): ``plaintext`` a whole number of blocks,
  ``aad`` ignored, IV = one block, output = ciphertext only (integrity is separate).
* GCM with a 16-octet ICV (RFC 4106 for ESP, RFC 5282 for IKEv2): ``key`` is the keying
  material = AES key || 4-byte salt; nonce = salt || 8-byte explicit ``iv``; output =
  ciphertext || ICV.
* GMAC (RFC 4543, ESP only): authentication without confidentiality. Same keying material
  and nonce; the GCM AAD is ``aad || iv || plaintext`` (RFC 4543 §3.3: SPI, sequence number,
  IV, then the ESP payload and trailer); output = plaintext || ICV.
* NULL (RFC 2410): identity, no IV.

Single DES is pyca's TripleDES with K1 = K2 = K3 = the 8-byte key: EDE with three equal
keys is DES itself (the backward-compatibility property of FIPS 46-3 / SP 800-67 §3.3), so
no primitive is written here. pyca moved TripleDES to ``hazmat.decrepit`` in 43.0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, algorithms, modes
from cryptography.hazmat.primitives.ciphers import Cipher as _PycaCipher
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tunnelgate.crypto.errors import IntegrityCheckFailed, InvalidCiphertext

try:  # cryptography >= 43
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import (  # type: ignore[attr-defined,no-redef,unused-ignore]
        TripleDES,
    )


class CipherMode(enum.Enum):
    CBC = "cbc"
    GCM = "gcm"
    GMAC = "gmac"
    NULL = "null"


# RFC 4106 §8.1, RFC 4543 §8, RFC 5282 §7.1: the salt is the last 4 octets of the keymat.
GCM_SALT_BYTES = 4
GCM_IV_BYTES = 8
GCM_ICV_BYTES = 16


@dataclass(frozen=True, slots=True)
class EncryptionAlgorithm:
    """One cipher at one key size, with every length the IKE and ESP encoders need."""

    name: str
    mode: CipherMode
    key_bytes: int  # the cipher key proper (Key Length attribute / 8 for AES)
    salt_bytes: int  # extra keying material taken after the key (GCM/GMAC: 4)
    block_bytes: int  # padding alignment the cipher needs (1: none; ESP still aligns to 4)
    iv_bytes: int  # explicit IV carried in each message
    icv_bytes: int  # ICV produced by the cipher itself (AEAD), 0 otherwise

    @property
    def aead(self) -> bool:
        """True for combined-mode ciphers, which take no separate integrity transform."""
        return self.mode in (CipherMode.GCM, CipherMode.GMAC)

    @property
    def keymat_bytes(self) -> int:
        """Length of SK_ei/SK_er or of the ESP encryption key: key plus salt (RFC 7296 §2.14)."""
        return self.key_bytes + self.salt_bytes

    def encrypt(self, key: bytes, iv: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Encrypt (and for AEAD, authenticate ``aad``); see the module docstring per mode."""
        return KeyedCipher(self, key).encrypt(iv, plaintext, aad)

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """Inverse of ``encrypt``; AEAD modes raise ``IntegrityCheckFailed`` on a bad ICV."""
        return KeyedCipher(self, key).decrypt(iv, ciphertext, aad)


class KeyedCipher:
    """An ``EncryptionAlgorithm`` with its key set up once: one per SA direction.

    Building the pyca key object per packet costs microseconds (an ``AESGCM`` about 1 µs);
    ESP keeps one of these per SA instead.
    """

    __slots__ = ("_aesgcm", "_block", "_salt", "algorithm")

    def __init__(self, algorithm: EncryptionAlgorithm, key: bytes) -> None:
        if len(key) != algorithm.keymat_bytes:
            raise ValueError(
                f"{algorithm.name} takes {algorithm.keymat_bytes} bytes of key, got {len(key)}"
            )
        self.algorithm = algorithm
        self._aesgcm: AESGCM | None = None
        self._block: BlockCipherAlgorithm | None = None
        self._salt = key[algorithm.key_bytes :]
        if algorithm.mode is CipherMode.CBC:
            self._block = _block_cipher(algorithm, key)
        elif algorithm.aead:
            self._aesgcm = AESGCM(key[: algorithm.key_bytes])

    @property
    def aesgcm(self) -> AESGCM | None:
        """The keyed pyca ``AESGCM`` of a GCM/GMAC cipher (None for others), for a data path
        that calls it directly instead of keying a second one (each holds OpenSSL state)."""
        return self._aesgcm

    def encrypt(self, iv: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Encrypt (and for AEAD, authenticate ``aad``); see the module docstring per mode."""
        alg = self.algorithm
        self._check_iv(iv)
        if self._block is not None:
            if len(plaintext) % alg.block_bytes:
                raise ValueError(
                    f"{alg.name}: plaintext of {len(plaintext)} bytes is not padded to "
                    f"{alg.block_bytes}-byte blocks"
                )
            encryptor = _PycaCipher(self._block, modes.CBC(iv)).encryptor()
            return encryptor.update(plaintext) + encryptor.finalize()
        if self._aesgcm is None:
            return plaintext  # NULL
        nonce = self._salt + iv
        if alg.mode is CipherMode.GCM:
            return self._aesgcm.encrypt(nonce, plaintext, aad)
        return plaintext + self._aesgcm.encrypt(nonce, b"", aad + iv + plaintext)

    def decrypt(self, iv: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """Inverse of ``encrypt``; AEAD modes raise ``IntegrityCheckFailed`` on a bad ICV."""
        alg = self.algorithm
        self._check_iv(iv)
        if self._block is not None:
            if len(ciphertext) % alg.block_bytes:
                raise InvalidCiphertext(
                    f"{alg.name}: {len(ciphertext)} bytes is not a whole number of "
                    f"{alg.block_bytes}-byte blocks"
                )
            decryptor = _PycaCipher(self._block, modes.CBC(iv)).decryptor()
            return decryptor.update(ciphertext) + decryptor.finalize()
        if self._aesgcm is None:
            return ciphertext  # NULL
        if len(ciphertext) < alg.icv_bytes:
            raise InvalidCiphertext(f"{alg.name}: {len(ciphertext)} bytes is shorter than the ICV")
        nonce = self._salt + iv
        try:
            if alg.mode is CipherMode.GCM:
                return self._aesgcm.decrypt(nonce, ciphertext, aad)
            plaintext, icv = ciphertext[: -alg.icv_bytes], ciphertext[-alg.icv_bytes :]
            self._aesgcm.decrypt(nonce, icv, aad + iv + plaintext)
            return plaintext
        except InvalidTag:
            raise IntegrityCheckFailed(f"{alg.name}: ICV mismatch") from None

    def _check_iv(self, iv: bytes) -> None:
        if len(iv) != self.algorithm.iv_bytes:
            raise ValueError(
                f"{self.algorithm.name} takes a {self.algorithm.iv_bytes}-byte IV, got {len(iv)}"
            )


def _block_cipher(algorithm: EncryptionAlgorithm, key: bytes) -> BlockCipherAlgorithm:
    if algorithm.block_bytes == 16:
        return algorithms.AES(key)
    # 3DES: K1 || K2 || K3. DES: EDE with K1 = K2 = K3 (see module docstring).
    return TripleDES(key if len(key) == 24 else key * 3)


def _cbc(name: str, key_bytes: int, block_bytes: int) -> EncryptionAlgorithm:
    return EncryptionAlgorithm(name, CipherMode.CBC, key_bytes, 0, block_bytes, block_bytes, 0)


def _gcm(name: str, mode: CipherMode, key_bytes: int) -> EncryptionAlgorithm:
    return EncryptionAlgorithm(
        name, mode, key_bytes, GCM_SALT_BYTES, 1, GCM_IV_BYTES, GCM_ICV_BYTES
    )


AES_CBC_128 = _cbc("aes-cbc-128", 16, 16)
AES_CBC_192 = _cbc("aes-cbc-192", 24, 16)
AES_CBC_256 = _cbc("aes-cbc-256", 32, 16)
TRIPLE_DES_CBC = _cbc("3des-cbc", 24, 8)
DES_CBC = _cbc("des-cbc", 8, 8)
AES_GCM_16_128 = _gcm("aes-gcm-16-128", CipherMode.GCM, 16)
AES_GCM_16_192 = _gcm("aes-gcm-16-192", CipherMode.GCM, 24)
AES_GCM_16_256 = _gcm("aes-gcm-16-256", CipherMode.GCM, 32)
AES_GMAC_128 = _gcm("aes-gmac-128", CipherMode.GMAC, 16)
AES_GMAC_192 = _gcm("aes-gmac-192", CipherMode.GMAC, 24)
AES_GMAC_256 = _gcm("aes-gmac-256", CipherMode.GMAC, 32)
NULL = EncryptionAlgorithm("null", CipherMode.NULL, 0, 0, 1, 0, 0)

__all__ = [
    "AES_CBC_128",
    "AES_CBC_192",
    "AES_CBC_256",
    "AES_GCM_16_128",
    "AES_GCM_16_192",
    "AES_GCM_16_256",
    "AES_GMAC_128",
    "AES_GMAC_192",
    "AES_GMAC_256",
    "DES_CBC",
    "GCM_ICV_BYTES",
    "GCM_IV_BYTES",
    "GCM_SALT_BYTES",
    "NULL",
    "TRIPLE_DES_CBC",
    "CipherMode",
    "EncryptionAlgorithm",
    "KeyedCipher",
]
