"""ICMP errors the data path sends and reads (RFC 792, RFC 1191 path MTU discovery).

* ``frag_needed``: "destination unreachable, fragmentation needed and DF set" (type 3
  code 4) with the next-hop MTU, sent back to the source of a packet too big for the tunnel.
* ``parse_error``: an ICMP error's type, code, next-hop MTU and the original packet it
  quotes (its IPv4 header and the first bytes of its payload), for PMTU and validation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from tunnelgate.esp.ipv4 import Ipv4Header, checksum

ICMP = 1
DEST_UNREACHABLE, TIME_EXCEEDED, PARAMETER_PROBLEM = 3, 11, 12
ERROR_TYPES = frozenset({DEST_UNREACHABLE, TIME_EXCEEDED, PARAMETER_PROBLEM})
FRAG_NEEDED = 4
QUOTE_BYTES = 548  # original datagram quoted: at most 576 bytes in all (RFC 1812 §4.3.2.3)


@dataclass(frozen=True, slots=True)
class IcmpError:
    type: int
    code: int
    next_hop_mtu: int  # type 3 code 4 only (RFC 1191), else 0
    quoted: bytes  # the original packet's header and leading payload bytes


def frag_needed(original: bytes, mtu: int, source: str, ident: int = 0) -> bytes:
    """The IPv4 ICMP "fragmentation needed" for ``original``, from ``source`` to its sender."""
    quoted = original[:QUOTE_BYTES]
    body = struct.pack("!BBHHH", DEST_UNREACHABLE, FRAG_NEEDED, 0, 0, mtu) + quoted
    body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
    sender = IPv4Address(original[12:16])
    header = Ipv4Header(IPv4Address(source), sender, ICMP, 20 + len(body), ident=ident)
    return header.build() + body


def parse_error(packet: bytes) -> IcmpError | None:
    """The ICMP error carried by an IPv4 ``packet``, or None if it is not one."""
    if len(packet) < 20 or packet[9] != ICMP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl:]
    if len(icmp) < 8 + 20 or icmp[0] not in ERROR_TYPES:
        return None
    mtu = int.from_bytes(icmp[6:8], "big") if icmp[:2] == bytes([3, 4]) else 0
    return IcmpError(icmp[0], icmp[1], mtu, bytes(icmp[8:]))


__all__ = ["ERROR_TYPES", "IcmpError", "frag_needed", "parse_error"]
