"""Main mode with pre-shared keys (RFC 2409 §5, §5.4) and with signatures (§5.1, RFC 4754)
as a transition table.

    Initiator                          Responder
    MM1  HDR, SA                  -->                      MAIN_R0 -> MAIN_R1
    MM2                           <--  HDR, SA             MAIN_I1 -> MAIN_I2
    MM3  HDR, KE, Ni, [NAT-D]     -->                      MAIN_R1 -> MAIN_R2
    MM4                           <--  HDR, KE, Nr, [NAT-D] MAIN_I2 -> MAIN_I3
    MM5  HDR*, IDii, HASH_I       -->                      MAIN_R2 -> MAIN_R3
    MM6                           <--  HDR*, IDir, HASH_R  MAIN_I3 -> MAIN_I4

With signatures (``authentication rsa-sig``) MM3/MM4 also carry CERTREQ (X.509 signature,
one per CA we trust with its subject DN, or one empty), MM5/MM6 carry the identity from the
certificate (``crypto isakmp identity``), CERT (our identity certificate, then its CA
chain) and SIG (``pki.signatures.ikev1_sign`` over HASH_I / HASH_R) instead of HASH, and
SKEYID = prf(Ni_b | Nr_b, g^xy). Decisions:

- The ASA has no ECDSA keyword in ``crypto ikev1 policy``: an ``rsa-sig`` policy offers
  method 3, or the RFC 4754 method of the curve (9/10/11) when the identity certificate we
  sign with has an EC key (as the ASA does for Suite B ECDSA trustpoints); a responder
  accepts 3, 9, 10 and 11 for an ``rsa-sig`` policy when it holds an identity certificate
  with that key type, and its signature must then be made with such a key.
- The initiator authenticates with what the tunnel group named after the peer's address
  holds: its pre-shared key (``pre-share`` policies) and the identity certificate of its
  ``ikev1 trust-point`` (``rsa-sig`` policies). It offers only the policies it holds a
  credential for; none: ``initiate`` refuses with the reason.
- The responder validates the peer's chain (``pki.validation.verify_peer``) against every
  trustpoint, then finds the tunnel group with ``tunnel-group-map`` (``find_tunnel_group(…,
  auth="cert")``), checks the ID per its ``peer-id-validate`` and signs with the identity
  certificate of its ``ikev1 trust-point`` (none: AUTHENTICATION-FAILED, as the ASA needs
  one). The initiator validates the responder's chain the same way and checks the ID per its
  group's ``peer-id-validate``.
- Wall-clock time for validity dates: UTC epoch seconds = ``now`` + ``utc_offset_s``, an
  attribute the owner sets (the daemon from its clock, tests from a fixed date), as the
  IKEv2 engine does; None: unknown, and certificates are refused.
- Notifies (RFC 2408 §3.14.1): no CERT — CERTIFICATE-UNAVAILABLE; a CERT encoding other
  than X.509 signature — CERT-TYPE-UNSUPPORTED; undecodable DER — INVALID-CERT-ENCODING;
  a chain that does not validate (expired, untrusted CA, revoked…: ``verify_peer`` gives
  the reason) — INVALID-CERTIFICATE; an ID the certificate does not hold — INVALID-ID-INFORMATION;
  a bad signature or a missing local credential — AUTHENTICATION-FAILED.

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
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tunnelgate.crypto import dh
from tunnelgate.crypto.errors import CryptoError
from tunnelgate.crypto.prf import Prf
from tunnelgate.crypto.registry import Kind, encryption, prf_algorithm
from tunnelgate.ike.v1 import phase1_proposal as proposal
from tunnelgate.ike.v1.constants import (
    CertEncoding,
    ExchangeType,
    NotifyMessageType,
    PayloadType,
)
from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.identity import (
    certificate_identity,
    check_certificate_identity,
    check_peer_identity,
    id_body,
    identity_text,
    own_identity,
)
from tunnelgate.ike.v1.informational import DPD_VID
from tunnelgate.ike.v1.keymat import (
    derive_phase1_keys,
    hash_i,
    hash_r,
    phase1_iv,
    skeyid_psk,
    skeyid_signature,
)
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
    CertPayload,
    CrPayload,
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    Payload,
    SigPayload,
    VidPayload,
)
from tunnelgate.ike.v1.proposals import SaPayload, Transform
from tunnelgate.ike.v1.protection import Protection
from tunnelgate.ike.v1.sa_constants import AuthenticationMethod
from tunnelgate.ike.v1.state import (
    NONCE_BYTES,
    Address,
    MainModeState,
    Phase1Sa,
    RandomSource,
    local_of,
)
from tunnelgate.pki.certificates import CertificateError, load_certificates
from tunnelgate.pki.credentials import LocalCredential
from tunnelgate.pki.signatures import SignatureError, ikev1_auth_method, ikev1_sign, ikev1_verify
from tunnelgate.pki.validation import Rejected, Verified, verify_peer
from tunnelgate.policy.gateway import DEFAULT_L2L_GROUP, GatewayPolicy
from tunnelgate.policy.ike import Ikev1Policy, TunnelGroup
from tunnelgate.policy.ike_proposal import Ikev1Choice, select_ikev1
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.tunnel_group_lookup import BUILTIN_GROUPS, find_tunnel_group

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
    # UTC epoch seconds = ``now`` + ``utc_offset_s``: the owner sets it (the daemon from its
    # wall clock, tests from a fixed date) so that certificate validity can be checked
    # without reading a clock here (the IKEv2 engine's attribute of the same name). None:
    # unknown, and certificates are refused.
    utc_offset_s: float | None = None

    def _send(self, sa: Phase1Sa, data: bytes, now: float) -> None:
        raise NotImplementedError  # the engine's

    def _established(self, sa: Phase1Sa, now: float) -> None:
        raise NotImplementedError  # the engine's

    # ------------------------------------------------------------------ messages

    def _header(self, sa: Phase1Sa) -> Header:
        kind = ExchangeType.AGGRESSIVE if sa.state.aggressive else ExchangeType.MAIN_MODE
        return Header(sa.cookie_i, sa.cookie_r, kind)

    def _initiator_auth(self, sa: Phase1Sa) -> None:
        """Initiator: the credentials of the tunnel group named after the peer's address —
        its pre-shared key, the identity certificate of its ``ikev1 trust-point`` — and the
        policies they can serve (``sa.offered``); ``ValueError`` when none."""
        policies = self.gateway.ikev1_policies
        group = initiator_group(self.gateway, sa.peer[0])
        problems: list[str] = []
        if any(p.authentication == "pre-share" for p in policies):
            match = find_tunnel_group(self.gateway, peer_address=sa.peer[0], version=1, auth="psk")
            if isinstance(match, Refusal):
                problems.append(match.reason)
            else:
                sa.psk = match.group.ikev1_psk
        if any(p.authentication == "rsa-sig" for p in policies):
            local = local_credential(self.gateway, group)
            if isinstance(local, str):
                problems.append(local)
            else:
                sa.local, sa.signature_method = local, ikev1_auth_method(local.private_key)
        sa.offered = tuple(
            p
            for p in policies
            if (p.authentication == "pre-share" and sa.psk is not None)
            or (p.authentication == "rsa-sig" and sa.local is not None)
        )
        if not sa.offered:
            raise ValueError("; ".join(problems) or "no crypto ikev1 policy is configured")

    def _send_mm1(self, sa: Phase1Sa, now: float) -> None:
        if not sa.offered:  # a rekey: a new SA, the same credentials
            self._initiator_auth(sa)
        offer = proposal.offer(sa.offered, sa.signature_method)
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
        chosen, transform = self._select(sa, offers)
        sa.sa_i_body = m.sa_body or sa_payload_body(m.get(SaPayload))
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        answer = proposal.answer(chosen.number, transform)
        message = Message(self._header(sa), (answer, *self._vendor_ids(sa)))
        self._send(sa, encode_message(message), now)

    def _select(
        self, sa: Phase1Sa, offers: Sequence[tuple[Any, Transform, Ikev1Policy]]
    ) -> tuple[Any, Transform]:
        """Responder: the policy per the spec's rule (``select_ikev1``) among the offers we
        can authenticate (an ``rsa-sig`` one needs an identity certificate with a key of its
        method); sets ``sa.choice`` and ``sa.auth_method``."""
        own = self.gateway.ikev1_policies
        methods = signature_methods(self.gateway)
        usable = [
            o
            for o in offers
            if o[2].authentication != "rsa-sig" or proposal.method_of(o[1]) in methods
        ]
        choice = select_ikev1([policy for _, _, policy in usable], own)
        if isinstance(choice, Refusal):
            anyway = select_ikev1([policy for _, _, policy in offers], own)
            if isinstance(anyway, Refusal) or len(usable) == len(offers):
                raise Phase1Error(N.NO_PROPOSAL_CHOSEN, choice.reason)
            _, transform, _ = next(o for o in offers if o[2] == anyway.offer)
            wanted = proposal.method_name(proposal.method_of(transform))
            raise Phase1Error(
                N.NO_PROPOSAL_CHOSEN,
                f"{anyway.describe()} matches, but no trustpoint holds an identity "
                f"certificate for {wanted}",
            )
        chosen, transform = next((p, t) for p, t, o in usable if o == choice.offer)
        sa.choice, sa.auth_method = choice, proposal.method_of(transform)
        return chosen, transform

    def _accept(self, sa: Phase1Sa, m: Inbound) -> Ikev1Choice:
        """Initiator: the answer must be one transform we offered, with the method offered."""
        answered = m.get(SaPayload).proposals
        offers = proposal.isakmp_offers(m.get(SaPayload))
        if len(answered) != 1 or len(answered[0].transforms) != 1 or len(offers) != 1:
            raise Phase1Error(N.BAD_PROPOSAL_SYNTAX, "the answer is not one ISAKMP transform")
        choice = accept_answer(offers[0][2], sa.offered or self.gateway.ikev1_policies)
        method = proposal.method_of(offers[0][1])
        expected = (
            sa.signature_method
            if choice.authentication == "rsa-sig"
            else AuthenticationMethod.PRE_SHARED_KEY
        )
        if method != expected:
            raise Phase1Error(
                N.NO_PROPOSAL_CHOSEN,
                f"the peer chose {proposal.method_name(method)}, we offered "
                f"{proposal.method_name(expected)}",
            )
        sa.choice, sa.auth_method = choice, method
        return choice

    def _on_mm2(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: the answer must be one transform we offered; send KE, Ni."""
        self._accept(sa, m)
        assert sa.choice is not None
        sa.cookie_r = m.header.responder_cookie
        self._learn_nat_t(sa, m)
        sa.peer_dpd = VidPayload(DPD_VID) in m.payloads
        sa.nonce_i = self.random(NONCE_BYTES)
        sa.private, sa.public_i = dh.group(sa.choice.policy.group).generate(self.random)
        self._send_ke(sa, sa.public_i, sa.nonce_i, now)

    def _send_ke(self, sa: Phase1Sa, public: bytes, nonce: bytes, now: float) -> None:
        payloads: list[Payload] = [KePayload(public), NoncePayload(nonce)]
        if sa.signatures:
            payloads += certificate_requests(self.gateway)
        if sa.peer_nat_t:
            hash_name = prf_of(sa).hash_name
            local = local_of(sa, self.address)
            payloads += nat_d_payloads(
                hash_name, sa.cookie_i, sa.cookie_r, local, sa.peer, draft=sa.nat_t_draft
            )
        self._send(sa, encode_message(Message(self._header(sa), tuple(payloads))), now)

    def _on_mm3(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: find the key (tunnel group of the peer address), answer KE, Nr. With
        signatures the group waits for the peer's certificate (MM5)."""
        if not sa.signatures:
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
        if sa.signatures:
            self._send_encrypted(sa, self._signed(sa, hash_i), now)
            return
        identity = own_identity(local_of(sa, self.address)[0])
        digest = phase1_hash(hash_i, sa, id_body(identity))
        self._send_encrypted(sa, (identity, HashPayload(digest)), now)

    def _on_mm5(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder: check IDii and HASH_I (SIG), answer IDir, HASH_R (SIG): established."""
        if sa.signatures:
            self._authenticate_initiator(sa, m, now)
            self._send_encrypted(sa, self._signed(sa, hash_r), now)
            self._established(sa, now)
            return
        identity = m.get(IdPayload)
        text = self._check_identity(sa, identity)
        expected = phase1_hash(hash_i, sa, id_body(identity))
        if not hmac.compare_digest(m.get(HashPayload).data, expected):
            raise Phase1Error(N.INVALID_HASH_INFORMATION, f"HASH_I of {text} does not verify")
        own = own_identity(local_of(sa, self.address)[0])
        digest = phase1_hash(hash_r, sa, id_body(own))
        self._send_encrypted(sa, (own, HashPayload(digest)), now)
        self._established(sa, now)

    def _on_mm6(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Initiator: check IDir and HASH_R (SIG): established."""
        if sa.signatures:
            group = initiator_group(self.gateway, sa.peer[0])
            verified = self._peer_certificate(m, now)
            self._check_signed(sa, m, _required(m, IdPayload), hash_r, verified, group)
            self._established(sa, now)
            return
        identity = m.get(IdPayload)
        text = self._check_identity(sa, identity)
        expected = phase1_hash(hash_r, sa, id_body(identity))
        if not hmac.compare_digest(m.get(HashPayload).data, expected):
            raise Phase1Error(N.INVALID_HASH_INFORMATION, f"HASH_R of {text} does not verify")
        self._established(sa, now)

    # ------------------------------------------------------------------ signatures

    def _signed(self, sa: Phase1Sa, which: Callable[..., bytes]) -> tuple[Payload, ...]:
        """Our ID, CERT chain and SIG over HASH_I / HASH_R (RFC 2409 §5.1)."""
        assert sa.local is not None
        local = local_of(sa, self.address)[0]
        identity = certificate_identity(self.gateway, sa.local.certificate, local)
        digest = phase1_hash(which, sa, id_body(identity))
        try:
            signature = ikev1_sign(sa.local.private_key, digest)
        except SignatureError as exc:
            reason = f"trustpoint {sa.local.trustpoint}: cannot sign: {exc}"
            raise Phase1Error(N.AUTHENTICATION_FAILED, reason) from None
        return (identity, *certificate_payloads(sa.local), SigPayload(signature))

    def _authenticate_initiator(self, sa: Phase1Sa, m: Inbound, now: float) -> None:
        """Responder, MM5: validate the chain, find the tunnel group by ``tunnel-group-map``,
        check the ID and the signature, take the group's credential."""
        verified = self._peer_certificate(m, now)
        identity = _required(m, IdPayload)
        match = find_tunnel_group(
            self.gateway, peer_address=sa.peer[0], version=1, auth="cert",
            ike_id=identity_text(identity, verified.certificate), certificate=verified.info,
        )  # fmt: skip
        if isinstance(match, Refusal):
            raise Phase1Error(N.AUTHENTICATION_FAILED, match.reason)
        self._check_signed(sa, m, identity, hash_i, verified, match.group)
        self._take_credential(sa, match.group, match.detail)

    def _take_credential(self, sa: Phase1Sa, group: TunnelGroup, found_by: str) -> None:
        """Responder: sign with the identity certificate of the group's ``ikev1 trust-point``
        (it must serve the negotiated method)."""
        local = local_credential(self.gateway, group)
        if isinstance(local, str):
            raise Phase1Error(N.AUTHENTICATION_FAILED, f"{local} (found by {found_by})")
        if ikev1_auth_method(local.private_key) != sa.auth_method:
            raise Phase1Error(
                N.AUTHENTICATION_FAILED,
                f"trustpoint {local.trustpoint} signs with "
                f"{proposal.method_name(ikev1_auth_method(local.private_key))}, "
                f"{proposal.method_name(sa.auth_method)} was negotiated",
            )
        sa.local = local

    def _check_signed(
        self,
        sa: Phase1Sa,
        m: Inbound,
        identity: IdPayload,
        which: Callable[..., bytes],
        verified: Verified,
        group: TunnelGroup,
    ) -> None:
        """The peer's ID against its certificate (``peer-id-validate``) and its SIG over
        HASH_I / HASH_R with the certificate's key."""
        certificate = verified.certificate
        text = check_certificate_identity(identity, certificate, group.peer_id_validate)
        public_key = certificate.public_key()
        subject = certificate.subject.rfc4514_string()
        try:
            method = ikev1_auth_method(public_key)
        except SignatureError as exc:
            raise Phase1Error(N.AUTHENTICATION_FAILED, f"{subject}: {exc}") from None
        if method != sa.auth_method:
            raise Phase1Error(
                N.AUTHENTICATION_FAILED,
                f"the certificate of {subject} has a {proposal.method_name(method)} key, "
                f"{proposal.method_name(sa.auth_method)} was negotiated",
            )
        digest = phase1_hash(which, sa, id_body(identity))
        problem = ikev1_verify(public_key, _required(m, SigPayload).data, digest)
        if problem is not None:
            raise Phase1Error(N.AUTHENTICATION_FAILED, f"SIG of {text} ({subject}): {problem}")
        sa.peer_certificate, sa.peer_identity, sa.tunnel_group = certificate, text, group.name

    def _peer_certificate(self, m: Inbound, now: float) -> Verified:
        """The peer's CERT payloads as a chain, validated to one of our trustpoints."""
        chain: list[x509.Certificate] = []
        for payload in m.payloads:
            if not isinstance(payload, CertPayload):
                continue
            if payload.encoding != CertEncoding.X509_CERTIFICATE_SIGNATURE:
                raise Phase1Error(
                    N.CERT_TYPE_UNSUPPORTED, f"certificate encoding {payload.encoding}"
                )
            try:
                chain += load_certificates(payload.data)
            except CertificateError as exc:
                raise Phase1Error(N.INVALID_CERT_ENCODING, f"CERT payload: {exc}") from None
        if not chain:
            raise Phase1Error(N.CERTIFICATE_UNAVAILABLE, "the peer sent no CERT payload")
        if self.utc_offset_s is None:
            reason = "the wall-clock time is unknown: certificate validity cannot be checked"
            raise Phase1Error(N.AUTHENTICATION_FAILED, reason)
        wall = datetime.fromtimestamp(now + self.utc_offset_s, UTC)
        result = verify_peer(tuple(chain), self.gateway.credentials, wall)
        if isinstance(result, Rejected):
            raise Phase1Error(N.INVALID_CERTIFICATE, result.reason)
        return result

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
        assert sa.choice is not None and sa.private is not None
        try:
            shared = dh.group(sa.choice.policy.group).shared_secret(sa.private, peer_public)
        except CryptoError as exc:
            raise Phase1Error(N.INVALID_KEY_INFORMATION, str(exc)) from None
        prf = prf_of(sa)
        cipher = encryption(Kind.IKEV1_ENCRYPTION, sa.choice.policy.encryption)
        if sa.signatures:
            skeyid = skeyid_signature(prf, sa.nonce_i, sa.nonce_r, shared)
        else:
            assert sa.psk is not None
            skeyid = skeyid_psk(prf, sa.psk.value, sa.nonce_i, sa.nonce_r)
        sa.keys = derive_phase1_keys(
            prf, skeyid, shared, sa.cookie_i, sa.cookie_r, cipher.key_bytes
        )
        iv = phase1_iv(prf.hash_name, sa.public_i, sa.public_r, cipher.block_bytes)
        sa.protection = Protection.for_phase1(cipher, sa.keys.encryption_key, prf.hash_name, iv)
        sa.private = None  # the DH secret is not needed any more
        sa.nat_detected = sa.peer_nat_t and nat_detected(
            m.payloads, prf.hash_name, sa.cookie_i, sa.cookie_r, local_of(sa, self.address), sa.peer
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
    signed: frozenset[int] | None = None  # ``required`` when authenticating with signatures


_PLAIN = frozenset({P.VID, P.CR})
_NAT_D = frozenset({P.NAT_D, P.NAT_D_DRAFT})
_SECURED = frozenset({P.N, P.VID})
_CERTS = frozenset({P.CERT, P.CR})

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
        _SECURED | _CERTS,
        MainModeExchange._on_mm5,
        N.AUTHENTICATION_FAILED,
        frozenset({P.ID, P.SIG}),
    ),
    Transition(
        S.MAIN_I3,
        S.MAIN_I4,
        True,
        frozenset({P.ID, P.HASH}),
        _SECURED | _CERTS,
        MainModeExchange._on_mm6,
        None,
        frozenset({P.ID, P.SIG}),
    ),
)
"""The main-mode microcode, one row per state that expects a message."""

BY_STATE: dict[MainModeState, Transition] = {t.state: t for t in TRANSITIONS}


def fits(row: Transition, encrypted: bool, payloads: tuple[Payload, ...]) -> bool:
    """Whether a message is the one ``row`` expects (else it belongs to another step): the
    required payloads of pre-shared keys or those of signatures (exactly one of the two,
    the handler checks it is the negotiated one)."""
    types = {int(p.payload_type) for p in payloads}
    if not (row.encrypted is None or encrypted == row.encrypted):
        return False
    for required in (row.required, row.signed):
        if required is None or not required <= types:
            continue
        other = row.signed if required is row.required else row.required
        extra = (other or frozenset()) - required
        if types <= required | row.allowed and not types & extra:
            return True
    return False


def sa_payload_body(sa: SaPayload) -> bytes:
    """SAi_b: an SA payload without its generic header (RFC 2409 §5)."""
    return encode_payloads([sa])[1][4:]


def prf_of(sa: Phase1Sa) -> Prf:
    assert sa.choice is not None
    return prf_algorithm(Kind.IKEV1_HASH, sa.choice.policy.hash)


def accept_answer(answer: Ikev1Policy, offered: Sequence[Ikev1Policy]) -> Ikev1Choice:
    """Initiator: the responder's transform must be one of the policies we offered (its
    lifetime may be shorter than ours: the SA gets the shorter)."""
    for own in sorted(offered, key=lambda p: p.priority):
        same = (own.encryption, own.hash, own.authentication, own.group)
        if same == (answer.encryption, answer.hash, answer.authentication, answer.group):
            lifetime = min(own.lifetime_seconds, answer.lifetime_seconds)
            return Ikev1Choice(answer, own, lifetime)
    raise Phase1Error(N.NO_PROPOSAL_CHOSEN, "the peer chose a transform we did not offer")


# RFC 4754 §7: with an ECDSA method, HASH_I and HASH_R are computed with the HMAC of the
# curve's hash (SHA-256/384/512), whatever hash the policy negotiated; strongSwan does the same
ECDSA_HASH_PRFS = {9: "sha256", 10: "sha384", 11: "sha512"}


def auth_prf_of(sa: Phase1Sa) -> Prf:
    """The PRF of HASH_I/HASH_R: the policy's hash, or the curve's with ECDSA (RFC 4754)."""
    keyword = ECDSA_HASH_PRFS.get(sa.auth_method)
    return prf_of(sa) if keyword is None else prf_algorithm(Kind.IKEV2_PRF, keyword)


def phase1_hash(which: Callable[..., bytes], sa: Phase1Sa, id_b: bytes) -> bytes:
    """HASH_I or HASH_R of ``sa`` over the identity body ``id_b`` (RFC 2409 §5)."""
    assert sa.keys is not None
    return which(
        auth_prf_of(sa), sa.keys.skeyid, sa.public_i, sa.public_r, sa.cookie_i, sa.cookie_r,
        sa.sa_i_body, id_b,
    )  # fmt: skip


# --------------------------------------------------------------------------- credentials


def initiator_group(gateway: GatewayPolicy, peer_address: str) -> TunnelGroup:
    """The initiator's tunnel group: the one named after the peer's address, else
    ``DefaultL2LGroup`` (as ``find_tunnel_group`` finds it for pre-shared keys)."""
    try:
        canonical = str(ipaddress.ip_address(peer_address))
    except ValueError:
        canonical = peer_address
    for name in (peer_address, canonical, DEFAULT_L2L_GROUP):
        if name in gateway.tunnel_groups:
            return gateway.tunnel_groups[name]
    return TunnelGroup(DEFAULT_L2L_GROUP, BUILTIN_GROUPS[DEFAULT_L2L_GROUP])


def local_credential(gateway: GatewayPolicy, group: TunnelGroup) -> LocalCredential | str:
    """The identity certificate of the group's ``ikev1 trust-point``, or why there is none."""
    trustpoint = group.ikev1_trust_point
    if trustpoint is None:
        return f"tunnel-group {group.name} has no ikev1 trust-point"
    local = gateway.credentials.local_for(trustpoint)
    if local is None:
        return f"trustpoint {trustpoint} has no identity certificate"
    try:
        ikev1_auth_method(local.private_key)
    except SignatureError as exc:
        return f"trustpoint {trustpoint}: {exc}"
    return local


def signature_methods(gateway: GatewayPolicy) -> frozenset[int]:
    """The signature methods our identity certificates can serve (3, 9, 10, 11)."""
    out: set[int] = set()
    for local in gateway.credentials.local.values():
        try:
            out.add(ikev1_auth_method(local.private_key))
        except SignatureError:
            continue
    return frozenset(out)


def certificate_requests(gateway: GatewayPolicy) -> list[Payload]:
    """CERTREQ payloads (RFC 2408 §3.10): X.509 signature, one per CA certificate we trust
    with its subject DN (DER), or one without a CA when we trust none."""
    seen: list[bytes] = []
    for trust in gateway.credentials.trust.values():
        for ca in trust.ca_certificates:
            subject = ca.subject.public_bytes()
            if subject not in seen:
                seen.append(subject)
    signature = CertEncoding.X509_CERTIFICATE_SIGNATURE
    return [CrPayload(signature, dn) for dn in seen] or [CrPayload(signature)]


def certificate_payloads(local: LocalCredential) -> list[Payload]:
    """CERT payloads (X.509 signature, DER): the identity certificate, then its CA chain."""
    signature = CertEncoding.X509_CERTIFICATE_SIGNATURE
    return [CertPayload(signature, c.public_bytes(Encoding.DER)) for c in local.chain]


def _required(m: Inbound, cls: type[T]) -> T:
    """A payload the negotiated method requires (PAYLOAD-MALFORMED when it is missing)."""
    found = Message(m.header, m.payloads).find(cls)
    if found is None:
        raise Phase1Error(N.PAYLOAD_MALFORMED, f"no {cls.__name__} in the message")
    return found
