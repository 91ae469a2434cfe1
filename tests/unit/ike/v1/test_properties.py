"""ISAKMP codec properties: round trips, and peer bytes only ever raise ``DecodeError``."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tunnelgate.ike.v1 import (
    DecodeError,
    Header,
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from tunnelgate.ike.v1.attributes import (
    IKE_ATTRIBUTES,
    IPSEC_ATTRIBUTES,
    AttributeTable,
    DataAttribute,
)
from tunnelgate.ike.v1.constants import ExchangeType, HeaderFlag, PayloadType
from tunnelgate.ike.v1.payloads import (
    CertPayload,
    CrPayload,
    DeletePayload,
    FragmentPayload,
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SigPayload,
    UnknownPayload,
    VidPayload,
)
from tunnelgate.ike.v1.proposals import Proposal, SaPayload, Transform

VECTORS = Path(__file__).parents[3] / "vectors" / "strongswan"
SAMPLES = [
    VECTORS.joinpath(name).read_bytes()
    for name in ("ikev1_main_mode_1.bin", "ikev1_aggressive_mode_1.bin")
]

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1)
blob = st.binary(max_size=40)


def _attributes(table: AttributeTable) -> st.SearchStrategy[DataAttribute]:
    registered = [int(t) for t in table.types]
    basic = [t for t in registered if t not in table.variable]
    unregistered = st.integers(0, 0x7FFF).filter(lambda t: not table.registered(t))
    return st.one_of(
        st.builds(DataAttribute, st.sampled_from(basic), u16),
        st.builds(DataAttribute, st.sampled_from(sorted(table.variable)), st.integers(0, 2**80)),
        st.builds(
            DataAttribute,
            st.sampled_from(sorted(table.variable)),
            u16,
            st.integers(2, 8),  # a remembered TLV form
        ),
        st.builds(DataAttribute, unregistered, u16 | blob),
    )


def _transforms(protocol: int) -> st.SearchStrategy[tuple[Transform, ...]]:
    table = IKE_ATTRIBUTES if protocol == 1 else IPSEC_ATTRIBUTES
    transform = st.builds(Transform, u8, u8, st.lists(_attributes(table), max_size=4).map(tuple))
    return st.lists(transform, min_size=1, max_size=3).map(tuple)


@st.composite
def _proposal(draw: st.DrawFn, number: int) -> Proposal:
    protocol = draw(st.sampled_from([1, 2, 3, 4, 200]))
    spi = draw(st.sampled_from([0, 2, 4, 16]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
    return Proposal(number, protocol, draw(_transforms(protocol)), spi)


sa_payloads = (
    st.lists(u8, min_size=1, max_size=3)
    .flatmap(lambda numbers: st.tuples(*(_proposal(n) for n in sorted(numbers))))
    .flatmap(lambda proposals: st.builds(SaPayload, st.just(proposals)))
)

spis = st.sampled_from([1, 2, 4, 16]).flatmap(
    lambda n: st.lists(st.binary(min_size=n, max_size=n), max_size=3).map(tuple)
)

payloads: st.SearchStrategy[Payload] = st.one_of(
    sa_payloads,
    st.builds(KePayload, st.binary(min_size=1, max_size=64)),
    st.builds(IdPayload, u8, blob, u8, u16),
    st.builds(CertPayload, u8, blob),
    st.builds(CrPayload, u8, blob),
    st.builds(HashPayload, blob),
    st.builds(SigPayload, blob),
    st.builds(NoncePayload, st.binary(min_size=8, max_size=256)),
    st.builds(NotifyPayload, u16, blob, u8, st.binary(max_size=16), u32),
    st.builds(DeletePayload, u8, spis, u32),
    st.builds(VidPayload, blob),
    st.builds(NatDPayload, blob, st.sampled_from([PayloadType.NAT_D, PayloadType.NAT_D_DRAFT])),
    st.tuples(
        st.sampled_from([(1, bytes(4)), (5, bytes(range(16)))]),
        st.sampled_from([PayloadType.NAT_OA, PayloadType.NAT_OA_DRAFT]),
    ).map(lambda t: NatOaPayload(*t[0], t[1])),
    st.builds(FragmentPayload, u16, st.integers(1, 255), u8, blob),
    st.builds(
        UnknownPayload,
        st.sampled_from([14, 15, 16, 17, 18, 19, 22]) | st.integers(133, 255),
        blob,
    ),
)

headers = st.builds(
    Header,
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=8, max_size=8),
    st.sampled_from([t for t in ExchangeType if t]),
    st.sampled_from([HeaderFlag(0), HeaderFlag.COMMIT, HeaderFlag.AUTHENTICATION_ONLY]),
    u32,
)
messages = st.builds(Message, headers, st.lists(payloads, max_size=6).map(tuple))


@settings(max_examples=300, deadline=None)
@given(messages)
def test_generated_messages_round_trip(message: Message) -> None:
    data = encode_message(message)
    decoded = decode_message(data)
    assert decoded == message
    assert encode_message(decoded) == data


@settings(max_examples=200, deadline=None)
@given(st.lists(payloads, max_size=4), st.binary(max_size=15))
def test_decrypted_bodies_round_trip_whatever_the_padding(chain: list[Payload], pad: bytes) -> None:
    first, body = encode_payloads(chain)
    assert decode_payloads(first, body + pad, padded=True) == tuple(chain)


def _only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    _only_decode_error(data)


@settings(max_examples=300, deadline=None)
@given(u8, st.binary(max_size=300))
def test_arbitrary_bodies_behind_a_valid_header_raise_only_decode_error(
    first: int, body: bytes
) -> None:
    fixed = struct.pack("!BBBBII", first, 0x10, 2, 0, 0, 28 + len(body))
    _only_decode_error(bytes(16) + fixed + body)
    with contextlib.suppress(DecodeError):
        decode_payloads(first, body, padded=True)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_truncated_vectors_raise_decode_error(sample: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(sample) - 1))
    truncated = bytearray(sample[:cut])
    if cut >= 28:  # a consistent header length, so that the payload chain meets the cut
        truncated[24:28] = cut.to_bytes(4, "big")
    try:
        decode_message(bytes(truncated))
    except DecodeError:
        return
    raise AssertionError(f"a vector cut at {cut} decoded")


def _length_offsets(sample: bytes) -> list[int]:
    """Offsets of every 2-octet length field: payloads, proposals and transforms."""
    offsets, pos, next_type = [], 28, sample[16]
    while next_type:
        offsets.append(pos + 2)
        length = int.from_bytes(sample[pos + 2 : pos + 4], "big")
        if next_type == PayloadType.SA:
            proposal = pos + 12
            while proposal < pos + length:
                offsets.append(proposal + 2)
                transform = proposal + 8 + sample[proposal + 6]
                while transform < proposal + int.from_bytes(sample[proposal + 2 : proposal + 4]):
                    offsets.append(transform + 2)
                    transform += int.from_bytes(sample[transform + 2 : transform + 4], "big")
                proposal += int.from_bytes(sample[proposal + 2 : proposal + 4], "big")
        next_type, pos = sample[pos], pos + length
    return offsets


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_flipped_length_fields_never_crash(sample: bytes, data: st.DataObject) -> None:
    mutated = bytearray(sample)
    at = data.draw(st.sampled_from(_length_offsets(sample)))
    original = int.from_bytes(sample[at : at + 2], "big")
    near = st.integers(max(0, original - 8), original + 8)  # off by a few: the likely bugs
    mutated[at : at + 2] = data.draw(near | u16).to_bytes(2, "big")
    _only_decode_error(bytes(mutated))


def test_every_length_field_of_the_vectors_is_found() -> None:
    assert [len(_length_offsets(s)) for s in SAMPLES] == [6 + 1 + 3, 9 + 1 + 1]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_corrupted_octets_never_crash(sample: bytes, data: st.DataObject) -> None:
    mutated = bytearray(sample)
    at = data.draw(st.integers(0, len(sample) - 1))
    mutated[at] = data.draw(u8)
    _only_decode_error(bytes(mutated))
