"""``crypto ikev1 policy`` entries as phase-1 SA payloads and back (RFC 2409 §5, App. A).

The offer is one PROTO_ISAKMP proposal with one KEY_IKE transform per policy, in priority
order, numbered from 1 (RFC 2409 §5: the phase-1 SA offers its choices as transforms; this
is the structure charon sends, see tests/vectors/strongswan, and what Cisco peers send). Each
transform carries, in charon's order: encryption, key length (AES), hash, group,
authentication method, life type seconds and life duration. The answer is the one chosen
transform, unchanged (RFC 2408 §4.2: the responder must not alter its attributes).

The ASA keyword ↔ attribute value mapping is the registry's (``crypto.registry``).

Authentication: ``pre-share`` is method 1. ``rsa-sig`` is method 3 (RSA signatures, RFC 2409
§5.1) — or, because the ASA's ``crypto ikev1 policy`` has no ECDSA keyword, the RFC 4754
method of the curve (9/10/11: ECDSA P-256/P-384/P-521) when the identity certificate we
sign with has an EC key. The offer carries that one signature method for every ``rsa-sig``
policy (``offer(…, signature_method=…)``); a responder reads 3, 9, 10 and 11 all as
``rsa-sig`` (``transform_policy``) and ``method_of`` tells which was offered.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunnelgate.crypto.registry import ALGORITHMS, Kind, by_keyword
from tunnelgate.ike.v1.attributes import DataAttribute
from tunnelgate.ike.v1.constants import ProtocolId
from tunnelgate.ike.v1.proposals import Proposal, SaPayload, Transform
from tunnelgate.ike.v1.sa_constants import (
    AuthenticationMethod,
    IkeAttributeType,
    IsakmpTransformId,
    LifeType,
)
from tunnelgate.policy.ike import Ikev1Policy

A = IkeAttributeType
# RFC 2407 §4.5 gives 28800 s as the default for an SA without a life duration; IKE uses it too
DEFAULT_LIFETIME_S = 28800

AUTHENTICATION = {
    "pre-share": AuthenticationMethod.PRE_SHARED_KEY,
    "rsa-sig": AuthenticationMethod.RSA_SIGNATURES,
}
SIGNATURE_METHODS = frozenset(
    {
        AuthenticationMethod.RSA_SIGNATURES,
        AuthenticationMethod.ECDSA_WITH_SHA_256_ON_THE_P_256_CURVE,
        AuthenticationMethod.ECDSA_WITH_SHA_384_ON_THE_P_384_CURVE,
        AuthenticationMethod.ECDSA_WITH_SHA_512_ON_THE_P_521_CURVE,
    }
)
"""The methods an ``rsa-sig`` policy stands for (RSA, and ECDSA per RFC 4754)."""
METHOD_NAMES = {
    AuthenticationMethod.PRE_SHARED_KEY: "pre-shared key",
    AuthenticationMethod.RSA_SIGNATURES: "RSA signatures",
    AuthenticationMethod.ECDSA_WITH_SHA_256_ON_THE_P_256_CURVE: "ECDSA P-256",
    AuthenticationMethod.ECDSA_WITH_SHA_384_ON_THE_P_384_CURVE: "ECDSA P-384",
    AuthenticationMethod.ECDSA_WITH_SHA_512_ON_THE_P_521_CURVE: "ECDSA P-521",
}
_AUTH_KEYWORD = {int(AuthenticationMethod.PRE_SHARED_KEY): "pre-share"} | {
    int(m): "rsa-sig" for m in SIGNATURE_METHODS
}
_ENCRYPTION_KEYWORD: dict[object, str] = {
    (a.ikev1_value, a.transform.key_bits): a.keyword
    for a in ALGORITHMS
    if a.kind is Kind.IKEV1_ENCRYPTION
}
_HASH_KEYWORD: dict[object, str] = {
    a.ikev1_value: a.keyword for a in ALGORITHMS if a.kind is Kind.IKEV1_HASH
}
_GROUPS = {a.ikev1_value for a in ALGORITHMS if a.kind is Kind.IKEV1_GROUP}


def method_name(method: int) -> str:
    """``ECDSA P-256`` for 9, …; the number for anything else."""
    try:
        return METHOD_NAMES[AuthenticationMethod(method)]
    except (ValueError, KeyError):
        return f"authentication method {method}"


def policy_transform(
    policy: Ikev1Policy, number: int, signature_method: int = AuthenticationMethod.RSA_SIGNATURES
) -> Transform:
    """The KEY_IKE transform offering ``policy`` (``rsa-sig`` as ``signature_method``)."""
    encryption = by_keyword(Kind.IKEV1_ENCRYPTION, policy.encryption)
    hash_value = by_keyword(Kind.IKEV1_HASH, policy.hash).ikev1_value
    assert encryption.ikev1_value is not None and hash_value is not None
    attributes = [DataAttribute(A.ENCRYPTION_ALGORITHM, encryption.ikev1_value)]
    if encryption.transform.key_bits is not None:
        attributes.append(DataAttribute(A.KEY_LENGTH, encryption.transform.key_bits))
    attributes += [
        DataAttribute(A.HASH_ALGORITHM, hash_value),
        DataAttribute(A.GROUP_DESCRIPTION, policy.group),
        DataAttribute(A.AUTHENTICATION_METHOD, _method(policy, signature_method)),
        DataAttribute(A.LIFE_TYPE, LifeType.SECONDS),
        DataAttribute(A.LIFE_DURATION, policy.lifetime_seconds),
    ]
    return Transform(number, IsakmpTransformId.KEY_IKE, tuple(attributes))


def _method(policy: Ikev1Policy, signature_method: int) -> int:
    if policy.authentication == "rsa-sig":
        return signature_method
    return AUTHENTICATION[policy.authentication]


def method_of(transform: Transform) -> int:
    """The authentication method a transform offers (0 when it has none)."""
    value = transform.attribute(A.AUTHENTICATION_METHOD)
    return value if isinstance(value, int) else 0


def offer(
    policies: Sequence[Ikev1Policy],
    signature_method: int = AuthenticationMethod.RSA_SIGNATURES,
) -> SaPayload:
    """The initiator's SA: every policy, highest priority (lowest number) first; ``rsa-sig``
    policies offer ``signature_method`` (3, or 9/10/11 for an EC identity key)."""
    ordered = sorted(policies, key=lambda p: p.priority)
    transforms = tuple(
        policy_transform(p, n, signature_method) for n, p in enumerate(ordered, start=1)
    )
    return SaPayload((Proposal(1, ProtocolId.PROTO_ISAKMP, transforms),))


def answer(proposal_number: int, transform: Transform) -> SaPayload:
    """The responder's SA: the chosen transform of the chosen proposal."""
    return SaPayload((Proposal(proposal_number, ProtocolId.PROTO_ISAKMP, (transform,)),))


def transform_policy(transform: Transform) -> Ikev1Policy | None:
    """The policy a KEY_IKE transform offers (``priority`` = transform number), or ``None``
    when it names something we do not implement (it then simply matches nothing)."""
    if transform.transform_id != IsakmpTransformId.KEY_IKE:
        return None
    key_length = transform.attribute(A.KEY_LENGTH)
    encryption = _ENCRYPTION_KEYWORD.get((transform.attribute(A.ENCRYPTION_ALGORITHM), key_length))
    hash_keyword = _HASH_KEYWORD.get(transform.attribute(A.HASH_ALGORITHM))
    group = transform.attribute(A.GROUP_DESCRIPTION)
    authentication = _AUTH_KEYWORD.get(int(transform.attribute(A.AUTHENTICATION_METHOD) or 0))
    if encryption is None or hash_keyword is None or authentication is None:
        return None
    if not isinstance(group, int) or group not in _GROUPS or transform.attribute(A.PRF):
        return None
    return Ikev1Policy(
        transform.number, authentication, encryption, hash_keyword, group, _lifetime(transform)
    )


def _lifetime(transform: Transform) -> int:
    """The seconds of a Life Type seconds / Life Duration pair (RFC 2409 App. A); a
    kilobytes life (not configurable on the ASA) is ignored."""
    lifetime = DEFAULT_LIFETIME_S
    life_type: int | bytes | None = None
    for attribute in transform.attributes:
        if attribute.attribute_type == A.LIFE_TYPE:
            life_type = attribute.value
        elif (
            attribute.attribute_type == A.LIFE_DURATION
            and life_type == LifeType.SECONDS
            and isinstance(attribute.value, int)
            and attribute.value > 0
        ):
            lifetime = attribute.value
    return lifetime


def isakmp_offers(sa: SaPayload) -> list[tuple[Proposal, Transform, Ikev1Policy]]:
    """Every offered PROTO_ISAKMP transform we understand, in offer order."""
    out = []
    for proposal in sa.proposals:
        if proposal.protocol_id != ProtocolId.PROTO_ISAKMP:
            continue
        for transform in proposal.transforms:
            policy = transform_policy(transform)
            if policy is not None:
                out.append((proposal, transform, policy))
    return out


__all__ = [
    "AUTHENTICATION",
    "DEFAULT_LIFETIME_S",
    "METHOD_NAMES",
    "SIGNATURE_METHODS",
    "answer",
    "isakmp_offers",
    "method_name",
    "method_of",
    "offer",
    "policy_transform",
    "transform_policy",
]
