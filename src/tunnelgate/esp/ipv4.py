"""Minimal IPv4 header handling for ESP tunnel mode (RFC 791, RFC 1071, RFC 4301 §5.1.2).

Only what the data plane needs: parse and build the 20-octet header (options are kept as
opaque bytes on parse), the header checksum, and the outer header of a tunnel-mode packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address

VERSION = 4
MIN_HEADER_BYTES = 20
PROTO_ESP = 50  # RFC 4303
FLAG_DF = 0x4000
FLAG_MF = 0x2000
OFFSET_MASK = 0x1FFF
_HEADER = struct.Struct("!BBHHHBBH4s4s")


class Ipv4Error(ValueError):
    """Bytes that are not a well-formed IPv4 packet."""


def checksum(data: bytes) -> int:
    """The Internet checksum: one's complement of the one's complement sum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True, slots=True)
class Ipv4Header:
    """The RFC 791 §3.1 header fields; ``checksum`` is recomputed by ``build``."""

    src: IPv4Address
    dst: IPv4Address
    protocol: int
    total_length: int
    ident: int = 0
    ttl: int = 64
    tos: int = 0
    df: bool = False
    mf: bool = False
    fragment_offset: int = 0  # in 8-octet units
    options: bytes = b""
    checksum: int = 0

    @property
    def header_bytes(self) -> int:
        return MIN_HEADER_BYTES + len(self.options)

    def build(self) -> bytes:
        """The header on the wire, checksum filled in (RFC 791 §3.1)."""
        if len(self.options) % 4 or self.header_bytes > 60:
            raise ValueError(f"IPv4 options of {len(self.options)} bytes are not encodable")
        flags = (FLAG_DF if self.df else 0) | (FLAG_MF if self.mf else 0)
        fields = (
            (VERSION << 4) | (self.header_bytes // 4),
            self.tos,
            self.total_length,
            self.ident,
            flags | (self.fragment_offset & OFFSET_MASK),
            self.ttl,
            self.protocol,
            0,
            self.src.packed,
            self.dst.packed,
        )
        raw = _HEADER.pack(*fields) + self.options
        return raw[:10] + struct.pack("!H", checksum(raw)) + raw[12:]


def parse_header(packet: bytes) -> Ipv4Header:
    """Parse and validate an IPv4 header: version, IHL, total length, checksum."""
    if len(packet) < MIN_HEADER_BYTES:
        raise Ipv4Error(f"IPv4 packet of {len(packet)} bytes is shorter than a header")
    ver_ihl, tos, total, ident, frag, ttl, proto, csum, src, dst = _HEADER.unpack_from(packet)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != VERSION:
        raise Ipv4Error(f"IP version {ver_ihl >> 4}, expected 4")
    if ihl < MIN_HEADER_BYTES or not ihl <= total <= len(packet):
        raise Ipv4Error(f"IPv4 IHL {ihl} / total length {total} invalid for {len(packet)} bytes")
    if checksum(packet[:ihl]):
        raise Ipv4Error("IPv4 header checksum mismatch (RFC 791 §3.1)")
    return Ipv4Header(
        src=IPv4Address(src),
        dst=IPv4Address(dst),
        protocol=proto,
        total_length=total,
        ident=ident,
        ttl=ttl,
        tos=tos,
        df=bool(frag & FLAG_DF),
        mf=bool(frag & FLAG_MF),
        fragment_offset=frag & OFFSET_MASK,
        options=bytes(packet[MIN_HEADER_BYTES:ihl]),
        checksum=csum,
    )


def split(packet: bytes) -> tuple[Ipv4Header, bytes]:
    """Header and payload of a packet; bytes past the total length (link padding) dropped."""
    header = parse_header(packet)
    return header, packet[header.header_bytes : header.total_length]


def tunnel_wrap(
    payload: bytes,
    src: IPv4Address,
    dst: IPv4Address,
    ident: int,
    ttl: int = 64,
    df: bool = False,
    tos: int = 0,
    protocol: int = PROTO_ESP,
) -> bytes:
    """Prefix the outer tunnel header to ``payload`` (the ESP datagram), RFC 4301 §5.1.2.1.

    Use ``outer_fields`` to derive ``tos`` and ``df`` from the inner packet.
    """
    total = MIN_HEADER_BYTES + len(payload)
    if total > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total} bytes exceeds 65535")
    header = Ipv4Header(src, dst, protocol, total, ident, ttl, tos, df)
    return header.build() + payload


def outer_fields(inner_packet: bytes) -> tuple[int, bool]:
    """Outer TOS and DF copied from the inner header (RFC 4301 §5.1.2.1, RFC 6040 normal mode)."""
    inner = parse_header(inner_packet)
    return inner.tos, inner.df


def build_outer_ipv4(
    src: IPv4Address | str,
    dst: IPv4Address | str,
    esp_payload: bytes,
    ttl: int = 64,
    df: bool = False,
    *,
    tos: int = 0,
    ident: int = 0,
    protocol: int = PROTO_ESP,
) -> bytes:
    """``tunnel_wrap`` taking addresses as text too: the outer IPv4 packet for a payload."""
    return tunnel_wrap(
        esp_payload, IPv4Address(src), IPv4Address(dst), ident, ttl, df, tos, protocol
    )


_OUTER = struct.Struct("!BBHHHBBH4s4s")


@lru_cache(maxsize=256)
def packed_address(address: str) -> bytes:
    """The 4 bytes of a dotted-quad address (cached: the data path asks per packet)."""
    return IPv4Address(address).packed


def outer_ipv4_packed(
    src: bytes,
    dst: bytes,
    esp_payload: bytes,
    *,
    df: bool = False,
    tos: int = 0,
    ident: int = 0,
    ttl: int = 64,
    protocol: int = PROTO_ESP,
) -> bytes:
    """``build_outer_ipv4`` for packed addresses, without intermediate objects: the data
    path's per-packet version (same bytes)."""
    total = MIN_HEADER_BYTES + len(esp_payload)
    if total > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total} bytes exceeds 65535")
    flags = FLAG_DF if df else 0
    raw = _OUTER.pack(0x45, tos, total, ident, flags, ttl, protocol, 0, src, dst)
    words = struct.unpack("!10H", raw)
    csum = sum(words)
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    return b"".join((raw[:10], csum.to_bytes(2, "big"), raw[12:], esp_payload))


def fragment(packet: bytes, mtu: int) -> list[bytes]:
    """``packet`` cut into fragments of at most ``mtu`` bytes (RFC 791 §3.2); a packet that
    fits is returned whole. Raises ``Ipv4Error`` when DF is set and it does not fit.
    Options stay in the first fragment only (none the gateway sees needs copying)."""
    header, payload = split(packet)
    if header.total_length <= mtu:
        return [packet[: header.total_length]]
    if header.df:
        raise Ipv4Error(f"{header.total_length}-byte packet with DF set exceeds MTU {mtu}")
    out: list[bytes] = []
    start = 0
    while start < len(payload):
        options = header.options if start == 0 else b""
        room = (mtu - MIN_HEADER_BYTES - len(options)) // 8 * 8
        if room < 8:
            raise Ipv4Error(f"MTU {mtu} leaves no room for a fragment")
        chunk = payload[start : start + room]
        more = header.mf or start + len(chunk) < len(payload)
        part = Ipv4Header(
            header.src,
            header.dst,
            header.protocol,
            MIN_HEADER_BYTES + len(options) + len(chunk),
            header.ident,
            header.ttl,
            header.tos,
            df=False,
            mf=more,
            fragment_offset=header.fragment_offset + start // 8,
            options=options,
        )
        out.append(part.build() + chunk)
        start += len(chunk)
    return out


def parse_ipv4(packet: bytes) -> tuple[Ipv4Header, bytes]:
    """``split`` under the name the ESP packet helpers use: validated header and payload."""
    return split(packet)


__all__ = [
    "FLAG_DF",
    "FLAG_MF",
    "MIN_HEADER_BYTES",
    "PROTO_ESP",
    "Ipv4Error",
    "Ipv4Header",
    "build_outer_ipv4",
    "checksum",
    "fragment",
    "outer_fields",
    "outer_ipv4_packed",
    "packed_address",
    "parse_header",
    "parse_ipv4",
    "split",
    "tunnel_wrap",
]
