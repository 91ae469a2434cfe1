"""The compiled layouts (``layout_compiler``) against the interpreted rules (``encoding``):
same values, same bytes, same errors, for every payload layout, on good input, on every
truncation and on single-octet corruptions."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import pytest

from tests.unit.ike.v2.samples import IKE_AUTH_INNER, IKE_SA_INIT_REQUEST
from tunnelgate.ike.v2.constants import NotifyType, ProtocolId
from tunnelgate.ike.v2.encoding import (
    DecodeError,
    Layout,
    Reader,
    decode_struct,
    encode_struct,
)
from tunnelgate.ike.v2.layout_compiler import decoder, encoder
from tunnelgate.ike.v2.payloads import (
    PAYLOAD_LAYOUTS,
    DeletePayload,
    NotifyPayload,
    Payload,
    SkfPayload,
    SkPayload,
    TrafficSelector,
    TsiPayload,
)

EXTRA: tuple[Payload, ...] = (
    DeletePayload(ProtocolId.ESP, (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")),
    DeletePayload(ProtocolId.IKE),
    NotifyPayload(NotifyType.REKEY_SA, b"", ProtocolId.ESP, b"\x00\x00\x01\x00"),
    SkfPayload(1, 2, 33, b"\x01" * 40),
    SkPayload(33, b"\x02" * 48),
    TsiPayload(
        (
            TrafficSelector(ip_address("2001:db8::1"), ip_address("2001:db8::ff"), 17, 500, 500),
            TrafficSelector(ip_address("10.0.0.0"), ip_address("10.0.0.255")),
        )
    ),
)
PAYLOADS = [*IKE_SA_INIT_REQUEST.payloads, *IKE_AUTH_INNER, *EXTRA]


def _interpreted(layout: Layout, data: bytes, values: dict[str, Any] | None) -> object:
    try:
        return decode_struct(layout, Reader(data), whole=True, values=values)
    except DecodeError as exc:
        return ("DecodeError", str(exc))


def _compiled(layout: Layout, data: bytes, values: dict[str, Any] | None) -> object:
    try:
        return decoder(layout)(Reader(data), True, values)
    except DecodeError as exc:
        return ("DecodeError", str(exc))


def _known(payload: Payload) -> dict[str, Any] | None:
    first = getattr(payload, "first_payload", None)
    return None if first is None else {"first_payload": first}


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_compiled_layouts_agree_with_the_rules(payload: Payload) -> None:
    layout = PAYLOAD_LAYOUTS[payload.payload_type]
    reference = bytearray()
    encode_struct(layout, payload, reference)
    out = bytearray()
    encoder(layout)(payload, out, True)
    assert out == reference
    data = bytes(reference)
    known = _known(payload)
    assert _compiled(layout, data, known) == payload == _interpreted(layout, data, known)
    for cut in range(len(data)):  # every truncation
        assert _compiled(layout, data[:cut], known) == _interpreted(layout, data[:cut], known)
    for at in range(len(data)):  # corrupt one octet at a time
        for octet in (0x00, 0x01, 0x03, 0x80, 0xFF):
            bad = data[:at] + bytes([octet]) + data[at + 1 :]
            assert _compiled(layout, bad, known) == _interpreted(layout, bad, known)


def test_compiled_encoders_refuse_what_the_rules_refuse() -> None:
    bad = (
        NotifyPayload(NotifyType.REKEY_SA, b"", ProtocolId.ESP, b"\x00\x01\x02"),  # SPI size 3
        DeletePayload(ProtocolId.ESP, (b"\x00\x00\x01\x00", b"\x00\x00\x00\x01\x00")),
        NotifyPayload(70000),  # does not fit in 2 octets
    )
    for payload in bad:
        layout = PAYLOAD_LAYOUTS[payload.payload_type]
        with pytest.raises(ValueError) as reference:
            encode_struct(layout, payload, bytearray())
        with pytest.raises(ValueError) as compiled:
            encoder(layout)(payload, bytearray(), True)
        assert str(compiled.value) == str(reference.value)


def test_every_payload_layout_compiles() -> None:
    """No payload layout falls back to the interpreter (``_Unsupported``)."""
    from tunnelgate.ike.v2.layout_compiler import _compile_decoder, _compile_encoder

    for layout in PAYLOAD_LAYOUTS.values():
        _compile_decoder(layout)
        _compile_encoder(layout)
