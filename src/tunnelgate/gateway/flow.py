"""The policy's view of one IPv4 or IPv6 packet read from the protected side (or decrypted).

IPv6 addresses are address integers (``IPV6_BASE | value``, D113); the extension header
chain is walked to the upper layer (``esp/ipv6.py``); ICMPv6 (58) carries its type like ICMP.
"""

from __future__ import annotations

import struct

from tunnelgate.esp.ipv6 import Ipv6Error, fragment_info, upper_layer
from tunnelgate.policy.address import IPV6_BASE
from tunnelgate.policy.selector import ICMP, PORT_PROTOCOLS, Flow

ICMPV6 = 58

_FIXED = struct.Struct("!BxxxxxHxBxx4s4s")  # version/IHL, flags+offset, protocol, src, dst
_PORTS = struct.Struct("!HH")
OFFSET_MASK = 0x1FFF


class NotIpv4(ValueError):
    """The bytes are not an IPv4 packet the gateway can classify."""


def flow_of(packet: bytes) -> Flow:
    """Protocol, addresses, ports (first fragments of TCP/UDP) and ICMP type of ``packet``.

    Later fragments carry no ports: they are classified with ports 0 (D71)."""
    if packet[:1] and packet[0] >> 4 == 6:
        return _flow_of_ipv6(packet)
    if len(packet) < 20:
        raise NotIpv4(f"{len(packet)} bytes is shorter than an IPv4 header")
    ver_ihl, frag, protocol, src, dst = _FIXED.unpack_from(packet)
    if ver_ihl >> 4 != 4:
        raise NotIpv4(f"IP version {ver_ihl >> 4}")
    ihl = (ver_ihl & 0x0F) * 4
    if ihl < 20 or len(packet) < ihl:
        raise NotIpv4(f"IPv4 header length {ihl} invalid for {len(packet)} bytes")
    source, destination = int.from_bytes(src, "big"), int.from_bytes(dst, "big")
    first = frag & OFFSET_MASK == 0
    if protocol in PORT_PROTOCOLS and first and len(packet) >= ihl + 4:
        sport, dport = _PORTS.unpack_from(packet, ihl)
        return Flow(protocol, source, destination, sport, dport)
    if protocol == ICMP and first and len(packet) > ihl:
        return Flow(protocol, source, destination, icmp_type=packet[ihl])
    return Flow(protocol, source, destination)


def _flow_of_ipv6(packet: bytes) -> Flow:
    try:
        offset, protocol = upper_layer(packet)
        fragment = fragment_info(packet)
    except Ipv6Error as exc:
        raise NotIpv4(f"IPv6: {exc}") from None
    source = IPV6_BASE | int.from_bytes(packet[8:24], "big")
    destination = IPV6_BASE | int.from_bytes(packet[24:40], "big")
    first = fragment is None or fragment.offset == 0
    end = 40 + int.from_bytes(packet[4:6], "big")
    if protocol in PORT_PROTOCOLS and first and end >= offset + 4:
        sport, dport = _PORTS.unpack_from(packet, offset)
        return Flow(protocol, source, destination, sport, dport)
    if protocol == ICMPV6 and first and end > offset:
        return Flow(protocol, source, destination, icmp_type=packet[offset])
    return Flow(protocol, source, destination)


def flow_key(packet: bytes) -> bytes | None:
    """The bytes that determine ``flow_of(packet)``, for a per-flow cache; ``None`` when the
    packet is not a plain one (IPv4 options, a fragment, too short): classify it in full.

    Equal keys give equal flows: protocol, addresses, then the ports (TCP/UDP) or the ICMP
    type; the key's length tells which. IPv6 packets without extension headers have keys of
    their own lengths (37, 34 or 33 bytes: never an IPv4 key's)."""
    if packet[:1] and packet[0] >> 4 == 6:
        return _ipv6_key(packet)
    if len(packet) < 24 or packet[0] != 0x45 or packet[6] & 0x1F or packet[7]:
        return None
    protocol = packet[9]
    if protocol in PORT_PROTOCOLS:
        return packet[9:10] + packet[12:24]
    if protocol == ICMP:
        return packet[9:10] + packet[12:21]
    return packet[9:10] + packet[12:20]


def _ipv6_key(packet: bytes) -> bytes | None:
    if len(packet) < 44 or 40 + int.from_bytes(packet[4:6], "big") > len(packet):
        return None
    protocol = packet[6]
    if protocol in PORT_PROTOCOLS:
        return packet[6:7] + packet[8:44]
    if protocol == ICMPV6:
        return packet[6:7] + packet[8:41]
    if protocol in (0, 43, 44, 60):  # extension headers: classify in full
        return None
    return packet[6:7] + packet[8:40]


__all__ = ["ICMPV6", "NotIpv4", "flow_key", "flow_of"]
