"""IKEv2 codec properties: round trips, and peer bytes only ever raise ``DecodeError``."""

from __future__ import annotations

import contextlib
import struct
from ipaddress import IPv4Address, IPv6Address

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.ike.v2.samples import IKE_AUTH_INNER, IKE_SA_INIT_REQUEST
from tunnelgate.ike.v2 import (
    DecodeError,
    Header,
    Message,
    decode_inner_payloads,
    decode_message,
    encode_message,
    encode_plaintext_payloads,
)
from tunnelgate.ike.v2.constants import HeaderFlag
from tunnelgate.ike.v2.payloads import (
    PAYLOAD_LAYOUTS,
    AuthPayload,
    CertPayload,
    CertreqPayload,
    ConfigAttribute,
    CpPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SkfPayload,
    SkPayload,
    TrafficSelector,
    Transform,
    TransformAttribute,
    TsiPayload,
    TsrPayload,
    UnknownPayload,
    VendorIdPayload,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u15 = st.integers(0, 0x7FFF)
blob = st.binary(max_size=40)
spi = st.sampled_from([0, 4, 8]).flatmap(lambda n: st.binary(min_size=n, max_size=n))

transform_attributes = st.builds(TransformAttribute, u15, u16 | blob)
transforms = st.builds(Transform, u8, u16, st.lists(transform_attributes, max_size=3).map(tuple))


def _proposal(number: int) -> st.SearchStrategy[Proposal]:
    return st.builds(
        Proposal, st.just(number), u8, st.lists(transforms, max_size=4).map(tuple), spi
    )


sa_payloads = st.one_of(
    st.integers(1, 255).flatmap(_proposal).map(lambda p: SaPayload((p,))),
    st.integers(2, 4).flatmap(
        lambda n: st.tuples(*(_proposal(i) for i in range(1, n + 1))).map(SaPayload)
    ),
)


def _selectors() -> st.SearchStrategy[TrafficSelector]:
    v4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
    v6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
    return st.one_of(
        *(st.builds(TrafficSelector, family, family, u8, u16, u16) for family in (v4, v6))
    )


selectors = st.lists(_selectors(), max_size=3).map(tuple)
deletes = st.one_of(
    st.builds(DeletePayload, u8),
    st.sampled_from([4, 8]).flatmap(
        lambda n: st.builds(
            DeletePayload, u8, st.lists(st.binary(min_size=n, max_size=n), max_size=3).map(tuple)
        )
    ),
)
unknown_types = st.integers(1, 255).filter(lambda t: t not in PAYLOAD_LAYOUTS)

cleartext_payloads: st.SearchStrategy[Payload] = st.one_of(
    sa_payloads,
    st.builds(KePayload, u16, blob),
    st.builds(IdiPayload, u8, blob),
    st.builds(IdrPayload, u8, blob),
    st.builds(CertPayload, u8, blob),
    st.builds(CertreqPayload, u8, blob),
    st.builds(AuthPayload, u8, blob),
    st.builds(NoncePayload, st.binary(min_size=16, max_size=256)),
    st.builds(NotifyPayload, u16, blob, u8, spi),
    deletes,
    st.builds(VendorIdPayload, blob),
    st.builds(TsiPayload, selectors),
    st.builds(TsrPayload, selectors),
    st.builds(
        CpPayload, u8, st.lists(st.builds(ConfigAttribute, u15, blob), max_size=3).map(tuple)
    ),
    st.builds(EapPayload, blob),
    st.builds(UnknownPayload, unknown_types, blob),
)
encrypted_payloads = st.one_of(
    st.builds(SkPayload, u8, blob),
    st.integers(1, 0xFFFF).flatmap(
        lambda total: st.builds(SkfPayload, st.integers(1, total), st.just(total), u8, blob)
    ),
)
headers = st.builds(
    Header,
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=8, max_size=8),
    u8,
    st.sampled_from([0, 0x08, 0x20, 0x28, 0x10, 0x38]).map(HeaderFlag),
    st.integers(0, 2**32 - 1),
    st.just(2),
    st.integers(0, 15),
)
messages = st.builds(
    lambda header, payloads, sk: Message(header, tuple(payloads) + sk),
    headers,
    st.lists(cleartext_payloads, max_size=5),
    st.one_of(st.just(()), encrypted_payloads.map(lambda p: (p,))),
)


def _decodes_or_decode_error(data: bytes) -> None:
    """Peer bytes either decode (and then re-encode stably) or raise ``DecodeError``."""
    try:
        message = decode_message(data)
    except DecodeError:
        return
    assert decode_message(encode_message(message)) == message


@given(messages)
def test_messages_round_trip(message: Message) -> None:
    data = encode_message(message)
    assert decode_message(data) == message
    assert encode_message(decode_message(data)) == data


@given(st.lists(cleartext_payloads, max_size=5).map(tuple))
def test_inner_payloads_round_trip(payloads: tuple[Payload, ...]) -> None:
    first, data = encode_plaintext_payloads(payloads)
    assert decode_inner_payloads(first, data) == payloads


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    _decodes_or_decode_error(data)


@given(u8, st.binary(max_size=200))
def test_random_payload_chains_raise_only_decode_error(first: int, body: bytes) -> None:
    """A valid header around random payload bytes, so the chain and layouts are exercised."""
    data = bytes(16) + struct.pack("!BBBBII", first, 0x20, 34, 8, 0, 28 + len(body)) + body
    _decodes_or_decode_error(data)
    with contextlib.suppress(DecodeError):
        decode_inner_payloads(first, body)


@settings(max_examples=50)
@given(messages, st.data())
def test_truncated_datagrams_raise_decode_error(message: Message, data: st.DataObject) -> None:
    encoded = encode_message(message)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    try:
        decode_message(encoded[:cut])
    except DecodeError:
        return
    raise AssertionError("a truncated datagram decoded")


def test_every_truncation_of_the_samples_raises_decode_error() -> None:
    encoded = encode_message(IKE_SA_INIT_REQUEST)
    for cut in range(len(encoded)):
        try:
            decode_message(encoded[:cut])
        except DecodeError:
            continue
        raise AssertionError(f"truncated at {cut} decoded")
    first, inner = encode_plaintext_payloads(IKE_AUTH_INNER)
    for cut in range(len(inner)):
        try:
            decode_inner_payloads(first, inner[:cut])
        except DecodeError:
            continue
        raise AssertionError(f"inner payloads truncated at {cut} decoded")


@given(messages, st.data())
def test_mutated_messages_raise_only_decode_error(message: Message, data: st.DataObject) -> None:
    encoded = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] = data.draw(u8)
    _decodes_or_decode_error(bytes(encoded))


@given(st.data())
def test_rewritten_length_fields_raise_only_decode_error(data: st.DataObject) -> None:
    """Any 16-bit word after the header of a rich message set to an arbitrary value: covers
    every length field (generic headers, proposals, transforms, selectors, attributes)."""
    message = Message(IKE_SA_INIT_REQUEST.header, IKE_AUTH_INNER + IKE_SA_INIT_REQUEST.payloads)
    encoded = bytearray(encode_message(message))
    at = data.draw(st.integers(28, len(encoded) - 2))
    encoded[at : at + 2] = data.draw(u16).to_bytes(2, "big")
    _decodes_or_decode_error(bytes(encoded))
