"""IPv6 header handling for ESP (RFC 8200, RFC 4303 §3.1, RFC 4301 §5.1.2.2), sans-IO.

The IPv6 counterpart of ``esp/ipv4.py``: pure functions on bytes, no sockets.

* the 40-octet header (``Ipv6Header``, ``parse_header``, ``split``) and the extension
  header chain (``upper_layer``, ``fragment_info``): hop-by-hop (0), routing (43),
  fragment (44) and destination options (60) are followed, anything else is the upper
  layer (ESP 50 and AH 51 included);
* tunnel mode: the outer header (``tunnel_wrap``, ``outer_ipv6_packed``, ``outer_fields``);
* transport mode: where ESP goes in the chain (``transport_split``, ``transport_join``);
* source fragmentation (``fragment``, ``reassemble``) and ICMPv6 Packet Too Big, since
  IPv6 routers never fragment (RFC 8200 §4.5, §5);
* upper-layer checksums over the pseudo-header (RFC 8200 §8.1) and the UDP datagram of
  UDP-encapsulated ESP on port 4500 (RFC 3948), whose checksum may not be zero over IPv6.

Malformed input raises ``Ipv6Error`` (a ``ValueError``) with a specific message; bad
arguments from the caller (an MTU under 1280, a field out of range) raise ``ValueError``.
Jumbograms (RFC 2675) are not supported: a payload length of 0 means an empty payload.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv6Address
from typing import NamedTuple

from tunnelgate.esp.ipv4 import checksum

VERSION = 6
HEADER_BYTES = 40
MIN_MTU = 1280  # RFC 8200 §5
MAX_PAYLOAD = 0xFFFF
HOP_BY_HOP = 0
ROUTING = 43
FRAGMENT = 44
DEST_OPTIONS = 60
EXTENSION_HEADERS = frozenset({HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTIONS})
PROTO_UDP = 17
PROTO_ESP = 50  # RFC 4303
PROTO_ICMPV6 = 58
NO_NEXT_HEADER = 59
ICMPV6_PACKET_TOO_BIG = 2  # RFC 4443 §3.2
NAT_T_PORT = 4500  # RFC 3948
FRAGMENT_HEADER_BYTES = 8
_HEADER = struct.Struct("!IHBB16s16s")
_FRAGMENT = struct.Struct("!BBHI")
_UDP = struct.Struct("!HHHH")

Address = IPv6Address | str | bytes


class Ipv6Error(ValueError):
    """Bytes that are not a well-formed IPv6 packet (or not the one expected)."""


def _packed(address: Address) -> bytes:
    if isinstance(address, bytes) and len(address) == 16:
        return address
    if isinstance(address, IPv6Address):
        return address.packed
    return IPv6Address(address).packed


@dataclass(frozen=True, slots=True)
class Ipv6Header:
    """The RFC 8200 §3 header fields (extension headers belong to the payload)."""

    src: IPv6Address
    dst: IPv6Address
    next_header: int
    payload_length: int
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0

    def build(self) -> bytes:
        """The 40 header octets on the wire (RFC 8200 §3)."""
        if not 0 <= self.traffic_class <= 0xFF or not 0 <= self.flow_label <= 0xFFFFF:
            raise ValueError(
                f"traffic class {self.traffic_class} / flow label {self.flow_label} out of range"
            )
        if not 0 <= self.payload_length <= MAX_PAYLOAD:
            raise ValueError(f"IPv6 payload length {self.payload_length} exceeds 65535")
        if not 0 <= self.next_header <= 0xFF or not 0 <= self.hop_limit <= 0xFF:
            raise ValueError(f"next header {self.next_header} / hop limit {self.hop_limit}")
        word = VERSION << 28 | self.traffic_class << 20 | self.flow_label
        return _HEADER.pack(
            word,
            self.payload_length,
            self.next_header,
            self.hop_limit,
            self.src.packed,
            self.dst.packed,
        )


def _check_fixed(packet: bytes) -> None:
    if len(packet) < HEADER_BYTES:
        raise Ipv6Error(f"IPv6 packet of {len(packet)} bytes is shorter than the 40-byte header")
    if packet[0] >> 4 != VERSION:
        raise Ipv6Error(f"IP version {packet[0] >> 4}, expected 6")


def parse_header(packet: bytes) -> Ipv6Header:
    """Parse and validate the fixed header: length, version, payload length (RFC 8200 §3)."""
    _check_fixed(packet)
    word, length, next_header, hop_limit, src, dst = _HEADER.unpack_from(packet)
    if HEADER_BYTES + length > len(packet):
        raise Ipv6Error(
            f"IPv6 payload length {length} exceeds the {len(packet) - HEADER_BYTES} bytes "
            "after the header"
        )
    return Ipv6Header(
        src=IPv6Address(src),
        dst=IPv6Address(dst),
        next_header=next_header,
        payload_length=length,
        hop_limit=hop_limit,
        traffic_class=(word >> 20) & 0xFF,
        flow_label=word & 0xFFFFF,
    )


def split(packet: bytes) -> tuple[Ipv6Header, bytes]:
    """Header and payload (extension headers included); link padding past the payload
    length is dropped."""
    header = parse_header(packet)
    return header, bytes(packet[HEADER_BYTES : HEADER_BYTES + header.payload_length])


# ------------------------------------------------------------------ extension headers
class _Chain(NamedTuple):
    """The extension headers of a packet: (type, offset) of each, then the upper layer."""

    headers: list[tuple[int, int]]
    upper: int  # offset of the upper-layer header (or of the bytes after the chain)
    protocol: int  # its protocol number
    end: int  # end of the payload: 40 + payload length


def _walk(packet: bytes, end: int) -> _Chain:
    """Follow the extension headers of ``packet[:end]`` (RFC 8200 §4); bounds-checked."""
    headers: list[tuple[int, int]] = []
    protocol, offset = packet[6], HEADER_BYTES
    while protocol in EXTENSION_HEADERS:
        if protocol == HOP_BY_HOP and headers:
            raise Ipv6Error(
                "hop-by-hop options header not immediately after the IPv6 header (RFC 8200 §4.3)"
            )
        if protocol == FRAGMENT:
            length = FRAGMENT_HEADER_BYTES
        elif offset + 2 > end:
            raise Ipv6Error(f"extension header {protocol} at offset {offset} is truncated")
        else:
            length = (packet[offset + 1] + 1) * 8
        if offset + length > end:
            raise Ipv6Error(
                f"extension header {protocol} at offset {offset} ({length} bytes) runs past "
                f"the payload end {end}"
            )
        headers.append((protocol, offset))
        protocol, offset = packet[offset], offset + length
        if (
            headers[-1][0] == FRAGMENT
            and int.from_bytes(packet[offset - 6 : offset - 4], "big") > 7
        ):
            break  # a non-first fragment (offset > 0): what follows is data, not headers
    return _Chain(headers, offset, protocol, end)


def _chain(packet: bytes) -> _Chain:
    header = parse_header(packet)
    return _walk(packet, HEADER_BYTES + header.payload_length)


def _pointer(chain: list[tuple[int, int]], index: int) -> int:
    """Offset of the Next Header field naming the ``index``-th header (or the upper layer)."""
    return 6 if index == 0 else chain[index - 1][1]


def upper_layer(packet: bytes) -> tuple[int, int]:
    """(offset, protocol) of the upper-layer header after the extension header chain.

    Follows hop-by-hop, routing, fragment and destination options headers (RFC 8200 §4);
    for a non-first fragment the walk stops after the Fragment header, whose Next Header
    is returned though that header is not in this packet (see ``fragment_info``). No Next
    Header (59) is returned as such.
    """
    chain = _chain(packet)
    return chain.upper, chain.protocol


class FragmentInfo(NamedTuple):
    """The Fragment header of a packet (RFC 8200 §4.5)."""

    header_offset: int  # where the Fragment header starts
    next_header: int  # of the fragmentable part
    offset: int  # of this fragment's data in the original fragmentable part, in bytes
    more: bool  # the M flag
    ident: int


def fragment_info(packet: bytes) -> FragmentInfo | None:
    """The packet's Fragment header, or None if it is not a fragment."""
    return _fragment_info(packet, _chain(packet))


def _fragment_info(packet: bytes, chain: _Chain) -> FragmentInfo | None:
    for protocol, offset in chain.headers:
        if protocol == FRAGMENT:
            next_header, _, field, ident = _FRAGMENT.unpack_from(packet, offset)
            return FragmentInfo(offset, next_header, field & 0xFFF8, bool(field & 1), ident)
    return None


# ------------------------------------------------------------------ tunnel mode
def tunnel_wrap(
    payload: bytes,
    src: IPv6Address,
    dst: IPv6Address,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
    next_header: int = PROTO_ESP,
) -> bytes:
    """Prefix the outer tunnel header to ``payload`` (the ESP datagram), RFC 4301 §5.1.2.2.

    Use ``outer_fields`` to derive ``traffic_class`` and ``flow_label`` from the inner packet.
    """
    return outer_ipv6_packed(
        src.packed,
        dst.packed,
        payload,
        traffic_class=traffic_class,
        flow_label=flow_label,
        hop_limit=hop_limit,
        next_header=next_header,
    )


def outer_fields(inner_packet: bytes) -> tuple[int, int]:
    """Outer (traffic class, flow label) for a tunnelled packet (RFC 4301 §5.1.2.2).

    The traffic class (DSCP and ECN) is copied whole, RFC 6040 normal mode, as
    ``ipv4.outer_fields`` copies the TOS; the flow label is copied from an IPv6 inner
    packet (RFC 4301 note 8 allows copying) and 0 for an IPv4 one, whose TOS becomes the
    traffic class.
    """
    if len(inner_packet) >= 20 and inner_packet[0] >> 4 == 4:
        return inner_packet[1], 0
    header = parse_header(inner_packet)
    return header.traffic_class, header.flow_label


@lru_cache(maxsize=256)
def packed_address(address: str) -> bytes:
    """The 16 bytes of a textual IPv6 address (cached: the data path asks per packet)."""
    return IPv6Address(address).packed


def outer_ipv6_packed(
    src: bytes,
    dst: bytes,
    esp_payload: bytes,
    *,
    traffic_class: int = 0,
    flow_label: int = 0,
    hop_limit: int = 64,
    next_header: int = PROTO_ESP,
) -> bytes:
    """``tunnel_wrap`` for packed addresses, without intermediate objects: the data path's
    per-packet version (same bytes)."""
    size = len(esp_payload)
    if size > MAX_PAYLOAD:
        raise ValueError(f"IPv6 payload of {size} bytes exceeds 65535")
    if not (0 <= traffic_class <= 0xFF and 0 <= flow_label <= 0xFFFFF):
        raise ValueError(f"traffic class {traffic_class} or flow label {flow_label} out of range")
    if not (0 <= hop_limit <= 0xFF and 0 <= next_header <= 0xFF) or {len(src), len(dst)} != {16}:
        raise ValueError("hop limit, next header or an address out of range")
    word = 0x60000000 | traffic_class << 20 | flow_label
    return _HEADER.pack(word, size, next_header, hop_limit, src, dst) + esp_payload


# ------------------------------------------------------------------ transport mode
def _with_length(headers: bytearray, payload: bytes) -> bytes:
    length = len(headers) - HEADER_BYTES + len(payload)
    if length > MAX_PAYLOAD:
        raise Ipv6Error(f"IPv6 payload of {length} bytes exceeds 65535")
    headers[4:6] = length.to_bytes(2, "big")
    return bytes(headers) + payload


def transport_split(packet: bytes) -> tuple[bytes, int, bytes]:
    """(headers before ESP, next header of the payload, payload) for transport mode.

    ESP goes after the hop-by-hop, routing and fragment headers and after destination
    options headers that precede a routing header (for the intermediate destinations);
    any other destination options header, the last one included, stays in the protected
    payload (RFC 4303 §3.1.1 figure, RFC 8200 §4.1 order). The returned headers' last
    Next Header field is 50 and their payload length covers the headers alone: put the
    ESP bytes after them with ``attach``. Link padding is dropped.
    """
    chain = _chain(packet)
    routings = [i for i, (protocol, _) in enumerate(chain.headers) if protocol == ROUTING]
    last_routing = routings[-1] if routings else -1
    kept = 0
    for index, (protocol, _) in enumerate(chain.headers):
        if protocol == DEST_OPTIONS and index > last_routing:
            break
        kept = index + 1
    if kept < len(chain.headers):
        next_header, split_at = chain.headers[kept]
    else:
        next_header, split_at = chain.protocol, chain.upper
    headers = bytearray(packet[:split_at])
    headers[_pointer(chain.headers, kept)] = PROTO_ESP
    headers[4:6] = (split_at - HEADER_BYTES).to_bytes(2, "big")
    return bytes(headers), next_header, bytes(packet[split_at : chain.end])


def attach(headers: bytes, payload: bytes) -> bytes:
    """``headers`` (IPv6 header and extension headers) followed by ``payload``, with the
    payload length recomputed: the ESP packet of transport mode from ``transport_split``."""
    _check_fixed(headers)
    return _with_length(bytearray(headers), payload)


def transport_join(headers_with_esp_next: bytes, next_header: int, payload: bytes) -> bytes:
    """The packet transport mode protected, rebuilt on receipt: ``headers_with_esp_next``
    (everything before the ESP header, whose last Next Header is 50), the decrypted
    ``payload`` and its ``next_header`` from the ESP trailer; payload length recomputed."""
    if not 0 <= next_header <= 0xFF:
        raise ValueError(f"next header {next_header} is not a protocol number")
    headers = headers_with_esp_next
    _check_fixed(headers)
    chain = _walk(headers, len(headers))
    if chain.protocol != PROTO_ESP or chain.upper != len(headers):
        raise Ipv6Error(
            f"headers end with next header {chain.protocol} at offset {chain.upper}, "
            f"expected ESP (50) at {len(headers)}"
        )
    raw = bytearray(headers)
    raw[_pointer(chain.headers, len(chain.headers))] = next_header
    return _with_length(raw, payload)


# ------------------------------------------------------------------ fragmentation
def fragment(packet: bytes, mtu: int, ident: int) -> list[bytes]:
    """``packet`` cut into fragments of at most ``mtu`` bytes by its source (RFC 8200 §4.5).

    The unfragmentable part (IPv6 header and the headers up to the last routing header,
    else the hop-by-hop header) is repeated with a Fragment header after it; fragment data
    are multiples of 8 bytes except the last's. A packet that fits is returned whole, link
    padding dropped. Raises ``Ipv6Error`` for a packet that is already a fragment or whose
    header chain would not fit in the first fragment (RFC 7112).
    """
    if mtu < MIN_MTU:
        raise ValueError(f"MTU {mtu} is below the IPv6 minimum of 1280 (RFC 8200 §5)")
    if not 0 <= ident <= 0xFFFFFFFF:
        raise ValueError(f"fragment identification {ident} is not a 32-bit value")
    chain = _chain(packet)
    if chain.end <= mtu:
        return [bytes(packet[: chain.end])]
    types = [protocol for protocol, _ in chain.headers]
    if FRAGMENT in types:
        raise Ipv6Error("packet is already a fragment (RFC 8200 §4.5)")
    if ROUTING in types:
        kept = len(types) - types[::-1].index(ROUTING)
    else:
        kept = 1 if types[:1] == [HOP_BY_HOP] else 0
    if kept < len(types):
        next_header, split_at = chain.headers[kept]
    else:
        next_header, split_at = chain.protocol, chain.upper
    last_room = mtu - split_at - FRAGMENT_HEADER_BYTES
    room = last_room // 8 * 8
    if room < 8:
        raise Ipv6Error(f"unfragmentable part of {split_at} bytes leaves no room in MTU {mtu}")
    if chain.upper - split_at > room:
        raise Ipv6Error(
            f"header chain of {chain.upper - split_at} bytes does not fit in the first "
            f"fragment (RFC 7112)"
        )
    unfragmentable = bytearray(packet[:split_at])
    unfragmentable[_pointer(chain.headers, kept)] = FRAGMENT
    data = packet[split_at : chain.end]
    out: list[bytes] = []
    start = 0
    while True:
        last = len(data) - start <= last_room
        chunk = data[start:] if last else data[start : start + room]
        fragment_header = _FRAGMENT.pack(next_header, 0, start | (not last), ident)
        out.append(_with_length(bytearray(unfragmentable), fragment_header + chunk))
        if last:
            return out
        start += room


def reassemble(fragments: Iterable[bytes]) -> bytes:
    """The original packet from all of its fragments, in any order (RFC 8200 §4.5).

    The unfragmentable part and next header come from the first fragment (offset 0).
    Raises ``Ipv6Error`` for a list that is not exactly one packet's complete fragments:
    different source, destination or identification, a non-fragment, a missing piece, an
    overlap (RFC 5722) or a result over 65535 bytes of payload.
    """
    pieces: list[tuple[int, bool, bytes]] = []
    key: tuple[bytes, bytes, int] | None = None
    first: bytes | None = None  # its unfragmentable part, Next Header restored
    for packet in fragments:
        chain = _chain(packet)
        info = _fragment_info(packet, chain)
        if info is None:
            raise Ipv6Error("packet without a Fragment header among the fragments")
        this = (bytes(packet[8:24]), bytes(packet[24:40]), info.ident)
        if key is not None and this != key:
            raise Ipv6Error("fragments of different packets (source, destination, ident)")
        key = this
        data_start = info.header_offset + FRAGMENT_HEADER_BYTES
        pieces.append((info.offset, info.more, bytes(packet[data_start : chain.end])))
        if info.offset == 0:
            raw = bytearray(packet[: info.header_offset])
            index = [offset for _, offset in chain.headers].index(info.header_offset)
            raw[_pointer(chain.headers, index)] = info.next_header
            first = bytes(raw)
    if not pieces:
        raise Ipv6Error("no fragments to reassemble")
    if first is None:
        raise Ipv6Error("the first fragment (offset 0) is missing")
    pieces.sort(key=lambda piece: piece[0])
    expected = 0
    for index, (offset, more, data) in enumerate(pieces):
        if offset != expected:
            kind = "overlaps the previous (RFC 5722)" if offset < expected else "leaves a gap"
            raise Ipv6Error(f"fragment at offset {offset} {kind}, expected {expected}")
        if more != (index < len(pieces) - 1):
            raise Ipv6Error(f"fragment at offset {offset} has the wrong M flag")
        if more and len(data) % 8:
            raise Ipv6Error(f"non-last fragment of {len(data)} bytes is not a multiple of 8")
        expected += len(data)
    return _with_length(bytearray(first), b"".join(data for _, _, data in pieces))


# ------------------------------------------------------------------ checksums, ICMPv6, UDP
def pseudo_header(src: Address, dst: Address, length: int, next_header: int) -> bytes:
    """The upper-layer checksum pseudo-header (RFC 8200 §8.1); ``dst`` is the final
    destination (the last address of a routing header, if any)."""
    return _packed(src) + _packed(dst) + struct.pack("!I3xB", length, next_header)


def upper_checksum(src: Address, dst: Address, next_header: int, data: bytes) -> int:
    """The Internet checksum of pseudo-header + ``data`` (checksum field included as given:
    0 over a message carrying its checksum means it is valid)."""
    return checksum(pseudo_header(src, dst, len(data), next_header) + data)


def udp_checksum(src: Address, dst: Address, udp_bytes: bytes) -> int:
    """The checksum to send in ``udp_bytes`` (its checksum field taken as zero), RFC 768
    with the RFC 8200 §8.1 pseudo-header; a computed 0 is sent as 0xFFFF."""
    if len(udp_bytes) < 8:
        raise Ipv6Error(f"UDP datagram of {len(udp_bytes)} bytes is shorter than its header")
    data = bytes(udp_bytes[:6]) + b"\0\0" + bytes(udp_bytes[8:])
    return upper_checksum(src, dst, PROTO_UDP, data) or 0xFFFF


def udp_checksum_ok(src: Address, dst: Address, udp_bytes: bytes) -> bool:
    """Whether a received UDP datagram's checksum is right; zero is not allowed over IPv6
    (RFC 8200 §8.1)."""
    if len(udp_bytes) < 8 or udp_bytes[6:8] == b"\0\0":
        return False
    return upper_checksum(src, dst, PROTO_UDP, udp_bytes) == 0


def udp_datagram(
    src: Address,
    dst: Address,
    payload: bytes,
    *,
    sport: int = NAT_T_PORT,
    dport: int = NAT_T_PORT,
) -> bytes:
    """UDP header + ``payload`` with a real checksum: UDP-encapsulated ESP (RFC 3948 §2.1)
    over IPv6, where RFC 3948's zero checksum is not allowed (RFC 8200 §8.1)."""
    length = 8 + len(payload)
    if length > MAX_PAYLOAD:
        raise ValueError(f"UDP datagram of {length} bytes exceeds 65535")
    header = _UDP.pack(sport, dport, length, 0)
    csum = udp_checksum(src, dst, header + payload)
    return header[:6] + csum.to_bytes(2, "big") + payload


def udp_encap_packet(
    src: IPv6Address,
    dst: IPv6Address,
    esp: bytes,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
    sport: int = NAT_T_PORT,
    dport: int = NAT_T_PORT,
) -> bytes:
    """The whole IPv6 packet of a UDP-encapsulated ESP datagram (RFC 3948)."""
    datagram = udp_datagram(src, dst, esp, sport=sport, dport=dport)
    return tunnel_wrap(
        datagram,
        src,
        dst,
        hop_limit=hop_limit,
        traffic_class=traffic_class,
        flow_label=flow_label,
        next_header=PROTO_UDP,
    )


def packet_too_big(
    packet: bytes, mtu: int, source: Address, *, hop_limit: int = 64
) -> bytes | None:
    """An ICMPv6 Packet Too Big (RFC 4443 §3.2) for ``packet``, from ``source`` to its
    sender, quoting as much of it as fits in 1280 bytes; None where RFC 4443 §2.4(e)
    forbids one: in answer to an ICMPv6 error message, or to an unspecified or multicast
    source address (which does not name one node)."""
    if not MIN_MTU <= mtu <= 0xFFFFFFFF:
        raise ValueError(f"MTU {mtu} is not between 1280 and 2**32 - 1")
    chain = _chain(packet)
    sender = IPv6Address(bytes(packet[8:24]))
    if sender.is_unspecified or sender.is_multicast:
        return None
    info = _fragment_info(packet, chain)
    if (
        chain.protocol == PROTO_ICMPV6
        and (info is None or info.offset == 0)
        and chain.upper < chain.end
        and packet[chain.upper] < 128  # types 0-127 are errors (RFC 4443 §2.1)
    ):
        return None
    quoted = bytes(packet[: min(chain.end, MIN_MTU - HEADER_BYTES - 8)])
    message = struct.pack("!BBHI", ICMPV6_PACKET_TOO_BIG, 0, 0, mtu) + quoted
    csum = upper_checksum(source, sender, PROTO_ICMPV6, message)
    message = message[:2] + csum.to_bytes(2, "big") + message[4:]
    header = Ipv6Header(IPv6Address(_packed(source)), sender, PROTO_ICMPV6, len(message), hop_limit)
    return header.build() + message


__all__ = [
    "DEST_OPTIONS",
    "EXTENSION_HEADERS",
    "FRAGMENT",
    "HEADER_BYTES",
    "HOP_BY_HOP",
    "MIN_MTU",
    "NAT_T_PORT",
    "NO_NEXT_HEADER",
    "PROTO_ESP",
    "PROTO_ICMPV6",
    "PROTO_UDP",
    "ROUTING",
    "Address",
    "FragmentInfo",
    "Ipv6Error",
    "Ipv6Header",
    "attach",
    "fragment",
    "fragment_info",
    "outer_fields",
    "outer_ipv6_packed",
    "packed_address",
    "packet_too_big",
    "parse_header",
    "pseudo_header",
    "reassemble",
    "split",
    "transport_join",
    "transport_split",
    "tunnel_wrap",
    "udp_checksum",
    "udp_checksum_ok",
    "udp_datagram",
    "udp_encap_packet",
    "upper_checksum",
    "upper_layer",
]
