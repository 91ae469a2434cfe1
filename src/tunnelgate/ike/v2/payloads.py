"""IKEv2 payload values (RFC 7296 §3.2-3.16, RFC 7383 §2.5) and their layout tables.

Each payload is a frozen value; ``PAYLOAD_LAYOUTS`` maps its type to the ``Layout`` of its body
(everything after the 4-octet generic payload header), read by the engine in ``encoding``.
Numbers that name registry entries come back as ``constants`` members when registered and as
plain ``int`` otherwise. Derived wire fields (lengths, counts, SPI sizes, TS types) are not stored.

SK and SKF keep their encrypted body raw: crypto is not the codec's job. Their ``first_payload``
is the type of the first inner payload, which the wire carries in the generic header's Next
Payload field. ``UnknownPayload`` keeps a payload type this codec does not parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import ClassVar

from tunnelgate.ike.v2.constants import (
    TRANSFORM_ID_ENUMS,
    AuthMethod,
    CertEncoding,
    ConfigAttributeType,
    ConfigType,
    DhId,
    IdType,
    NotifyType,
    PayloadType,
    ProtocolId,
    TransformAttributeType,
    TransformType,
    TsType,
)
from tunnelgate.ike.v2.encoding import (
    Address,
    AddressFamily,
    AttributeFormat,
    AttributeValue,
    CountOf,
    Data,
    DecodeError,
    Items,
    Layout,
    Length,
    More,
    Reserved,
    SizeOf,
    Spis,
    SpiSize,
    Uint,
)

IpAddress = IPv4Address | IPv6Address
SPI_SIZES = frozenset({0, 4, 8})

# --- SA ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransformAttribute:
    """A transform attribute: ``int`` value = TV form, ``bytes`` value = TLV form."""

    attribute_type: TransformAttributeType | int
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Transform:
    """A transform (RFC 7296 §3.3.2); ``transform_id`` is a member of the type's registry."""

    transform_type: TransformType | int
    transform_id: int
    attributes: tuple[TransformAttribute, ...] = ()

    @classmethod
    def with_key_length(cls, transform_type: int, transform_id: int, bits: int) -> Transform:
        """A transform carrying the Key Length attribute (TV, type 14)."""
        return cls(
            transform_type,
            transform_id,
            (TransformAttribute(TransformAttributeType.KEY_LENGTH, bits),),
        )

    @property
    def key_length(self) -> int | None:
        """The Key Length attribute in bits, if present."""
        for attribute in self.attributes:
            if attribute.attribute_type == TransformAttributeType.KEY_LENGTH and isinstance(
                attribute.value, int
            ):
                return attribute.value
        return None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal substructure (RFC 7296 §3.3.1); ``spi`` is empty, 4 or 8 octets."""

    number: int
    protocol_id: ProtocolId | int
    transforms: tuple[Transform, ...]
    spi: bytes = b""


@dataclass(frozen=True, slots=True)
class SaPayload:
    """Security Association payload: one or more proposals."""

    payload_type: ClassVar[PayloadType] = PayloadType.SA
    proposals: tuple[Proposal, ...]


def _check_proposal_numbers(sa: SaPayload) -> None:
    """RFC 7296 §3.3.1: numbered 1, 2, ... when offered; one accepted proposal keeps its number."""
    numbers = [p.number for p in sa.proposals]
    if 0 in numbers or (len(numbers) > 1 and numbers != list(range(1, len(numbers) + 1))):
        raise DecodeError(f"proposal numbers {numbers} are not 1, 2, ...")


# --- simple payloads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KePayload:
    """Key Exchange payload (RFC 7296 §3.4)."""

    payload_type: ClassVar[PayloadType] = PayloadType.KE
    dh_group: DhId | int
    data: bytes


@dataclass(frozen=True, slots=True)
class IdiPayload:
    """Identification - Initiator payload (RFC 7296 §3.5)."""

    payload_type: ClassVar[PayloadType] = PayloadType.IDi
    id_type: IdType | int
    data: bytes


@dataclass(frozen=True, slots=True)
class IdrPayload:
    """Identification - Responder payload (RFC 7296 §3.5)."""

    payload_type: ClassVar[PayloadType] = PayloadType.IDr
    id_type: IdType | int
    data: bytes


@dataclass(frozen=True, slots=True)
class CertPayload:
    """Certificate payload (RFC 7296 §3.6)."""

    payload_type: ClassVar[PayloadType] = PayloadType.CERT
    encoding: CertEncoding | int
    data: bytes


@dataclass(frozen=True, slots=True)
class CertreqPayload:
    """Certificate Request payload (RFC 7296 §3.7): ``data`` is the CA key hashes, raw."""

    payload_type: ClassVar[PayloadType] = PayloadType.CERTREQ
    encoding: CertEncoding | int
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthPayload:
    """Authentication payload (RFC 7296 §3.8)."""

    payload_type: ClassVar[PayloadType] = PayloadType.AUTH
    method: AuthMethod | int
    data: bytes


@dataclass(frozen=True, slots=True)
class NoncePayload:
    """Nonce payload (RFC 7296 §3.9): 16 to 256 octets."""

    payload_type: ClassVar[PayloadType] = PayloadType.NONCE
    data: bytes


@dataclass(frozen=True, slots=True)
class NotifyPayload:
    """Notify payload (RFC 7296 §3.10); ``protocol_id`` is 0 when no SPI applies."""

    payload_type: ClassVar[PayloadType] = PayloadType.NOTIFY
    notify_type: NotifyType | int
    data: bytes = b""
    protocol_id: ProtocolId | int = 0
    spi: bytes = b""


@dataclass(frozen=True, slots=True)
class DeletePayload:
    """Delete payload (RFC 7296 §3.11): no SPI for the IKE SA, 4-octet SPIs for AH/ESP."""

    payload_type: ClassVar[PayloadType] = PayloadType.DELETE
    protocol_id: ProtocolId | int
    spis: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class VendorIdPayload:
    """Vendor ID payload (RFC 7296 §3.12)."""

    payload_type: ClassVar[PayloadType] = PayloadType.VENDOR_ID
    data: bytes


# --- traffic selectors -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficSelector:
    """An address range with a protocol and port range (RFC 7296 §3.13.1); both addresses
    share a family, which gives the TS type."""

    start_address: IpAddress
    end_address: IpAddress
    ip_protocol: int = 0
    start_port: int = 0
    end_port: int = 65535

    @property
    def ts_type(self) -> TsType:
        if self.start_address.version == 4:
            return TsType.TS_IPV4_ADDR_RANGE
        return TsType.TS_IPV6_ADDR_RANGE


@dataclass(frozen=True, slots=True)
class TsiPayload:
    """Traffic Selector - Initiator payload (RFC 7296 §3.13)."""

    payload_type: ClassVar[PayloadType] = PayloadType.TSi
    selectors: tuple[TrafficSelector, ...]


@dataclass(frozen=True, slots=True)
class TsrPayload:
    """Traffic Selector - Responder payload (RFC 7296 §3.13)."""

    payload_type: ClassVar[PayloadType] = PayloadType.TSr
    selectors: tuple[TrafficSelector, ...]


# --- encrypted ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkPayload:
    """Encrypted and Authenticated payload (RFC 7296 §3.14): IV, ciphertext, padding and ICV,
    raw. It is always the last payload of a message."""

    payload_type: ClassVar[PayloadType] = PayloadType.SK
    first_payload: PayloadType | int
    body: bytes


@dataclass(frozen=True, slots=True)
class SkfPayload:
    """Encrypted and Authenticated Fragment (RFC 7383 §2.5); ``first_payload`` is the first
    inner payload type on fragment 1 and 0 on the others."""

    payload_type: ClassVar[PayloadType] = PayloadType.SKF
    fragment_number: int
    total_fragments: int
    first_payload: PayloadType | int
    body: bytes


def _check_fragment(skf: SkfPayload) -> None:
    """RFC 7383 §2.6: a fragment number of 0 or above the total is invalid."""
    if not 1 <= skf.fragment_number <= skf.total_fragments:
        raise DecodeError(f"fragment {skf.fragment_number} of {skf.total_fragments}")


# --- configuration, EAP, unknown ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigAttribute:
    """A configuration attribute (RFC 7296 §3.15.1), value raw (empty in a request)."""

    attribute_type: ConfigAttributeType | int
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class CpPayload:
    """Configuration payload (RFC 7296 §3.15)."""

    payload_type: ClassVar[PayloadType] = PayloadType.CP
    config_type: ConfigType | int
    attributes: tuple[ConfigAttribute, ...] = ()


@dataclass(frozen=True, slots=True)
class EapPayload:
    """EAP payload (RFC 7296 §3.16): the EAP message, raw."""

    payload_type: ClassVar[PayloadType] = PayloadType.EAP
    data: bytes


@dataclass(frozen=True, slots=True)
class UnknownPayload:
    """A payload of a type this codec does not parse, kept raw (never critical on decode)."""

    payload_type: int
    body: bytes
    critical: bool = False


Payload = (
    SaPayload
    | KePayload
    | IdiPayload
    | IdrPayload
    | CertPayload
    | CertreqPayload
    | AuthPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | TsiPayload
    | TsrPayload
    | SkPayload
    | SkfPayload
    | CpPayload
    | EapPayload
    | UnknownPayload
)

# --- layout tables -----------------------------------------------------------------------------

TRANSFORM_ATTRIBUTE = Layout(
    "transform attribute",
    TransformAttribute,
    (AttributeFormat("attribute_type", TransformAttributeType), AttributeValue("value")),
)

TRANSFORM = Layout(
    "transform",
    Transform,
    (
        More(3),
        Reserved(1),
        Length(2),
        Uint("transform_type", 1, TransformType),
        Reserved(1),
        Uint("transform_id", 2, enum_by=("transform_type", TRANSFORM_ID_ENUMS)),
        Items("attributes", TRANSFORM_ATTRIBUTE),
    ),
)

PROPOSAL = Layout(
    "proposal",
    Proposal,
    (
        More(2),
        Reserved(1),
        Length(2),
        Uint("number", 1),
        Uint("protocol_id", 1, ProtocolId),
        SizeOf("spi", 1),
        CountOf("transforms", 1),
        Data("spi", sized=True, sizes=SPI_SIZES),
        Items("transforms", TRANSFORM),
    ),
)

TRAFFIC_SELECTOR = Layout(
    "traffic selector",
    TrafficSelector,
    (
        AddressFamily("start_address"),
        Uint("ip_protocol", 1),
        Length(2),
        Uint("start_port", 2),
        Uint("end_port", 2),
        Address("start_address"),
        Address("end_address"),
    ),
)

CONFIG_ATTRIBUTE = Layout(
    "configuration attribute",
    ConfigAttribute,
    (
        Uint("attribute_type", 2, ConfigAttributeType, mask=0x7FFF),
        SizeOf("value", 2),
        Data("value", sized=True),
    ),
)

_ID_BODY = (Uint("id_type", 1, IdType), Reserved(3), Data("data"))
_CERT_BODY = (Uint("encoding", 1, CertEncoding), Data("data"))
_TS_BODY = (CountOf("selectors", 1), Reserved(3), Items("selectors", TRAFFIC_SELECTOR))

PAYLOAD_LAYOUTS: dict[int, Layout] = {
    layout.cls.payload_type: layout  # type: ignore[attr-defined]
    for layout in (
        Layout("SA", SaPayload, (Items("proposals", PROPOSAL, 1),), _check_proposal_numbers),
        Layout("KE", KePayload, (Uint("dh_group", 2, DhId), Reserved(2), Data("data"))),
        Layout("IDi", IdiPayload, _ID_BODY),
        Layout("IDr", IdrPayload, _ID_BODY),
        Layout("CERT", CertPayload, _CERT_BODY),
        Layout("CERTREQ", CertreqPayload, _CERT_BODY),
        Layout("AUTH", AuthPayload, (Uint("method", 1, AuthMethod), Reserved(3), Data("data"))),
        Layout("Nonce", NoncePayload, (Data("data", min_size=16, max_size=256),)),
        Layout(
            "Notify",
            NotifyPayload,
            (
                Uint("protocol_id", 1, ProtocolId),
                SizeOf("spi", 1),
                Uint("notify_type", 2, NotifyType),
                Data("spi", sized=True, sizes=SPI_SIZES),
                Data("data"),
            ),
        ),
        Layout(
            "Delete",
            DeletePayload,
            (Uint("protocol_id", 1, ProtocolId), SpiSize("spis"), CountOf("spis", 2), Spis("spis")),
        ),
        Layout("Vendor ID", VendorIdPayload, (Data("data"),)),
        Layout("TSi", TsiPayload, _TS_BODY),
        Layout("TSr", TsrPayload, _TS_BODY),
        Layout("SK", SkPayload, (Data("body"),)),
        Layout(
            "SKF",
            SkfPayload,
            (Uint("fragment_number", 2), Uint("total_fragments", 2), Data("body")),
            _check_fragment,
        ),
        Layout(
            "CP",
            CpPayload,
            (
                Uint("config_type", 1, ConfigType),
                Reserved(3),
                Items("attributes", CONFIG_ATTRIBUTE),
            ),
        ),
        Layout("EAP", EapPayload, (Data("data"),)),
    )
}
"""Body layout of every payload type this codec parses."""

ENCRYPTED_PAYLOAD_TYPES = frozenset({PayloadType.SK, PayloadType.SKF})
"""Payloads whose Next Payload field names the first inner payload and that end a message."""
