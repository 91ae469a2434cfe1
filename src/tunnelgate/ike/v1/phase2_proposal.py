"""IKEv1 transform sets as quick-mode SA payloads and back (RFC 2409 §5.5, RFC 2407 §4.5).

The offer has one ESP proposal per transform set of the crypto map entry, numbered from 1 in
the entry's order, each with our new inbound SPI and one transform (as the ASA sends it): ESP
transform ID, then the SA life in seconds and kilobytes, the PFS group (``set pfs``), the
encapsulation mode, the authentication algorithm and (AES) the key length. The answer is the
chosen proposal with the responder's SPI and the chosen transform unchanged (RFC 2408 §4.2).

Encapsulation modes (RFC 3947 §5.2): tunnel 1 / transport 2; with a NAT detected UDP tunnel 3
/ UDP transport 4, or 61443 / 61444 for peers of draft-ietf-ipsec-nat-t-ike.

The ASA transform-set keyword ↔ attribute value mapping, and the IKEv2 ESP keyword the data
path takes for the same algorithm, are the registry's (``crypto.registry``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tunnelgate.crypto.registry import ALGORITHMS, Kind, by_keyword, encryption, integrity_algorithm
from tunnelgate.ike.v1.attributes import IPSEC_ATTRIBUTE, DataAttribute
from tunnelgate.ike.v1.constants import ProtocolId
from tunnelgate.ike.v1.encoding import Reader, decode_struct, encode_struct
from tunnelgate.ike.v1.proposals import Proposal, SaPayload, Transform
from tunnelgate.ike.v1.sa_constants import EncapsulationMode, IpsecAttributeType, LifeType
from tunnelgate.policy.crypto_map import TransformSet

A = IpsecAttributeType
M = EncapsulationMode
DEFAULT_LIFETIME_S = 28800  # RFC 2407 §4.5: an SA without a life duration
SPI_BYTES = 4

_ENCRYPTION_KEYWORD: dict[object, str] = {
    (a.ikev1_value, a.transform.key_bits): a.keyword
    for a in ALGORITHMS
    if a.kind is Kind.ESP_V1_ENCRYPTION
}
_INTEGRITY_KEYWORD: dict[object, str] = {
    a.ikev1_value: a.keyword for a in ALGORITHMS if a.kind is Kind.ESP_V1_INTEGRITY
}
_V2_KEYWORD = {
    (a.kind, a.transform): a.keyword
    for a in ALGORITHMS
    if a.kind in (Kind.ESP_V2_ENCRYPTION, Kind.ESP_V2_INTEGRITY)
}
_MODES: dict[int, tuple[str, bool]] = {
    M.TUNNEL: ("tunnel", False),
    M.TRANSPORT: ("transport", False),
    M.UDP_ENCAPSULATED_TUNNEL: ("tunnel", True),
    M.UDP_ENCAPSULATED_TRANSPORT: ("transport", True),
    M.UDP_ENCAPSULATED_TUNNEL_DRAFT: ("tunnel", True),
    M.UDP_ENCAPSULATED_TRANSPORT_DRAFT: ("transport", True),
}


@dataclass(frozen=True, slots=True)
class EspOffer:
    """One offered ESP transform we understand, read back as a transform set."""

    proposal: Proposal
    transform: Transform
    transform_set: TransformSet
    group: int | None
    lifetime_seconds: int
    lifetime_kilobytes: int | None
    encapsulation: int

    @property
    def udp_encapsulated(self) -> bool:
        return _MODES[self.encapsulation][1]


def encapsulation_mode(mode: str, nat: bool, draft: bool = False) -> int:
    """The Encapsulation Mode value for ``mode`` (RFC 2407 §4.5, RFC 3947 §5.2)."""
    transport = mode == "transport"
    if not nat:
        return M.TRANSPORT if transport else M.TUNNEL
    if draft:
        return M.UDP_ENCAPSULATED_TRANSPORT_DRAFT if transport else M.UDP_ENCAPSULATED_TUNNEL_DRAFT
    return M.UDP_ENCAPSULATED_TRANSPORT if transport else M.UDP_ENCAPSULATED_TUNNEL


def esp_keywords(ts: TransformSet) -> tuple[str, str]:
    """The data path's ESP keywords (``ipsec-proposal`` ones) for a transform set, e.g.
    (esp-aes-256, esp-sha-hmac) -> (aes-256, sha-1); no integrity is "null"."""
    enc = by_keyword(Kind.ESP_V1_ENCRYPTION, ts.encryption).transform
    integ = by_keyword(Kind.ESP_V1_INTEGRITY, ts.integrity or "esp-none").transform
    return _V2_KEYWORD[(Kind.ESP_V2_ENCRYPTION, enc)], _V2_KEYWORD[(Kind.ESP_V2_INTEGRITY, integ)]


def keymat_sizes(ts: TransformSet) -> tuple[int, int]:
    """Octets of ESP encryption and integrity key one direction takes from KEYMAT."""
    enc, integ = esp_keywords(ts)
    return (
        encryption(Kind.ESP_V2_ENCRYPTION, enc).keymat_bytes,
        integrity_algorithm(Kind.ESP_V2_INTEGRITY, integ).key_bytes,
    )


def lifetime_attributes(seconds: int, kilobytes: int | None) -> list[DataAttribute]:
    """SA Life Type / SA Life Duration pairs, seconds first (RFC 2407 §4.5)."""
    out = [
        DataAttribute(A.SA_LIFE_TYPE, LifeType.SECONDS),
        DataAttribute(A.SA_LIFE_DURATION, seconds),
    ]
    if kilobytes is not None:
        out += [
            DataAttribute(A.SA_LIFE_TYPE, LifeType.KILOBYTES),
            DataAttribute(A.SA_LIFE_DURATION, kilobytes),
        ]
    return out


def esp_transform(
    ts: TransformSet, group: int | None, seconds: int, kilobytes: int | None, encapsulation: int
) -> Transform:
    """The ESP transform offering ``ts``."""
    enc = by_keyword(Kind.ESP_V1_ENCRYPTION, ts.encryption)
    integ = by_keyword(Kind.ESP_V1_INTEGRITY, ts.integrity or "esp-none")
    assert enc.ikev1_value is not None
    attributes = lifetime_attributes(seconds, kilobytes)
    if group is not None:
        attributes.append(DataAttribute(A.GROUP_DESCRIPTION, group))
    attributes.append(DataAttribute(A.ENCAPSULATION_MODE, encapsulation))
    if integ.ikev1_value is not None:
        attributes.append(DataAttribute(A.AUTHENTICATION_ALGORITHM, integ.ikev1_value))
    if enc.transform.key_bits is not None:
        attributes.append(DataAttribute(A.KEY_LENGTH, enc.transform.key_bits))
    return Transform(1, enc.ikev1_value, tuple(attributes))


def esp_offer(
    transform_sets: Sequence[TransformSet],
    spi: bytes,
    group: int | None,
    seconds: int,
    kilobytes: int | None,
    nat: bool,
    *,
    draft: bool = False,
) -> SaPayload:
    """The initiator's SA: one ESP proposal per transform set, in the entry's order; with a
    NAT the UDP-encapsulated modes (the draft's values for a draft peer)."""
    proposals = tuple(
        Proposal(
            n,
            ProtocolId.PROTO_IPSEC_ESP,
            (
                esp_transform(
                    ts, group, seconds, kilobytes, encapsulation_mode(ts.mode, nat, draft)
                ),
            ),
            spi,
        )
        for n, ts in enumerate(transform_sets, start=1)
    )
    return SaPayload(proposals)


def answer(offer: EspOffer, spi: bytes) -> SaPayload:
    """The responder's SA: the chosen proposal with our SPI and the transform unchanged."""
    proposal = offer.proposal
    return SaPayload((Proposal(proposal.number, proposal.protocol_id, (offer.transform,), spi),))


def lifetimes(attributes: Sequence[DataAttribute]) -> tuple[int, int | None]:
    """Seconds and kilobytes of Life Type / Life Duration pairs (RFC 2407 §4.5)."""
    seconds, kilobytes = DEFAULT_LIFETIME_S, None
    life_type: int | bytes | None = None
    for attribute in attributes:
        if attribute.attribute_type == A.SA_LIFE_TYPE:
            life_type = attribute.value
        elif attribute.attribute_type == A.SA_LIFE_DURATION and isinstance(attribute.value, int):
            if attribute.value > 0 and life_type == LifeType.SECONDS:
                seconds = attribute.value
            elif attribute.value > 0 and life_type == LifeType.KILOBYTES:
                kilobytes = attribute.value
    return seconds, kilobytes


def read_offer(proposal: Proposal, transform: Transform) -> EspOffer | None:
    """The ESP transform as an ``EspOffer``, or ``None`` when it names something we do not
    implement (it then simply matches nothing)."""
    key_bits = transform.attribute(A.KEY_LENGTH)
    enc = _ENCRYPTION_KEYWORD.get((int(transform.transform_id), key_bits))
    integ = _INTEGRITY_KEYWORD.get(transform.attribute(A.AUTHENTICATION_ALGORITHM))
    mode = transform.attribute(A.ENCAPSULATION_MODE)
    group = transform.attribute(A.GROUP_DESCRIPTION)
    if enc is None or integ is None or not isinstance(mode, int) or mode not in _MODES:
        return None
    if group is not None and not isinstance(group, int):
        return None
    name = f"offer {proposal.number}.{transform.number}"
    ts = TransformSet(name, enc, integ, _MODES[mode][0])
    seconds, kilobytes = lifetimes(transform.attributes)
    return EspOffer(proposal, transform, ts, group, seconds, kilobytes, mode)


def esp_offers(sa: SaPayload) -> list[EspOffer]:
    """Every offered ESP transform we understand, in offer order; bundles (proposals sharing
    a number with AH or IPComp, RFC 2408 §4.2) are not supported and skipped."""
    numbers = [p.number for p in sa.proposals]
    out = []
    for proposal in sa.proposals:
        if proposal.protocol_id != ProtocolId.PROTO_IPSEC_ESP or len(proposal.spi) != SPI_BYTES:
            continue
        if numbers.count(proposal.number) > 1:
            continue
        for transform in proposal.transforms:
            offer = read_offer(proposal, transform)
            if offer is not None:
                out.append(offer)
    return out


def encode_attributes(attributes: list[DataAttribute]) -> bytes:
    """IPsec SA attributes as a notify's data (RESPONDER-LIFETIME, RFC 2407 §4.6.3.1)."""
    out = bytearray()
    for attribute in attributes:
        encode_struct(IPSEC_ATTRIBUTE, attribute, out)
    return bytes(out)


def decode_attributes(data: bytes) -> list[DataAttribute]:
    """The IPsec SA attributes of a RESPONDER-LIFETIME notify (RFC 2407 §4.6.3.1)."""
    r, out = Reader(data), []
    while r.remaining:
        out.append(decode_struct(IPSEC_ATTRIBUTE, r, whole=False))
    return out


__all__ = [
    "EspOffer",
    "answer",
    "decode_attributes",
    "encapsulation_mode",
    "encode_attributes",
    "esp_keywords",
    "esp_offer",
    "esp_offers",
    "esp_transform",
    "keymat_sizes",
    "lifetime_attributes",
    "lifetimes",
    "read_offer",
]
