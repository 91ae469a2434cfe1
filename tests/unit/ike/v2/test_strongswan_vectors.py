"""Datagrams recorded from strongSwan's charon (tests/vectors/strongswan/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunnelgate.ike.v2 import DecodeError, decode_message, encode_message
from tunnelgate.ike.v2.constants import ExchangeType, NotifyType, PayloadType
from tunnelgate.ike.v2.payloads import KePayload, SaPayload

VECTORS = Path(__file__).parents[3] / "vectors" / "strongswan"
IKEV2 = sorted(VECTORS.glob("ike_sa_init_*.bin"))
IKEV1 = sorted(VECTORS.glob("ikev1_*.bin"))


@pytest.mark.parametrize("path", IKEV2, ids=lambda p: p.name)
def test_decodes_and_re_encodes_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    message = decode_message(data)
    assert encode_message(message) == data
    assert message.header.exchange_type is ExchangeType.IKE_SA_INIT
    assert [p.payload_type for p in message.payloads][:3] == [
        PayloadType.SA,
        PayloadType.KE,
        PayloadType.NONCE,
    ]
    sa, ke = message.find(SaPayload), message.find(KePayload)
    assert sa is not None and ke is not None
    assert [p.number for p in sa.proposals] == list(range(1, len(sa.proposals) + 1))
    for notify in (
        NotifyType.NAT_DETECTION_SOURCE_IP,
        NotifyType.NAT_DETECTION_DESTINATION_IP,
        NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
        NotifyType.SIGNATURE_HASH_ALGORITHMS,
    ):
        assert message.find_notify(notify) is not None


@pytest.mark.parametrize("path", IKEV1, ids=lambda p: p.name)
def test_ikev1_datagrams_are_refused(path: Path) -> None:
    with pytest.raises(DecodeError, match="not IKEv2"):
        decode_message(path.read_bytes())
