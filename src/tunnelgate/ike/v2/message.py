"""IKEv2 messages: the fixed header, the payload chain, and the codec entry points.

Public API::

    decode_message(data) -> Message          # a whole datagram (UDP payload, no non-ESP marker)
    encode_message(message) -> bytes
    decode_header(data) -> Header            # the fixed header only, for routing by SPI
    encode_plaintext_payloads(payloads) -> (first_type, bytes)   # what goes inside SK/SKF
    decode_inner_payloads(first_type, data) -> tuple[Payload, ...]
    DecodeError                              # malformed input; .notify / .notify_data / .header

SK and SKF bodies stay raw: the engine decrypts ``SkPayload.body`` and hands the plaintext (less
padding) with ``first_payload`` to ``decode_inner_payloads``; to send, it encrypts the bytes from
``encode_plaintext_payloads`` and puts them with the returned first type in an ``SkPayload``. The
ICV covers the encoded message up to the ICV, so encode with a zero ICV of the right size and patch.

RFC 7296 §2.5 and §3 checks: the header length equals the datagram length; major version 2 (a
higher one raises ``DecodeError`` with INVALID_MAJOR_VERSION); reserved bits and fields ignored;
the critical bit ignored on the payloads this codec knows; an unknown payload is kept as
``UnknownPayload`` unless critical, which raises with UNSUPPORTED_CRITICAL_PAYLOAD and the type.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tunnelgate.ike.v2.constants import (
    HEADER_FLAGS_MASK,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    PayloadType,
)
from tunnelgate.ike.v2.encoding import (
    DecodeError,
    Reader,
    named,
    put_uint,
)
from tunnelgate.ike.v2.layout_compiler import Decoder, Encoder, decoder, encoder
from tunnelgate.ike.v2.payloads import (
    ENCRYPTED_PAYLOAD_TYPES,
    PAYLOAD_LAYOUTS,
    NotifyPayload,
    Payload,
    UnknownPayload,
)

__all__ = [
    "HEADER_SIZE",
    "DecodeError",
    "Header",
    "Message",
    "decode_header",
    "decode_inner_payloads",
    "decode_message",
    "encode_message",
    "encode_plaintext_payloads",
]

HEADER_SIZE = 28
GENERIC_HEADER_SIZE = 4
MAJOR_VERSION = 2
_CRITICAL = 0x80

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Header:
    """The IKE header (RFC 7296 §3.1) less its derived fields (Next Payload, Length)."""

    spi_i: bytes
    spi_r: bytes
    exchange_type: ExchangeType | int
    flags: HeaderFlag
    message_id: int
    major_version: int = MAJOR_VERSION
    minor_version: int = 0

    @property
    def is_initiator(self) -> bool:
        """Sent by the original initiator of the IKE SA."""
        return HeaderFlag.INITIATOR in self.flags

    @property
    def is_response(self) -> bool:
        return HeaderFlag.RESPONSE in self.flags


@dataclass(frozen=True, slots=True)
class Message:
    """A header and its payloads in wire order."""

    header: Header
    payloads: tuple[Payload, ...]

    def find(self, cls: type[P]) -> P | None:
        """The first payload of class ``cls``, if any."""
        return next((p for p in self.payloads if isinstance(p, cls)), None)

    def find_all(self, cls: type[P]) -> tuple[P, ...]:
        """Every payload of class ``cls``, in order."""
        return tuple(p for p in self.payloads if isinstance(p, cls))

    def find_notify(self, notify_type: NotifyType | int) -> NotifyPayload | None:
        """The first notify of ``notify_type``, if any."""
        return next((p for p in self.find_all(NotifyPayload) if p.notify_type == notify_type), None)


# --- header ------------------------------------------------------------------------------------


_HEADER = struct.Struct("!8s8sBBBBII")
# every value of the masked flags octet as a HeaderFlag (calling the flag class is slow)
_FLAGS = tuple(HeaderFlag(f & HEADER_FLAGS_MASK) for f in range(256))


def _decode_header(data: bytes) -> tuple[Header, int, int]:
    """The header, the first payload type and the Length field."""
    if len(data) < HEADER_SIZE:
        _short_header(data)
    spi_i, spi_r, first, version, exchange_type, flags, message_id, length = _HEADER.unpack_from(
        data
    )
    header = Header(
        spi_i,
        spi_r,
        named(ExchangeType, exchange_type),
        _FLAGS[flags],
        message_id,
        version >> 4,
        version & 0x0F,
    )
    return header, first, length


def _short_header(data: bytes) -> None:
    """Raise the ``DecodeError`` of the field a truncated header ends in."""
    r = Reader(data)
    r.take(8, "IKE SA initiator's SPI")
    r.take(8, "IKE SA responder's SPI")
    for width, what in ((1, "next payload"), (1, "version"), (1, "exchange type"), (1, "flags")):
        r.uint(width, what)
    r.uint(4, "message ID")
    r.uint(4, "length")


def decode_header(data: bytes) -> Header:
    """The fixed header of a datagram (no version or length check): enough to route it."""
    return _decode_header(data)[0]


def _encode_header(header: Header, first: int, length: int) -> bytearray:
    if len(header.spi_i) != 8 or len(header.spi_r) != 8:
        raise ValueError("IKE SPIs are 8 octets")
    if not (0 <= header.major_version < 16 and 0 <= header.minor_version < 16):
        raise ValueError("version numbers are 4 bits")
    exchange_type, message_id = int(header.exchange_type), int(header.message_id)
    if not 0 <= exchange_type < 256:
        put_uint(bytearray(), exchange_type, 1, "exchange type")  # raises
    if not 0 <= message_id < 1 << 32:
        put_uint(bytearray(), message_id, 4, "message ID")  # raises
    if not 0 <= length < 1 << 32:
        put_uint(bytearray(), length, 4, "length")  # raises
    return bytearray(
        _HEADER.pack(
            header.spi_i,
            header.spi_r,
            first,
            header.major_version << 4 | header.minor_version,
            exchange_type,
            int(header.flags) & HEADER_FLAGS_MASK,
            message_id,
            length,
        )
    )


# --- payload chain -----------------------------------------------------------------------------


def _decode_chain(first: int, data: bytes, pos: int, *, outer: bool) -> tuple[Payload, ...]:
    """Follow Next Payload from ``first`` through ``data[pos:]``, which it must fill exactly."""
    payloads: list[Payload] = []
    r = Reader(data, pos)
    body = Reader(data, pos)  # one cursor for every payload body, moved along
    stop = r.end
    decoders = _DECODERS
    next_type = first
    while next_type:  # PayloadType.NONE ends the chain
        payload_type = next_type
        start = r.pos
        if stop - start >= GENERIC_HEADER_SIZE:
            next_type = data[start]
            critical = data[start + 1] & _CRITICAL
            length = data[start + 2] << 8 | data[start + 3]
            r.pos = start + GENERIC_HEADER_SIZE
        else:
            next_type = r.uint(1, "next payload")
            critical = r.uint(1, "critical bit") & _CRITICAL
            length = r.uint(2, "payload length")
        if length < GENERIC_HEADER_SIZE or start + length > stop:
            raise DecodeError(f"payload {payload_type}: length {length} out of bounds")
        body.pos, body.end = r.pos, start + length
        r.pos = start + length
        decode = decoders.get(payload_type)
        if decode is None:
            layout = PAYLOAD_LAYOUTS.get(payload_type)
            if layout is None:
                if critical:
                    raise DecodeError(
                        f"unsupported critical payload {payload_type}",
                        NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
                        bytes([payload_type]),
                    )
                payloads.append(UnknownPayload(payload_type, data[body.pos : body.end]))
                continue
            decode = decoders[payload_type] = decoder(layout)
        if payload_type in _MEMO_TYPES:
            raw = data[body.pos : body.end]
            value = _MEMO.get((payload_type, raw))
            if value is None:
                value = decode(body, True, None)
                if len(raw) <= _MEMO_MAX_BYTES:
                    if len(_MEMO) >= _MEMO_ENTRIES:
                        _MEMO.clear()
                    _MEMO[payload_type, raw] = value
            payloads.append(value)
            continue
        known: dict[str, Any] | None = None
        if payload_type in ENCRYPTED_PAYLOAD_TYPES:
            if not outer:
                raise DecodeError(f"payload {payload_type} inside an encrypted payload")
            if r.pos != stop:
                raise DecodeError(f"payload {payload_type} is not the last payload")
            known = {"first_payload": named(PayloadType, next_type)}
            next_type = PayloadType.NONE
        payloads.append(decode(body, True, known))
    if r.remaining:
        raise DecodeError(f"{r.remaining} bytes after the last payload")
    return tuple(payloads)


# Decoded SA and TS payloads by their bytes: peers send the same offers and selectors again and
# again, decoding is a pure function of the bytes and the values are immutable. Bounded (peers
# choose what they send): small bodies only, and the table is emptied when full.
_MEMO_TYPES = frozenset({PayloadType.SA, PayloadType.TSi, PayloadType.TSr})
_MEMO_MAX_BYTES = 512
_MEMO_ENTRIES = 1024
_MEMO: dict[tuple[int, bytes], Payload] = {}

# payload type -> compiled body codec (``layout_compiler``), compiled at import (a few ms) so
# that no exchange pays for it
_DECODERS: dict[int, Decoder] = {t: decoder(layout) for t, layout in PAYLOAD_LAYOUTS.items()}
_ENCODERS: dict[int, Encoder] = {t: encoder(layout) for t, layout in PAYLOAD_LAYOUTS.items()}


def _encode_chain(payloads: Sequence[Payload], *, outer: bool) -> tuple[int, bytearray]:
    out = bytearray()
    final = len(payloads) - 1
    encoders = _ENCODERS
    for index, payload in enumerate(payloads):
        last = index == final
        payload_type = payload.payload_type
        if payload_type in ENCRYPTED_PAYLOAD_TYPES:
            if not outer or not last:
                raise ValueError("SK/SKF must be the last payload of a message")
            next_type = int(payload.first_payload)  # type: ignore[union-attr]
        else:
            next_type = 0 if last else payloads[index + 1].payload_type
        start = len(out)
        out.append(next_type)
        if type(payload) is UnknownPayload:
            if payload_type in PAYLOAD_LAYOUTS or not 0 < payload_type < 256:
                raise ValueError(f"payload type {payload_type} cannot be an UnknownPayload")
            out.append(_CRITICAL if payload.critical else 0)
            out += b"\0\0" + payload.body
        else:
            out += b"\0\0\0"
            encode = encoders.get(payload_type)
            if encode is None:
                encode = encoders[payload_type] = encoder(PAYLOAD_LAYOUTS[payload_type])
            encode(payload, out, True)
        length = len(out) - start
        if length > 0xFFFF:
            raise ValueError(f"payload {payload_type}: {length} bytes is too long")
        out[start + 2 : start + 4] = length.to_bytes(2, "big")
    first = payloads[0].payload_type if payloads else PayloadType.NONE
    return int(first), out


# --- entry points ------------------------------------------------------------------------------


def decode_message(data: bytes) -> Message:
    """Decode a whole IKEv2 datagram; malformed input raises ``DecodeError`` only."""
    header, first, length = _decode_header(data)
    try:
        if header.major_version > MAJOR_VERSION:
            raise DecodeError(
                f"IKE major version {header.major_version}", NotifyType.INVALID_MAJOR_VERSION
            )
        if header.major_version < MAJOR_VERSION:
            raise DecodeError(f"IKE major version {header.major_version} is not IKEv2")
        if length != len(data):
            raise DecodeError(f"header length {length}, datagram length {len(data)}")
        payloads = _decode_chain(first, data, HEADER_SIZE, outer=True)
    except DecodeError as error:
        error.header = header
        raise
    return Message(header, payloads)


def encode_message(message: Message) -> bytes:
    """Encode a message; ``ValueError`` when a value cannot be put on the wire."""
    first, body = _encode_chain(message.payloads, outer=True)
    return bytes(_encode_header(message.header, first, HEADER_SIZE + len(body)) + body)


def encode_plaintext_payloads(payloads: Iterable[Payload]) -> tuple[int, bytes]:
    """The first payload type and the chained payloads that go inside SK/SKF."""
    first, body = _encode_chain(tuple(payloads), outer=False)
    return first, bytes(body)


def decode_inner_payloads(first_type: int, data: bytes) -> tuple[Payload, ...]:
    """The payloads of decrypted SK/SKF contents (padding already removed)."""
    return _decode_chain(first_type, data, 0, outer=False)
