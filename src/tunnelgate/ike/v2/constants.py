"""IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries used by tunnelgate.

Members carry the exact IANA names. Decoders map a registered number to its member and keep an
unregistered one as a plain ``int`` (every enum here is an ``IntEnum``, so both compare equal).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class ExchangeType(IntEnum):
    """IKEv2 Exchange Types."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37
    IKE_SESSION_RESUME = 38
    IKE_INTERMEDIATE = 43


class HeaderFlag(IntFlag):
    """Flags octet of the IKE header (RFC 7296 §3.1); the other bits are reserved."""

    INITIATOR = 0x08
    VERSION = 0x10
    RESPONSE = 0x20


HEADER_FLAGS_MASK = 0x38


class PayloadType(IntEnum):
    """IKEv2 Payload Types (the "Next Payload" values)."""

    NONE = 0
    SA = 33
    KE = 34
    IDi = 35
    IDr = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSi = 44
    TSr = 45
    SK = 46
    CP = 47
    EAP = 48
    GSPM = 49
    IDg = 50
    GSA = 51
    KD = 52
    SKF = 53
    PS = 54


class NotifyType(IntEnum):
    """IKEv2 Notify Message Types: errors (1-16383) and the status types tunnelgate uses."""

    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    UNACCEPTABLE_ADDRESSES = 40
    UNEXPECTED_NAT_DETECTED = 41
    USE_ASSIGNED_HoA = 42
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INVALID_GROUP_ID = 45
    AUTHORIZATION_FAILED = 46
    STATE_NOT_FOUND = 47
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    ADDITIONAL_IP4_ADDRESS = 16397
    ADDITIONAL_IP6_ADDRESS = 16398
    NO_ADDITIONAL_ADDRESSES = 16399
    UPDATE_SA_ADDRESSES = 16400
    COOKIE2 = 16401
    NO_NATS_ALLOWED = 16402
    AUTH_LIFETIME = 16403
    MULTIPLE_AUTH_SUPPORTED = 16404
    ANOTHER_AUTH_FOLLOWS = 16405
    REDIRECT_SUPPORTED = 16406
    REDIRECT = 16407
    REDIRECTED_FROM = 16408
    EAP_ONLY_AUTHENTICATION = 16417
    CHILDLESS_IKEV2_SUPPORTED = 16418
    IKEV2_FRAGMENTATION_SUPPORTED = 16430
    SIGNATURE_HASH_ALGORITHMS = 16431

    @property
    def is_error(self) -> bool:
        """Error types are 1-16383 (RFC 7296 §3.10.1)."""
        return self.value < 16384


class ProtocolId(IntEnum):
    """Security Protocol Identifiers (proposals, notifies, deletes)."""

    IKE = 1
    AH = 2
    ESP = 3


class TransformType(IntEnum):
    """Transform Type Values; type 4 is "Key Exchange Method (KE)", formerly D-H group."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4
    ESN = 5
    KE = 4  # the RFC 9370 name of type 4: an alias of DH


class EncrId(IntEnum):
    """Transform Type 1 - Encryption Algorithm Transform IDs."""

    ENCR_DES_IV64 = 1
    ENCR_DES = 2
    ENCR_3DES = 3
    ENCR_RC5 = 4
    ENCR_IDEA = 5
    ENCR_CAST = 6
    ENCR_BLOWFISH = 7
    ENCR_3IDEA = 8
    ENCR_DES_IV32 = 9
    ENCR_NULL = 11
    ENCR_AES_CBC = 12
    ENCR_AES_CTR = 13
    ENCR_AES_CCM_8 = 14
    ENCR_AES_CCM_12 = 15
    ENCR_AES_CCM_16 = 16
    ENCR_AES_GCM_8 = 18
    ENCR_AES_GCM_12 = 19
    ENCR_AES_GCM_16 = 20
    ENCR_NULL_AUTH_AES_GMAC = 21
    ENCR_CAMELLIA_CBC = 23
    ENCR_CHACHA20_POLY1305 = 28


class PrfId(IntEnum):
    """Transform Type 2 - Pseudorandom Function Transform IDs."""

    PRF_HMAC_MD5 = 1
    PRF_HMAC_SHA1 = 2
    PRF_HMAC_TIGER = 3
    PRF_AES128_XCBC = 4
    PRF_HMAC_SHA2_256 = 5
    PRF_HMAC_SHA2_384 = 6
    PRF_HMAC_SHA2_512 = 7
    PRF_AES128_CMAC = 8


class IntegId(IntEnum):
    """Transform Type 3 - Integrity Algorithm Transform IDs."""

    NONE = 0
    AUTH_HMAC_MD5_96 = 1
    AUTH_HMAC_SHA1_96 = 2
    AUTH_DES_MAC = 3
    AUTH_KPDK_MD5 = 4
    AUTH_AES_XCBC_96 = 5
    AUTH_HMAC_MD5_128 = 6
    AUTH_HMAC_SHA1_160 = 7
    AUTH_AES_CMAC_96 = 8
    AUTH_AES_128_GMAC = 9
    AUTH_AES_192_GMAC = 10
    AUTH_AES_256_GMAC = 11
    AUTH_HMAC_SHA2_256_128 = 12
    AUTH_HMAC_SHA2_384_192 = 13
    AUTH_HMAC_SHA2_512_256 = 14


class DhId(IntEnum):
    """Transform Type 4 - Key Exchange Method Transform IDs (Diffie-Hellman groups)."""

    NONE = 0
    MODP_768 = 1
    MODP_1024 = 2
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


class EsnId(IntEnum):
    """Transform Type 5 - Extended Sequence Numbers Transform IDs."""

    NO_ESN = 0
    ESN = 1


TRANSFORM_ID_ENUMS: dict[int, type[IntEnum]] = {
    TransformType.ENCR: EncrId,
    TransformType.PRF: PrfId,
    TransformType.INTEG: IntegId,
    TransformType.DH: DhId,
    TransformType.ESN: EsnId,
}
"""Which registry names the Transform ID of each transform type."""


class TransformAttributeType(IntEnum):
    """IKEv2 Transform Attribute Types (all use the TV form so far)."""

    KEY_LENGTH = 14


class IdType(IntEnum):
    """IKEv2 Identification Payload ID Types."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11
    ID_FC_NAME = 12
    ID_NULL = 13


class AuthMethod(IntEnum):
    """IKEv2 Authentication Method."""

    RSA_DIGITAL_SIGNATURE = 1
    SHARED_KEY_MESSAGE_INTEGRITY_CODE = 2
    DSS_DIGITAL_SIGNATURE = 3
    ECDSA_SHA_256_P256 = 9
    ECDSA_SHA_384_P384 = 10
    ECDSA_SHA_512_P521 = 11
    GENERIC_SECURE_PASSWORD = 12
    NULL_AUTHENTICATION = 13
    DIGITAL_SIGNATURE = 14


class TsType(IntEnum):
    """IKEv2 Traffic Selector Types."""

    TS_IPV4_ADDR_RANGE = 7
    TS_IPV6_ADDR_RANGE = 8


class CertEncoding(IntEnum):
    """IKEv2 Certificate Encodings."""

    PKCS7_WRAPPED_X509_CERTIFICATE = 1
    PGP_CERTIFICATE = 2
    DNS_SIGNED_KEY = 3
    X509_CERTIFICATE_SIGNATURE = 4
    KERBEROS_TOKEN = 6
    CERTIFICATE_REVOCATION_LIST = 7
    AUTHORITY_REVOCATION_LIST = 8
    SPKI_CERTIFICATE = 9
    X509_CERTIFICATE_ATTRIBUTE = 10
    RAW_RSA_KEY = 11
    HASH_AND_URL_OF_X509_CERTIFICATE = 12
    HASH_AND_URL_OF_X509_BUNDLE = 13
    OCSP_CONTENT = 14
    RAW_PUBLIC_KEY = 15


class ConfigType(IntEnum):
    """IKEv2 Configuration Payload CFG Types."""

    CFG_REQUEST = 1
    CFG_REPLY = 2
    CFG_SET = 3
    CFG_ACK = 4


class ConfigAttributeType(IntEnum):
    """IKEv2 Configuration Payload Attribute Types."""

    INTERNAL_IP4_ADDRESS = 1
    INTERNAL_IP4_NETMASK = 2
    INTERNAL_IP4_DNS = 3
    INTERNAL_IP4_NBNS = 4
    INTERNAL_IP4_DHCP = 6
    APPLICATION_VERSION = 7
    INTERNAL_IP6_ADDRESS = 8
    INTERNAL_IP6_DNS = 10
    INTERNAL_IP6_DHCP = 12
    INTERNAL_IP4_SUBNET = 13
    SUPPORTED_ATTRIBUTES = 14
    INTERNAL_IP6_SUBNET = 15
    INTERNAL_DNS_DOMAIN = 25


class HashAlgorithm(IntEnum):
    """IKEv2 Hash Algorithms (SIGNATURE_HASH_ALGORITHMS notify data, RFC 7427)."""

    SHA1 = 1
    SHA2_256 = 2
    SHA2_384 = 3
    SHA2_512 = 4
    IDENTITY = 5
