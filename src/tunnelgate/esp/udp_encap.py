"""UDP encapsulation of ESP on port 4500 (RFC 3948), sans-IO.

``classify`` sorts one UDP payload received on port 4500; it returns a value and never
raises on input:

| UDP payload                                        | ``classify``                   |
|----------------------------------------------------|--------------------------------|
| empty                                              | ``Malformed("empty")``         |
| exactly ``b"\\xff"`` (NAT-keepalive, §2.3)         | ``Keepalive()``                |
| 4 zero bytes (non-ESP marker, §2.2) + ≥ 1 byte     | ``Ike(message)``, marker gone  |
| exactly the 4-byte marker, nothing after it        | ``Malformed("empty-ike")``     |
| any other payload shorter than 8 bytes             | ``Malformed("too-short")``     |
| SPI 1..255 (reserved, RFC 4303 §2.1)               | ``Malformed("spi-reserved")``  |
| ≥ 8 bytes, SPI ≥ 256                               | ``Esp(payload)``               |

A zero SPI never reaches ESP: RFC 3948 §2.2 makes the zero SPI position the non-ESP
marker. ESP needs at least its 8-byte SPI + sequence number header (RFC 4303 §2).

``frame_ike`` adds the marker for sending; ``KEEPALIVE`` is the one-byte keepalive payload.
``KeepaliveTimer`` decides when a keepalive is due (RFC 3948 §4); time is passed in.

The UDP header (ports 4500, length, checksum) is the kernel socket's business; nothing
here builds or checks it. RFC 3948 §2.1: the UDP checksum of UDP-encapsulated ESP SHOULD
be sent as zero, and receivers MUST NOT depend on it being zero. (§3.1 covers fixing the
*inner* transport checksums after NAT in transport mode, not this outer header.)
"""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.esp.packet import HEADER_BYTES

NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 3948 §2.2: IKE on port 4500
NAT_KEEPALIVE = b"\xff"  # RFC 3948 §2.3: one octet 0xFF
KEEPALIVE = NAT_KEEPALIVE
MIN_RESERVED_SPI, MAX_RESERVED_SPI = 1, 255  # RFC 4303 §2.1: reserved by IANA

# ASA "crypto isakmp nat-traversal <natkeepalive>": 10..3600 seconds, default 20
# (spec asa-ipsec-isakmp.txt, "Step 1 ... crypto isakmp nat-traversal").
MIN_KEEPALIVE_SECONDS, MAX_KEEPALIVE_SECONDS = 10, 3600
DEFAULT_KEEPALIVE_SECONDS = 20


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A NAT-keepalive (RFC 3948 §2.3); receivers MUST ignore it (§4)."""


@dataclass(frozen=True, slots=True)
class Ike:
    """An IKE message, the non-ESP marker already stripped (RFC 3948 §2.2)."""

    message: bytes


@dataclass(frozen=True, slots=True)
class Esp:
    """An ESP packet starting at its SPI (RFC 3948 §2.1), for SAD lookup."""

    packet: bytes


@dataclass(frozen=True, slots=True)
class Malformed:
    """Nothing valid: ``reason`` is "empty", "empty-ike", "too-short" or "spi-reserved"."""

    reason: str


Datagram4500 = Keepalive | Ike | Esp | Malformed


def classify(datagram: bytes) -> Datagram4500:
    """Sort one UDP payload received on port 4500 (see the table in the module docstring)."""
    if not datagram:
        return Malformed("empty")
    if datagram == KEEPALIVE:
        return Keepalive()
    if datagram[: len(NON_ESP_MARKER)] == NON_ESP_MARKER:
        if len(datagram) == len(NON_ESP_MARKER):
            return Malformed("empty-ike")
        return Ike(bytes(datagram[len(NON_ESP_MARKER) :]))
    if len(datagram) < HEADER_BYTES:
        return Malformed("too-short")
    spi = int.from_bytes(datagram[:4], "big")
    if MIN_RESERVED_SPI <= spi <= MAX_RESERVED_SPI:
        return Malformed("spi-reserved")
    return Esp(bytes(datagram))


def frame_ike(message: bytes) -> bytes:
    """Prepend the non-ESP marker to an IKE message sent on port 4500 (RFC 3948 §2.2)."""
    return NON_ESP_MARKER + message


@dataclass(frozen=True, slots=True)
class KeepaliveTimer:
    """When to send a NAT-keepalive to one peer (RFC 3948 §4).

    Keepalives are sent only when this end is behind a NAT, and only when nothing else
    (ESP, IKE or keepalive) was sent to the peer for ``interval_seconds``; ``last_sent`` is
    the time of the last such packet, on the caller's clock.
    """

    interval_seconds: int = DEFAULT_KEEPALIVE_SECONDS

    def __post_init__(self) -> None:
        interval = self.interval_seconds
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise TypeError(f"keepalive interval must be an int, not {interval!r}")
        if not MIN_KEEPALIVE_SECONDS <= interval <= MAX_KEEPALIVE_SECONDS:
            raise ValueError(
                f"keepalive interval {interval} outside "
                f"{MIN_KEEPALIVE_SECONDS}..{MAX_KEEPALIVE_SECONDS} seconds"
            )

    def next_due(self, last_sent: float) -> float:
        """The time a keepalive becomes due if nothing is sent before it."""
        return last_sent + self.interval_seconds

    def due(self, now: float, last_sent: float, *, behind_nat: bool) -> bool:
        """Whether to send a keepalive at ``now``: behind a NAT and the interval elapsed."""
        return behind_nat and now >= self.next_due(last_sent)


__all__ = [
    "DEFAULT_KEEPALIVE_SECONDS",
    "KEEPALIVE",
    "MAX_KEEPALIVE_SECONDS",
    "MAX_RESERVED_SPI",
    "MIN_KEEPALIVE_SECONDS",
    "MIN_RESERVED_SPI",
    "NON_ESP_MARKER",
    "Datagram4500",
    "Esp",
    "Ike",
    "Keepalive",
    "KeepaliveTimer",
    "Malformed",
    "classify",
    "frame_ike",
]
