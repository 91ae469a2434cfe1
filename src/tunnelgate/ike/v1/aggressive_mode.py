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

With signatures (``rsa-sig``, RFC 2409 §5.4 / §5.1): AM1 carries IDii from the identity
certificate and CERTREQ, AM2 IDir CERT SIG_R CERTREQ, AM3 CERT SIG_I (main mode's helpers).
The responder must sign before it has seen the initiator's certificate, so it finds the tunnel
group by ``tunnel-group-map`` without one (ike-id, peer-ip, default-group) and signs with that
group's ``ikev1 trust-point``; AM3's chain is validated and its ID checked per that group's
``peer-id-validate``. The initiator sends a certificate identity when its first aggressive
policy is ``rsa-sig``.

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
from tunnelgate.ike.v1.constants import IdType, NotifyMessageType, PayloadType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.identity import (
    certificate_identity,
    check_peer_identity,
    id_body,
    identity_text,
    local_identity,
)
from tunnelgate.ike.v1.informational import DPD_VID
from tunnelgate.ike.v1.keymat import hash_i, hash_r
from tunnelgate.ike.v1.main_mode import (
    Inbound,
    MainModeExchange,
    Transition,
    certificate_requests,
    initiator_group,
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
from tunnelgate.ike.v1.proposals import SaPayload, Transform
from tunnelgate.ike.v1.state import NONCE_BYTES, Address, MainModeState, Phase1Sa, local_of
from tunnelgate.policy.ike import Ikev1Policy
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
        if not sa.offered:  # a rekey: a new SA, the same credentials
            self._initiator_auth(sa)
        policies = aggressive_policies(sa.offered)
        offer = proposal.offer(policies, sa.signature_method)
        sa.sa_i_body = sa_payload_body(offer)
        sa.nonce_i = self.random(NONCE_BYTES)
        sa.private, sa.public_i = dh.group(policies[0].group).generate(self.random)
        sa.origin = sa.peer
        payloads: list[Payload] = [offer, KePayload(sa.public_i), NoncePayload(sa.nonce_i)]
        local = local_of(sa, self.address)[0]
        if _signing(sa, policies):  # IDii from the certificate, and CERTREQ (RFC 2409 §5.4)
            assert sa.local is not None
            identity = certificate_identity(self.gateway, sa.local.certificate, local)
            payloads += [identity, *certificate_requests(self.gateway)]
        else:
            payloads.append(local_identity(self.gateway, local))
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
        chosen, transform = self._select(sa, offers)
        choice = sa.choice
        assert choice is not None
        sa.sa_i_body = m.sa_body or sa_payload_body(m.get(SaPayload))
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        identity = m.get(IdPayload)
        if sa.signatures:
            self._am1_signed(sa, m, identity, chosen.number, transform, now)
            return
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
        own = local_identity(self.gateway, local_of(sa, self.address)[0])
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

    def _am1_signed(
        self,
        sa: Phase1Sa,
        m: Inbound,
        identity: IdPayload,
        number: int,
        transform: Transform,
        now: float,
    ) -> None:
        """Responder with signatures: the group of IDii (no certificate yet: ``tunnel-group-
        map`` by ike-id, peer-ip, default-group), its credential; answer SA KE Nr IDir CERT
        SIG_R. The peer's certificate and SIG_I come in AM3."""
        dn = identity.id_type == IdType.ID_DER_ASN1_DN  # a DN names no group
        ike_id = None if dn else identity_text(identity)
        match = find_tunnel_group(
            self.gateway, peer_address=sa.peer[0], version=1, auth="cert", ike_id=ike_id
        )
        if isinstance(match, Refusal):
            raise Phase1Error(N.AUTHENTICATION_FAILED, match.reason)
        self._take_credential(sa, match.group, match.detail)
        sa.peer_id_body, sa.tunnel_group, sa.origin = id_body(identity), match.group.name, sa.peer
        sa.nonce_i, sa.public_i = m.get(NoncePayload).data, m.get(KePayload).data
        sa.nonce_r = self.random(NONCE_BYTES)
        assert sa.choice is not None
        sa.private, sa.public_r = dh.group(sa.choice.policy.group).generate(self.random)
        self._derive(sa, sa.public_i, m)
        payloads: list[Payload] = [
            proposal.answer(number, transform),
            KePayload(sa.public_r),
            NoncePayload(sa.nonce_r),
            *self._signed(sa, hash_r),
            *certificate_requests(self.gateway),
            *self._vendor_ids(sa),
            *self._nat_d(sa),
        ]
        self._send(sa, encode_message(Message(self._header(sa), tuple(payloads))), now)
        sa.retransmit_at = now + self.retransmit_timeout_s  # until AM3 arrives

    def _on_am2(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: check the answer, derive the keys, verify HASH_R, send HASH_I."""
        choice = self._accept(sa, m)
        if choice.policy.group != aggressive_policies(sa.offered)[0].group:
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, "the peer chose another DH group than KE's")
        sa.cookie_r = m.header.responder_cookie
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        sa.nonce_r, sa.public_r = m.get(NoncePayload).data, m.get(KePayload).data
        self._derive(sa, sa.public_r, m)
        identity = m.get(IdPayload)
        if sa.signatures:
            verified = self._peer_certificate(m, now)
            group = initiator_group(self.gateway, sa.peer[0])
            self._check_signed(sa, m, identity, hash_r, verified, group)
            signed = self._signed(sa, hash_i)[1:]  # CERT…, SIG_I (IDii went in AM1)
            payloads: tuple[Payload, ...] = (*signed, *self._nat_d(sa))
        else:
            text = self._check_identity(sa, identity)
            expected = phase1_hash(hash_r, sa, id_body(identity))
            if not hmac.compare_digest(m.get(HashPayload).data, expected):
                reason = f"HASH_R of {text} does not verify, pre-shared keys differ?"
                raise Phase1Error(N.AUTHENTICATION_FAILED, reason)
            own = local_identity(self.gateway, local_of(sa, self.address)[0])
            digest = phase1_hash(hash_i, sa, id_body(own))
            payloads = (HashPayload(digest), *self._nat_d(sa))
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
            local = local_of(sa, self.address)
            seen = nat_detected(m.payloads, hash_name, sa.cookie_i, sa.cookie_r, local, origin)
            sa.nat_detected = seen or sa.peer != origin
        if sa.signatures:
            verified = self._peer_certificate(m, now)
            group = self.gateway.tunnel_groups.get(sa.tunnel_group or "")
            group = group or initiator_group(self.gateway, sa.peer[0])
            self._check_signed(sa, m, id_of_body(sa.peer_id_body), hash_i, verified, group)
            self._established(sa, now)
            return
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
        peer, local = sa.origin or sa.peer, local_of(sa, self.address)
        return list(
            nat_d_payloads(hash_name, sa.cookie_i, sa.cookie_r, local, peer, draft=sa.nat_t_draft)
        )


def _signing(sa: Phase1Sa, policies: list[Ikev1Policy]) -> bool:
    """The initiator identifies itself by its certificate: its first policy is ``rsa-sig``
    and it holds an identity certificate (AM1 carries the ID before the choice)."""
    return sa.local is not None and policies[0].authentication == "rsa-sig"


def id_of_body(body: bytes) -> IdPayload:
    """The ID payload of an IDii_b kept from AM1 (type, protocol, port, data)."""
    return IdPayload(body[0], body[4:], body[1], int.from_bytes(body[2:4], "big"))


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
        frozenset({P.VID, P.CR, P.CERT, P.NAT_D, P.NAT_D_DRAFT}),
        AggressiveModeExchange._on_am2,
        None,
        frozenset({P.SA, P.KE, P.NONCE, P.ID, P.SIG}),
    ),
    Transition(
        S.AGGR_R1,
        S.AGGR_R2,
        None,  # in the clear, or encrypted after the float
        frozenset({P.HASH}),
        frozenset({P.VID, P.N, P.CERT, P.CR, P.NAT_D, P.NAT_D_DRAFT}),
        AggressiveModeExchange._on_am3,
        N.AUTHENTICATION_FAILED,
        frozenset({P.SIG}),
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
