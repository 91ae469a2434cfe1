"""What the IKEv2 engine tells its owner: small frozen past-tense values."""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.ike.v2.keymat import ChildKeys
from tunnelgate.policy.selector import Selector


@dataclass(frozen=True, slots=True)
class IkeSaEstablished:
    spi_i: bytes
    spi_r: bytes
    peer: tuple[str, int]
    initiator: bool
    algorithms: str  # e.g. "aes-256/sha256/prf sha256/group 14"
    lifetime_seconds: int
    local_address: tuple[str, int] = ("", 0)  # our address the IKE SA uses (D115)


@dataclass(frozen=True, slots=True)
class ChildSaEstablished:
    """Keys and selectors for the ESP data plane (``local`` = our side of the traffic)."""

    spi_in: bytes  # the SPI we chose: the peer sends with it
    spi_out: bytes  # the peer's SPI: we send with it
    encryption: str  # ASA keywords (ESP v2)
    integrity: str
    mode: str  # tunnel | transport
    selector: Selector  # source = our protected side, destination = theirs
    lifetime_seconds: int
    lifetime_kilobytes: int | None
    keys: ChildKeys = field(repr=False)
    initiator: bool = True  # we initiated the exchange that made it (keys: ChildKeys order)
    map_label: str = ""
    rekeyed_spi: bytes | None = None  # our inbound SPI of the child SA this one replaces
    peer_accepts_tfc_padding: bool = True  # False: the peer sent ESP_TFC_PADDING_NOT_SUPPORTED
    peer: tuple[str, int] = ("", 0)  # the IKE peer (ESP goes to its address; port 4500 if NAT)
    udp_encapsulation: bool = False  # a NAT was detected: ESP in UDP 4500 (RFC 3948)
    ike_spi_i: bytes = b""  # the IKE SA that negotiated it
    ike_spi_r: bytes = b""
    # our address of the IKE SA that negotiated it: ESP leaves from it (the peer's family)
    local_address: tuple[str, int] = ("", 0)


@dataclass(frozen=True, slots=True)
class IkeSaFailed:
    """Negotiation failed: the notify we sent or received and a sentence for the log."""

    peer: tuple[str, int]
    notify: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChildSaFailed:
    peer: tuple[str, int]
    notify: str
    reason: str
    rekey: bool = False  # a CREATE_CHILD_SA that rekeyed an existing child SA


@dataclass(frozen=True, slots=True)
class PeerUnreachable:
    """No answer after every retransmission (IKEv1: after every DPD retry, ``version`` 1)."""

    peer: tuple[str, int]
    tries: int
    version: int = 2


Event = IkeSaEstablished | ChildSaEstablished | IkeSaFailed | ChildSaFailed | PeerUnreachable


@dataclass(frozen=True, slots=True)
class ChildSaDeleted:
    """A child SA is gone (deleted by either side, or replaced after a rekey)."""

    spi_in: bytes
    spi_out: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class IkeSaDeleted:
    spi_i: bytes
    spi_r: bytes
    peer: tuple[str, int]
    reason: str


@dataclass(frozen=True, slots=True)
class InvalidSelectorsReceived:
    """The peer dropped a packet of ours outside the SA's selectors (RFC 7296 §3.10.1;
    the ASA logs it as %ASA-4-751027)."""

    peer: tuple[str, int]
    spi: bytes  # the peer's inbound SPI: our outbound SPI of that child SA
    packet: bytes  # the start of the offending IP packet, as the peer sent it


AnyEvent = Event | ChildSaDeleted | IkeSaDeleted | InvalidSelectorsReceived
