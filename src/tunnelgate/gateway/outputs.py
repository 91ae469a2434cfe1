"""What the gateway asks its I/O shell to do, and what it reports: small frozen values."""

from __future__ import annotations

from dataclasses import dataclass

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SendUdp:
    """Send ``data`` from ``local`` (address, port 500 or 4500) to ``remote``; ``df``: the
    DF bit of the datagram (without it the kernel fragments what exceeds the path MTU)."""

    local: Address
    remote: Address
    data: bytes
    df: bool = False


@dataclass(frozen=True, slots=True)
class SendIpv4:
    """Send a complete IPv4 packet built by the gateway from ``local``: native ESP, or an
    ICMP error the gateway itself originates (routed by the host like its own traffic)."""

    local: str
    remote: str
    packet: bytes


@dataclass(frozen=True, slots=True)
class SendIpv6:
    """Send ``payload`` (an ESP packet, SPI onwards) as IPv6 next header 50 from ``local`` to
    ``remote``: native ESP between gateways over IPv6; the host builds the IPv6 header."""

    local: str
    remote: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class WriteTun:
    """Deliver a decrypted inner packet to the protected side."""

    packet: bytes


@dataclass(frozen=True, slots=True)
class RouteAdded:
    """Reverse-route injection: route ``prefix`` (``A.B.C.D/N``) into the tunnel device."""

    prefix: str


@dataclass(frozen=True, slots=True)
class RouteRemoved:
    prefix: str


Output = SendUdp | SendIpv4 | SendIpv6 | WriteTun | RouteAdded | RouteRemoved


@dataclass(frozen=True, slots=True)
class ChildSaInstalled:
    """A child SA pair now carries traffic (keys are never part of an event)."""

    interface: str
    map_label: str
    peer: Address
    spi_in: int
    spi_out: int
    selector: str
    udp_encapsulation: bool
    rekey_of: int | None


@dataclass(frozen=True, slots=True)
class ChildSaRemoved:
    interface: str
    spi_in: int
    spi_out: int
    reason: str


@dataclass(frozen=True, slots=True)
class NegotiationStarted:
    """Traffic matched a permit without an SA (ACQUIRE): IKE was asked for one."""

    interface: str
    map_label: str
    peer: str
    flow: str
    how: str  # ike-sa-init | create-child-sa


@dataclass(frozen=True, slots=True)
class NegotiationAbandoned:
    """No SA came for waiting traffic; its packets were dropped, never sent in clear."""

    map_label: str
    peer: str
    reason: str
    packets_dropped: int


@dataclass(frozen=True, slots=True)
class PeerFailedOver:
    """The active peer of a crypto map entry with several ``set peer`` failed: traffic
    negotiates with the next one from now on (after the last: the first again)."""

    map_label: str
    failed: str
    next_peer: str


GatewayEvent = (
    ChildSaInstalled | ChildSaRemoved | NegotiationStarted | NegotiationAbandoned | PeerFailedOver
)

__all__ = [
    "Address",
    "ChildSaInstalled",
    "ChildSaRemoved",
    "GatewayEvent",
    "NegotiationAbandoned",
    "NegotiationStarted",
    "Output",
    "PeerFailedOver",
    "RouteAdded",
    "RouteRemoved",
    "SendIpv4",
    "SendUdp",
    "WriteTun",
]
