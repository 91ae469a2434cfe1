"""The algorithm registry: ASA keyword ↔ IANA transform ↔ implementation, as data.

Two tables. ``TRANSFORMS`` is the IKEv2 view (RFC 7296 §3.3.2, IANA "IKEv2 Transform Type
n" registries): (transform type, transform id, Key Length attribute) → implementation.
``ALGORITHMS`` is the ASA view: (where the keyword is configured, ASA keyword) → one of
those transforms plus the IKEv1 attribute value the IKEv1 engine puts on the wire
(RFC 2409 Appendix A for phase 1, RFC 2407 §4.4.4/§4.5 IPsec DOI for phase 2).

Every keyword of the config tables in ``policy/strength.py`` and ``config/keywords.py``
has exactly one row here (the tests hold the two in step).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tunnelgate.crypto import cipher, integrity, prf
from tunnelgate.crypto.cipher import EncryptionAlgorithm
from tunnelgate.crypto.dh import GROUPS, DhGroup
from tunnelgate.crypto.errors import UnknownAlgorithm
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.crypto.prf import Prf

Implementation = EncryptionAlgorithm | Integrity | Prf | DhGroup


class TransformType(enum.IntEnum):
    """IANA IKEv2 Transform Types (RFC 7296 §3.3.2)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4  # "Key Exchange Method" since RFC 9370
    ESN = 5


class EncrId(enum.IntEnum):
    """Transform Type 1 ids in use (values shared with the IPsec DOI ESP transform ids)."""

    ENCR_DES = 2
    ENCR_3DES = 3
    ENCR_NULL = 11
    ENCR_AES_CBC = 12
    ENCR_AES_GCM_16 = 20
    ENCR_NULL_AUTH_AES_GMAC = 21  # IPsec DOI (IKEv1) ESP transform id is 23 instead


class PrfId(enum.IntEnum):
    PRF_HMAC_MD5 = 1
    PRF_HMAC_SHA1 = 2
    PRF_HMAC_SHA2_256 = 5
    PRF_HMAC_SHA2_384 = 6
    PRF_HMAC_SHA2_512 = 7


class IntegId(enum.IntEnum):
    NONE = 0
    AUTH_HMAC_MD5_96 = 1
    AUTH_HMAC_SHA1_96 = 2
    AUTH_HMAC_SHA2_256_128 = 12
    AUTH_HMAC_SHA2_384_192 = 13
    AUTH_HMAC_SHA2_512_256 = 14


class Kind(enum.Enum):
    """Where an ASA keyword is configured (spec: IKE policies, transform sets, proposals)."""

    IKEV1_ENCRYPTION = "crypto ikev1 policy / encryption"
    IKEV1_HASH = "crypto ikev1 policy / hash"
    IKEV1_GROUP = "crypto ikev1 policy / group"
    IKEV2_ENCRYPTION = "crypto ikev2 policy / encryption"
    IKEV2_INTEGRITY = "crypto ikev2 policy / integrity"
    IKEV2_PRF = "crypto ikev2 policy / prf"
    IKEV2_GROUP = "crypto ikev2 policy / group"
    ESP_V1_ENCRYPTION = "crypto ipsec ikev1 transform-set / encryption"
    ESP_V1_INTEGRITY = "crypto ipsec ikev1 transform-set / authentication"
    ESP_V2_ENCRYPTION = "crypto ipsec ikev2 ipsec-proposal / protocol esp encryption"
    ESP_V2_INTEGRITY = "crypto ipsec ikev2 ipsec-proposal / protocol esp integrity"
    PFS_GROUP = "crypto map / set pfs"


# IKEv1 attribute values (RFC 2409 Appendix A; IPsec DOI RFC 2407 §4.4.4, §4.5).
IKEV1_ENCRYPTION_DES_CBC = 1
IKEV1_ENCRYPTION_3DES_CBC = 5
IKEV1_ENCRYPTION_AES_CBC = 7  # RFC 3602 §5.1 (with the Key Length attribute, class 14)
IKEV1_HASH_MD5 = 1
IKEV1_HASH_SHA = 2
IKEV1_ESP_DES = 2
IKEV1_ESP_3DES = 3
IKEV1_ESP_NULL = 11
IKEV1_ESP_AES = 12  # with the IPsec DOI Key Length attribute (class 6)
IKEV1_AUTH_HMAC_MD5 = 1  # IPsec DOI Authentication Algorithm attribute (class 5)
IKEV1_AUTH_HMAC_SHA = 2


@dataclass(frozen=True, slots=True)
class Transform:
    """One IKEv2 transform: type, IANA id, Key Length attribute (bits, AES only), algorithm."""

    transform_type: TransformType
    transform_id: int
    key_bits: int | None
    implementation: Implementation

    @property
    def name(self) -> str:
        impl = self.implementation
        return impl.name


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One ASA keyword where it is configured, its transform and its IKEv1 attribute value."""

    kind: Kind
    keyword: str
    transform: Transform
    ikev1_value: int | None  # None: IKEv2-only kind, or nothing sent ("esp-none")

    @property
    def implementation(self) -> Implementation:
        return self.transform.implementation


def _t(
    kind: TransformType, ident: int, impl: Implementation, key_bits: int | None = None
) -> Transform:
    return Transform(kind, ident, key_bits, impl)


E, P, G, D = TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH

# ------------------------------------------------------------------ IKEv2 transforms
ENCR_DES = _t(E, EncrId.ENCR_DES, cipher.DES_CBC)
ENCR_3DES = _t(E, EncrId.ENCR_3DES, cipher.TRIPLE_DES_CBC)
ENCR_NULL = _t(E, EncrId.ENCR_NULL, cipher.NULL)
ENCR_AES_CBC_128 = _t(E, EncrId.ENCR_AES_CBC, cipher.AES_CBC_128, 128)
ENCR_AES_CBC_192 = _t(E, EncrId.ENCR_AES_CBC, cipher.AES_CBC_192, 192)
ENCR_AES_CBC_256 = _t(E, EncrId.ENCR_AES_CBC, cipher.AES_CBC_256, 256)
ENCR_AES_GCM_16_128 = _t(E, EncrId.ENCR_AES_GCM_16, cipher.AES_GCM_16_128, 128)
ENCR_AES_GCM_16_192 = _t(E, EncrId.ENCR_AES_GCM_16, cipher.AES_GCM_16_192, 192)
ENCR_AES_GCM_16_256 = _t(E, EncrId.ENCR_AES_GCM_16, cipher.AES_GCM_16_256, 256)
ENCR_AES_GMAC_128 = _t(E, EncrId.ENCR_NULL_AUTH_AES_GMAC, cipher.AES_GMAC_128, 128)
ENCR_AES_GMAC_192 = _t(E, EncrId.ENCR_NULL_AUTH_AES_GMAC, cipher.AES_GMAC_192, 192)
ENCR_AES_GMAC_256 = _t(E, EncrId.ENCR_NULL_AUTH_AES_GMAC, cipher.AES_GMAC_256, 256)
PRF_HMAC_MD5 = _t(P, PrfId.PRF_HMAC_MD5, prf.PRF_HMAC_MD5)
PRF_HMAC_SHA1 = _t(P, PrfId.PRF_HMAC_SHA1, prf.PRF_HMAC_SHA1)
PRF_HMAC_SHA2_256 = _t(P, PrfId.PRF_HMAC_SHA2_256, prf.PRF_HMAC_SHA2_256)
PRF_HMAC_SHA2_384 = _t(P, PrfId.PRF_HMAC_SHA2_384, prf.PRF_HMAC_SHA2_384)
PRF_HMAC_SHA2_512 = _t(P, PrfId.PRF_HMAC_SHA2_512, prf.PRF_HMAC_SHA2_512)
INTEG_NONE = _t(G, IntegId.NONE, integrity.AUTH_NONE)
AUTH_HMAC_MD5_96 = _t(G, IntegId.AUTH_HMAC_MD5_96, integrity.AUTH_HMAC_MD5_96)
AUTH_HMAC_SHA1_96 = _t(G, IntegId.AUTH_HMAC_SHA1_96, integrity.AUTH_HMAC_SHA1_96)
AUTH_HMAC_SHA2_256_128 = _t(G, IntegId.AUTH_HMAC_SHA2_256_128, integrity.AUTH_HMAC_SHA2_256_128)
AUTH_HMAC_SHA2_384_192 = _t(G, IntegId.AUTH_HMAC_SHA2_384_192, integrity.AUTH_HMAC_SHA2_384_192)
AUTH_HMAC_SHA2_512_256 = _t(G, IntegId.AUTH_HMAC_SHA2_512_256, integrity.AUTH_HMAC_SHA2_512_256)
DH_GROUPS = {number: _t(D, number, group) for number, group in GROUPS.items()}

TRANSFORMS: tuple[Transform, ...] = (
    ENCR_DES,
    ENCR_3DES,
    ENCR_NULL,
    ENCR_AES_CBC_128,
    ENCR_AES_CBC_192,
    ENCR_AES_CBC_256,
    ENCR_AES_GCM_16_128,
    ENCR_AES_GCM_16_192,
    ENCR_AES_GCM_16_256,
    ENCR_AES_GMAC_128,
    ENCR_AES_GMAC_192,
    ENCR_AES_GMAC_256,
    PRF_HMAC_MD5,
    PRF_HMAC_SHA1,
    PRF_HMAC_SHA2_256,
    PRF_HMAC_SHA2_384,
    PRF_HMAC_SHA2_512,
    INTEG_NONE,
    AUTH_HMAC_MD5_96,
    AUTH_HMAC_SHA1_96,
    AUTH_HMAC_SHA2_256_128,
    AUTH_HMAC_SHA2_384_192,
    AUTH_HMAC_SHA2_512_256,
    *DH_GROUPS.values(),
)

# ------------------------------------------------------------------ ASA keywords
K = Kind
_ROWS: tuple[tuple[Kind, str, Transform, int | None], ...] = (
    # crypto ikev1 policy (spec: "IKE Policy Keywords and Values")
    (K.IKEV1_ENCRYPTION, "aes-256", ENCR_AES_CBC_256, IKEV1_ENCRYPTION_AES_CBC),
    (K.IKEV1_ENCRYPTION, "aes-192", ENCR_AES_CBC_192, IKEV1_ENCRYPTION_AES_CBC),
    (K.IKEV1_ENCRYPTION, "aes", ENCR_AES_CBC_128, IKEV1_ENCRYPTION_AES_CBC),
    (K.IKEV1_ENCRYPTION, "3des", ENCR_3DES, IKEV1_ENCRYPTION_3DES_CBC),
    (K.IKEV1_ENCRYPTION, "des", ENCR_DES, IKEV1_ENCRYPTION_DES_CBC),
    # IKEv1 "hash" picks the HMAC prf of RFC 2409 §4 (no truncation in phase 1)
    (K.IKEV1_HASH, "sha", PRF_HMAC_SHA1, IKEV1_HASH_SHA),
    (K.IKEV1_HASH, "md5", PRF_HMAC_MD5, IKEV1_HASH_MD5),
    *((K.IKEV1_GROUP, str(n), DH_GROUPS[n], n) for n in (5, 2, 1)),
    # crypto ikev2 policy
    (K.IKEV2_ENCRYPTION, "aes-gcm-256", ENCR_AES_GCM_16_256, None),
    (K.IKEV2_ENCRYPTION, "aes-gcm-192", ENCR_AES_GCM_16_192, None),
    (K.IKEV2_ENCRYPTION, "aes-gcm", ENCR_AES_GCM_16_128, None),
    (K.IKEV2_ENCRYPTION, "aes-256", ENCR_AES_CBC_256, None),
    (K.IKEV2_ENCRYPTION, "aes-192", ENCR_AES_CBC_192, None),
    (K.IKEV2_ENCRYPTION, "aes", ENCR_AES_CBC_128, None),
    (K.IKEV2_ENCRYPTION, "3des", ENCR_3DES, None),
    (K.IKEV2_ENCRYPTION, "des", ENCR_DES, None),
    (K.IKEV2_ENCRYPTION, "null", ENCR_NULL, None),
    (K.IKEV2_INTEGRITY, "sha512", AUTH_HMAC_SHA2_512_256, None),
    (K.IKEV2_INTEGRITY, "sha384", AUTH_HMAC_SHA2_384_192, None),
    (K.IKEV2_INTEGRITY, "sha256", AUTH_HMAC_SHA2_256_128, None),
    (K.IKEV2_INTEGRITY, "sha", AUTH_HMAC_SHA1_96, None),
    (K.IKEV2_INTEGRITY, "md5", AUTH_HMAC_MD5_96, None),
    (K.IKEV2_INTEGRITY, "null", INTEG_NONE, None),
    (K.IKEV2_PRF, "sha512", PRF_HMAC_SHA2_512, None),
    (K.IKEV2_PRF, "sha384", PRF_HMAC_SHA2_384, None),
    (K.IKEV2_PRF, "sha256", PRF_HMAC_SHA2_256, None),
    (K.IKEV2_PRF, "sha", PRF_HMAC_SHA1, None),
    (K.IKEV2_PRF, "md5", PRF_HMAC_MD5, None),
    *((K.IKEV2_GROUP, str(n), DH_GROUPS[n], None) for n in (21, 20, 19, 16, 15, 24, 14, 5, 2, 1)),
    # crypto ipsec ikev1 transform-set
    (K.ESP_V1_ENCRYPTION, "esp-aes-256", ENCR_AES_CBC_256, IKEV1_ESP_AES),
    (K.ESP_V1_ENCRYPTION, "esp-aes-192", ENCR_AES_CBC_192, IKEV1_ESP_AES),
    (K.ESP_V1_ENCRYPTION, "esp-aes", ENCR_AES_CBC_128, IKEV1_ESP_AES),
    (K.ESP_V1_ENCRYPTION, "esp-3des", ENCR_3DES, IKEV1_ESP_3DES),
    (K.ESP_V1_ENCRYPTION, "esp-des", ENCR_DES, IKEV1_ESP_DES),
    (K.ESP_V1_ENCRYPTION, "esp-null", ENCR_NULL, IKEV1_ESP_NULL),
    (K.ESP_V1_INTEGRITY, "esp-sha-hmac", AUTH_HMAC_SHA1_96, IKEV1_AUTH_HMAC_SHA),
    (K.ESP_V1_INTEGRITY, "esp-md5-hmac", AUTH_HMAC_MD5_96, IKEV1_AUTH_HMAC_MD5),
    (K.ESP_V1_INTEGRITY, "esp-none", INTEG_NONE, None),
    # crypto ipsec ikev2 ipsec-proposal
    (K.ESP_V2_ENCRYPTION, "aes-gcm-256", ENCR_AES_GCM_16_256, None),
    (K.ESP_V2_ENCRYPTION, "aes-gcm-192", ENCR_AES_GCM_16_192, None),
    (K.ESP_V2_ENCRYPTION, "aes-gcm", ENCR_AES_GCM_16_128, None),
    (K.ESP_V2_ENCRYPTION, "aes-gmac-256", ENCR_AES_GMAC_256, None),
    (K.ESP_V2_ENCRYPTION, "aes-gmac-192", ENCR_AES_GMAC_192, None),
    (K.ESP_V2_ENCRYPTION, "aes-gmac", ENCR_AES_GMAC_128, None),
    (K.ESP_V2_ENCRYPTION, "aes-256", ENCR_AES_CBC_256, None),
    (K.ESP_V2_ENCRYPTION, "aes-192", ENCR_AES_CBC_192, None),
    (K.ESP_V2_ENCRYPTION, "aes", ENCR_AES_CBC_128, None),
    (K.ESP_V2_ENCRYPTION, "3des", ENCR_3DES, None),
    (K.ESP_V2_ENCRYPTION, "des", ENCR_DES, None),
    (K.ESP_V2_ENCRYPTION, "null", ENCR_NULL, None),
    (K.ESP_V2_INTEGRITY, "sha-512", AUTH_HMAC_SHA2_512_256, None),
    (K.ESP_V2_INTEGRITY, "sha-384", AUTH_HMAC_SHA2_384_192, None),
    (K.ESP_V2_INTEGRITY, "sha-256", AUTH_HMAC_SHA2_256_128, None),
    (K.ESP_V2_INTEGRITY, "sha-1", AUTH_HMAC_SHA1_96, None),
    (K.ESP_V2_INTEGRITY, "md5", AUTH_HMAC_MD5_96, None),
    (K.ESP_V2_INTEGRITY, "null", INTEG_NONE, None),
    # crypto map set pfs: IKEv1 Group Description (IPsec DOI class 3) = the group number
    *((K.PFS_GROUP, str(n), DH_GROUPS[n], n) for n in (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)),
)

ALGORITHMS: tuple[Algorithm, ...] = tuple(Algorithm(*row) for row in _ROWS)

_BY_KEYWORD = {(a.kind, a.keyword): a for a in ALGORITHMS}
_BY_TRANSFORM = {(t.transform_type, t.transform_id, t.key_bits): t for t in TRANSFORMS}


def by_keyword(kind: Kind, keyword: str | int) -> Algorithm:
    """The registry row for an ASA keyword (groups may be given as ints)."""
    try:
        return _BY_KEYWORD[(kind, str(keyword))]
    except KeyError:
        raise UnknownAlgorithm(f"no {kind.value} keyword {keyword!r}") from None


def by_transform(
    transform_type: TransformType | int, transform_id: int, key_bits: int | None = None
) -> Transform:
    """The IKEv2 transform for (type, id, Key Length attribute); ``UnknownAlgorithm`` if none.

    AES transforms require ``key_bits``; the others must not carry it (RFC 7296 §3.3.5).
    """
    try:
        return _BY_TRANSFORM[(TransformType(transform_type), transform_id, key_bits)]
    except (KeyError, ValueError):
        raise UnknownAlgorithm(
            f"unsupported transform type {transform_type} id {transform_id} key length {key_bits}"
        ) from None


def keywords(kind: Kind) -> tuple[str, ...]:
    """The ASA keywords of ``kind``, in table order (most secure first)."""
    return tuple(a.keyword for a in ALGORITHMS if a.kind is kind)


def encryption(kind: Kind, keyword: str) -> EncryptionAlgorithm:
    """The cipher behind an encryption keyword."""
    impl = by_keyword(kind, keyword).implementation
    if not isinstance(impl, EncryptionAlgorithm):
        raise UnknownAlgorithm(f"{keyword!r} is not an encryption keyword of {kind.value}")
    return impl


def integrity_algorithm(kind: Kind, keyword: str) -> Integrity:
    """The integrity algorithm behind an integrity keyword."""
    impl = by_keyword(kind, keyword).implementation
    if not isinstance(impl, Integrity):
        raise UnknownAlgorithm(f"{keyword!r} is not an integrity keyword of {kind.value}")
    return impl


def prf_algorithm(kind: Kind, keyword: str) -> Prf:
    """The PRF behind an IKEv2 prf keyword or an IKEv1 hash keyword."""
    impl = by_keyword(kind, keyword).implementation
    if not isinstance(impl, Prf):
        raise UnknownAlgorithm(f"{keyword!r} is not a prf keyword of {kind.value}")
    return impl


def dh_group(kind: Kind, keyword: str | int) -> DhGroup:
    """The Diffie-Hellman group behind a group keyword."""
    impl = by_keyword(kind, keyword).implementation
    if not isinstance(impl, DhGroup):
        raise UnknownAlgorithm(f"{keyword!r} is not a group keyword of {kind.value}")
    return impl


__all__ = [
    "ALGORITHMS",
    "DH_GROUPS",
    "TRANSFORMS",
    "Algorithm",
    "EncrId",
    "Implementation",
    "IntegId",
    "Kind",
    "PrfId",
    "Transform",
    "TransformType",
    "by_keyword",
    "by_transform",
    "dh_group",
    "encryption",
    "integrity_algorithm",
    "keywords",
    "prf_algorithm",
]
