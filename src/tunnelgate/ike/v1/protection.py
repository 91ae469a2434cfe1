"""Encrypted ISAKMP messages (RFC 2408 §3.1 Encryption flag, RFC 2409 §5 and Appendix B).

Everything after the header is CBC ciphertext. The IV of a message is the last ciphertext
block of the previous message of the same exchange (message ID); the first message of
phase 1 starts from hash(g^xi | g^xr), the first of any later exchange from hash(last
phase-1 CBC block | M-ID). The plaintext is the payload chain padded with zero octets to the
block size (App. B); the header length covers the padding. An IV advances only when a message
was sealed, or opened and parsed: a forged or corrupted datagram leaves the chain as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tunnelgate.crypto.cipher import EncryptionAlgorithm, KeyedCipher
from tunnelgate.ike.v1.constants import HeaderFlag
from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.keymat import exchange_iv
from tunnelgate.ike.v1.message import (
    Envelope,
    Header,
    decode_payloads,
    encode_envelope,
    encode_payloads,
)
from tunnelgate.ike.v1.payloads import Payload

PHASE1_MESSAGE_ID = 0


def pad(plaintext: bytes, block_bytes: int) -> bytes:
    """Zero octets up to a whole number of blocks (RFC 2409 App. B)."""
    return plaintext + bytes(-len(plaintext) % block_bytes)


@dataclass(slots=True)
class Protection:
    """The CBC state of one ISAKMP SA: its key and the running IV of each exchange."""

    algorithm: EncryptionAlgorithm
    key: bytes = field(repr=False)
    hash_name: str
    ivs: dict[int, bytes] = field(default_factory=dict)  # message ID -> next IV
    _cipher: KeyedCipher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cipher = KeyedCipher(self.algorithm, self.key)

    @classmethod
    def for_phase1(
        cls, algorithm: EncryptionAlgorithm, key: bytes, hash_name: str, iv: bytes
    ) -> Protection:
        """The state at the first encrypted phase-1 message, whose IV is ``iv``."""
        return cls(algorithm, key, hash_name, {PHASE1_MESSAGE_ID: iv})

    def iv(self, message_id: int) -> bytes:
        """The IV the next message of exchange ``message_id`` is encrypted with."""
        known = self.ivs.get(message_id)
        if known is not None:
            return known
        last_phase1_block = self.ivs[PHASE1_MESSAGE_ID]
        return exchange_iv(
            self.hash_name, last_phase1_block, message_id, self.algorithm.block_bytes
        )

    def seal(self, header: Header, payloads: Iterable[Payload]) -> bytes:
        """The datagram carrying ``payloads`` encrypted under ``header`` (E flag set)."""
        first, body = encode_payloads(payloads)
        iv = self.iv(header.message_id)
        ciphertext = self._cipher.encrypt(iv, pad(body, self.algorithm.block_bytes))
        self.ivs[header.message_id] = ciphertext[-self.algorithm.block_bytes :]
        sealed = replace(header, flags=header.flags | HeaderFlag.ENCRYPTION)
        return encode_envelope(Envelope(sealed, first, ciphertext))

    def open(self, envelope: Envelope) -> tuple[Payload, ...]:
        """Decrypt and parse an encrypted envelope; ``DecodeError`` (IV unchanged) if it
        does not decrypt to a payload chain."""
        return self.open_plain(envelope)[0]

    def open_plain(self, envelope: Envelope) -> tuple[tuple[Payload, ...], bytes]:
        """``open``, also returning the plaintext (for the hashes of RFC 2409 §5.5)."""
        block = self.algorithm.block_bytes
        body = envelope.body
        if not envelope.header.is_encrypted:
            raise DecodeError("message is not encrypted")
        if not body or len(body) % block:
            raise DecodeError(f"ciphertext of {len(body)} octets is not whole {block}-octet blocks")
        message_id = envelope.header.message_id
        plaintext = self._cipher.decrypt(self.iv(message_id), body)
        payloads = decode_payloads(envelope.first_payload, plaintext, padded=True)
        self.ivs[message_id] = body[-block:]
        return payloads, plaintext


__all__ = ["PHASE1_MESSAGE_ID", "Protection", "pad"]
