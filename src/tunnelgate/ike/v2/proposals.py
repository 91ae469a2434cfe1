"""Configured proposals (ASA keywords, ``policy`` values) ↔ SA payloads on the wire.

Outgoing offers are built from ``Ikev2Policy`` / ``IpsecProposal`` values through the
algorithm registry; incoming offers are read back into the same values so that the pure
selection functions of ``tunnelgate.policy`` decide, exactly as the analyzer does.
Transforms we do not implement make their proposal unusable, as RFC 7296 §3.3.6 requires.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from tunnelgate.crypto.registry import ALGORITHMS, Kind, by_keyword
from tunnelgate.ike.v2.constants import EsnId, ProtocolId, TransformType
from tunnelgate.ike.v2.payloads import Proposal, SaPayload, Transform
from tunnelgate.policy.crypto_map import IpsecProposal
from tunnelgate.policy.ike import Ikev2Policy

_REVERSE: dict[tuple[Kind, int, int, int | None], str] = {
    (a.kind, int(a.transform.transform_type), a.transform.transform_id, a.transform.key_bits): str(
        a.keyword
    )
    for a in ALGORITHMS
}
_NULL_INTEGRITY = {Kind.IKEV2_INTEGRITY: "null", Kind.ESP_V2_INTEGRITY: "null"}


def _transform(kind: Kind, keyword: str | int) -> Transform | None:
    if kind in _NULL_INTEGRITY and keyword == "null":
        return None  # AES-GCM carries its own integrity: no INTEG transform is sent
    t = by_keyword(kind, keyword).transform
    if t.key_bits is not None:
        return Transform.with_key_length(int(t.transform_type), t.transform_id, t.key_bits)
    return Transform(int(t.transform_type), t.transform_id)


def _keyword(kind: Kind, transform: Transform) -> str | None:
    return _REVERSE.get(
        (kind, int(transform.transform_type), transform.transform_id, transform.key_length)
    )


def _transforms(kind: Kind, keywords: Sequence[str | int]) -> list[Transform]:
    return [t for k in keywords if (t := _transform(kind, k)) is not None]


def ike_proposal(policy: Ikev2Policy, number: int) -> Proposal:
    """One proposal for one IKEv2 policy, every value of each list, strongest first."""
    transforms = _transforms(Kind.IKEV2_ENCRYPTION, policy.encryption)
    transforms += _transforms(Kind.IKEV2_PRF, policy.prf)
    transforms += _transforms(Kind.IKEV2_INTEGRITY, policy.integrity)
    transforms += _transforms(Kind.IKEV2_GROUP, policy.group)
    return Proposal(number, ProtocolId.IKE, tuple(transforms))


def ike_offer(policies: Sequence[Ikev2Policy]) -> SaPayload:
    return SaPayload(tuple(ike_proposal(p, n) for n, p in enumerate(policies, start=1)))


def _read(kind: Kind, proposal: Proposal, transform_type: TransformType) -> tuple[str, ...]:
    """The keywords of one transform type, in the peer's order. Transforms we do not
    implement are skipped (RFC 7296 §3.3.6); an empty result makes the proposal unusable
    when the type is mandatory."""
    out: list[str] = []
    for t in proposal.transforms:
        if int(t.transform_type) == transform_type:
            keyword = _keyword(kind, t)
            if keyword is not None:
                out.append(keyword)
    return tuple(out)


def _has(proposal: Proposal, transform_type: TransformType) -> bool:
    return any(int(t.transform_type) == transform_type for t in proposal.transforms)


def ike_offers_as_policies(sa: SaPayload) -> list[Ikev2Policy]:
    """The peer's IKE proposals as policy values (priority = proposal number); proposals
    with transforms we do not implement are left out."""
    if _small(sa):  # the same few offers come again and again: memoised (values only)
        return list(_cached_ike_offers(sa))
    return list(_ike_offers_as_policies(sa))


def _small(sa: SaPayload) -> bool:
    """Small enough to memoise: peers choose what they send, the caches stay bounded."""
    return len(sa.proposals) <= _CACHE_PROPOSALS and all(
        len(p.transforms) <= _CACHE_TRANSFORMS for p in sa.proposals
    )


_CACHE_PROPOSALS, _CACHE_TRANSFORMS = 8, 32


def _ike_offers_as_policies(sa: SaPayload) -> tuple[Ikev2Policy, ...]:
    out = []
    for p in sa.proposals:
        if int(p.protocol_id) != ProtocolId.IKE:
            continue
        enc = _read(Kind.IKEV2_ENCRYPTION, p, TransformType.ENCR)
        prf = _read(Kind.IKEV2_PRF, p, TransformType.PRF)
        integ = _read(Kind.IKEV2_INTEGRITY, p, TransformType.INTEG)
        groups = _read(Kind.IKEV2_GROUP, p, TransformType.DH)
        if not enc or not prf or not groups or (_has(p, TransformType.INTEG) and not integ):
            continue
        out.append(
            Ikev2Policy(p.number, enc, integ or ("null",), prf, tuple(int(g) for g in groups), 0)
        )
    return tuple(out)


_cached_ike_offers = functools.lru_cache(maxsize=256)(_ike_offers_as_policies)


@functools.lru_cache(maxsize=256)  # a frozen value: the same answer serves every SA
def ike_answer(
    number: int, encryption: str, integrity: str, prf: str, group: int, spi: bytes = b""
) -> SaPayload:
    """A single IKE proposal: the responder's choice (keeping the number it was offered
    under), or an IKE SA rekey offer/answer carrying the new SA's SPI."""
    transforms = _transforms(Kind.IKEV2_ENCRYPTION, [encryption])
    transforms += _transforms(Kind.IKEV2_PRF, [prf])
    transforms += _transforms(Kind.IKEV2_INTEGRITY, [integrity])
    transforms += _transforms(Kind.IKEV2_GROUP, [group])
    return SaPayload((Proposal(number, ProtocolId.IKE, tuple(transforms), spi),))


def esp_proposal(
    proposal: IpsecProposal, number: int, spi: bytes, pfs_group: int | None
) -> Proposal:
    transforms = _transforms(Kind.ESP_V2_ENCRYPTION, proposal.encryption)
    transforms += _transforms(Kind.ESP_V2_INTEGRITY, proposal.integrity)
    if pfs_group is not None:
        transforms += _transforms(Kind.IKEV2_GROUP, [pfs_group])
    transforms.append(Transform(TransformType.ESN, EsnId.NO_ESN))
    return Proposal(number, ProtocolId.ESP, tuple(transforms), spi)


def esp_offer(
    proposals: Sequence[IpsecProposal], spi: bytes, pfs_group: int | None = None
) -> SaPayload:
    return SaPayload(
        tuple(esp_proposal(p, n, spi, pfs_group) for n, p in enumerate(proposals, start=1))
    )


def esp_offers_as_proposals(sa: SaPayload) -> list[tuple[Proposal, IpsecProposal]]:
    """The peer's ESP proposals as ``IpsecProposal`` values, with the wire proposal each
    came from (for its number and SPI). ESN must be offerable as "no ESN"."""
    out = []
    for p in sa.proposals:
        if int(p.protocol_id) != ProtocolId.ESP or len(p.spi) != 4:
            continue
        if len(p.transforms) <= _CACHE_TRANSFORMS:
            proposal = _cached_esp_proposal(p.number, p.transforms)
        else:
            proposal = _esp_proposal_as_policy(p.number, p.transforms)
        if proposal is not None:
            out.append((p, proposal))
    return out


def _esp_proposal_as_policy(number: int, transforms: tuple[Transform, ...]) -> IpsecProposal | None:
    p = Proposal(number, ProtocolId.ESP, transforms)
    enc = _read(Kind.ESP_V2_ENCRYPTION, p, TransformType.ENCR)
    integ = _read(Kind.ESP_V2_INTEGRITY, p, TransformType.INTEG)
    esn = [t.transform_id for t in p.transforms if int(t.transform_type) == TransformType.ESN]
    if not enc or (_has(p, TransformType.INTEG) and not integ):
        return None
    if esn and EsnId.NO_ESN not in esn:
        return None
    return IpsecProposal(f"peer-{number}", enc, integ or ("null",))


# by number and transforms (the SPI differs every time)
_cached_esp_proposal = functools.lru_cache(maxsize=256)(_esp_proposal_as_policy)


def esp_answer(number: int, spi: bytes, encryption: str, integrity: str) -> SaPayload:
    return SaPayload((Proposal(number, ProtocolId.ESP, _esp_answer(encryption, integrity), spi),))


@functools.lru_cache(maxsize=64)
def _esp_answer(encryption: str, integrity: str) -> tuple[Transform, ...]:
    transforms = _transforms(Kind.ESP_V2_ENCRYPTION, [encryption])
    transforms += _transforms(Kind.ESP_V2_INTEGRITY, [integrity])
    transforms.append(Transform(TransformType.ESN, EsnId.NO_ESN))
    return tuple(transforms)
