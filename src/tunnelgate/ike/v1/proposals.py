"""The SA payload and its Proposal and Transform substructures (RFC 2408 §3.4-3.6, RFC 2407 §4.2).

Proposals and transforms are chained by their own Next Payload octet (2 or 3 while another
follows, 0 after the last) and are not payloads of the message chain. A transform's layout
follows its proposal's protocol: PROTO_ISAKMP transforms carry IKE SA attributes (RFC 2409
App. A) and KEY_IKE, the others IPsec SA attributes (RFC 2407 §4.5) and that protocol's
transform identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tunnelgate.ike.v1.attributes import IKE_ATTRIBUTE, IPSEC_ATTRIBUTE, DataAttribute
from tunnelgate.ike.v1.constants import (
    Doi,
    NotifyMessageType,
    PayloadType,
    ProtocolId,
    Situation,
)
from tunnelgate.ike.v1.encoding import (
    CountOf,
    Data,
    DecodeError,
    Items,
    Layout,
    Length,
    More,
    Reserved,
    SizeOf,
    Uint,
)
from tunnelgate.ike.v1.sa_constants import TRANSFORM_ID_ENUMS


@dataclass(frozen=True, slots=True)
class Transform:
    """A transform (RFC 2408 §3.6): number, identifier and SA attributes in wire order."""

    number: int
    transform_id: int
    attributes: tuple[DataAttribute, ...] = ()

    def attribute(self, attribute_type: int) -> int | bytes | None:
        """The value of the first attribute of class ``attribute_type``, if present."""
        return next((a.value for a in self.attributes if a.attribute_type == attribute_type), None)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal (RFC 2408 §3.5): proposals sharing a number form one AND-ed bundle
    (e.g. AH and ESP, §4.2); ``spi`` is empty for phase 1 and 4 octets for AH/ESP."""

    number: int
    protocol_id: int
    transforms: tuple[Transform, ...]
    spi: bytes = b""


@dataclass(frozen=True, slots=True)
class SaPayload:
    """Security Association payload (RFC 2408 §3.4) in the IPsec DOI with the only situation
    this codec reads, SIT_IDENTITY_ONLY (RFC 2407 §4.2: the others add labelled-domain fields)."""

    payload_type: ClassVar[PayloadType] = PayloadType.SA
    proposals: tuple[Proposal, ...]
    doi: int = Doi.IPSEC
    situation: int = Situation.SIT_IDENTITY_ONLY


def _check_proposal_numbers(sa: SaPayload) -> None:
    """RFC 2408 §4.2: proposal numbers increase monotonically (equal within a bundle)."""
    numbers = [p.number for p in sa.proposals]
    if numbers != sorted(numbers):
        raise DecodeError(
            f"proposal numbers {numbers} decrease", NotifyMessageType.BAD_PROPOSAL_SYNTAX
        )


def _transform_layout(protocol_id: int) -> Layout:
    attribute = IKE_ATTRIBUTE if protocol_id == ProtocolId.PROTO_ISAKMP else IPSEC_ATTRIBUTE
    return Layout(
        "transform",
        Transform,
        (
            More(PayloadType.T),
            Reserved(1),
            Length(2),
            Uint("number", 1),
            Uint("transform_id", 1, TRANSFORM_ID_ENUMS.get(protocol_id)),
            Reserved(2),
            Items("attributes", attribute),
        ),
    )


TRANSFORM = _transform_layout(0)
"""A transform of an unregistered protocol: IPsec attributes, identifier a plain number."""

TRANSFORM_LAYOUTS = {protocol: _transform_layout(protocol) for protocol in TRANSFORM_ID_ENUMS}

PROPOSAL = Layout(
    "proposal",
    Proposal,
    (
        More(PayloadType.P),
        Reserved(1),
        Length(2),
        Uint("number", 1),
        Uint("protocol_id", 1, ProtocolId),
        SizeOf("spi", 1),
        CountOf("transforms", 1),
        Data("spi", sized=True),
        Items("transforms", TRANSFORM, 1, layout_by=("protocol_id", TRANSFORM_LAYOUTS)),
    ),
)

SA = Layout(
    "SA",
    SaPayload,
    (
        Uint("doi", 4, Doi, (frozenset({Doi.IPSEC}), NotifyMessageType.DOI_NOT_SUPPORTED)),
        Uint(
            "situation",
            4,
            Situation,
            (frozenset({Situation.SIT_IDENTITY_ONLY}), NotifyMessageType.SITUATION_NOT_SUPPORTED),
        ),
        Items("proposals", PROPOSAL, 1),
    ),
    _check_proposal_numbers,
)
