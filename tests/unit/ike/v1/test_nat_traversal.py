"""NAT traversal pieces (RFC 3947): which vendor ID a peer speaks, NAT-D payload types, when
an ISAKMP SA may move to another port, and what quick mode accepts as the peer's answer."""

from __future__ import annotations

from dataclasses import replace

from tunnelgate.ike.v1.constants import PayloadType
from tunnelgate.ike.v1.nat_traversal import (
    DRAFT_VIDS,
    RFC_3947_VID,
    announces_nat_t,
    floated,
    may_float,
    nat_d_payloads,
    nat_detected,
    nat_t_vid,
)
from tunnelgate.ike.v1.payloads import VidPayload
from tunnelgate.ike.v1.phase2_proposal import esp_offer, esp_offers
from tunnelgate.ike.v1.proposals import DataAttribute
from tunnelgate.ike.v1.quick_mode import _offered
from tunnelgate.ike.v1.sa_constants import IpsecAttributeType, LifeType
from tunnelgate.policy.crypto_map import TransformSet

CKY_I, CKY_R = b"\x01" * 8, b"\x02" * 8
US, PEER = ("192.0.2.1", 500), ("198.51.100.2", 500)


def test_rfc_3947_is_preferred_to_the_drafts_and_the_newest_draft_to_older_ones() -> None:
    assert nat_t_vid([VidPayload(DRAFT_VIDS[0]), VidPayload(RFC_3947_VID)]) == RFC_3947_VID
    assert nat_t_vid([VidPayload(DRAFT_VIDS[0]), VidPayload(DRAFT_VIDS[2])]) == DRAFT_VIDS[2]
    assert nat_t_vid([VidPayload(b"\x00" * 16)]) is None
    assert announces_nat_t([VidPayload(DRAFT_VIDS[1])])


def test_draft_nat_d_uses_payload_type_130_and_still_detects() -> None:
    draft = nat_d_payloads("sha1", CKY_I, CKY_R, PEER, US, draft=True)
    assert {p.payload_type for p in draft} == {PayloadType.NAT_D_DRAFT}
    # what the peer sent, seen from our side: no NAT; a NAT rewrote the peer's port: NAT
    assert not nat_detected(draft, "sha1", CKY_I, CKY_R, US, PEER)
    assert nat_detected(draft, "sha1", CKY_I, CKY_R, US, (PEER[0], 31000))


def test_only_the_peers_address_on_another_port_after_a_nat_may_move_the_sa() -> None:
    assert floated(PEER) == (PEER[0], 4500)
    assert may_float(PEER, (PEER[0], 4500), nat_detected=True)
    assert not may_float(PEER, (PEER[0], 4500), nat_detected=False)
    assert not may_float(PEER, ("198.51.100.3", 4500), nat_detected=True)
    assert not may_float(PEER, PEER, nat_detected=True)


def test_quick_mode_accepts_a_re_encoded_answer_with_a_shorter_lifetime_only() -> None:
    sets = (TransformSet("TS", "esp-aes-256", "esp-sha-hmac"),)
    offered = esp_offer(sets, b"\x00\x00\x10\x00", None, 28800, 4608000, nat=True)
    (ours,) = offered.proposals
    (transform,) = ours.transforms
    # charon's answer: its own attribute order (lifetime last), its lifetime, no kilobytes
    life = {IpsecAttributeType.SA_LIFE_TYPE, IpsecAttributeType.SA_LIFE_DURATION}
    shorter = (
        *(a for a in transform.attributes if a.attribute_type not in life),
        DataAttribute(IpsecAttributeType.SA_LIFE_TYPE, LifeType.SECONDS),
        DataAttribute(IpsecAttributeType.SA_LIFE_DURATION, 3960),
    )
    answer = replace(ours, transforms=(replace(transform, attributes=shorter),))
    (read,) = esp_offers(replace(offered, proposals=(answer,)))
    assert _offered(ours, read) and read.lifetime_seconds == 3960
    native = tuple(
        DataAttribute(a.attribute_type, 1)
        if a.attribute_type == IpsecAttributeType.ENCAPSULATION_MODE
        else a
        for a in transform.attributes
    )
    answer = replace(ours, transforms=(replace(transform, attributes=native),))
    (read,) = esp_offers(replace(offered, proposals=(answer,)))
    assert not _offered(ours, read)  # we offered UDP-encapsulated tunnel, not plain tunnel
