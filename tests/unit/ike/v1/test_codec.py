"""ISAKMP codec: RFC 2408 §5 checks and their notifies, payload chains, encrypted bodies."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest

from tunnelgate.ike.v1 import (
    DecodeError,
    Envelope,
    Header,
    Message,
    decode_envelope,
    decode_header,
    decode_message,
    decode_payloads,
    encode_envelope,
    encode_message,
    encode_payloads,
)
from tunnelgate.ike.v1.attributes import DataAttribute
from tunnelgate.ike.v1.constants import (
    ExchangeType,
    HeaderFlag,
    IdType,
    NotifyMessageType,
    PayloadType,
    ProtocolId,
)
from tunnelgate.ike.v1.payloads import (
    DeletePayload,
    FragmentPayload,
    HashPayload,
    IdPayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    UnknownPayload,
    VidPayload,
)
from tunnelgate.ike.v1.proposals import Proposal, SaPayload, Transform
from tunnelgate.ike.v1.sa_constants import (
    EncapsulationMode,
    EspTransformId,
    IpsecAttributeType,
)

COOKIE_I, COOKIE_R = bytes(range(1, 9)), bytes(range(9, 17))
NOTIFY = NotifyMessageType


def header(exchange: int = ExchangeType.QUICK_MODE, flags: int = 0, mid: int = 7) -> Header:
    return Header(COOKIE_I, COOKIE_R, exchange, HeaderFlag(flags), mid)


def raw(
    first: int, body: bytes, *, version: int = 0x10, exchange: int = 2, flags: int = 0
) -> bytes:
    """A datagram with hand-set header fields and a correct length."""
    fixed = struct.pack("!BBBBII", first, version, exchange, flags, 0, 28 + len(body))
    return COOKIE_I + COOKIE_R + fixed + body


def payload(next_type: int, body: bytes) -> bytes:
    return struct.pack("!BBH", next_type, 0, 4 + len(body)) + body


def round_trip(*payloads: Payload) -> Message:
    message = Message(header(), payloads)
    decoded = decode_message(encode_message(message))
    assert decoded == message
    assert encode_message(decoded) == encode_message(message)
    return decoded


# --- header checks (RFC 2408 §5.2) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "notify"),
    [
        (raw(0, b"", version=0x20), NOTIFY.INVALID_MAJOR_VERSION),  # an IKEv2 datagram
        (raw(0, b"", version=0x11), NOTIFY.INVALID_MINOR_VERSION),
        (raw(0, b"", exchange=34), NOTIFY.UNSUPPORTED_EXCHANGE_TYPE),  # IKE_SA_INIT
        (raw(0, b"", exchange=0), NOTIFY.UNSUPPORTED_EXCHANGE_TYPE),
        (raw(0, b"", flags=0x08), NOTIFY.INVALID_FLAGS),
        (raw(0, b"") + b"\0", NOTIFY.UNEQUAL_PAYLOAD_LENGTHS),
        (raw(0, b"")[:-1], NOTIFY.PAYLOAD_MALFORMED),  # shorter than a header
    ],
)
def test_header_checks_answer_with_their_notify(data: bytes, notify: NotifyMessageType) -> None:
    with pytest.raises(DecodeError) as error:
        decode_message(data)
    assert error.value.notify is notify
    if len(data) >= 28:
        assert error.value.header is not None
        assert error.value.header.initiator_cookie == COOKIE_I


def test_decode_header_routes_without_checks() -> None:
    routed = decode_header(raw(0, b"", version=0x20, flags=0xFF))
    assert (routed.initiator_cookie, routed.responder_cookie) == (COOKIE_I, COOKIE_R)
    assert routed.flags == HeaderFlag(7) and routed.major_version == 2


# --- payload chain -----------------------------------------------------------------------------


def test_invalid_payload_types_answer_invalid_payload_type() -> None:
    for bad in (PayloadType.P, PayloadType.T, 23, 127):
        with pytest.raises(DecodeError) as error:
            decode_message(raw(bad, payload(0, b"abcd")))
        assert error.value.notify is NOTIFY.INVALID_PAYLOAD_TYPE
        assert error.value.notify_data == bytes([bad])


def test_unparsed_registered_and_private_payloads_are_kept() -> None:
    round_trip(UnknownPayload(PayloadType.A, b"\x01\x00\x00\x00"), UnknownPayload(200, b"x"))
    with pytest.raises(ValueError):
        encode_payloads([UnknownPayload(PayloadType.VID, b"x")])  # has a table
    with pytest.raises(ValueError):
        encode_payloads([UnknownPayload(50, b"x")])  # unregistered, not private


@pytest.mark.parametrize(
    "body",
    [
        payload(0, b"x" * 8)[:-1],  # payload longer than the message
        struct.pack("!BBH", 0, 0, 3),  # length below the generic header
        payload(PayloadType.VID, b"x"),  # chain promises another payload
        payload(0, b"x") + b"\0",  # bytes after the last payload
    ],
)
def test_malformed_chains(body: bytes) -> None:
    with pytest.raises(DecodeError) as error:
        decode_message(raw(PayloadType.VID, body))
    assert error.value.notify is NOTIFY.PAYLOAD_MALFORMED


def test_padding_after_the_last_payload_of_a_decrypted_body_is_ignored() -> None:
    first, body = encode_payloads([HashPayload(b"h" * 20), VidPayload(b"v")])
    for padding in (b"", b"\0" * 7, bytes(range(1, 16))):
        payloads = decode_payloads(first, body + padding, padded=True)
        assert payloads == (HashPayload(b"h" * 20), VidPayload(b"v"))
    with pytest.raises(DecodeError):
        decode_payloads(first, body + b"\0", padded=False)
    assert decode_payloads(PayloadType.NONE, b"\0" * 8, padded=True) == ()


def test_encrypted_messages_travel_as_envelopes() -> None:
    sealed = Envelope(header(flags=HeaderFlag.ENCRYPTION), PayloadType.HASH, b"\xaa" * 32)
    data = encode_envelope(sealed)
    assert decode_envelope(data) == sealed
    with pytest.raises(DecodeError, match="encrypted"):
        decode_message(data)
    with pytest.raises(ValueError):
        encode_message(Message(sealed.header, (HashPayload(b"h"),)))


# --- payloads ----------------------------------------------------------------------------------


def test_quick_mode_payloads_round_trip() -> None:
    esp = Transform(
        1,
        EspTransformId.ESP_AES,
        (
            DataAttribute(IpsecAttributeType.SA_LIFE_TYPE, 1),
            DataAttribute(IpsecAttributeType.SA_LIFE_DURATION, 3600),
            DataAttribute(
                IpsecAttributeType.ENCAPSULATION_MODE, EncapsulationMode.UDP_ENCAPSULATED_TUNNEL
            ),
            DataAttribute(IpsecAttributeType.AUTHENTICATION_ALGORITHM, 5),
            DataAttribute(IpsecAttributeType.KEY_LENGTH, 256),
        ),
    )
    gcm = Transform(2, EspTransformId.ESP_AES_GCM_16, (DataAttribute(6, 128),))
    sa = SaPayload((Proposal(1, ProtocolId.PROTO_IPSEC_ESP, (esp, gcm), b"\x01\x02\x03\x04"),))
    decoded = round_trip(
        HashPayload(b"h" * 32),
        sa,
        NoncePayload(b"n" * 32),
        IdPayload(IdType.ID_IPV4_ADDR_SUBNET, bytes([10, 1, 0, 0, 255, 255, 255, 0]), 17, 500),
        IdPayload(IdType.ID_IPV4_ADDR_RANGE, bytes([10, 2, 0, 1, 10, 2, 0, 9])),
        NatOaPayload(IdType.ID_IPV4_ADDR, bytes([192, 168, 1, 2])),
        NatOaPayload(IdType.ID_IPV6_ADDR, bytes(16), PayloadType.NAT_OA_DRAFT),
    )
    decoded_sa = decoded.find(SaPayload)
    assert decoded_sa is not None
    assert decoded_sa.proposals[0].transforms[1].transform_id is EspTransformId.ESP_AES_GCM_16
    nat_oa = decoded.find_all(NatOaPayload)
    assert nat_oa[0].address == IPv4Address("192.168.1.2")
    assert nat_oa[1].address == IPv6Address("::")


def test_informational_payloads_round_trip() -> None:
    cookies = COOKIE_I + COOKIE_R
    decoded = round_trip(
        NotifyPayload(NOTIFY.R_U_THERE, (42).to_bytes(4, "big"), spi=cookies),
        NotifyPayload(NOTIFY.INITIAL_CONTACT, spi=cookies),
        NotifyPayload(NOTIFY.RESPONDER_LIFETIME, b"\x80\x01\x00\x01", ProtocolId.PROTO_IPSEC_ESP),
        DeletePayload(ProtocolId.PROTO_ISAKMP, (cookies,)),
        DeletePayload(ProtocolId.PROTO_IPSEC_ESP, (b"\x00\x00\x10\x01", b"\x00\x00\x10\x02")),
        NatDPayload(b"d" * 20),
        NatDPayload(b"d" * 16, PayloadType.NAT_D_DRAFT),
        FragmentPayload(1, 2, FragmentPayload.LAST, b"slice"),
    )
    dpd = decoded.find_notify(NOTIFY.R_U_THERE)
    assert dpd is not None and dpd.spi == cookies
    assert [p.payload_type for p in decoded.payloads][-3:] == [20, 130, 132]
    fragment = decoded.find(FragmentPayload)
    assert fragment is not None and fragment.is_last


@pytest.mark.parametrize(
    ("first", "body", "notify"),
    [
        (PayloadType.SA, struct.pack("!II", 2, 1), NOTIFY.DOI_NOT_SUPPORTED),
        (PayloadType.SA, struct.pack("!II", 1, 2), NOTIFY.SITUATION_NOT_SUPPORTED),
        (PayloadType.SA, struct.pack("!II", 1, 1), NOTIFY.PAYLOAD_MALFORMED),  # no proposal
        (PayloadType.NONCE, b"n" * 7, NOTIFY.PAYLOAD_MALFORMED),
        (PayloadType.NAT_OA, b"\x01\0\0\0" + bytes(16), NOTIFY.PAYLOAD_MALFORMED),
        (PayloadType.FRAGMENT, b"\0\1\0\1x", NOTIFY.PAYLOAD_MALFORMED),  # fragment number 0
        (PayloadType.D, struct.pack("!IBBH", 1, 3, 0, 1), NOTIFY.INVALID_SPI),
    ],
)
def test_malformed_payload_bodies(first: int, body: bytes, notify: NotifyMessageType) -> None:
    with pytest.raises(DecodeError) as error:
        decode_message(raw(first, payload(0, body)))
    assert error.value.notify is notify


def _proposal(number: int, next_type: int = 0) -> bytes:
    transform = struct.pack("!BBHBBH", 0, 0, 8, 1, 1, 0)
    return struct.pack("!BBHBBBB", next_type, 0, 8 + len(transform), number, 1, 0, 1) + transform


def test_proposal_numbers_must_not_decrease() -> None:
    body = struct.pack("!II", 1, 1) + _proposal(2, PayloadType.P) + _proposal(1)
    with pytest.raises(DecodeError) as error:
        decode_message(raw(PayloadType.SA, payload(0, body)))
    assert error.value.notify is NOTIFY.BAD_PROPOSAL_SYNTAX
    bundle = SaPayload(
        (
            Proposal(1, ProtocolId.PROTO_IPSEC_AH, (Transform(1, 3),), b"ahah"),
            Proposal(1, ProtocolId.PROTO_IPSEC_ESP, (Transform(1, 12),), b"espp"),
        )
    )
    round_trip(bundle)


def test_substructure_chain_octets_are_checked() -> None:
    body = struct.pack("!II", 1, 1) + _proposal(1, PayloadType.T)
    with pytest.raises(DecodeError) as error:
        decode_message(raw(PayloadType.SA, payload(0, body)))
    assert error.value.notify is NOTIFY.INVALID_PAYLOAD_TYPE


@pytest.mark.parametrize(
    "bad",
    [
        [NatDPayload(b"x", PayloadType.NAT_OA)],  # a NAT-D value cannot be type 21
        [SaPayload(())],  # at least one proposal
        [SaPayload((Proposal(1, 1, ()),))],  # at least one transform
        [DeletePayload(3, (b"1234", b"12345678"))],  # SPI sizes differ
        [NoncePayload(b"n" * 257)],
        [VidPayload(b"x" * 0xFFFC)],  # payload longer than 16 bits
    ],
)
def test_encoder_refuses_what_cannot_be_put_on_the_wire(bad: list[Payload]) -> None:
    with pytest.raises(ValueError):
        encode_payloads(bad)
