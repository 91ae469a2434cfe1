"""The Encrypted payload (SK) of RFC 7296 §3.14, with AEAD ciphers per RFC 5282.

``seal`` builds the whole datagram of an encrypted message; ``unseal`` checks and opens
one. Integrity is verified before anything is decrypted, in constant time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tunnelgate.crypto.cipher import EncryptionAlgorithm
from tunnelgate.crypto.errors import CryptoError
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.message import (
    Header,
    Message,
    decode_inner_payloads,
    encode_message,
    encode_plaintext_payloads,
)
from tunnelgate.ike.v2.payloads import Payload, SkfPayload, SkPayload


@dataclass(frozen=True, slots=True)
class Protection:
    """One direction's algorithms and keys (SK_e* and SK_a*)."""

    encryption: EncryptionAlgorithm
    integrity: Integrity
    encryption_key: bytes = field(repr=False)
    integrity_key: bytes = field(repr=False)


def seal(
    header: Header,
    payloads: Sequence[Payload],
    protection: Protection,
    random: Callable[[int], bytes],
) -> bytes:
    """The datagram of ``header`` + SK{payloads}."""
    first, plain = encode_plaintext_payloads(list(payloads))
    return _seal_body(header, first, plain, protection, random, None)


def seal_fragments(
    header: Header,
    payloads: Sequence[Payload],
    protection: Protection,
    random: Callable[[int], bytes],
    max_message: int,
) -> list[bytes]:
    """The message as SKF fragments (RFC 7383 §2.5), each at most ``max_message`` bytes
    of IKE message (header included); one fragment per datagram, each protected alone."""
    first, plain = encode_plaintext_payloads(list(payloads))
    enc, integ = protection.encryption, protection.integrity
    icv = enc.icv_bytes if enc.aead else integ.icv_bytes
    block = max(enc.block_bytes, 1)
    overhead = 28 + 8 + enc.iv_bytes + icv + block  # header, SKF header, IV, ICV, padding
    room = max_message - overhead
    if room < 16:
        raise ValueError(f"an IKE message of {max_message} bytes leaves no room for data")
    pieces = [plain[i : i + room] for i in range(0, len(plain), room)] or [b""]
    total = len(pieces)
    return [
        _seal_body(header, first if n == 1 else 0, piece, protection, random, (n, total))
        for n, piece in enumerate(pieces, start=1)
    ]


def _seal_body(
    header: Header,
    first: int,
    plain: bytes,
    protection: Protection,
    random: Callable[[int], bytes],
    fragment: tuple[int, int] | None,
) -> bytes:
    enc, integ = protection.encryption, protection.integrity
    block = max(enc.block_bytes, 1)
    pad = (block - (len(plain) + 1) % block) % block
    plaintext = plain + bytes(pad) + bytes([pad])
    iv = random(enc.iv_bytes)
    icv_length = enc.icv_bytes if enc.aead else integ.icv_bytes
    body_length = len(iv) + len(plaintext) + icv_length
    blank = bytes(body_length)
    outer: Payload = (
        SkPayload(first, blank) if fragment is None else SkfPayload(*fragment, first, blank)
    )
    placeholder = encode_message(Message(header, (outer,)))
    prefix = placeholder[: len(placeholder) - body_length]
    if enc.aead:
        sealed = enc.encrypt(protection.encryption_key, iv, plaintext, aad=prefix)
        return prefix + iv + sealed
    ciphertext = enc.encrypt(protection.encryption_key, iv, plaintext)
    unsigned = prefix + iv + ciphertext
    return unsigned + integ.sign(protection.integrity_key, unsigned)


def open_body(data: bytes, message: Message, protection: Protection) -> tuple[int, bytes]:
    """Check and decrypt the SK or SKF payload: (its first-payload type, the plaintext
    without padding). ``DecodeError`` when the ICV or the padding is wrong (such messages
    are dropped silently, RFC 7296 §2.21.2)."""
    last = message.payloads[-1] if message.payloads else None
    if not isinstance(last, SkPayload | SkfPayload):
        raise DecodeError("the message has no Encrypted payload")
    enc, integ = protection.encryption, protection.integrity
    body = last.body
    prefix = data[: len(data) - len(body)]
    try:
        if enc.aead:
            if len(body) < enc.iv_bytes + enc.icv_bytes:
                raise DecodeError("Encrypted payload shorter than IV and ICV")
            iv = body[: enc.iv_bytes]
            plaintext = enc.decrypt(protection.encryption_key, iv, body[enc.iv_bytes :], aad=prefix)
        else:
            icv_length = integ.icv_bytes
            if len(body) < enc.iv_bytes + icv_length:
                raise DecodeError("Encrypted payload shorter than IV and ICV")
            integ.verify(
                protection.integrity_key,
                data[: len(data) - icv_length],
                data[len(data) - icv_length :],
            )
            iv = body[: enc.iv_bytes]
            plaintext = enc.decrypt(
                protection.encryption_key, iv, body[enc.iv_bytes : len(body) - icv_length]
            )
    except CryptoError as exc:
        raise DecodeError(f"Encrypted payload rejected: {exc}") from None
    if not plaintext:
        raise DecodeError("empty Encrypted payload")
    pad = plaintext[-1]
    if pad + 1 > len(plaintext):
        raise DecodeError("Encrypted payload padding longer than its content")
    return int(last.first_payload), plaintext[: len(plaintext) - 1 - pad]


def unseal(data: bytes, message: Message, protection: Protection) -> list[Payload]:
    """The inner payloads of a received (unfragmented) encrypted message."""
    first, plain = open_body(data, message, protection)
    return list(decode_inner_payloads(first, plain))
