"""The IKE_AUTH exchange (RFC 7296 §1.2, §2.15, §2.4): identities, pre-shared key AUTH and
certificate AUTH with CERT/CERTREQ (§3.5-3.8; RSA and RFC 7427 digital signatures, RFC 4754
ECDSA; either kind in each direction), INITIAL_CONTACT, and the first child SA (§1.2, §2.9,
§1.3.1 modes) on both sides.
"""

from __future__ import annotations

import functools
import ipaddress
from datetime import UTC, datetime

from cryptography.exceptions import UnsupportedAlgorithm

from tunnelgate.ike.v2 import proposals as wire
from tunnelgate.ike.v2.auth import (
    ID_TYPE_OF_KIND,
    KIND_OF_ID_TYPE,
    SIGNATURE_METHODS,
    certificate_payloads,
    certreq_payload,
    peer_chain,
    psk_auth,
    signed_octets,
)
from tunnelgate.ike.v2.constants import AuthMethod, ExchangeType, IdType, NotifyType, ProtocolId
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.events import ChildSaFailed, IkeSaFailed
from tunnelgate.ike.v2.payloads import (
    AuthPayload,
    DeletePayload,
    IdiPayload,
    IdrPayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsiPayload,
    TsrPayload,
)
from tunnelgate.ike.v2.sa_lifecycle import SaLifecycle
from tunnelgate.ike.v2.state import Child, IkeSa, Pending, shared_hashes
from tunnelgate.ike.v2.task_manager import _equal, _first, _notify_name
from tunnelgate.ike.v2.traffic_selectors import _narrowed, _proposed, _ts
from tunnelgate.pki.certificates import (
    CertificateError,
    carries_identity_kind,
    describe,
    ike_identity,
    matches_identity,
)
from tunnelgate.pki.credentials import LocalCredential
from tunnelgate.pki.signatures import SignatureError, ikev2_sign, ikev2_verify
from tunnelgate.pki.validation import Rejected, Verified, verify_peer
from tunnelgate.policy.ike import PreSharedKey, TunnelGroup
from tunnelgate.policy.ipsec_proposal import select_ipsec_proposal, select_mode
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.responder import choose_entry
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group


class IkeAuthExchange(SaLifecycle):
    """IKE_AUTH as initiator and responder, with the child SA it carries."""

    # UTC epoch seconds = ``now`` + ``utc_offset_s``: the owner sets it (the daemon from its
    # wall clock, tests from a fixed date) so certificate validity can be checked without
    # reading a clock here. None: unknown, and certificates are refused.
    utc_offset_s: float | None = None

    def _send_auth_request(self, sa: IkeSa, now: float) -> None:
        assert sa.entry is not None and sa.selector is not None and sa.keys is not None
        sa.child_spi = self._new_child_spi()
        trustpoint = sa.tunnel_group.ikev2_local_certificate if sa.tunnel_group else None
        local = self._local_identity(trustpoint, self._local_of(sa)[0])
        if isinstance(local, str):
            self._fail(sa, "AUTHENTICATION_FAILED", local)
            return
        id_type, id_data, credential = local
        id_payload = IdiPayload(id_type, id_data)
        algorithms = self._algorithms(sa)
        octets = signed_octets(
            algorithms.prf,
            sa.init_request,
            sa.nonce_r,
            sa.keys.sk_pi,
            int(id_payload.id_type),
            id_payload.data,
        )
        if credential is None and sa.local_psk is None:
            self._fail(
                sa, "AUTHENTICATION_FAILED", f"no IKEv2 local pre-shared key for {sa.peer[0]}"
            )
            return
        proof = self._local_auth(sa, credential, sa.local_psk, octets)
        if isinstance(proof, str):
            self._fail(sa, "AUTHENTICATION_FAILED", proof)
            return
        certs, auth = proof
        payloads: list[Payload] = [id_payload, *certs]
        certreq = certreq_payload(self.gateway.credentials)
        if certreq is not None:
            payloads.append(certreq)
        payloads.append(auth)
        if not any(o is not sa and o.peer[0] == sa.peer[0] for o in self.sas.values()):
            payloads.append(NotifyPayload(NotifyType.INITIAL_CONTACT))
        if sa.entry.ikev2_mode != "tunnel":
            payloads.append(NotifyPayload(NotifyType.USE_TRANSPORT_MODE))
        payloads += [
            wire.esp_offer(sa.entry.proposals, sa.child_spi),
            TsiPayload((_ts(sa.selector.source, sa.selector.source_ports, sa.selector),)),
            TsrPayload((_ts(sa.selector.destination, sa.selector.destination_ports, sa.selector),)),
        ]
        self._send_encrypted(sa, ExchangeType.IKE_AUTH, payloads, request=True, now=now)

    def _on_auth_response(self, sa: IkeSa, inner: list[Payload], now: float) -> None:
        self._auth_response(sa, inner, now)
        _forget_auth_material(sa)

    def _auth_response(self, sa: IkeSa, inner: list[Payload], now: float) -> None:
        assert sa.keys is not None and sa.entry is not None and sa.selector is not None
        notifies = [p for p in inner if isinstance(p, NotifyPayload)]
        errors = [n for n in notifies if int(n.notify_type) < 16384]
        idr, auth = _first(inner, IdrPayload), _first(inner, AuthPayload)
        if idr is None or auth is None:
            name = _notify_name(errors[0].notify_type) if errors else "INVALID_SYNTAX"
            self._fail(sa, name, "the peer refused IKE_AUTH")
            return
        algorithms = self._algorithms(sa)
        octets = signed_octets(
            algorithms.prf, sa.init_response, sa.nonce_i, sa.keys.sk_pr, int(idr.id_type), idr.data
        )
        method = int(auth.method)
        if method == AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE:
            expected = (
                None
                if sa.remote_psk is None
                else psk_auth(algorithms.prf, sa.remote_psk.value, octets)
            )
            if expected is None or not _equal(expected, auth.data):
                self._fail(
                    sa, "AUTHENTICATION_FAILED", "the peer's AUTH does not match our remote key"
                )
                return
        elif method in SIGNATURE_METHODS:
            group = sa.tunnel_group
            if group is None or not group.ikev2_remote_certificate:
                name = group.name if group is not None else sa.peer[0]
                self._fail(
                    sa,
                    "AUTHENTICATION_FAILED",
                    f"the peer signed with a certificate but tunnel-group {name} does not "
                    "accept ikev2 remote-authentication certificate",
                )
                return
            verified = self._peer_certificate(inner, now)
            problem = (
                verified
                if isinstance(verified, str)
                else self._check_signature(group, verified, idr, auth, octets)
            )
            if problem is not None:
                self._fail(sa, "AUTHENTICATION_FAILED", problem)
                return
        else:
            self._fail(sa, "AUTHENTICATION_FAILED", f"unsupported AUTH method {method}")
            return
        self._established(sa, now)
        if errors:
            self._events.append(
                ChildSaFailed(
                    sa.peer, _notify_name(errors[0].notify_type), "the peer refused the child SA"
                )
            )
            return
        sa_payload = _first(inner, SaPayload)
        answers = wire.esp_offers_as_proposals(sa_payload) if sa_payload else []
        if len(answers) != 1:
            self._events.append(ChildSaFailed(sa.peer, "NO_PROPOSAL_CHOSEN", "no ESP answer"))
            return
        proposal, chosen = answers[0]
        check = select_ipsec_proposal([chosen], sa.entry.proposals)
        if isinstance(check, Refusal):
            self._events.append(ChildSaFailed(sa.peer, check.notify, check.reason))
            return
        tsi, tsr = _first(inner, TsiPayload), _first(inner, TsrPayload)
        selector = _narrowed(sa.selector, tsi, tsr) if tsi and tsr else sa.selector
        transport = any(n.notify_type == NotifyType.USE_TRANSPORT_MODE for n in notifies)
        if sa.entry.ikev2_mode == "transport-require" and not transport:
            # the peer fell back to tunnel mode, which transport-require forbids: refuse it
            # and have the peer remove the child SA it installed
            self._events.append(
                ChildSaFailed(
                    sa.peer,
                    "NO_PROPOSAL_CHOSEN",
                    "the peer answered tunnel mode; 'set ikev2 mode transport-require' "
                    "allows no fallback",
                )
            )
            placeholder = Child(sa.child_spi, proposal.spi, "", "", "tunnel", selector, sa.entry)
            self._request(
                sa,
                Pending("delete-child", placeholder),
                ExchangeType.INFORMATIONAL,
                [DeletePayload(ProtocolId.ESP, (sa.child_spi,))],
                now,
            )
            return
        self._child(
            sa,
            check.encryption,
            check.integrity,
            sa.child_spi,
            proposal.spi,
            "transport" if transport else "tunnel",
            selector,
            sa.entry,
            now=now,
            peer_payloads=inner,
        )

    def _on_auth_request(self, sa: IkeSa, inner: list[Payload], now: float) -> None:
        self._auth_request(sa, inner, now)
        _forget_auth_material(sa)

    def _auth_request(self, sa: IkeSa, inner: list[Payload], now: float) -> None:
        assert sa.keys is not None
        idi, auth = _first(inner, IdiPayload), _first(inner, AuthPayload)
        if idi is None or auth is None:
            raise DecodeError("IKE_AUTH request without IDi or AUTH")
        ike_id = _identity_text(int(idi.id_type), idi.data)
        algorithms = self._algorithms(sa)
        octets = signed_octets(
            algorithms.prf, sa.init_request, sa.nonce_r, sa.keys.sk_pi, int(idi.id_type), idi.data
        )
        method = int(auth.method)
        if method == AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE:
            match = find_tunnel_group(
                self.gateway, peer_address=sa.peer[0], version=2, auth="psk", ike_id=ike_id
            )
            if isinstance(match, Refusal) or match.group.ikev2_remote_psk is None:
                self._refuse_auth(sa, now, "no tunnel group with a key for this peer")
                return
            expected = psk_auth(algorithms.prf, match.group.ikev2_remote_psk.value, octets)
            if not _equal(expected, auth.data):
                self._refuse_auth(
                    sa, now, f"pre-shared key mismatch with tunnel-group {match.group.name}"
                )
                return
        elif method in SIGNATURE_METHODS:
            verified = self._peer_certificate(inner, now)
            if isinstance(verified, str):
                self._refuse_auth(sa, now, verified)
                return
            match = find_tunnel_group(
                self.gateway,
                peer_address=sa.peer[0],
                version=2,
                auth="cert",
                ike_id=ike_id,
                certificate=verified.info,
            )
            if isinstance(match, Refusal):
                self._refuse_auth(sa, now, match.reason)
                return
            problem = self._check_signature(match.group, verified, idi, auth, octets)
            if problem is not None:
                self._refuse_auth(sa, now, problem)
                return
        else:
            self._refuse_auth(sa, now, f"unsupported AUTH method {method}")
            return
        group = match.group
        local = self._local_identity(group.ikev2_local_certificate, self._local_of(sa)[0])
        if isinstance(local, str):
            self._refuse_auth(sa, now, local)
            return
        id_type, id_data, credential = local
        if credential is None and group.ikev2_local_psk is None:
            self._refuse_auth(
                sa,
                now,
                f"tunnel-group {group.name} has no ikev2 local-authentication "
                "pre-shared-key or certificate",
            )
            return
        id_payload = IdrPayload(id_type, id_data)
        my_octets = signed_octets(
            algorithms.prf,
            sa.init_response,
            sa.nonce_i,
            sa.keys.sk_pr,
            int(id_payload.id_type),
            id_payload.data,
        )
        proof = self._local_auth(sa, credential, group.ikev2_local_psk, my_octets)
        if isinstance(proof, str):
            self._refuse_auth(sa, now, proof)
            return
        certs, my_auth = proof
        if any(
            isinstance(p, NotifyPayload) and p.notify_type == NotifyType.INITIAL_CONTACT
            for p in inner
        ):
            # the peer restarted: the IKE SAs we still hold with it are stale (§2.4)
            for stale in [
                o
                for o in self.sas.values()
                if o is not sa and o.peer[0] == sa.peer[0] and o.state == "established"
            ]:
                self._ike_deleted(stale, "initial contact from the peer")
        self._established(sa, now)
        child = self._respond_child(sa, inner, now)
        self._send_encrypted(
            sa,
            ExchangeType.IKE_AUTH,
            [id_payload, *certs, my_auth, *child],
            request=False,
            now=now,
            message_id=1,
        )
        self._half_open.pop((sa.spi_i, sa.peer), None)
        sa.half_open_until = None

    # ------------------------------------------------------------------ certificates

    def _local_identity(
        self, trustpoint: str | None, address: str
    ) -> tuple[IdType, bytes, LocalCredential | None] | str:
        """Our ID (and the credential to sign with) for a group's local authentication: from
        the trustpoint's identity certificate, or ``crypto isakmp identity`` with a key;
        ``address`` is the SA's local address (the identity when it is the address)."""
        if trustpoint is None:
            return (*self._identity(address), None)
        credential = self.gateway.credentials.local_for(trustpoint)
        if credential is None:
            return f"trustpoint {trustpoint} has no identity certificate"
        try:
            kind, data = ike_identity(credential.certificate, self.gateway.identity, address)
        except (CertificateError, ValueError) as exc:
            return f"trustpoint {trustpoint}: no IKE identity in its certificate: {exc}"
        id_type = ID_TYPE_OF_KIND.get(kind)
        if id_type is None:
            return f"trustpoint {trustpoint}: unsupported identity kind {kind}"
        return id_type, data, credential

    def _local_auth(
        self,
        sa: IkeSa,
        credential: LocalCredential | None,
        psk: PreSharedKey | None,
        octets: bytes,
    ) -> tuple[list[Payload], AuthPayload] | str:
        """Our CERT payloads and AUTH: a signature with the credential's key, else the PSK."""
        if credential is None:
            assert psk is not None
            prf = self._algorithms(sa).prf
            return [], AuthPayload(
                AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE, psk_auth(prf, psk.value, octets)
            )
        try:
            method, data = ikev2_sign(credential.private_key, octets, sa.peer_hashes)
        except (SignatureError, ValueError, TypeError) as exc:
            return f"trustpoint {credential.trustpoint}: cannot sign: {exc}"
        return certificate_payloads(credential.chain), AuthPayload(method, data)

    def _peer_certificate(self, inner: list[Payload], now: float) -> Verified | str:
        """The peer's identity certificate, validated to a trustpoint, or why not."""
        chain = peer_chain(inner)
        if isinstance(chain, str):
            return chain
        if self.utc_offset_s is None:
            return "the wall-clock time is unknown: certificate validity cannot be checked"
        wall = datetime.fromtimestamp(now + self.utc_offset_s, UTC)
        result = verify_peer(chain, self.gateway.credentials, wall)
        if isinstance(result, Rejected):
            return result.reason
        return result

    def _check_signature(
        self,
        group: TunnelGroup,
        verified: Verified,
        id_payload: IdiPayload | IdrPayload,
        auth: AuthPayload,
        octets: bytes,
    ) -> str | None:
        """``peer-id-validate`` of the group, then the AUTH signature by the certificate's
        key (None: authenticated)."""
        certificate = verified.certificate
        kind = KIND_OF_ID_TYPE.get(int(id_payload.id_type))
        mode = group.peer_id_validate
        check = mode == "req" or (
            mode == "cert" and kind is not None and carries_identity_kind(certificate, kind)
        )
        if check and (kind is None or not matches_identity(certificate, kind, id_payload.data)):
            shown = _identity_text(int(id_payload.id_type), id_payload.data) or kind or "?"
            return (
                f"identity {shown} does not match the certificate {describe(certificate)} "
                f"(tunnel-group {group.name} peer-id-validate {mode})"
            )
        try:
            problem = ikev2_verify(certificate.public_key(), int(auth.method), auth.data, octets)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            problem = str(exc)
        if problem is not None:
            return f"the peer's AUTH signature is not valid: {problem}"
        return None

    def _respond_child(self, sa: IkeSa, inner: list[Payload], now: float) -> list[Payload]:
        """The child SA part of our IKE_AUTH answer (or the notify refusing it)."""
        sa_payload, tsi, tsr = (
            _first(inner, SaPayload),
            _first(inner, TsiPayload),
            _first(inner, TsrPayload),
        )
        if sa_payload is None or tsi is None or tsr is None:
            return [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)]
        cmap = self.gateway.crypto_maps.get(self.interface)
        proposal = _proposed(tsi, tsr)
        choice = choose_entry(cmap, sa.peer[0], proposal, 2) if cmap else None
        if choice is None or isinstance(choice, Refusal):
            reason = choice.reason if choice else f"no crypto map on {self.interface}"
            self._events.append(ChildSaFailed(sa.peer, "TS_UNACCEPTABLE", reason))
            return [NotifyPayload(NotifyType.TS_UNACCEPTABLE)]
        offered = wire.esp_offers_as_proposals(sa_payload)
        picked = select_ipsec_proposal([p for _, p in offered], choice.entry.proposals)
        if isinstance(picked, Refusal):
            self._events.append(ChildSaFailed(sa.peer, picked.notify, picked.reason))
            return [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)]
        wire_proposal = next(w for w, p in offered if p == picked.offer)
        transport = any(
            isinstance(p, NotifyPayload) and p.notify_type == NotifyType.USE_TRANSPORT_MODE
            for p in inner
        )
        mode = select_mode("transport" if transport else "tunnel", choice.entry.ikev2_mode)
        if isinstance(mode, Refusal):
            self._events.append(ChildSaFailed(sa.peer, mode.notify, mode.reason))
            return [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)]
        spi = self._new_child_spi()
        self._child(
            sa,
            picked.encryption,
            picked.integrity,
            spi,
            wire_proposal.spi,
            mode,
            choice.selector,
            choice.entry,
            now=now,
            peer_payloads=inner,
        )
        out: list[Payload] = []
        if mode == "transport":
            out.append(NotifyPayload(NotifyType.USE_TRANSPORT_MODE))
        sel = choice.selector  # our view: source = ours (TSr), destination = theirs (TSi)
        out += [
            wire.esp_answer(wire_proposal.number, spi, picked.encryption, picked.integrity),
            TsiPayload((_ts(sel.destination, sel.destination_ports, sel),)),
            TsrPayload((_ts(sel.source, sel.source_ports, sel),)),
        ]
        return out

    def _refuse_auth(self, sa: IkeSa, now: float, reason: str) -> None:
        self._send_encrypted(
            sa,
            ExchangeType.IKE_AUTH,
            [NotifyPayload(NotifyType.AUTHENTICATION_FAILED)],
            request=False,
            now=now,
            message_id=1,
        )
        self._events.append(IkeSaFailed(sa.peer, "AUTHENTICATION_FAILED", reason))
        self._half_open.pop((sa.spi_i, sa.peer), None)
        sa.state = "failed"
        self.sas.pop(sa.spi_r, None)

    def _identity(self, address: str) -> tuple[IdType, bytes]:
        """Our phase-1 identity per ``crypto isakmp identity`` (auto: the address with PSK:
        ID_IPV4_ADDR or ID_IPV6_ADDR of the SA's local ``address``, RFC 7296 §3.5)."""
        kind = self.gateway.identity
        if kind == "hostname":
            fqdn = self.gateway.hostname
            if self.gateway.domain_name:
                fqdn += "." + self.gateway.domain_name
            return IdType.ID_FQDN, fqdn.encode()
        if kind == "key-id" and self.gateway.identity_key_id:
            return IdType.ID_KEY_ID, self.gateway.identity_key_id.encode()
        packed = _packed_address(address)
        return (IdType.ID_IPV6_ADDR if len(packed) == 16 else IdType.ID_IPV4_ADDR), packed


@functools.lru_cache(maxsize=256)
def _packed_address(address: str) -> bytes:
    """IPv4 or IPv6 text as its 4 or 16 network-order octets."""
    return ipaddress.ip_address(address).packed


def _identity_text(id_type: int, data: bytes) -> str | None:
    """A received ID as text for the tunnel-group lookup (addresses as the engines write
    them: a dotted quad, RFC 5952 IPv6 text); None for kinds that name no group."""
    if id_type == IdType.ID_IPV4_ADDR and len(data) == 4:
        return f"{data[0]}.{data[1]}.{data[2]}.{data[3]}"
    if id_type == IdType.ID_IPV6_ADDR and len(data) == 16:
        return str(ipaddress.IPv6Address(data))
    if id_type in (IdType.ID_FQDN, IdType.ID_RFC822_ADDR, IdType.ID_KEY_ID):
        return data.decode("utf-8", "replace")
    return None


def _forget_auth_material(sa: IkeSa) -> None:
    """Once IKE_AUTH established the SA (and derived its first child's keys), drop what only
    that exchange needed: the IKE_SA_INIT nonces (§2.15 AUTH, §2.17 the first child's
    KEYMAT; CREATE_CHILD_SA and rekeys use their own exchange's nonces, §1.3, §2.18) and
    SK_pi/SK_pr (§2.15). The peer's hash algorithms are kept, shared between SAs."""
    if sa.state != "established" or sa.keys is None:
        return
    sa.nonce_i = sa.nonce_r = b""
    sa.keys = sa.keys.established()
    sa.peer_hashes = shared_hashes(sa.peer_hashes)
