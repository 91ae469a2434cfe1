"""Flows (one packet's addresses and ports) and traffic selectors (ranges of them).

A selector is the shape shared by an ACE (once objects are expanded), an IKEv1 proxy
identity and an IKEv2 traffic-selector pair, so that matching, mirroring, covering and
narrowing are one piece of code.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.policy.address import (
    IPV6_BASE,
    IPV6_ONES,
    address_int,
    address_text,
    ipv4_text,
    is_ipv6,
    range_to_prefixes,
)

ANY_PROTOCOL = 0
ICMP, TCP, UDP = 1, 6, 17
PORT_PROTOCOLS = frozenset({TCP, UDP})


@dataclass(frozen=True, slots=True, order=True)
class Range:
    """An inclusive range of integers (addresses or ports)."""

    low: int
    high: int

    def __contains__(self, value: int) -> bool:
        return self.low <= value <= self.high

    def covers(self, other: Range) -> bool:
        return self.low <= other.low and other.high <= self.high

    def intersect(self, other: Range) -> Range | None:
        low, high = max(self.low, other.low), min(self.high, other.high)
        return Range(low, high) if low <= high else None

    @property
    def is_ipv6(self) -> bool:
        """Whether this is a range of IPv6 addresses (D113)."""
        return self.low >= IPV6_BASE

    def describe_address(self) -> str:
        """ASA-style text: ``host A``, ``A MASK``, ``any4`` or ``A-B``; IPv6: ``host A``,
        ``A/LEN``, ``any6`` or ``A-B``."""
        if self == ALL_ADDRESSES:
            return "any4"
        if self == ALL_IPV6_ADDRESSES:
            return "any6"
        if is_ipv6(self.low):
            if self.low == self.high:
                return f"host {address_text(self.low)}"
            v6 = range_to_prefixes(self.low, self.high)
            if len(v6) == 1:
                return f"{address_text(v6[0][0])}/{v6[0][1]}"
            return f"range {address_text(self.low)} {address_text(self.high)}"
        if self.low == self.high:
            return f"host {ipv4_text(self.low)}"
        prefixes = range_to_prefixes(self.low, self.high)
        if len(prefixes) == 1:
            net, length = prefixes[0]
            mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
            return f"{ipv4_text(net)} {ipv4_text(mask)}"
        return f"range {ipv4_text(self.low)} {ipv4_text(self.high)}"


ALL_ADDRESSES = Range(0, 0xFFFFFFFF)
ALL_IPV6_ADDRESSES = Range(IPV6_BASE, IPV6_BASE | IPV6_ONES)  # D113
ALL_PORTS = Range(0, 65535)


@dataclass(frozen=True, slots=True)
class Flow:
    """What the policy looks at in one IPv4 or IPv6 packet (addresses as address integers,
    D113). ICMP and ICMPv6 carry their type in ``icmp_type``."""

    protocol: int
    source: int
    destination: int
    source_port: int = 0
    destination_port: int = 0
    icmp_type: int | None = None

    @classmethod
    def of(
        cls,
        protocol: int,
        source: str,
        destination: str,
        source_port: int = 0,
        destination_port: int = 0,
        icmp_type: int | None = None,
    ) -> Flow:
        """A flow from address text (IPv4 or IPv6, ``ValueError`` otherwise)."""
        return cls(
            protocol,
            address_int(source),
            address_int(destination),
            source_port,
            destination_port,
            icmp_type,
        )

    def reversed(self) -> Flow:
        """The same conversation seen in the other direction."""
        return Flow(
            self.protocol,
            self.destination,
            self.source,
            self.destination_port,
            self.source_port,
            self.icmp_type,
        )

    def describe(self) -> str:
        ports = self.protocol in PORT_PROTOCOLS
        src = _endpoint(self.source, self.source_port if ports else None)
        dst = _endpoint(self.destination, self.destination_port if ports else None)
        return f"proto {self.protocol} {src} -> {dst}"


def _endpoint(address: int, port: int | None) -> str:
    """``A`` or ``A:PORT``; an IPv6 address with a port in brackets (RFC 5952 §6)."""
    text = address_text(address)
    if port is None:
        return text
    return f"[{text}]:{port}" if is_ipv6(address) else f"{text}:{port}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Protocol (0 = any), source and destination address and port ranges, ICMP type."""

    protocol: int
    source: Range
    destination: Range
    source_ports: Range = ALL_PORTS
    destination_ports: Range = ALL_PORTS
    icmp_type: int | None = None  # only for ICMP selectors; None = any type

    @property
    def mixes_families(self) -> bool:
        """An IPv4 side and an IPv6 side: no packet can match it (D113)."""
        return (self.source.low >= IPV6_BASE) != (self.destination.low >= IPV6_BASE)

    def matches(self, flow: Flow) -> bool:
        if self.protocol != ANY_PROTOCOL and self.protocol != flow.protocol:
            return False
        if flow.source not in self.source or flow.destination not in self.destination:
            return False
        if self.protocol in PORT_PROTOCOLS and (
            flow.source_port not in self.source_ports
            or flow.destination_port not in self.destination_ports
        ):
            return False
        return self.icmp_type is None or flow.icmp_type == self.icmp_type

    def mirrored(self) -> Selector:
        """The selector of the reverse direction (what the peer's mirror ACE should be)."""
        return Selector(
            self.protocol,
            self.destination,
            self.source,
            self.destination_ports,
            self.source_ports,
            self.icmp_type,
        )

    def covers(self, other: Selector) -> bool:
        """Every flow ``other`` matches, this selector matches too."""
        if self.protocol != ANY_PROTOCOL and self.protocol != other.protocol:
            return False
        if not (self.source.covers(other.source) and self.destination.covers(other.destination)):
            return False
        if self.protocol in PORT_PROTOCOLS and not (
            self.source_ports.covers(other.source_ports)
            and self.destination_ports.covers(other.destination_ports)
        ):
            return False
        return self.icmp_type is None or self.icmp_type == other.icmp_type

    def intersect(self, other: Selector) -> Selector | None:
        """The flows both match (IKEv2 narrowing), None when they share none."""
        if ANY_PROTOCOL not in (self.protocol, other.protocol) and self.protocol != other.protocol:
            return None
        protocol = self.protocol or other.protocol
        if self.icmp_type is not None and other.icmp_type not in (None, self.icmp_type):
            return None
        source = self.source.intersect(other.source)
        destination = self.destination.intersect(other.destination)
        sports = self.source_ports.intersect(other.source_ports)
        dports = self.destination_ports.intersect(other.destination_ports)
        if source is None or destination is None or sports is None or dports is None:
            return None
        if protocol not in PORT_PROTOCOLS:
            sports = dports = ALL_PORTS
        icmp = self.icmp_type if self.icmp_type is not None else other.icmp_type
        return Selector(protocol, source, destination, sports, dports, icmp)

    def describe(self) -> str:
        parts = [str(self.protocol) if self.protocol else "ip", self.source.describe_address()]
        if self.protocol in PORT_PROTOCOLS and self.source_ports != ALL_PORTS:
            parts.append(_ports(self.source_ports))
        parts.append(self.destination.describe_address())
        if self.protocol in PORT_PROTOCOLS and self.destination_ports != ALL_PORTS:
            parts.append(_ports(self.destination_ports))
        return " ".join(parts)


def _ports(r: Range) -> str:
    return f"eq {r.low}" if r.low == r.high else f"range {r.low} {r.high}"
