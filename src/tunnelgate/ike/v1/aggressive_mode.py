"""Aggressive mode with pre-shared keys (RFC 2409 §5.4) as a transition table.

    Initiator                                    Responder
    AM1  HDR, SA, KE, Ni, IDii [, VID]     -->                          AGGR_R0 -> AGGR_R1
    AM2  <-- HDR, SA, KE, Nr, IDir, HASH_R [, VID] [, NAT-D, NAT-D]     AGGR_I1 -> AGGR_I2
    AM3  HDR[*], HASH_I [, NAT-D, NAT-D]   -->                          AGGR_R1 -> AGGR_R2

HASH_I, HASH_R and the keys are those of main mode (``keymat``). The initiator offers only
the policies of its first policy's DH group (KE goes out with the offer); the responder keeps
the offers of the first transform's group. The identities are sent in the clear: the
responder finds the tunnel group (and so the pre-shared key) by IDii (``find_tunnel_group(…,
aggressive=True, ike_id=…)``: a group named after the FQDN / key-id, then the peer address);
our own identity follows ``crypto isakmp identity`` (``identity.local_identity``).

With a wrong key HASH_R (HASH_I) does not verify: AUTHENTICATION-FAILED, unprotected.
``crypto ikev1 am-disable``: AM1 is answered with an unprotected NO-PROPOSAL-CHOSEN (and
logged), as the ASA refuses the negotiation rather than leaving the peer to time out.

AM3 goes in the clear (RFC 2409 §5.4 ``HDR, HASH_I``; the ASA and charon do so) unless NAT
traversal floats: with a NAT seen in AM2's NAT-D the initiator sends AM3 encrypted (IV
hash(g^xi | g^xr)) from and to UDP 4500 (RFC 3947 §4: NAT-D comes in AM2 and AM3). Both are
accepted. The responder retransmits AM2 until AM3 arrives; the initiator answers a repeated
AM2 with AM3 again. The responder learns of the NAT from AM3's NAT-D (hashed over the
addresses of AM1/AM2) or from AM3 arriving on another port.
"""

from __future__ import annotations

import hmac

from tunnelgate.crypto import dh
from tunnelgate.ike.v1 import phase1_proposal as proposal
from tunnelgate.ike.v1.constants import NotifyMessageType, PayloadType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.identity import check_peer_identity, id_body, local_identity
from tunnelgate.ike.v1.informational import DPD_VID
from tunnelgate.ike.v1.keymat import hash_i, hash_r
from tunnelgate.ike.v1.main_mode import (
    Inbound,
    MainModeExchange,
    Transition,
    accept_answer,
    phase1_hash,
    prf_of,
    sa_payload_body,
)
from tunnelgate.ike.v1.message import Message, encode_message
from tunnelgate.ike.v1.nat_traversal import (
    RFC_3947_VID,
    floated,
    nat_d_payloads,
    nat_detected,
)
from tunnelgate.ike.v1.payloads import (
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    Payload,
    VidPayload,
)
from tunnelgate.ike.v1.proposals import SaPayload
from tunnelgate.ike.v1.state import NONCE_BYTES, Address, MainModeState, Phase1Sa
from tunnelgate.policy.ike import Ikev1Policy
from tunnelgate.policy.ike_proposal import select_ikev1
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group

S = MainModeState
P = PayloadType
N = NotifyMessageType


def aggressive_policies(policies: tuple[Ikev1Policy, ...]) -> list[Ikev1Policy]:
    """The policies an aggressive-mode offer carries: those of the first policy's DH group."""
    ordered = sorted(policies, key=lambda p: p.priority)
    return [p for p in ordered if p.group == ordered[0].group]


class AggressiveModeExchange(MainModeExchange):
    """Aggressive mode, both roles; mixed into ``Ikev1Engine``."""

    retransmit_timeout_s: float

    def _send_am1(self, sa: Phase1Sa, now: float) -> None:
        sa.state = S.AGGR_I1
        policies = aggressive_policies(self.gateway.ikev1_policies)
        offer = proposal.offer(policies)
        sa.sa_i_body = sa_payload_body(offer)
        sa.nonce_i = self.random(NONCE_BYTES)
        sa.private, sa.public_i = dh.group(policies[0].group).generate(self.random)
        sa.origin = sa.peer
        payloads: list[Payload] = [offer, KePayload(sa.public_i), NoncePayload(sa.nonce_i)]
        payloads.append(local_identity(self.gateway, self.address[0]))
        if self.gateway.nat_traversal:
            payloads.append(VidPayload(RFC_3947_VID))
        payloads.append(VidPayload(DPD_VID))
        self._send(sa, encode_message(Message(self._header(sa), tuple(payloads))), now)

    def _on_am1(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: policy, tunnel group by IDii, keys; answer SA KE Nr IDir HASH_R."""
        if not self.gateway.ikev1_aggressive_mode:
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, "aggressive mode is disabled (am-disable)")
        offers = proposal.isakmp_offers(m.get(SaPayload))
        offers = [o for o in offers if o[2].group == offers[0][2].group] if offers else []
        choice = select_ikev1([policy for _, _, policy in offers], self.gateway.ikev1_policies)
        if isinstance(choice, Refusal):
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, choice.reason)
        if choice.authentication != "pre-share":
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, f"{choice.authentication} not supported yet")
        chosen, transform = next((p, t) for p, t, o in offers if o == choice.offer)
        sa.choice = choice
        sa.sa_i_body = m.sa_body or sa_payload_body(m.get(SaPayload))
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        identity = m.get(IdPayload)
        text = check_peer_identity(identity, sa.peer[0], validate=False, behind_nat=True)
        sa.peer_id_body = id_body(identity)
        match = find_tunnel_group(
            self.gateway, peer_address=sa.peer[0], version=1, auth="psk", aggressive=True,
            ike_id=text,
        )  # fmt: skip
        if isinstance(match, Refusal):
            raise Phase1Error(N.AUTHENTICATION_FAILED, match.reason)
        validate = match.group.peer_id_validate == "req"
        check_peer_identity(identity, sa.peer[0], validate=validate, behind_nat=sa.peer_nat_t)
        sa.psk, sa.peer_id, sa.origin = match.group.ikev1_psk, text, sa.peer
        sa.nonce_i, sa.public_i = m.get(NoncePayload).data, m.get(KePayload).data
        sa.nonce_r = self.random(NONCE_BYTES)
        sa.private, sa.public_r = dh.group(choice.policy.group).generate(self.random)
        self._derive(sa, sa.public_i, m)
        own = local_identity(self.gateway, self.address[0])
        digest = phase1_hash(hash_r, sa, id_body(own))
        payloads: list[Payload] = [
            proposal.answer(chosen.number, transform),
            KePayload(sa.public_r),
            NoncePayload(sa.nonce_r),
            own,
            HashPayload(digest),
            *self._vendor_ids(sa),
            *self._nat_d(sa),
        ]
        self._send(sa, encode_message(Message(self._header(sa), tuple(payloads))), now)
        sa.retransmit_at = now + self.retransmit_timeout_s  # until AM3 arrives

    def _on_am2(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: check the answer, derive the keys, verify HASH_R, send HASH_I."""
        answered = m.get(SaPayload).proposals
        offers = proposal.isakmp_offers(m.get(SaPayload))
        if len(answered) != 1 or len(answered[0].transforms) != 1 or len(offers) != 1:
            raise Phase1Error(N.BAD_PROPOSAL_SYNTAX, "the answer is not one ISAKMP transform")
        sa.choice = accept_answer(offers[0][2], self.gateway)
        if sa.choice.policy.group != aggressive_policies(self.gateway.ikev1_policies)[0].group:
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, "the peer chose another DH group than KE's")
        sa.cookie_r = m.header.responder_cookie
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        sa.nonce_r, sa.public_r = m.get(NoncePayload).data, m.get(KePayload).data
        self._derive(sa, sa.public_r, m)
        identity = m.get(IdPayload)
        text = self._check_identity(sa, identity)
        expected = phase1_hash(hash_r, sa, id_body(identity))
        if not hmac.compare_digest(m.get(HashPayload).data, expected):
            reason = f"HASH_R of {text} does not verify, pre-shared keys differ?"
            raise Phase1Error(N.AUTHENTICATION_FAILED, reason)
        own = local_identity(self.gateway, self.address[0])
        digest = phase1_hash(hash_i, sa, id_body(own))
        payloads: tuple[Payload, ...] = (HashPayload(digest), *self._nat_d(sa))
        if sa.nat_detected:  # the float (RFC 3947 §4): AM3 encrypted, to UDP 4500
            sa.peer = floated(sa.peer)
            self._send_encrypted(sa, payloads, now)
        else:
            self._send(sa, encode_message(Message(self._header(sa), payloads)), now)
        self._established(sa, now)

    def _on_am3(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: NAT-D of AM3, verify HASH_I: established."""
        origin = sa.origin or sa.peer
        if sa.peer_nat_t:
            hash_name = prf_of(sa).hash_name
            seen = nat_detected(
                m.payloads, hash_name, sa.cookie_i, sa.cookie_r, self.address, origin
            )
            sa.nat_detected = seen or sa.peer != origin
        expected = phase1_hash(hash_i, sa, sa.peer_id_body)
        if not hmac.compare_digest(m.get(HashPayload).data, expected):
            reason = f"HASH_I of {sa.peer_id} does not verify, pre-shared keys differ?"
            raise Phase1Error(N.AUTHENTICATION_FAILED, reason)
        self._established(sa, now)

    # ------------------------------------------------------------------ helpers

    def _nat_d(self, sa: Phase1Sa) -> list[Payload]:
        """NAT-D over the addresses of AM1/AM2 (the peer's first, RFC 3947 §3.2)."""
        if not sa.peer_nat_t:
            return []
        hash_name = prf_of(sa).hash_name
        peer = sa.origin or sa.peer
        return list(
            nat_d_payloads(
                hash_name, sa.cookie_i, sa.cookie_r, self.address, peer, draft=sa.nat_t_draft
            )
        )


def am3_floats(sa: Phase1Sa, addr: Address) -> bool:
    """AM3 from another port of the peer (the float to 4500) before the responder has seen
    NAT-D: allowed when NAT-T was agreed; AM3 must then verify."""
    return sa.state is S.AGGR_R1 and sa.peer_nat_t and addr[0] == sa.peer[0]


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        S.AGGR_R0,
        S.AGGR_R1,
        False,
        frozenset({P.SA, P.KE, P.NONCE, P.ID}),
        frozenset({P.VID, P.CR}),
        AggressiveModeExchange._on_am1,
    ),
    Transition(
        S.AGGR_I1,
        S.AGGR_I2,
        False,
        frozenset({P.SA, P.KE, P.NONCE, P.ID, P.HASH}),
        frozenset({P.VID, P.CR, P.NAT_D, P.NAT_D_DRAFT}),
        AggressiveModeExchange._on_am2,
    ),
    Transition(
        S.AGGR_R1,
        S.AGGR_R2,
        None,  # in the clear, or encrypted after the float
        frozenset({P.HASH}),
        frozenset({P.VID, P.N, P.NAT_D, P.NAT_D_DRAFT}),
        AggressiveModeExchange._on_am3,
        N.AUTHENTICATION_FAILED,
    ),
)
"""The aggressive-mode microcode, one row per state that expects a message."""

BY_STATE: dict[MainModeState, Transition] = {t.state: t for t in TRANSITIONS}

__all__ = [
    "BY_STATE",
    "TRANSITIONS",
    "AggressiveModeExchange",
    "aggressive_policies",
    "am3_floats",
]
