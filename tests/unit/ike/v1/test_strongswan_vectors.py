"""IKEv1 datagrams recorded from strongSwan's charon (tests/vectors/strongswan/README.md)."""

from __future__ import annotations

import hashlib
import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from tunnelgate.ike.v1 import decode_message, encode_message
from tunnelgate.ike.v1.constants import (
    Doi,
    ExchangeType,
    HeaderFlag,
    IdType,
    PayloadType,
    ProtocolId,
    Situation,
)
from tunnelgate.ike.v1.payloads import IdPayload, KePayload, NoncePayload, VidPayload
from tunnelgate.ike.v1.proposals import SaPayload, Transform
from tunnelgate.ike.v1.sa_constants import (
    AuthenticationMethod,
    EncryptionAlgorithm,
    GroupDescription,
    HashAlgorithm,
    IkeAttributeType,
    IsakmpTransformId,
    LifeType,
)

VECTORS = Path(__file__).parents[3] / "vectors" / "strongswan"
MAIN_MODE = VECTORS / "ikev1_main_mode_1.bin"
AGGRESSIVE = VECTORS / "ikev1_aggressive_mode_1.bin"
FACTS = {v["file"]: v for v in json.loads((VECTORS / "vectors.json").read_text())["vectors"]}

# charon's IKEv1 vendor IDs, in the order it sends them
XAUTH = bytes.fromhex("09002689dfd6b712")
DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706 §5
FRAGMENTATION = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d380000000")  # Cisco, capabilities
NAT_T_RFC3947 = bytes.fromhex("4a131c81070358455c5728f20e95452f")  # MD5("RFC 3947")
NAT_T_DRAFT_02N = bytes.fromhex("90cb80913ebb696e086381b5ec427b1f")  # draft-...-nat-t-ike-02\n
VENDOR_IDS = [XAUTH, DPD, FRAGMENTATION, NAT_T_RFC3947, NAT_T_DRAFT_02N]

# (encryption, key length, hash, group) per transform of
# proposals = aes256-sha256-modp2048,aes128-sha1-modp2048,3des-sha1-modp1024
MAIN_MODE_TRANSFORMS = [
    (EncryptionAlgorithm.AES_CBC, 256, HashAlgorithm.SHA2_256, GroupDescription.MODP_2048),
    (EncryptionAlgorithm.AES_CBC, 128, HashAlgorithm.SHA, GroupDescription.MODP_2048),
    (EncryptionAlgorithm.TRIPLE_DES_CBC, None, HashAlgorithm.SHA, GroupDescription.MODP_1024),
]


@pytest.mark.parametrize("path", [MAIN_MODE, AGGRESSIVE], ids=lambda p: p.name)
def test_vector_is_the_recorded_one_and_re_encodes_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == FACTS[path.name]["sha256"]
    message = decode_message(data)
    assert encode_message(message) == data
    header = message.header
    assert header.responder_cookie == bytes(8) and len(header.initiator_cookie) == 8
    assert (header.major_version, header.minor_version) == (1, 0)
    assert header.flags == HeaderFlag(0) and header.message_id == 0
    assert [v.data for v in message.find_all(VidPayload)] == VENDOR_IDS


def _check_ike_transform(transform: Transform, expected: tuple[object, ...]) -> None:
    encryption, key_length, hash_algorithm, group = expected
    assert transform.transform_id is IsakmpTransformId.KEY_IKE
    assert transform.attribute(IkeAttributeType.ENCRYPTION_ALGORITHM) is encryption
    assert transform.attribute(IkeAttributeType.KEY_LENGTH) == key_length
    assert transform.attribute(IkeAttributeType.HASH_ALGORITHM) is hash_algorithm
    assert transform.attribute(IkeAttributeType.GROUP_DESCRIPTION) is group
    assert transform.attribute(IkeAttributeType.AUTHENTICATION_METHOD) is (
        AuthenticationMethod.PRE_SHARED_KEY
    )
    assert transform.attribute(IkeAttributeType.LIFE_TYPE) is LifeType.SECONDS
    assert transform.attribute(IkeAttributeType.LIFE_DURATION) == 15840  # charon's 4h24m default
    assert all(a.is_tv for a in transform.attributes)


def test_main_mode_message_1() -> None:
    message = decode_message(MAIN_MODE.read_bytes())
    assert message.header.exchange_type is ExchangeType.IDENTITY_PROTECTION
    assert ExchangeType["MAIN_MODE"] is ExchangeType.IDENTITY_PROTECTION  # an alias
    assert [p.payload_type for p in message.payloads] == [PayloadType.SA] + [PayloadType.VID] * 5
    sa = message.find(SaPayload)
    assert sa is not None
    assert (sa.doi, sa.situation) == (Doi.IPSEC, Situation.SIT_IDENTITY_ONLY)
    # charon offers one ISAKMP proposal holding one transform per configured proposal
    [proposal] = sa.proposals
    assert (proposal.number, proposal.protocol_id, proposal.spi) == (
        1,
        ProtocolId.PROTO_ISAKMP,
        b"",
    )
    assert [t.number for t in proposal.transforms] == [1, 2, 3]
    for transform, expected in zip(proposal.transforms, MAIN_MODE_TRANSFORMS, strict=True):
        _check_ike_transform(transform, expected)


def test_aggressive_mode_message_1() -> None:
    message = decode_message(AGGRESSIVE.read_bytes())
    assert message.header.exchange_type is ExchangeType.AGGRESSIVE
    assert [p.payload_type for p in message.payloads] == [
        PayloadType.SA,
        PayloadType.KE,
        PayloadType.NONCE,
        PayloadType.ID,
    ] + [PayloadType.VID] * 5
    sa = message.find(SaPayload)
    assert sa is not None
    [proposal] = sa.proposals
    [transform] = proposal.transforms
    _check_ike_transform(transform, MAIN_MODE_TRANSFORMS[0])
    ke, nonce, identity = (
        message.find(KePayload),
        message.find(NoncePayload),
        message.find(IdPayload),
    )
    assert ke is not None and nonce is not None and identity is not None
    assert len(ke.data) == 256  # MODP-2048 (group 14) public value
    assert len(nonce.data) == 32
    assert identity.id_type is IdType.ID_IPV4_ADDR
    assert (identity.protocol, identity.port) == (0, 0)
    assert IPv4Address(identity.data) == IPv4Address("203.0.113.1")
