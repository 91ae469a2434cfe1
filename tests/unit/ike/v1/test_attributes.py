"""SA data attributes: the TV/TLV boundary, remembered forms, refused values (RFC 2408 §3.3)."""

from __future__ import annotations

import pytest

from tunnelgate.ike.v1.attributes import IKE_ATTRIBUTE, IPSEC_ATTRIBUTE, DataAttribute
from tunnelgate.ike.v1.encoding import DecodeError, Layout, Reader, decode_struct, encode_struct
from tunnelgate.ike.v1.sa_constants import (
    EncapsulationMode,
    EncryptionAlgorithm,
    IkeAttributeType,
    IpsecAttributeType,
)

LIFE = IkeAttributeType.LIFE_DURATION
SA_LIFE = IpsecAttributeType.SA_LIFE_DURATION


def encode(attribute: DataAttribute, layout: Layout = IKE_ATTRIBUTE) -> bytes:
    out = bytearray()
    encode_struct(layout, attribute, out)
    return bytes(out)


def decode(data: bytes, layout: Layout = IKE_ATTRIBUTE) -> DataAttribute:
    attribute: DataAttribute = decode_struct(layout, Reader(data), whole=True)
    return attribute


@pytest.mark.parametrize(
    ("attribute", "wire"),
    [
        (DataAttribute(LIFE, 0), "800c0000"),
        (DataAttribute(LIFE, 28800), "800c7080"),
        (DataAttribute(LIFE, 0xFFFF), "800cffff"),  # the largest TV value
        (DataAttribute(LIFE, 0x10000), "000c000400010000"),  # needs TLV: 4 octets
        (DataAttribute(LIFE, 86400), "000c000400015180"),
        (DataAttribute(LIFE, 2**32 - 1), "000c0004ffffffff"),
        (DataAttribute(LIFE, 2**32), "000c00050100000000"),  # more than 4 octets when needed
        (DataAttribute(SA_LIFE, 0x10000), "0002000400010000"),
        (DataAttribute(IkeAttributeType.KEY_LENGTH, 0xFFFF), "800effff"),
        (DataAttribute(0x7FFF, 1), "ffff0001"),  # unregistered class, TV
        (DataAttribute(0x7FFF, b"\x01\x02\x03"), "7fff0003010203"),  # unregistered, opaque TLV
        (DataAttribute(0x4000, b""), "40000000"),
    ],
)
def test_tv_tlv_boundary(attribute: DataAttribute, wire: str) -> None:
    layout = IPSEC_ATTRIBUTE if attribute.attribute_type == SA_LIFE else IKE_ATTRIBUTE
    assert encode(attribute, layout).hex() == wire
    assert decode(bytes.fromhex(wire), layout) == attribute


@pytest.mark.parametrize(
    ("wire", "value", "tlv_size"),
    [
        ("800c7080", 28800, None),
        ("000c000400007080", 28800, 4),  # a TV-sized value sent as TLV keeps its form
        ("000c00027080", 28800, 2),
        ("000c00080000000000015180", 86400, 8),
    ],
)
def test_decoded_form_is_remembered(wire: str, value: int, tlv_size: int | None) -> None:
    data = bytes.fromhex(wire)
    attribute = decode(data)
    assert (attribute.value, attribute.tlv_size) == (value, tlv_size)
    assert attribute == DataAttribute(LIFE, value)  # the form takes no part in equality
    assert encode(attribute) == data


def test_registered_values_are_named_in_either_form() -> None:
    assert decode(bytes.fromhex("80010007")).value is EncryptionAlgorithm.AES_CBC
    assert decode(bytes.fromhex("0001000107")).value is EncryptionAlgorithm.AES_CBC
    ipsec = decode(bytes.fromhex("8004f003"), IPSEC_ATTRIBUTE)
    assert ipsec.attribute_type is IpsecAttributeType.ENCAPSULATION_MODE
    assert ipsec.value is EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT


@pytest.mark.parametrize(
    "attribute",
    [
        DataAttribute(IkeAttributeType.KEY_LENGTH, 0x10000),  # B class: TV only
        DataAttribute(IkeAttributeType.ENCRYPTION_ALGORITHM, 0x10000),
        DataAttribute(0x7FFF, 0x10000),  # unregistered class: a TLV value is bytes
        DataAttribute(LIFE, b"\x00\x01"),  # registered class: the value is a number
        DataAttribute(LIFE, -1),
        DataAttribute(LIFE, 0x100, tlv_size=1),  # does not fit the remembered size
        DataAttribute(0x8000, 1),  # type needs 16 bits
        DataAttribute(0x4000, b"x" * 0x10000),
    ],
)
def test_values_that_cannot_go_on_the_wire(attribute: DataAttribute) -> None:
    with pytest.raises(ValueError):
        encode(attribute)


@pytest.mark.parametrize("wire", ["80", "800c00", "000c0004000151", "000c"])
def test_truncated_attributes(wire: str) -> None:
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(wire))
