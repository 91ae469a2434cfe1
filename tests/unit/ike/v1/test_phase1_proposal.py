"""Phase-1 SA offers and answers (RFC 2409 §5, App. A) against charon's recorded MM1."""

from __future__ import annotations

from pathlib import Path

from tunnelgate.ike.v1 import decode_message, encode_message
from tunnelgate.ike.v1.constants import ExchangeType, ProtocolId
from tunnelgate.ike.v1.message import Header, Message
from tunnelgate.ike.v1.phase1_proposal import answer, isakmp_offers, offer, transform_policy
from tunnelgate.ike.v1.proposals import SaPayload
from tunnelgate.policy.ike import Ikev1Policy

CHARON_MM1 = Path(__file__).parents[3] / "vectors" / "strongswan" / "ikev1_main_mode_1.bin"
POLICIES = (
    Ikev1Policy(20, "pre-share", "3des", "md5", 2, 3600),
    Ikev1Policy(10, "pre-share", "aes-256", "sha", 5, 86400),
)


def test_offer_has_charons_shape_one_proposal_one_transform_per_policy() -> None:
    ours = offer(POLICIES)
    charon = decode_message(CHARON_MM1.read_bytes()).find(SaPayload)
    assert charon is not None
    for sa in (ours, charon):
        (proposal,) = sa.proposals
        assert proposal.number == 1 and proposal.protocol_id == ProtocolId.PROTO_ISAKMP
        assert [t.number for t in proposal.transforms] == list(
            range(1, len(proposal.transforms) + 1)
        )
    # the same attribute classes in the same order (charon's: enc, [keylen], hash, group, ...)
    ours_order = [
        [int(a.attribute_type) for a in t.attributes] for t in ours.proposals[0].transforms
    ]
    charon_order = [
        [int(a.attribute_type) for a in t.attributes] for t in charon.proposals[0].transforms
    ]
    assert ours_order[0] == charon_order[0]  # aes-256 with Key Length
    assert ours_order[1] == charon_order[2]  # 3des without


def test_offer_lists_policies_by_priority_and_decodes_back() -> None:
    sa = offer(POLICIES)
    assert [o for _, _, o in isakmp_offers(sa)] == [
        Ikev1Policy(1, "pre-share", "aes-256", "sha", 5, 86400),
        Ikev1Policy(2, "pre-share", "3des", "md5", 2, 3600),
    ]
    mm1 = Message(Header(b"i" * 8, bytes(8), ExchangeType.MAIN_MODE), (sa,))
    data = encode_message(mm1)
    assert decode_message(data) == mm1 and encode_message(decode_message(data)) == data


def test_charon_offers_are_read_and_unknown_ones_skipped() -> None:
    charon = decode_message(CHARON_MM1.read_bytes()).find(SaPayload)
    assert charon is not None
    # aes256-sha256-modp2048 and aes128-sha1-modp2048 use what the ASA's IKEv1 lacks
    # (sha256 hash, group 14); 3des-sha1-modp1024 is policy material
    assert [o for _, _, o in isakmp_offers(charon)] == [
        Ikev1Policy(3, "pre-share", "3des", "sha", 2, 15840)
    ]


def test_answer_echoes_the_chosen_transform() -> None:
    transform = offer(POLICIES).proposals[0].transforms[1]
    (proposal,) = answer(1, transform).proposals
    assert proposal.transforms == (transform,)
    assert transform_policy(transform) == Ikev1Policy(2, "pre-share", "3des", "md5", 2, 3600)
