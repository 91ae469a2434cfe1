"""IANA registries naming what an SA negotiates (RFC 2407 §4.4-4.5, RFC 2409 App. A): the
transform identifiers of each protocol, the IKE and IPsec SA attribute classes, and their values.

Same naming rule as ``constants``: IANA names, ``-`` and spaces as ``_``, a leading digit spelled
out (``TRIPLE_DES_CBC`` for "3DES-CBC").
"""

from __future__ import annotations

from enum import IntEnum

from tunnelgate.ike.v1.constants import ProtocolId

# --- transform identifiers (RFC 2407 §4.4.2-4.4.5) ----------------------------------------------


class IsakmpTransformId(IntEnum):
    """ISAKMP (phase 1) Transform Identifiers (RFC 2407 §4.4.2)."""

    KEY_IKE = 1


class AhTransformId(IntEnum):
    """IPsec AH Transform Identifiers (RFC 2407 §4.4.3)."""

    AH_MD5 = 2
    AH_SHA = 3
    AH_DES = 4
    AH_SHA2_256 = 5
    AH_SHA2_384 = 6
    AH_SHA2_512 = 7
    AH_RIPEMD = 8
    AH_AES_XCBC_MAC = 9
    AH_RSA = 10
    AH_AES_128_GMAC = 11
    AH_AES_192_GMAC = 12
    AH_AES_256_GMAC = 13


class EspTransformId(IntEnum):
    """IPsec ESP Transform Identifiers (RFC 2407 §4.4.4, RFC 4106, RFC 4543)."""

    ESP_DES_IV64 = 1
    ESP_DES = 2
    ESP_3DES = 3
    ESP_RC5 = 4
    ESP_IDEA = 5
    ESP_CAST = 6
    ESP_BLOWFISH = 7
    ESP_3IDEA = 8
    ESP_DES_IV32 = 9
    ESP_RC4 = 10
    ESP_NULL = 11
    ESP_AES = 12
    ESP_AES_CTR = 13
    ESP_AES_CCM_8 = 14
    ESP_AES_CCM_12 = 15
    ESP_AES_CCM_16 = 16
    ESP_AES_GCM_8 = 18
    ESP_AES_GCM_12 = 19
    ESP_AES_GCM_16 = 20
    ESP_SEED_CBC = 21
    ESP_CAMELLIA = 22
    ESP_NULL_AUTH_AES_GMAC = 23


class IpcompTransformId(IntEnum):
    """IPCOMP Transform Identifiers (RFC 2407 §4.4.5)."""

    IPCOMP_OUI = 1
    IPCOMP_DEFLATE = 2
    IPCOMP_LZS = 3
    IPCOMP_LZJH = 4


TRANSFORM_ID_ENUMS: dict[int, type[IntEnum]] = {
    ProtocolId.PROTO_ISAKMP: IsakmpTransformId,
    ProtocolId.PROTO_IPSEC_AH: AhTransformId,
    ProtocolId.PROTO_IPSEC_ESP: EspTransformId,
    ProtocolId.PROTO_IPCOMP: IpcompTransformId,
}
"""The transform identifier registry of each proposal protocol."""


# --- IKE (phase 1) SA attributes (RFC 2409 Appendix A) ------------------------------------------


class IkeAttributeType(IntEnum):
    """IKE SA attribute classes (RFC 2409 App. A); B(asic) are TV only, V(ariable) either."""

    ENCRYPTION_ALGORITHM = 1
    HASH_ALGORITHM = 2
    AUTHENTICATION_METHOD = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    GROUP_PRIME_IRREDUCIBLE_POLYNOMIAL = 6
    GROUP_GENERATOR_ONE = 7
    GROUP_GENERATOR_TWO = 8
    GROUP_CURVE_A = 9
    GROUP_CURVE_B = 10
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14
    FIELD_SIZE = 15
    GROUP_ORDER = 16


IKE_VARIABLE_ATTRIBUTES = frozenset({6, 7, 8, 9, 10, 12, 16})
"""The IKE attribute classes RFC 2409 App. A marks V: TLV, or TV when the value fits."""


class EncryptionAlgorithm(IntEnum):
    """IKE Encryption Algorithm values (RFC 2409 App. A, RFC 3602, RFC 4312)."""

    DES_CBC = 1
    IDEA_CBC = 2
    BLOWFISH_CBC = 3
    RC5_R16_B64_CBC = 4
    TRIPLE_DES_CBC = 5
    CAST_CBC = 6
    AES_CBC = 7
    CAMELLIA_CBC = 8


class HashAlgorithm(IntEnum):
    """IKE Hash Algorithm values (RFC 2409 App. A, RFC 4868)."""

    MD5 = 1
    SHA = 2
    TIGER = 3
    SHA2_256 = 4
    SHA2_384 = 5
    SHA2_512 = 6


class AuthenticationMethod(IntEnum):
    """IKE Authentication Method values (RFC 2409 App. A, RFC 4754, XAUTH draft 65001-65010)."""

    PRE_SHARED_KEY = 1
    DSS_SIGNATURES = 2
    RSA_SIGNATURES = 3
    ENCRYPTION_WITH_RSA = 4
    REVISED_ENCRYPTION_WITH_RSA = 5
    ECDSA_WITH_SHA_256_ON_THE_P_256_CURVE = 9
    ECDSA_WITH_SHA_384_ON_THE_P_384_CURVE = 10
    ECDSA_WITH_SHA_512_ON_THE_P_521_CURVE = 11
    HYBRID_INIT_RSA = 64221
    HYBRID_RESP_RSA = 64222
    HYBRID_INIT_DSS = 64223
    HYBRID_RESP_DSS = 64224
    XAUTH_INIT_PRESHARED = 65001
    XAUTH_RESP_PRESHARED = 65002
    XAUTH_INIT_DSS = 65003
    XAUTH_RESP_DSS = 65004
    XAUTH_INIT_RSA = 65005
    XAUTH_RESP_RSA = 65006
    XAUTH_INIT_RSA_ENCRYPTION = 65007
    XAUTH_RESP_RSA_ENCRYPTION = 65008
    XAUTH_INIT_RSA_REVISED_ENCRYPTION = 65009
    XAUTH_RESP_RSA_REVISED_ENCRYPTION = 65010


class GroupDescription(IntEnum):
    """IKE Group Description values (RFC 2409 §6, RFC 3526, RFC 5114, RFC 5903, RFC 8031)."""

    MODP_768 = 1
    MODP_1024 = 2
    EC2N_155 = 3
    EC2N_185 = 4
    MODP_1536 = 5
    MODP_2048 = 14
    MODP_3072 = 15
    MODP_4096 = 16
    MODP_6144 = 17
    MODP_8192 = 18
    ECP_256 = 19
    ECP_384 = 20
    ECP_521 = 21
    MODP_1024_160 = 22
    MODP_2048_224 = 23
    MODP_2048_256 = 24
    ECP_192 = 25
    ECP_224 = 26
    BRAINPOOLP224R1 = 27
    BRAINPOOLP256R1 = 28
    BRAINPOOLP384R1 = 29
    BRAINPOOLP512R1 = 30
    CURVE25519 = 31
    CURVE448 = 32


class GroupType(IntEnum):
    """IKE Group Type values (RFC 2409 App. A)."""

    MODP = 1
    ECP = 2
    EC2N = 3


class LifeType(IntEnum):
    """IKE Life Type values (RFC 2409 App. A); the IPsec SA Life Type (RFC 2407 §4.5) agrees."""

    SECONDS = 1
    KILOBYTES = 2


IKE_ATTRIBUTE_VALUE_ENUMS: dict[int, type[IntEnum]] = {
    IkeAttributeType.ENCRYPTION_ALGORITHM: EncryptionAlgorithm,
    IkeAttributeType.HASH_ALGORITHM: HashAlgorithm,
    IkeAttributeType.AUTHENTICATION_METHOD: AuthenticationMethod,
    IkeAttributeType.GROUP_DESCRIPTION: GroupDescription,
    IkeAttributeType.GROUP_TYPE: GroupType,
    IkeAttributeType.LIFE_TYPE: LifeType,
}


# --- IPsec (phase 2) SA attributes (RFC 2407 §4.5) ----------------------------------------------


class IpsecAttributeType(IntEnum):
    """IPsec DOI SA attribute classes (RFC 2407 §4.5, RFC 4304, RFC 6407)."""

    SA_LIFE_TYPE = 1
    SA_LIFE_DURATION = 2
    GROUP_DESCRIPTION = 3
    ENCAPSULATION_MODE = 4
    AUTHENTICATION_ALGORITHM = 5
    KEY_LENGTH = 6
    KEY_ROUNDS = 7
    COMPRESS_DICTIONARY_SIZE = 8
    COMPRESS_PRIVATE_ALGORITHM = 9
    ECN_TUNNEL = 10
    EXTENDED_SEQUENCE_NUMBER = 11


IPSEC_VARIABLE_ATTRIBUTES = frozenset({2, 9})
"""The IPsec attribute classes RFC 2407 §4.5 marks V."""


class EncapsulationMode(IntEnum):
    """Encapsulation Mode values (RFC 2407 §4.5, RFC 3947 §5.2, draft-ietf-ipsec-nat-t-ike)."""

    TUNNEL = 1
    TRANSPORT = 2
    UDP_ENCAPSULATED_TUNNEL = 3
    UDP_ENCAPSULATED_TRANSPORT = 4
    UDP_ENCAPSULATED_TUNNEL_DRAFT = 61443
    UDP_ENCAPSULATED_TRANSPORT_DRAFT = 61444


class AuthenticationAlgorithm(IntEnum):
    """IPsec Authentication Algorithm values (RFC 2407 §4.5, RFC 4868, RFC 4543)."""

    HMAC_MD5 = 1
    HMAC_SHA = 2
    DES_MAC = 3
    KPDK = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7
    HMAC_RIPEMD = 8
    AES_XCBC_MAC = 9
    SIG_RSA = 10
    AES_128_GMAC = 11
    AES_192_GMAC = 12
    AES_256_GMAC = 13


IPSEC_ATTRIBUTE_VALUE_ENUMS: dict[int, type[IntEnum]] = {
    IpsecAttributeType.SA_LIFE_TYPE: LifeType,
    IpsecAttributeType.GROUP_DESCRIPTION: GroupDescription,
    IpsecAttributeType.ENCAPSULATION_MODE: EncapsulationMode,
    IpsecAttributeType.AUTHENTICATION_ALGORITHM: AuthenticationAlgorithm,
}
