"""Sizes on the path to the peer: how large an inner packet fits one ESP packet, the outer
DF bit per ``set df-bit``, and the ICMP errors that lower the path MTU (RFC 1191).

    outer packet = IPv4 header (20) [+ UDP (8) behind NAT] + ESP header (8) + IV
                   + inner packet + padding + pad length and next header (2) + ICV
"""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.esp.icmp import DEST_UNREACHABLE, FRAG_NEEDED, parse_error
from tunnelgate.esp.packet import EspTransform

INTERFACE_MTU = 1500  # the media MTU of the gateway's interfaces
MIN_PATH_MTU = 576  # a PMTU message never lowers the path MTU below this (RFC 791)
OUTER_IPV4 = 20
OUTER_IPV6 = 40  # a tunnel between the gateways over IPv6
UDP_HEADER = 8
TRAILER = 2
PROTO_ESP, PROTO_UDP, NAT_T_PORT = 50, 17, 4500


def max_inner(transform: EspTransform, path_mtu: int, udp: bool, ipv6: bool = False) -> int:
    """The largest inner packet whose ESP packet fits ``path_mtu`` (padding included);
    ``ipv6``: the outer header is IPv6."""
    outer = OUTER_IPV6 if ipv6 else OUTER_IPV4
    fixed = outer + (UDP_HEADER if udp else 0) + transform.overhead_bytes - TRAILER
    align = transform.alignment
    return (path_mtu - fixed) // align * align - TRAILER


def worst_overhead(transform: EspTransform, udp: bool, ipv6: bool = False) -> int:
    """Bytes added to an inner packet at most (``ipsec overhead`` of ``show``)."""
    udp_bytes = UDP_HEADER if udp else 0
    outer = OUTER_IPV6 if ipv6 else OUTER_IPV4
    return outer + udp_bytes + transform.overhead_bytes + transform.alignment - 1


def outer_df(policy: str, inner_df: bool) -> bool:
    """The outer header's DF bit: ``clear-df`` never, ``set-df`` always, ``copy-df`` the
    inner packet's (the default, RFC 4301 §8.1)."""
    return policy == "set-df" or (policy == "copy-df" and inner_df)


@dataclass(frozen=True, slots=True)
class PathTooBig:
    """An ICMP "fragmentation needed" about one of our outbound ESP packets."""

    spi: int  # the outbound SPI of the SA whose packet was too big
    mtu: int  # the next-hop MTU it reported (0: not given)


def path_too_big(packet: bytes) -> PathTooBig | None:
    """The SA an ICMP frag-needed ``packet`` is about, if it quotes ESP or ESP-in-UDP 4500."""
    error = parse_error(packet)
    if error is None or (error.type, error.code) != (DEST_UNREACHABLE, FRAG_NEEDED):
        return None
    quoted = error.quoted
    ihl = (quoted[0] & 0x0F) * 4
    protocol = quoted[9]
    if protocol == PROTO_ESP and len(quoted) >= ihl + 4:
        return PathTooBig(int.from_bytes(quoted[ihl : ihl + 4], "big"), error.next_hop_mtu)
    if (
        protocol == PROTO_UDP
        and len(quoted) >= ihl + UDP_HEADER + 4
        and int.from_bytes(quoted[ihl + 2 : ihl + 4], "big") == NAT_T_PORT
    ):
        spi = int.from_bytes(quoted[ihl + UDP_HEADER : ihl + UDP_HEADER + 4], "big")
        return PathTooBig(spi, error.next_hop_mtu)
    return None


__all__ = [
    "INTERFACE_MTU",
    "MIN_PATH_MTU",
    "PathTooBig",
    "max_inner",
    "outer_df",
    "path_too_big",
    "worst_overhead",
]
