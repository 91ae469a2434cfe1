"""Hand-built IKEv2 messages shared by the codec tests."""

from __future__ import annotations

import hashlib
from ipaddress import ip_address

from tunnelgate.ike.v2.constants import (
    ConfigAttributeType,
    ConfigType,
    DhId,
    EncrId,
    EsnId,
    ExchangeType,
    HeaderFlag,
    IntegId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    TransformType,
)
from tunnelgate.ike.v2.message import Header, Message
from tunnelgate.ike.v2.payloads import (
    ConfigAttribute,
    CpPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    SkPayload,
    TrafficSelector,
    Transform,
    TsiPayload,
    TsrPayload,
    VendorIdPayload,
)

SPI_I = bytes.fromhex("5f3a9c01d2e4b607")
T = TransformType


def _bytes(label: str, size: int) -> bytes:
    """Deterministic filler standing in for random key shares and nonces."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}{counter}".encode()).digest()
        counter += 1
    return out[:size]


IKE_PROPOSALS = (
    Proposal(
        1,
        ProtocolId.IKE,
        (
            Transform.with_key_length(T.ENCR, EncrId.ENCR_AES_GCM_16, 256),
            Transform.with_key_length(T.ENCR, EncrId.ENCR_AES_GCM_16, 128),
            Transform(T.PRF, PrfId.PRF_HMAC_SHA2_256),
            Transform(T.PRF, PrfId.PRF_HMAC_SHA2_384),
            Transform(T.DH, DhId.ECP_256),
            Transform(T.DH, DhId.MODP_2048),
        ),
    ),
    Proposal(
        2,
        ProtocolId.IKE,
        (
            Transform.with_key_length(T.ENCR, EncrId.ENCR_AES_CBC, 256),
            Transform.with_key_length(T.ENCR, EncrId.ENCR_AES_CBC, 128),
            Transform(T.INTEG, IntegId.AUTH_HMAC_SHA2_256_128),
            Transform(T.INTEG, IntegId.AUTH_HMAC_SHA1_96),
            Transform(T.PRF, PrfId.PRF_HMAC_SHA2_256),
            Transform(T.PRF, PrfId.PRF_HMAC_SHA1),
            Transform(T.DH, DhId.ECP_256),
            Transform(T.DH, DhId.MODP_2048),
        ),
    ),
    Proposal(
        3,
        ProtocolId.IKE,
        (
            Transform(T.ENCR, EncrId.ENCR_3DES),
            Transform(T.INTEG, IntegId.AUTH_HMAC_SHA1_96),
            Transform(T.PRF, PrfId.PRF_HMAC_SHA1),
            Transform(T.DH, DhId.MODP_1536),
        ),
    ),
)

IKE_SA_INIT_REQUEST = Message(
    Header(SPI_I, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0),
    (
        SaPayload(IKE_PROPOSALS),
        KePayload(DhId.ECP_256, _bytes("ke", 64)),
        NoncePayload(_bytes("nonce", 32)),
        NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, _bytes("natd-s", 20)),
        NotifyPayload(NotifyType.NAT_DETECTION_DESTINATION_IP, _bytes("natd-d", 20)),
        NotifyPayload(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
        NotifyPayload(NotifyType.SIGNATURE_HASH_ALGORITHMS, bytes.fromhex("0002000300040005")),
        VendorIdPayload(hashlib.md5(b"CISCO-DELETE-REASON").digest()),
        VendorIdPayload(b"FLEXVPN-SUPPORTED"),
    ),
)

ESP_PROPOSAL = Proposal(
    1,
    ProtocolId.ESP,
    (
        Transform.with_key_length(T.ENCR, EncrId.ENCR_AES_CBC, 256),
        Transform(T.INTEG, IntegId.AUTH_HMAC_SHA2_256_128),
        Transform(T.ESN, EsnId.NO_ESN),
    ),
    spi=bytes.fromhex("c0ffee01"),
)

IKE_AUTH_INNER = (
    CpPayload(
        ConfigType.CFG_REQUEST,
        (
            ConfigAttribute(ConfigAttributeType.INTERNAL_IP4_ADDRESS),
            ConfigAttribute(ConfigAttributeType.INTERNAL_IP4_DNS),
        ),
    ),
    SaPayload((ESP_PROPOSAL,)),
    TsiPayload((TrafficSelector(ip_address("10.1.0.0"), ip_address("10.1.255.255")),)),
    TsrPayload(
        (
            TrafficSelector(ip_address("10.2.0.0"), ip_address("10.2.0.255"), 6, 443, 443),
            TrafficSelector(ip_address("2001:db8::"), ip_address("2001:db8::ffff")),
        )
    ),
)

IKE_AUTH_REQUEST = Message(
    Header(
        SPI_I, bytes.fromhex("0102030405060708"), ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1
    ),
    (SkPayload(PayloadType.IDi, _bytes("sk", 96)),),
)
