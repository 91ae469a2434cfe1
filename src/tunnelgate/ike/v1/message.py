"""ISAKMP messages: the fixed header, the payload chain, and the codec entry points.

Public API::

    decode_message(data) -> Message          # a whole plaintext datagram (no non-ESP marker)
    encode_message(message) -> bytes
    decode_header(data) -> Header            # the fixed header only, unchecked: for routing
    decode_envelope(data) -> Envelope        # checked header, first payload type, raw body
    encode_envelope(envelope) -> bytes
    decode_payloads(first, body, padded=False) -> tuple[Payload, ...]
    encode_payloads(payloads) -> (first_type, bytes)
    DecodeError                              # malformed input; .notify / .notify_data / .header

With the Encryption flag set (RFC 2408 §3.1) everything after the header is ciphertext: the
engine decrypts ``decode_envelope(data).body`` and parses it with ``decode_payloads(first,
plaintext, padded=True)``, which ignores the block padding after the last payload (RFC 2409
§5.3 leaves its content free). To send, it encrypts the padded ``encode_payloads`` bytes and
wraps them with ``encode_envelope``.

RFC 2408 §5.2 header checks answer with their notify: major version 1 (INVALID-MAJOR-VERSION),
minor version 0 (INVALID-MINOR-VERSION), a registered exchange type (UNSUPPORTED-EXCHANGE-TYPE),
only the three defined flags (INVALID-FLAGS), header length equal to the datagram length
(UNEQUAL-PAYLOAD-LENGTHS). There is no critical bit: an unregistered Next Payload below 128
raises INVALID-PAYLOAD-TYPE (§5.2) with the type as data, P and T outside an SA too; registered
types without a table and private types (128-255) are kept as ``UnknownPayload``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from tunnelgate.ike.v1.constants import (
    HEADER_FLAGS_MASK,
    MAJOR_VERSION,
    MINOR_VERSION,
    PRIVATE_PAYLOAD_TYPES,
    ExchangeType,
    HeaderFlag,
    NotifyMessageType,
    PayloadType,
)
from tunnelgate.ike.v1.encoding import DecodeError, Reader, decode_struct, encode_struct, named
from tunnelgate.ike.v1.payloads import (
    PAYLOAD_LAYOUTS,
    VARIANT_TYPES,
    NotifyPayload,
    Payload,
    UnknownPayload,
)

__all__ = [
    "HEADER_SIZE",
    "DecodeError",
    "Envelope",
    "Header",
    "Message",
    "decode_envelope",
    "decode_header",
    "decode_message",
    "decode_payloads",
    "encode_envelope",
    "encode_message",
    "encode_payloads",
]

HEADER_SIZE = 28
NO_FLAGS = HeaderFlag(0)
GENERIC_HEADER_SIZE = 4

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Header:
    """The ISAKMP header (RFC 2408 §3.1) less its derived fields (Next Payload, Length)."""

    initiator_cookie: bytes
    responder_cookie: bytes
    exchange_type: int
    flags: HeaderFlag = NO_FLAGS
    message_id: int = 0
    major_version: int = MAJOR_VERSION
    minor_version: int = MINOR_VERSION

    @property
    def is_encrypted(self) -> bool:
        return HeaderFlag.ENCRYPTION in self.flags


@dataclass(frozen=True, slots=True)
class Message:
    """A plaintext message: a header and its payloads in wire order."""

    header: Header
    payloads: tuple[Payload, ...]

    def find(self, cls: type[P]) -> P | None:
        """The first payload of class ``cls``, if any."""
        return next((p for p in self.payloads if isinstance(p, cls)), None)

    def find_all(self, cls: type[P]) -> tuple[P, ...]:
        """Every payload of class ``cls``, in order."""
        return tuple(p for p in self.payloads if isinstance(p, cls))

    def find_notify(self, notify_type: int) -> NotifyPayload | None:
        """The first notification of ``notify_type``, if any."""
        return next((p for p in self.find_all(NotifyPayload) if p.notify_type == notify_type), None)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked header, the header's Next Payload and the raw body (ciphertext when the
    Encryption flag is set)."""

    header: Header
    first_payload: int
    body: bytes


# --- header ------------------------------------------------------------------------------------


def _decode_header(data: bytes) -> tuple[Header, int, int, int]:
    """The header, the first payload type, the Length field and the raw flags octet."""
    r = Reader(data)
    cookie_i = r.take(8, "initiator cookie")
    cookie_r = r.take(8, "responder cookie")
    first = r.uint(1, "next payload")
    version = r.uint(1, "version")
    exchange_type = r.uint(1, "exchange type")
    flags = r.uint(1, "flags")
    message_id = r.uint(4, "message ID")
    length = r.uint(4, "length")
    header = Header(
        cookie_i,
        cookie_r,
        named(ExchangeType, exchange_type),
        HeaderFlag(flags & HEADER_FLAGS_MASK),
        message_id,
        version >> 4,
        version & 0x0F,
    )
    return header, first, length, flags


def decode_header(data: bytes) -> Header:
    """The fixed header of a datagram, unchecked (reserved flags dropped): enough to route it."""
    return _decode_header(data)[0]


def _check_header(header: Header, flags: int) -> None:
    if header.major_version != MAJOR_VERSION:
        raise DecodeError(
            f"ISAKMP major version {header.major_version}", NotifyMessageType.INVALID_MAJOR_VERSION
        )
    if header.minor_version != MINOR_VERSION:
        raise DecodeError(
            f"ISAKMP minor version {header.minor_version}", NotifyMessageType.INVALID_MINOR_VERSION
        )
    if not isinstance(header.exchange_type, ExchangeType) or header.exchange_type == 0:
        raise DecodeError(
            f"exchange type {header.exchange_type}", NotifyMessageType.UNSUPPORTED_EXCHANGE_TYPE
        )
    if flags & ~HEADER_FLAGS_MASK:
        raise DecodeError(f"flags {flags:#04x}", NotifyMessageType.INVALID_FLAGS)


def decode_envelope(data: bytes) -> Envelope:
    """The checked header, first payload type and body of a datagram (RFC 2408 §5.2)."""
    header, first, length, flags = _decode_header(data)
    try:
        _check_header(header, flags)
        if length != len(data):
            raise DecodeError(
                f"header length {length}, datagram length {len(data)}",
                NotifyMessageType.UNEQUAL_PAYLOAD_LENGTHS,
            )
    except DecodeError as error:
        error.header = header
        raise
    return Envelope(header, named(PayloadType, first), data[HEADER_SIZE:])


def encode_envelope(envelope: Envelope) -> bytes:
    """The datagram carrying ``envelope``; ``ValueError`` when a field does not fit."""
    header = envelope.header
    if len(header.initiator_cookie) != 8 or len(header.responder_cookie) != 8:
        raise ValueError("ISAKMP cookies are 8 octets")
    if not (0 <= header.major_version < 16 and 0 <= header.minor_version < 16):
        raise ValueError("version numbers are 4 bits")
    if int(header.flags) & ~HEADER_FLAGS_MASK:
        raise ValueError(f"flags {int(header.flags):#04x} set undefined bits")
    length = HEADER_SIZE + len(envelope.body)
    fields = (
        (envelope.first_payload, 1, "next payload"),
        (header.major_version << 4 | header.minor_version, 1, "version"),
        (header.exchange_type, 1, "exchange type"),
        (header.flags, 1, "flags"),
        (header.message_id, 4, "message ID"),
        (length, 4, "length"),
    )
    out = bytearray(header.initiator_cookie + header.responder_cookie)
    for value, width, what in fields:
        if not 0 <= int(value) < 1 << (8 * width):
            raise ValueError(f"{what}: {int(value)} does not fit in {width} octets")
        out += int(value).to_bytes(width, "big")
    return bytes(out + envelope.body)


# --- payload chain -----------------------------------------------------------------------------


def _body_of(payload_type: int, r: Reader) -> Payload:
    layout = PAYLOAD_LAYOUTS.get(payload_type)
    if layout is not None:
        known: dict[str, Any] = {}
        if payload_type in VARIANT_TYPES:
            known["payload_type"] = PayloadType(payload_type)
        payload: Payload = decode_struct(layout, r, whole=True, values=known)
        return payload
    if not _may_be_unknown(payload_type):
        raise DecodeError(
            f"invalid payload type {payload_type}",
            NotifyMessageType.INVALID_PAYLOAD_TYPE,
            bytes([payload_type]),
        )
    return UnknownPayload(payload_type, r.take(r.remaining, "body"))


def decode_payloads(first: int, data: bytes, *, padded: bool = False) -> tuple[Payload, ...]:
    """Follow Next Payload from ``first`` through ``data``, which the chain must fill exactly,
    or, when ``padded`` (a decrypted body, RFC 2409 §5.3), up to ignored trailing padding."""
    payloads: list[Payload] = []
    r = Reader(data)
    next_type = first
    while next_type != PayloadType.NONE:
        payload_type = next_type
        start = r.pos
        next_type = r.uint(1, "next payload")
        r.take(1, "reserved")
        length = r.uint(2, "payload length")
        if length < GENERIC_HEADER_SIZE or length - GENERIC_HEADER_SIZE > r.remaining:
            raise DecodeError(f"payload {payload_type}: length {length} out of bounds")
        payloads.append(_body_of(payload_type, Reader(data, r.pos, start + length)))
        r.pos = start + length
    if r.remaining and not padded:
        raise DecodeError(f"{r.remaining} bytes after the last payload")
    return tuple(payloads)


def _may_be_unknown(payload_type: int) -> bool:
    """A type without a table that may still appear: registered (not P or T) or private."""
    if payload_type in PRIVATE_PAYLOAD_TYPES:
        return True
    return payload_type in PayloadType._value2member_map_ and payload_type not in (
        PayloadType.NONE,
        PayloadType.P,
        PayloadType.T,
    )


def _check_encodable(payload: Payload) -> None:
    payload_type = int(payload.payload_type)
    layout = PAYLOAD_LAYOUTS.get(payload_type)
    if isinstance(payload, UnknownPayload):
        if layout is not None or not _may_be_unknown(payload_type):
            raise ValueError(f"payload type {payload_type} cannot be an UnknownPayload")
    elif layout is None or layout.cls is not type(payload):
        raise ValueError(f"{type(payload).__name__} cannot have payload type {payload_type}")


def encode_payloads(payloads: Iterable[Payload]) -> tuple[int, bytes]:
    """The first payload type and the chained payloads (no padding)."""
    items = tuple(payloads)
    out = bytearray()
    for index, payload in enumerate(items):
        _check_encodable(payload)
        start = len(out)
        out.append(int(items[index + 1].payload_type) if index + 1 < len(items) else 0)
        out += b"\0\0\0"
        if isinstance(payload, UnknownPayload):
            out += payload.body
        else:
            encode_struct(PAYLOAD_LAYOUTS[int(payload.payload_type)], payload, out)
        length = len(out) - start
        if length > 0xFFFF:
            raise ValueError(f"payload {payload.payload_type}: {length} bytes is too long")
        out[start + 2 : start + 4] = length.to_bytes(2, "big")
    first = int(items[0].payload_type) if items else PayloadType.NONE
    return int(first), bytes(out)


# --- entry points ------------------------------------------------------------------------------


def decode_message(data: bytes) -> Message:
    """Decode a whole plaintext ISAKMP datagram; malformed input raises ``DecodeError`` only.

    An encrypted message (Encryption flag) raises too: use ``decode_envelope`` and decrypt."""
    envelope = decode_envelope(data)
    try:
        if envelope.header.is_encrypted:
            raise DecodeError("encrypted message: decrypt the envelope body first")
        payloads = decode_payloads(envelope.first_payload, envelope.body)
    except DecodeError as error:
        error.header = envelope.header
        raise
    return Message(envelope.header, payloads)


def encode_message(message: Message) -> bytes:
    """Encode a plaintext message; ``ValueError`` when a value cannot be put on the wire."""
    if message.header.is_encrypted:
        raise ValueError("encrypted message: encrypt encode_payloads() into an Envelope")
    first, body = encode_payloads(message.payloads)
    return encode_envelope(Envelope(message.header, first, body))
