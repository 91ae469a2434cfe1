"""ISAKMP payload values (RFC 2408 §3.4-3.16, RFC 2407 §4.6, RFC 3947 §3.2/§5.2) and their
layout tables.

Each payload is a frozen value; ``PAYLOAD_LAYOUTS`` maps its type to the ``Layout`` of its body
(everything after the 4-octet generic payload header), read by the engine in ``encoding``.
Registered numbers come back as ``constants`` members, unregistered ones as plain ``int``.
Derived wire fields (lengths, counts, SPI sizes) are not stored.

NAT-D and NAT-OA exist under their RFC 3947 types and under the draft types 130/131 that
pre-RFC peers (and Cisco in draft mode) send: the value keeps which one as ``payload_type``.
``UnknownPayload`` keeps a payload this codec does not parse: registered types without a table
here (mode-cfg A, GDOI) and private types 128-255.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import ClassVar

from tunnelgate.ike.v1.constants import (
    CertEncoding,
    Doi,
    IdType,
    NotifyMessageType,
    PayloadType,
    ProtocolId,
)
from tunnelgate.ike.v1.encoding import (
    CountOf,
    Data,
    DecodeError,
    Layout,
    Reserved,
    SizeOf,
    Spis,
    Uint,
)
from tunnelgate.ike.v1.proposals import SA, SaPayload


@dataclass(frozen=True, slots=True)
class KePayload:
    """Key Exchange payload (RFC 2408 §3.7): the public value; the group is the SA's."""

    payload_type: ClassVar[PayloadType] = PayloadType.KE
    data: bytes


@dataclass(frozen=True, slots=True)
class IdPayload:
    """Identification payload (RFC 2408 §3.8, RFC 2407 §4.6.2): phase 1 identities leave
    ``protocol``/``port`` zero (or UDP/500); phase 2 proxy identities (IDci/IDcr) use them."""

    payload_type: ClassVar[PayloadType] = PayloadType.ID
    id_type: int
    data: bytes
    protocol: int = 0
    port: int = 0


@dataclass(frozen=True, slots=True)
class CertPayload:
    """Certificate payload (RFC 2408 §3.9)."""

    payload_type: ClassVar[PayloadType] = PayloadType.CERT
    encoding: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CrPayload:
    """Certificate Request payload (RFC 2408 §3.10): ``data`` is the CA (a DN), may be empty."""

    payload_type: ClassVar[PayloadType] = PayloadType.CR
    encoding: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class HashPayload:
    """Hash payload (RFC 2408 §3.11)."""

    payload_type: ClassVar[PayloadType] = PayloadType.HASH
    data: bytes


@dataclass(frozen=True, slots=True)
class SigPayload:
    """Signature payload (RFC 2408 §3.12)."""

    payload_type: ClassVar[PayloadType] = PayloadType.SIG
    data: bytes


@dataclass(frozen=True, slots=True)
class NoncePayload:
    """Nonce payload (RFC 2408 §3.13): 8 to 256 octets (RFC 2409 §5)."""

    payload_type: ClassVar[PayloadType] = PayloadType.NONCE
    data: bytes


@dataclass(frozen=True, slots=True)
class NotifyPayload:
    """Notification payload (RFC 2408 §3.14): the SPI is the cookie pair (16 octets) for
    PROTO_ISAKMP notifies such as DPD (RFC 3706 §5), 4 octets for AH/ESP, or empty."""

    payload_type: ClassVar[PayloadType] = PayloadType.N
    notify_type: int
    data: bytes = b""
    protocol_id: int = ProtocolId.PROTO_ISAKMP
    spi: bytes = b""
    doi: int = Doi.IPSEC


@dataclass(frozen=True, slots=True)
class DeletePayload:
    """Delete payload (RFC 2408 §3.15): the cookie pair for the ISAKMP SA, SPIs for AH/ESP."""

    payload_type: ClassVar[PayloadType] = PayloadType.D
    protocol_id: int
    spis: tuple[bytes, ...]
    doi: int = Doi.IPSEC


@dataclass(frozen=True, slots=True)
class VidPayload:
    """Vendor ID payload (RFC 2408 §3.16)."""

    payload_type: ClassVar[PayloadType] = PayloadType.VID
    data: bytes


@dataclass(frozen=True, slots=True)
class NatDPayload:
    """NAT-D payload (RFC 3947 §3.2): HASH(CKY-I | CKY-R | IP | Port); type 20 or draft 130."""

    data: bytes
    payload_type: PayloadType = PayloadType.NAT_D


_NAT_OA_SIZES: dict[int, int] = {IdType.ID_IPV4_ADDR: 4, IdType.ID_IPV6_ADDR: 16}


@dataclass(frozen=True, slots=True)
class NatOaPayload:
    """NAT-OA payload (RFC 3947 §5.2): an original address as ID_IPV4_ADDR or ID_IPV6_ADDR;
    type 21 or draft 131."""

    id_type: int
    data: bytes
    payload_type: PayloadType = PayloadType.NAT_OA

    @property
    def address(self) -> IPv4Address | IPv6Address:
        return ip_address(self.data)


def _check_nat_oa(payload: NatOaPayload) -> None:
    if _NAT_OA_SIZES.get(payload.id_type) != len(payload.data):
        raise DecodeError(f"NAT-OA: ID type {payload.id_type} with {len(payload.data)} octets")


@dataclass(frozen=True, slots=True)
class FragmentPayload:
    """IKEv1 fragment (Cisco, as strongSwan sends it): fragment ID, number from 1, flags
    (``LAST`` set on the final one) and a slice of the whole message."""

    payload_type: ClassVar[PayloadType] = PayloadType.FRAGMENT
    LAST: ClassVar[int] = 0x01
    fragment_id: int
    number: int
    flags: int
    data: bytes

    @property
    def is_last(self) -> bool:
        return bool(self.flags & self.LAST)


def _check_fragment(payload: FragmentPayload) -> None:
    if payload.number == 0:
        raise DecodeError("fragment number 0")


@dataclass(frozen=True, slots=True)
class UnknownPayload:
    """A payload of a type this codec does not parse, kept raw."""

    payload_type: int
    body: bytes


Payload = (
    SaPayload
    | KePayload
    | IdPayload
    | CertPayload
    | CrPayload
    | HashPayload
    | SigPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VidPayload
    | NatDPayload
    | NatOaPayload
    | FragmentPayload
    | UnknownPayload
)

# --- layout tables -----------------------------------------------------------------------------

_NAT_D = Layout("NAT-D", NatDPayload, (Data("data"),))
_NAT_OA = Layout(
    "NAT-OA", NatOaPayload, (Uint("id_type", 1, IdType), Reserved(3), Data("data")), _check_nat_oa
)

PAYLOAD_LAYOUTS: dict[int, Layout] = {
    PayloadType.SA: SA,
    PayloadType.KE: Layout("KE", KePayload, (Data("data", min_size=1),)),
    PayloadType.ID: Layout(
        "ID",
        IdPayload,
        (Uint("id_type", 1, IdType), Uint("protocol", 1), Uint("port", 2), Data("data")),
    ),
    PayloadType.CERT: Layout(
        "CERT", CertPayload, (Uint("encoding", 1, CertEncoding), Data("data"))
    ),
    PayloadType.CR: Layout("CR", CrPayload, (Uint("encoding", 1, CertEncoding), Data("data"))),
    PayloadType.HASH: Layout("HASH", HashPayload, (Data("data"),)),
    PayloadType.SIG: Layout("SIG", SigPayload, (Data("data"),)),
    PayloadType.NONCE: Layout("NONCE", NoncePayload, (Data("data", min_size=8, max_size=256),)),
    PayloadType.N: Layout(
        "N",
        NotifyPayload,
        (
            Uint("doi", 4, Doi),
            Uint("protocol_id", 1, ProtocolId),
            SizeOf("spi", 1),
            Uint("notify_type", 2, NotifyMessageType),
            Data("spi", sized=True),
            Data("data"),
        ),
    ),
    PayloadType.D: Layout(
        "D",
        DeletePayload,
        (
            Uint("doi", 4, Doi),
            Uint("protocol_id", 1, ProtocolId),
            SizeOf("spis", 1, each=True),
            CountOf("spis", 2),
            Spis("spis"),
        ),
    ),
    PayloadType.VID: Layout("VID", VidPayload, (Data("data"),)),
    PayloadType.NAT_D: _NAT_D,
    PayloadType.NAT_D_DRAFT: _NAT_D,
    PayloadType.NAT_OA: _NAT_OA,
    PayloadType.NAT_OA_DRAFT: _NAT_OA,
    PayloadType.FRAGMENT: Layout(
        "fragment",
        FragmentPayload,
        (Uint("fragment_id", 2), Uint("number", 1), Uint("flags", 1), Data("data")),
        _check_fragment,
    ),
}
"""Body layout of every payload type this codec parses."""

VARIANT_TYPES = frozenset(
    {PayloadType.NAT_D, PayloadType.NAT_D_DRAFT, PayloadType.NAT_OA, PayloadType.NAT_OA_DRAFT}
)
"""Types whose value class serves two numbers and stores which in ``payload_type``."""
