"""IANA "Internet Security Association and Key Management Protocol (ISAKMP) Identifiers" used
by the IKEv1 codec: header, payload, DOI, protocol, notify, ID and certificate numbers
(``sa_constants`` has the transform identifiers and SA attributes).

Members carry the IANA names (``-`` and spaces become ``_``). Decoders map a registered number
to its member and keep an unregistered one as a plain ``int``.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

MAJOR_VERSION = 1
MINOR_VERSION = 0


class ExchangeType(IntEnum):
    """ISAKMP Exchange Types (RFC 2408 §3.1, RFC 2409 §5/§9, mode-cfg Transaction)."""

    NONE = 0
    BASE = 1
    IDENTITY_PROTECTION = 2
    MAIN_MODE = 2  # alias: RFC 2409 §5 Main Mode is the Identity Protection exchange
    AUTHENTICATION_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6
    QUICK_MODE = 32
    NEW_GROUP_MODE = 33


class HeaderFlag(IntFlag):
    """Flags octet of the ISAKMP header (RFC 2408 §3.1); the other bits must be zero."""

    ENCRYPTION = 0x01
    COMMIT = 0x02
    AUTHENTICATION_ONLY = 0x04


HEADER_FLAGS_MASK = 0x07


class PayloadType(IntEnum):
    """ISAKMP Next Payload Types (RFC 2408 §3.1, RFC 3947 §3.2/§5.2, draft/private 128-255)."""

    NONE = 0
    SA = 1
    P = 2
    T = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    N = 11
    D = 12
    VID = 13
    A = 14  # mode-cfg attribute payload (draft-ietf-ipsec-isakmp-mode-cfg)
    SAK = 15
    SAT = 16
    KD = 17
    SEQ = 18
    POP = 19
    NAT_D = 20
    NAT_OA = 21
    GAP = 22
    NAT_D_DRAFT = 130  # draft-ietf-ipsec-nat-t-ike-02/03
    NAT_OA_DRAFT = 131
    FRAGMENT = 132  # Cisco IKEv1 fragmentation, also spoken by strongSwan


PRIVATE_PAYLOAD_TYPES = range(128, 256)
"""RFC 2408 §3.1: Next Payload values 128-255 are for private use (unknown ones are kept)."""


class Doi(IntEnum):
    """Domain of Interpretation (RFC 2408 §3.4, RFC 2407 §4.2)."""

    ISAKMP = 0
    IPSEC = 1


class Situation(IntFlag):
    """IPsec DOI Situation bitmap (RFC 2407 §4.2)."""

    SIT_IDENTITY_ONLY = 0x01
    SIT_SECRECY = 0x02
    SIT_INTEGRITY = 0x04


class ProtocolId(IntEnum):
    """IPsec DOI Security Protocol Identifiers (RFC 2407 §4.4.1)."""

    RESERVED = 0
    PROTO_ISAKMP = 1
    PROTO_IPSEC_AH = 2
    PROTO_IPSEC_ESP = 3
    PROTO_IPCOMP = 4


class NotifyMessageType(IntEnum):
    """Notify Message Types: errors (RFC 2408 §3.14.1) and status (RFC 2407 §4.6.3, RFC 3706)."""

    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384
    RESPONDER_LIFETIME = 24576
    REPLAY_STATUS = 24577
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137


class IdType(IntEnum):
    """IPsec DOI Identification Types (RFC 2407 §4.6.2.1)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_USER_FQDN = 3
    ID_IPV4_ADDR_SUBNET = 4
    ID_IPV6_ADDR = 5
    ID_IPV6_ADDR_SUBNET = 6
    ID_IPV4_ADDR_RANGE = 7
    ID_IPV6_ADDR_RANGE = 8
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11
    ID_LIST = 12


class CertEncoding(IntEnum):
    """Certificate Encoding of CERT and CR payloads (RFC 2408 §3.9)."""

    NONE = 0
    PKCS7_WRAPPED_X509_CERTIFICATE = 1
    PGP_CERTIFICATE = 2
    DNS_SIGNED_KEY = 3
    X509_CERTIFICATE_SIGNATURE = 4
    X509_CERTIFICATE_KEY_EXCHANGE = 5
    KERBEROS_TOKENS = 6
    CERTIFICATE_REVOCATION_LIST = 7
    AUTHORITY_REVOCATION_LIST = 8
    SPKI_CERTIFICATE = 9
    X509_CERTIFICATE_ATTRIBUTE = 10
    RAW_RSA_KEY = 11
    HASH_AND_URL_OF_X509_CERTIFICATE = 12
    HASH_AND_URL_OF_X509_BUNDLE = 13
