"""IKEv2 wire codec: vectors, RFC 7296 validation rules, unknown payloads, errors."""

from __future__ import annotations

import struct
from ipaddress import ip_address

import pytest

from tests.unit.ike.v2.samples import (
    IKE_AUTH_INNER,
    IKE_AUTH_REQUEST,
    IKE_SA_INIT_REQUEST,
    SPI_I,
)
from tunnelgate.ike.v2 import (
    DecodeError,
    Header,
    Message,
    decode_header,
    decode_inner_payloads,
    decode_message,
    encode_message,
    encode_plaintext_payloads,
)
from tunnelgate.ike.v2.constants import (
    ConfigAttributeType,
    DhId,
    EncrId,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    PayloadType,
    ProtocolId,
    TransformAttributeType,
    TransformType,
)
from tunnelgate.ike.v2.payloads import (
    ConfigAttribute,
    CpPayload,
    DeletePayload,
    EapPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    SkfPayload,
    SkPayload,
    TrafficSelector,
    Transform,
    TransformAttribute,
    TsiPayload,
    UnknownPayload,
)

NONCE = bytes(range(16))


def raw_message(
    first: int, body: bytes, *, version: int = 0x20, flags: int = 0x08, length: int | None = None
) -> bytes:
    """An IKE_SA_INIT datagram written by hand around ``body``."""
    total = 28 + len(body) if length is None else length
    return SPI_I + bytes(8) + struct.pack("!BBBBII", first, version, 34, flags, 0, total) + body


def raw_payload(next_type: int, body: bytes, *, critical: bool = False) -> bytes:
    return struct.pack("!BBH", next_type, 0x80 if critical else 0, 4 + len(body)) + body


NONCE_PAYLOAD = raw_payload(0, NONCE)


# --- vectors -----------------------------------------------------------------------------------


def test_ike_sa_init_request_round_trips_byte_for_byte() -> None:
    data = encode_message(IKE_SA_INIT_REQUEST)
    assert decode_message(data) == IKE_SA_INIT_REQUEST
    assert encode_message(decode_message(data)) == data


def test_hand_written_sa_payload_bytes() -> None:
    """RFC 7296 §3.3: one proposal, ENCR_AES_CBC with Key Length 256 (TV), then DH 19."""
    transforms = (
        bytes.fromhex("03 00 000c 01 00 000c 800e0100")  # more, ENCR, id 12, AF|14 = 256
        + bytes.fromhex("00 00 0008 04 00 0013")  # last, DH, id 19
    )
    proposal = bytes.fromhex("00 00") + struct.pack("!H", 8 + len(transforms))
    proposal += bytes.fromhex("01 01 00 02") + transforms
    data = raw_message(33, raw_payload(40, proposal) + NONCE_PAYLOAD)
    message = decode_message(data)
    assert message.payloads[0] == SaPayload(
        (
            Proposal(
                1,
                ProtocolId.IKE,
                (
                    Transform.with_key_length(TransformType.ENCR, EncrId.ENCR_AES_CBC, 256),
                    Transform(TransformType.DH, DhId.ECP_256),
                ),
            ),
        )
    )
    assert encode_message(message) == data


def test_registry_numbers_come_back_as_members_or_ints() -> None:
    message = decode_message(encode_message(IKE_SA_INIT_REQUEST))
    transform = message.payloads[0].proposals[0].transforms[0]  # type: ignore[union-attr]
    assert transform.transform_id is EncrId.ENCR_AES_GCM_16
    notify = NotifyPayload(40000)  # unregistered status type
    data = encode_message(Message(IKE_SA_INIT_REQUEST.header, (notify,)))
    decoded = decode_message(data).payloads[0]
    assert isinstance(decoded, NotifyPayload)
    assert type(decoded.notify_type) is int
    assert decoded == notify


def test_encrypted_message_and_inner_payloads() -> None:
    data = encode_message(IKE_AUTH_REQUEST)
    assert decode_message(data) == IKE_AUTH_REQUEST
    assert data[16] == PayloadType.SK
    assert data[28] == PayloadType.IDi  # the SK generic header names the first inner payload
    first, plaintext = encode_plaintext_payloads(IKE_AUTH_INNER)
    assert first == PayloadType.CP
    assert decode_inner_payloads(first, plaintext) == IKE_AUTH_INNER
    assert encode_plaintext_payloads(()) == (PayloadType.NONE, b"")
    assert decode_inner_payloads(PayloadType.NONE, b"") == ()


def test_skf_fragments() -> None:
    header = Header(SPI_I, bytes(8), ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1)
    for skf in (SkfPayload(1, 3, PayloadType.IDi, b"x" * 40), SkfPayload(3, 3, 0, b"y" * 8)):
        message = Message(header, (skf,))
        assert decode_message(encode_message(message)) == message
    for number, total in ((0, 3), (4, 3)):
        data = encode_message(Message(header, (SkfPayload(1, 1, 0, b""),)))
        data = data[:32] + struct.pack("!HH", number, total)
        with pytest.raises(DecodeError, match="fragment"):
            decode_message(data)


def test_delete_cp_eap_round_trip() -> None:
    payloads = (
        DeletePayload(ProtocolId.IKE),
        DeletePayload(ProtocolId.ESP, (b"\0\0\0\1", b"\0\0\0\2")),
        CpPayload(
            2,
            (
                ConfigAttribute(ConfigAttributeType.INTERNAL_IP4_ADDRESS, bytes([10, 0, 0, 7])),
                ConfigAttribute(ConfigAttributeType.APPLICATION_VERSION, b"tunnelgate"),
            ),
        ),
        EapPayload(bytes.fromhex("0101000501")),
    )
    first, data = encode_plaintext_payloads(payloads)
    assert decode_inner_payloads(first, data) == payloads


def test_tlv_transform_attribute_round_trips() -> None:
    transform = Transform(1, 12, (TransformAttribute(1000, b"\x01\x02\x03"),))
    sa = SaPayload((Proposal(1, ProtocolId.ESP, (transform,), b"\0\0\0\1"),))
    first, data = encode_plaintext_payloads((sa,))
    assert data.endswith(bytes.fromhex("03e8 0003 010203"))  # AF clear: type, length, value
    assert decode_inner_payloads(first, data) == (sa,)
    assert transform.key_length is None


def test_message_lookups() -> None:
    message = IKE_SA_INIT_REQUEST
    assert message.find(KePayload) is message.payloads[1]
    assert len(message.find_all(NotifyPayload)) == 4
    assert message.find(TsiPayload) is None
    assert message.find_notify(NotifyType.COOKIE) is None
    assert message.header.is_initiator and not message.header.is_response


def test_decode_header_for_routing() -> None:
    data = encode_message(IKE_SA_INIT_REQUEST)
    assert decode_header(data) == IKE_SA_INIT_REQUEST.header
    assert decode_header(data[:28]).spi_i == SPI_I
    with pytest.raises(DecodeError):
        decode_header(data[:27])


# --- header checks ------------------------------------------------------------------------------


def test_reserved_flag_bits_are_ignored() -> None:
    data = raw_message(40, NONCE_PAYLOAD, flags=0x08 | 0x80 | 0x01)
    assert decode_message(data).header.flags == HeaderFlag.INITIATOR


def test_higher_major_version_raises_invalid_major_version() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_message(raw_message(40, NONCE_PAYLOAD, version=0x30))
    assert caught.value.notify is NotifyType.INVALID_MAJOR_VERSION
    assert caught.value.header is not None and caught.value.header.spi_i == SPI_I


def test_minor_version_is_kept_and_ikev1_is_refused() -> None:
    data = raw_message(40, NONCE_PAYLOAD, version=0x21)
    assert decode_message(data).header.minor_version == 1
    assert encode_message(decode_message(data)) == data
    with pytest.raises(DecodeError, match="not IKEv2") as caught:
        decode_message(raw_message(40, NONCE_PAYLOAD, version=0x10))
    assert caught.value.notify is None


@pytest.mark.parametrize("delta", [-1, 1, 100])
def test_header_length_must_equal_datagram_length(delta: int) -> None:
    data = raw_message(40, NONCE_PAYLOAD)
    with pytest.raises(DecodeError, match="length"):
        decode_message(raw_message(40, NONCE_PAYLOAD, length=len(data) + delta))
    with pytest.raises(DecodeError):
        decode_message(data + b"\0")


def test_short_datagram() -> None:
    with pytest.raises(DecodeError):
        decode_message(b"")
    with pytest.raises(DecodeError):
        decode_message(raw_message(40, NONCE_PAYLOAD)[:27])


# --- payload chain ------------------------------------------------------------------------------


def test_unknown_non_critical_payload_is_kept_raw() -> None:
    data = raw_message(200, raw_payload(40, b"opaque") + NONCE_PAYLOAD)
    message = decode_message(data)
    assert message.payloads == (UnknownPayload(200, b"opaque"), NoncePayload(NONCE))
    assert encode_message(message) == data


def test_unknown_critical_payload_raises_unsupported_critical_payload() -> None:
    data = raw_message(40, raw_payload(200, NONCE) + raw_payload(0, b"x", critical=True))
    with pytest.raises(DecodeError) as caught:
        decode_message(data)
    assert caught.value.notify is NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
    assert caught.value.notify_data == bytes([200])
    first, inner = encode_plaintext_payloads((UnknownPayload(201, b"", critical=True),))
    with pytest.raises(DecodeError) as caught:
        decode_inner_payloads(first, inner)
    assert caught.value.notify_data == bytes([201])


def test_critical_bit_of_known_payload_is_ignored() -> None:
    data = raw_message(40, raw_payload(0, NONCE, critical=True))
    assert decode_message(data).payloads == (NoncePayload(NONCE),)


@pytest.mark.parametrize("length", [0, 3, 21, 0xFFFF])
def test_payload_length_out_of_bounds(length: int) -> None:
    body = struct.pack("!BBH", 0, 0, length) + NONCE
    with pytest.raises(DecodeError, match="length"):
        decode_message(raw_message(40, body))


def test_bytes_after_last_payload() -> None:
    with pytest.raises(DecodeError, match="after the last payload"):
        decode_message(raw_message(40, NONCE_PAYLOAD + b"\0\0\0\0"))


def test_sk_must_be_last_and_not_nested() -> None:
    sk = raw_payload(35, b"ciphertext")
    with pytest.raises(DecodeError, match="not the last"):
        decode_message(raw_message(46, sk + NONCE_PAYLOAD))
    with pytest.raises(DecodeError, match="inside an encrypted"):
        decode_inner_payloads(46, sk)
    with pytest.raises(ValueError):
        encode_message(Message(IKE_AUTH_REQUEST.header, (SkPayload(35, b""), NoncePayload(NONCE))))
    with pytest.raises(ValueError):
        encode_plaintext_payloads((SkPayload(35, b""),))


def test_reserved_fields_are_ignored() -> None:
    data = encode_message(Message(IKE_SA_INIT_REQUEST.header, (KePayload(19, b"k" * 64),)))
    dirty = data[:34] + b"\xff\xff" + data[36:]
    assert decode_message(dirty) == decode_message(data)


# --- structure checks --------------------------------------------------------------------------


def _sa_message(*proposals: Proposal) -> bytes:
    return encode_message(Message(IKE_SA_INIT_REQUEST.header, (SaPayload(proposals),)))


def _ike(number: int) -> Proposal:
    return Proposal(number, ProtocolId.IKE, (Transform(TransformType.DH, DhId.ECP_256),))


def test_proposal_numbering() -> None:
    assert decode_message(_sa_message(_ike(7))).payloads[0] == SaPayload((_ike(7),))
    for proposals in ((_ike(1), _ike(3)), (_ike(2), _ike(3)), (_ike(0),)):
        with pytest.raises(DecodeError, match="proposal numbers"):
            decode_message(_sa_message(*proposals))


def test_empty_sa_payload() -> None:
    with pytest.raises(DecodeError, match="at least 1"):
        decode_message(raw_message(33, raw_payload(0, b"")))
    with pytest.raises(ValueError):
        encode_message(Message(IKE_SA_INIT_REQUEST.header, (SaPayload(()),)))


def test_spi_sizes() -> None:
    data = bytearray(_sa_message(_ike(1)))
    data[28 + 4 + 6] = 3  # proposal SPI size
    with pytest.raises(DecodeError):
        decode_message(bytes(data))
    with pytest.raises(ValueError, match="size 3"):
        encode_plaintext_payloads((NotifyPayload(NotifyType.REKEY_SA, b"", 3, b"abc"),))
    with pytest.raises(ValueError):
        encode_plaintext_payloads((DeletePayload(ProtocolId.ESP, (b"1234", b"12345678")),))


def test_transform_count_and_last_octets() -> None:
    data = bytearray(_sa_message(_ike(1)))
    data[28 + 4 + 7] = 2  # number of transforms
    with pytest.raises(DecodeError, match="count"):
        decode_message(bytes(data))
    data = bytearray(_sa_message(_ike(1)))
    data[28 + 4] = 2  # "more proposals" on the only proposal
    with pytest.raises(DecodeError, match="more"):
        decode_message(bytes(data))
    data = bytearray(_sa_message(_ike(1), _ike(2)))
    data[28 + 4] = 0  # "last proposal" on the first of two
    with pytest.raises(DecodeError, match="last"):
        decode_message(bytes(data))
    data[28 + 4] = 1  # neither 0 nor 2
    with pytest.raises(DecodeError, match="expected 0 or 2"):
        decode_message(bytes(data))


def test_traffic_selector_lengths() -> None:
    v6 = TrafficSelector(ip_address("2001:db8::1"), ip_address("2001:db8::2"))
    first, data = encode_plaintext_payloads((TsiPayload((v6,)),))
    assert len(data) == 8 + 40
    assert decode_inner_payloads(first, data) == (TsiPayload((v6,)),)
    short = data[:10] + struct.pack("!H", 16) + data[12:]
    with pytest.raises(DecodeError):
        decode_inner_payloads(first, short)
    long = data[:10] + struct.pack("!H", 44) + data[12:]
    with pytest.raises(DecodeError):
        decode_inner_payloads(first, long)
    fibre_channel = data[:8] + b"\x09" + data[9:]
    with pytest.raises(DecodeError, match="traffic selector type"):
        decode_inner_payloads(first, fibre_channel)
    mixed = TrafficSelector(ip_address("10.0.0.1"), ip_address("2001:db8::2"))
    with pytest.raises(ValueError, match="family"):
        encode_plaintext_payloads((TsiPayload((mixed,)),))


def test_traffic_selector_count_must_match() -> None:
    v4 = TrafficSelector(ip_address("10.0.0.0"), ip_address("10.0.0.255"))
    first, data = encode_plaintext_payloads((TsiPayload((v4, v4)),))
    with pytest.raises(DecodeError, match="count"):
        decode_inner_payloads(first, data[:4] + b"\x01" + data[5:])


@pytest.mark.parametrize("size", [15, 257])
def test_nonce_size_bounds(size: int) -> None:
    with pytest.raises(DecodeError, match="size"):
        decode_message(raw_message(40, raw_payload(0, bytes(size))))


def test_encoder_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        encode_plaintext_payloads((UnknownPayload(PayloadType.NONCE, NONCE),))
    with pytest.raises(ValueError):
        encode_plaintext_payloads((KePayload(70000, b""),))
    with pytest.raises(ValueError):
        encode_message(Message(Header(b"short", bytes(8), 34, HeaderFlag(0), 0), ()))


def test_key_length_constant() -> None:
    assert TransformAttributeType.KEY_LENGTH == 14
