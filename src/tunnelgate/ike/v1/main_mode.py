"""Main mode with pre-shared keys (RFC 2409 §5, §5.4) as a transition table.

    Initiator                          Responder
    MM1  HDR, SA                  -->                      MAIN_R0 -> MAIN_R1
    MM2                           <--  HDR, SA             MAIN_I1 -> MAIN_I2
    MM3  HDR, KE, Ni, [NAT-D]     -->                      MAIN_R1 -> MAIN_R2
    MM4                           <--  HDR, KE, Nr, [NAT-D] MAIN_I2 -> MAIN_I3
    MM5  HDR*, IDii, HASH_I       -->                      MAIN_R2 -> MAIN_R3
    MM6                           <--  HDR*, IDir, HASH_R  MAIN_I3 -> MAIN_I4

With NAT-T (RFC 3947) both sides announce it in MM1/MM2 and send NAT-D in MM3/MM4; when the
hashes show a NAT the initiator sends MM5 to the peer's UDP 4500 (``_on_mm4``: the float) and
the responder answers where MM5 came from (the engine moves the SA's peer port).

``TRANSITIONS`` is the microcode (libreswan ``v1_state_microcode_table``): for each state the
message it accepts (encrypted or not, required and allowed payloads), the handler, the next
state and the notify for an MM5 that does not decrypt (keys differ: the pre-shared keys do).
The engine checks a message against its row before the handler runs; a handler raises
``Phase1Error`` for what the RFC answers with a notify. Aggressive mode adds its own rows
(AGGR_R0/I1/R1) and quick mode its own table on the same dispatcher.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tunnelgate.crypto import dh
from tunnelgate.crypto.errors import CryptoError
from tunnelgate.crypto.prf import Prf
from tunnelgate.crypto.registry import Kind, encryption, prf_algorithm
from tunnelgate.ike.v1 import phase1_proposal as proposal
from tunnelgate.ike.v1.constants import ExchangeType, NotifyMessageType, PayloadType
from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.identity import check_peer_identity, id_body, own_identity
from tunnelgate.ike.v1.informational import DPD_VID
from tunnelgate.ike.v1.keymat import derive_phase1_keys, hash_i, hash_r, phase1_iv, skeyid_psk
from tunnelgate.ike.v1.message import Header, Message, encode_message, encode_payloads
from tunnelgate.ike.v1.nat_traversal import (
    DRAFT_VIDS,
    RFC_3947_VID,
    floated,
    nat_d_payloads,
    nat_detected,
    nat_t_vid,
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
from tunnelgate.ike.v1.protection import Protection
from tunnelgate.ike.v1.state import NONCE_BYTES, Address, MainModeState, Phase1Sa, RandomSource
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.ike import Ikev1Policy
from tunnelgate.policy.ike_proposal import Ikev1Choice, select_ikev1
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group

S = MainModeState
P = PayloadType
N = NotifyMessageType
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received main-mode message: header, (decrypted) payloads, the raw datagram."""

    header: Header
    payloads: tuple[Payload, ...]
    data: bytes
    sa_body: bytes = b""  # the raw body of the first SA payload (SAi_b in MM1)

    def get(self, cls: type[T]) -> T:
        found = Message(self.header, self.payloads).find(cls)
        if found is None:
            raise DecodeError(f"no {cls.__name__} in the message")
        return found


class MainModeExchange:
    """Main mode, both roles; mixed into ``Ikev1Engine`` (which owns the attributes below)."""

    gateway: GatewayPolicy
    address: Address
    random: RandomSource
    sas: dict[tuple[bytes, str], Phase1Sa]

    def _send(self, sa: Phase1Sa, data: bytes, now: float) -> None:
        raise NotImplementedError  # the engine's

    def _established(self, sa: Phase1Sa, now: float) -> None:
        raise NotImplementedError  # the engine's

    # ------------------------------------------------------------------ messages

    def _header(self, sa: Phase1Sa) -> Header:
        kind = ExchangeType.AGGRESSIVE if sa.state.aggressive else ExchangeType.MAIN_MODE
        return Header(sa.cookie_i, sa.cookie_r, kind)

    def _send_mm1(self, sa: Phase1Sa, now: float) -> None:
        offer = proposal.offer(self.gateway.ikev1_policies)
        sa.sa_i_body = sa_payload_body(offer)
        vids = [VidPayload(DPD_VID)]  # DPD (RFC 3706 §5)
        if self.gateway.nat_traversal:  # NAT-T (RFC 3947), unless "no crypto isakmp nat-t…"
            vids.insert(0, VidPayload(RFC_3947_VID))
        self._send(sa, encode_message(Message(self._header(sa), (offer, *vids))), now)

    def _vendor_ids(self, sa: Phase1Sa) -> list[Payload]:
        vids: list[Payload] = []
        if sa.peer_nat_t:  # the peer's dialect: RFC 3947, else its draft
            vids.append(VidPayload(DRAFT_VIDS[-1] if sa.nat_t_draft else RFC_3947_VID))
        return vids + ([VidPayload(DPD_VID)] if sa.peer_dpd else [])

    def _learn_nat_t(self, sa: Phase1Sa, m: Inbound) -> None:
        """The peer's NAT-T vendor ID (MM1 / MM2): RFC 3947, a draft one or none."""
        vid = nat_t_vid(m.payloads) if self.gateway.nat_traversal else None
        sa.peer_nat_t, sa.nat_t_draft = vid is not None, vid in DRAFT_VIDS

    def _on_mm1(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: choose a policy per the spec's rule (``select_ikev1``) and answer MM2."""
        offers = proposal.isakmp_offers(m.get(SaPayload))
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
        answer = proposal.answer(chosen.number, transform)
        message = Message(self._header(sa), (answer, *self._vendor_ids(sa)))
        self._send(sa, encode_message(message), now)

    def _on_mm2(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: the answer must be one transform we offered; send KE, Ni."""
        answered = m.get(SaPayload).proposals
        offers = proposal.isakmp_offers(m.get(SaPayload))
        if len(answered) != 1 or len(answered[0].transforms) != 1 or len(offers) != 1:
            raise Phase1Error(N.BAD_PROPOSAL_SYNTAX, "the answer is not one ISAKMP transform")
        sa.choice = accept_answer(offers[0][2], self.gateway)
        sa.cookie_r = m.header.responder_cookie
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        sa.nonce_i = self.random(NONCE_BYTES)
        sa.private, sa.public_i = dh.group(sa.choice.policy.group).generate(self.random)
        self._send_ke(sa, sa.public_i, sa.nonce_i, now)

    def _send_ke(self, sa: Phase1Sa, public: bytes, nonce: bytes, now: float) -> None:
        payloads: list[Payload] = [KePayload(public), NoncePayload(nonce)]
        if sa.peer_nat_t:
            hash_name = prf_of(sa).hash_name
            payloads += nat_d_payloads(
                hash_name, sa.cookie_i, sa.cookie_r, self.address, sa.peer, draft=sa.nat_t_draft
            )
        self._send(sa, encode_message(Message(self._header(sa), tuple(payloads))), now)

    def _on_mm3(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: find the key (tunnel group of the peer address), answer KE, Nr."""
        match = find_tunnel_group(self.gateway, peer_address=sa.peer[0], version=1, auth="psk")
        if isinstance(match, Refusal):
            raise Phase1Error(N.AUTHENTICATION_FAILED, match.reason)
        sa.psk = match.group.ikev1_psk
        sa.nonce_i, sa.public_i = m.get(NoncePayload).data, m.get(KePayload).data
        sa.nonce_r = self.random(NONCE_BYTES)
        assert sa.choice is not None
        sa.private, sa.public_r = dh.group(sa.choice.policy.group).generate(self.random)
        self._derive(sa, sa.public_i, m)
        self._send_ke(sa, sa.public_r, sa.nonce_r, now)

    def _on_mm4(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: derive the keys and send the encrypted IDii, HASH_I (to UDP 4500 when
        NAT-D showed a NAT: the float, RFC 3947 §4)."""
        sa.nonce_r, sa.public_r = m.get(NoncePayload).data, m.get(KePayload).data
        self._derive(sa, sa.public_r, m)
        if sa.nat_detected:
            sa.peer = floated(sa.peer)
        identity = own_identity(self.address[0])
        digest = phase1_hash(hash_i, sa, id_body(identity))
        self._send_encrypted(sa, (identity, HashPayload(digest)), now)

    def _on_mm5(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: check IDii and HASH_I, answer IDir, HASH_R: established."""
        identity = m.get(IdPayload)
        text = self._check_identity(sa, identity)
        expected = phase1_hash(hash_i, sa, id_body(identity))
        if not hmac.compare_digest(m.get(HashPayload).data, expected):
            raise Phase1Error(N.INVALID_HASH_INFORMATION, f"HASH_I of {text} does not verify")
        own = own_identity(self.address[0])
        digest = phase1_hash(hash_r, sa, id_body(own))
        self._send_encrypted(sa, (own, HashPayload(digest)), now)
        self._established(sa, now)

    def _on_mm6(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: check IDir and HASH_R: established."""
        identity = m.get(IdPayload)
        text = self._check_identity(sa, identity)
        expected = phase1_hash(hash_r, sa, id_body(identity))
        if not hmac.compare_digest(m.get(HashPayload).data, expected):
            raise Phase1Error(N.INVALID_HASH_INFORMATION, f"HASH_R of {text} does not verify")
        self._established(sa, now)

    # ------------------------------------------------------------------ helpers

    def _send_encrypted(self, sa: Phase1Sa, payloads: tuple[Payload, ...], now: float) -> None:
        assert sa.protection is not None
        self._send(sa, sa.protection.seal(self._header(sa), payloads), now)

    def _check_identity(self, sa: Phase1Sa, identity: IdPayload) -> str:
        match = find_tunnel_group(self.gateway, peer_address=sa.peer[0], version=1, auth="psk")
        validate = isinstance(match, Refusal) or match.group.peer_id_validate == "req"
        return check_peer_identity(
            identity, sa.peer[0], validate=validate, behind_nat=sa.nat_detected
        )

    def _derive(self, sa: Phase1Sa, peer_public: bytes, m: Inbound) -> None:
        """g^xy, SKEYID (PSK), the SKEYID family, the first IV; NAT-D (RFC 3947 §3.2)."""
        assert sa.choice is not None and sa.private is not None and sa.psk is not None
        try:
            shared = dh.group(sa.choice.policy.group).shared_secret(sa.private, peer_public)
        except CryptoError as exc:
            raise Phase1Error(N.INVALID_KEY_INFORMATION, str(exc)) from None
        prf = prf_of(sa)
        cipher = encryption(Kind.IKEV1_ENCRYPTION, sa.choice.policy.encryption)
        skeyid = skeyid_psk(prf, sa.psk.value, sa.nonce_i, sa.nonce_r)
        sa.keys = derive_phase1_keys(
            prf, skeyid, shared, sa.cookie_i, sa.cookie_r, cipher.key_bytes
        )
        iv = phase1_iv(prf.hash_name, sa.public_i, sa.public_r, cipher.block_bytes)
        sa.protection = Protection.for_phase1(cipher, sa.keys.encryption_key, prf.hash_name, iv)
        sa.private = None  # the DH secret is not needed any more
        sa.nat_detected = sa.peer_nat_t and nat_detected(
            m.payloads, prf.hash_name, sa.cookie_i, sa.cookie_r, self.address, sa.peer
        )


Handler = Callable[[Any, Phase1Sa, Inbound, float], None]  # a method of the engine's mixins


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the main-mode microcode."""

    state: MainModeState  # where the SA stands when the message arrives
    next_state: MainModeState
    encrypted: bool | None  # the message must (not) carry the Encryption flag; None: either
    required: frozenset[int]
    allowed: frozenset[int]  # besides the required ones; anything else: the row does not fit
    handler: Handler
    undecryptable: NotifyMessageType | None = None  # answer when the message does not decrypt


_PLAIN = frozenset({P.VID, P.CR})
_NAT_D = frozenset({P.NAT_D, P.NAT_D_DRAFT})
_SECURED = frozenset({P.N, P.VID})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.MAIN_R0, S.MAIN_R1, False, frozenset({P.SA}), _PLAIN, MainModeExchange._on_mm1),
    Transition(S.MAIN_I1, S.MAIN_I2, False, frozenset({P.SA}), _PLAIN, MainModeExchange._on_mm2),
    Transition(
        S.MAIN_R1,
        S.MAIN_R2,
        False,
        frozenset({P.KE, P.NONCE}),
        _PLAIN | _NAT_D,
        MainModeExchange._on_mm3,
    ),
    Transition(
        S.MAIN_I2,
        S.MAIN_I3,
        False,
        frozenset({P.KE, P.NONCE}),
        _PLAIN | _NAT_D,
        MainModeExchange._on_mm4,
    ),
    Transition(
        S.MAIN_R2,
        S.MAIN_R3,
        True,
        frozenset({P.ID, P.HASH}),
        _SECURED,
        MainModeExchange._on_mm5,
        N.AUTHENTICATION_FAILED,
    ),
    Transition(
        S.MAIN_I3,
        S.MAIN_I4,
        True,
        frozenset({P.ID, P.HASH}),
        _SECURED,
        MainModeExchange._on_mm6,
    ),
)
"""The main-mode microcode, one row per state that expects a message."""

BY_STATE: dict[MainModeState, Transition] = {t.state: t for t in TRANSITIONS}


def fits(row: Transition, encrypted: bool, payloads: tuple[Payload, ...]) -> bool:
    """Whether a message is the one ``row`` expects (else it belongs to another step)."""
    types = {int(p.payload_type) for p in payloads}
    flag_ok = row.encrypted is None or encrypted == row.encrypted
    return flag_ok and row.required <= types <= row.required | row.allowed


def sa_payload_body(sa: SaPayload) -> bytes:
    """SAi_b: an SA payload without its generic header (RFC 2409 §5)."""
    return encode_payloads([sa])[1][4:]


def prf_of(sa: Phase1Sa) -> Prf:
    assert sa.choice is not None
    return prf_algorithm(Kind.IKEV1_HASH, sa.choice.policy.hash)


def accept_answer(answer: Ikev1Policy, gateway: GatewayPolicy) -> Ikev1Choice:
    """Initiator: the responder's transform must be one of our policies (its lifetime may be
    shorter than ours: the SA gets the shorter)."""
    for own in sorted(gateway.ikev1_policies, key=lambda p: p.priority):
        same = (own.encryption, own.hash, own.authentication, own.group)
        if same == (answer.encryption, answer.hash, answer.authentication, answer.group):
            lifetime = min(own.lifetime_seconds, answer.lifetime_seconds)
            return Ikev1Choice(answer, own, lifetime)
    raise Phase1Error(N.NO_PROPOSAL_CHOSEN, "the peer chose a transform we did not offer")


def phase1_hash(which: Callable[..., bytes], sa: Phase1Sa, id_b: bytes) -> bytes:
    """HASH_I or HASH_R of ``sa`` over the identity body ``id_b`` (RFC 2409 §5)."""
    assert sa.keys is not None
    return which(
        prf_of(sa), sa.keys.skeyid, sa.public_i, sa.public_r, sa.cookie_i, sa.cookie_r,
        sa.sa_i_body, id_b,
    )  # fmt: skip
