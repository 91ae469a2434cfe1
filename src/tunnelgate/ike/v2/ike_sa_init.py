"""The IKE_SA_INIT exchange (RFC 7296 §1.2, §2.6 COOKIE, §1.3 INVALID_KE_PAYLOAD, §2.14 keys,
§2.23 NAT detection) with the IKEV2_FRAGMENTATION_SUPPORTED notify (RFC 7383 §2.3).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress

from tunnelgate.crypto import dh
from tunnelgate.ike.addresses import canonical
from tunnelgate.ike.v2 import proposals as wire
from tunnelgate.ike.v2.auth import certreq_payload, hash_algorithms_notify, peer_hash_algorithms
from tunnelgate.ike.v2.constants import ExchangeType, HeaderFlag, NotifyType
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.events import IkeSaFailed
from tunnelgate.ike.v2.ike_auth import IkeAuthExchange
from tunnelgate.ike.v2.keymat import derive_ike_keys
from tunnelgate.ike.v2.message import Header, Message, encode_message
from tunnelgate.ike.v2.payloads import KePayload, NoncePayload, NotifyPayload, Payload, SaPayload
from tunnelgate.ike.v2.state import NAT_T_PORT, NONCE_BYTES, Address, IkeSa
from tunnelgate.ike.v2.task_manager import _equal
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.ike_proposal import (
    Ikev2Choice,
    check_ke_group,
    initial_ke_group,
    select_ikev2,
)
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group

MAX_HALF_OPEN = 1000
# A responder's SA waiting for IKE_AUTH is forgotten after this (strongSwan's half_open_timeout):
# without it spoofed or abandoned IKE_SA_INITs would hold the half-open table, and with it the
# COOKIE demand and the MAX_HALF_OPEN refusal, for ever
HALF_OPEN_TIMEOUT_S = 30.0
# An initiator follows at most this many COOKIE challenges with one SA (new cookie values)
MAX_COOKIE_ROUNDS = 3


@functools.lru_cache(maxsize=4096)
def _packed(address: str) -> bytes:
    """The network-order bytes of an IP address text (memoised: every IKE_SA_INIT asks)."""
    return ipaddress.ip_address(address).packed


class IkeSaInitExchange(IkeAuthExchange):
    """IKE_SA_INIT as initiator (which goes on with IKE_AUTH) and as responder."""

    def initiate(self, entry: MapEntry, rule: Rule, now: float, peer_port: int = 500) -> IkeSa:
        """Start IKE_SA_INIT towards the entry's first peer for the traffic of ``rule``."""
        if not entry.peers or not rule.selectors:
            raise ValueError(f"{entry.label} has no peer or {rule.acl} line {rule.line} no traffic")
        peer = (canonical(entry.peers[0]), peer_port)
        local = self._locals.for_peer(peer[0])  # ValueError: no address of the peer's family
        sa = IkeSa(True, peer, self._new_spi(), entry=entry, selector=rule.selectors[0])
        sa.local_address = local
        match = find_tunnel_group(self.gateway, peer_address=peer[0], version=2, auth="psk")
        if isinstance(match, Refusal):
            # a group that authenticates its peer by certificate has no remote key
            by_cert = find_tunnel_group(self.gateway, peer_address=peer[0], version=2, auth="cert")
            if isinstance(by_cert, Refusal):
                raise ValueError(match.reason)
            match = by_cert
        sa.tunnel_group = match.group
        sa.local_psk = match.group.ikev2_local_psk
        sa.remote_psk = match.group.ikev2_remote_psk
        sa.group = initial_ke_group(self.gateway.ikev2_policies)
        sa.nonce_i = self.random(NONCE_BYTES)
        self._add_sa(sa)
        self._send_init_request(sa, now)
        return sa

    def _send_init_request(self, sa: IkeSa, now: float) -> None:
        # a retry after a COOKIE repeats every payload unchanged (RFC 7296 §2.6): a new key
        # only for the first request and after INVALID_KE_PAYLOAD named another group
        if sa.private is None or sa.private.group != sa.group:
            sa.private, sa.public = dh.group(sa.group).generate(self.random)
        public = sa.public
        payloads: list[Payload] = []
        if sa.cookie:
            payloads.append(NotifyPayload(NotifyType.COOKIE, sa.cookie))
        payloads += [
            wire.ike_offer(self.gateway.ikev2_policies),
            KePayload(sa.group, public),
            NoncePayload(sa.nonce_i),
            *self._nat_detection(sa.spi_i, bytes(8), sa.peer, self._local_of(sa)),
            *self._fragmentation_supported(),
            *self._signature_hashes(),
        ]
        header = Header(sa.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0)
        sa.init_request = encode_message(Message(header, tuple(payloads)))
        sa.next_message_id = 1
        self._send_request(sa, sa.init_request, now)

    def _on_init_response(self, sa: IkeSa, message: Message, data: bytes, now: float) -> None:
        cookie = message.find_notify(NotifyType.COOKIE)
        if cookie is not None:
            fresh = cookie.data != sa.cookie
            if fresh and sa.cookie_rounds < MAX_COOKIE_ROUNDS:
                # the first COOKIE, or a new one (the responder's secret changed, e.g. it
                # restarted): retry with it, a bounded number of times (RFC 7296 §2.6)
                sa.cookie, sa.cookie_rounds = cookie.data, sa.cookie_rounds + 1
                self._send_init_request(sa, now)
                return
            # The same COOKIE again is a late copy: the answer to our retransmission of the
            # request without it, arriving while the request with the cookie is outstanding.
            # Ignored, so that request keeps its timer (engine._on_setup_response) and its
            # answer is taken when it comes.
            self.drops["repeated-cookie"] += 1
            return
        invalid_ke = message.find_notify(NotifyType.INVALID_KE_PAYLOAD)
        if invalid_ke is not None and len(invalid_ke.data) == 2:
            wanted = int.from_bytes(invalid_ke.data, "big")
            allowed = {g for p in self.gateway.ikev2_policies for g in p.group}
            if wanted in allowed and wanted != sa.group:
                sa.group = wanted
                self._send_init_request(sa, now)
                return
            if wanted == sa.group != initial_ke_group(self.gateway.ikev2_policies):
                # a late copy answering a request in the group we left: already done
                self.drops["repeated-invalid-ke"] += 1
                return
        for notify in message.find_all(NotifyPayload):
            if isinstance(notify.notify_type, NotifyType) and notify.notify_type < 16384:
                self._fail(sa, notify.notify_type.name, "the peer refused IKE_SA_INIT")
                return
        sa_payload, ke, nonce = (
            message.find(SaPayload),
            message.find(KePayload),
            message.find(NoncePayload),
        )
        if sa_payload is None or ke is None or nonce is None:
            raise DecodeError("IKE_SA_INIT response without SA, KE or Nonce")
        answers = wire.ike_offers_as_policies(sa_payload)
        choice = select_ikev2(answers, self.gateway.ikev2_policies) if len(answers) == 1 else None
        if not isinstance(choice, Ikev2Choice) or int(ke.dh_group) != sa.group:
            self._fail(sa, "NO_PROPOSAL_CHOSEN", "the peer chose a proposal we did not offer")
            return
        sa.spi_r = message.header.spi_r
        sa.nonce_r, sa.choice, sa.init_response = nonce.data, choice, data
        self._derive(sa, ke.data)
        sa.nat_detected = self._nat_detected(
            message, sa.spi_i, sa.spi_r, sa.peer, self._local_of(sa)
        )
        sa.fragmentation = self.gateway.ikev2_fragmentation and (
            message.find_notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
        )
        sa.peer_hashes = peer_hash_algorithms(message.payloads)
        if sa.nat_detected:  # RFC 7296 §2.23: continue on port 4500
            sa.peer = (sa.peer[0], NAT_T_PORT)
        sa.state = "auth"
        self._send_auth_request(sa, now)

    def _on_init_request(
        self, message: Message, data: bytes, addr: Address, local: Address, now: float
    ) -> None:
        """A new IKE_SA_INIT request from ``addr`` that arrived on our address ``local``
        (which the SA then uses, D115)."""
        key = (message.header.spi_i, addr)
        existing = self._half_open.get(key)
        if existing is not None:  # a retransmitted request: answer the same way
            if existing.init_response:
                self._outbox.append((existing.init_response, addr, self._local_of(existing)))
            return
        if len(self._half_open) >= MAX_HALF_OPEN:
            self.drops["half-open-limit"] += 1
            return
        if len(self._half_open) >= self.cookie_threshold:
            nonce_payload = message.find(NoncePayload)
            if nonce_payload is None:
                raise DecodeError("IKE_SA_INIT request without Nonce")
            expected = self._cookie(nonce_payload.data, addr, message.header.spi_i)
            got = message.find_notify(NotifyType.COOKIE)
            if got is None or not _equal(got.data, expected):
                # no state is kept: the initiator must prove it receives at this address
                self._answer_init_error(message.header, addr, local, NotifyType.COOKIE, expected)
                self.drops["cookie-demanded"] += 1
                return
        if self.interface not in self.gateway.ikev2_enabled:
            self.drops["ikev2-not-enabled"] += 1
            return
        sa_payload, ke, nonce = (
            message.find(SaPayload),
            message.find(KePayload),
            message.find(NoncePayload),
        )
        if sa_payload is None or ke is None or nonce is None:
            raise DecodeError("IKE_SA_INIT request without SA, KE or Nonce")
        header = message.header
        choice = select_ikev2(wire.ike_offers_as_policies(sa_payload), self.gateway.ikev2_policies)
        if isinstance(choice, Refusal):
            self._answer_init_error(header, addr, local, NotifyType.NO_PROPOSAL_CHOSEN, b"")
            self._events.append(IkeSaFailed(addr, choice.notify, choice.reason))
            return
        wrong_group = check_ke_group(choice, int(ke.dh_group))
        if wrong_group is not None:
            self._answer_init_error(
                header, addr, local, NotifyType.INVALID_KE_PAYLOAD, choice.group.to_bytes(2, "big")
            )
            return
        wants_fragments = self.gateway.ikev2_fragmentation and (
            message.find_notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
        )
        sa = IkeSa(
            False,
            addr,
            header.spi_i,
            self._new_spi(),
            local_address=local,
            group=choice.group,
            nonce_i=nonce.data,
            nonce_r=self.random(NONCE_BYTES),
            choice=choice,
            init_request=data,
            peer_hashes=peer_hash_algorithms(message.payloads),
        )
        sa.private, public = dh.group(choice.group).generate(self.random)
        self._derive(sa, ke.data)
        payloads: tuple[Payload, ...] = (
            wire.ike_answer(
                choice.offer.priority, choice.encryption, choice.integrity, choice.prf, choice.group
            ),
            KePayload(choice.group, public),
            NoncePayload(sa.nonce_r),
            *self._certificate_request(),
            *self._nat_detection(sa.spi_i, sa.spi_r, addr, local),
            *(self._fragmentation_supported() if wants_fragments else []),
            *self._signature_hashes(),
        )
        response = Header(sa.spi_i, sa.spi_r, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
        sa.init_response = encode_message(Message(response, payloads))
        sa.nat_detected = self._nat_detected(message, sa.spi_i, bytes(8), addr, local)
        sa.fragmentation = wants_fragments
        sa.state, sa.next_message_id, sa.expected_request_id = "auth", 0, 1
        sa.half_open_until = now + HALF_OPEN_TIMEOUT_S
        self._add_sa(sa)
        self._half_open[key] = sa
        self._outbox.append((sa.init_response, addr, local))

    def _answer_init_error(
        self, header: Header, addr: Address, local: Address, notify: NotifyType, data: bytes
    ) -> None:
        response = Header(header.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
        self._outbox.append(
            (encode_message(Message(response, (NotifyPayload(notify, data),))), addr, local)
        )

    def _derive(self, sa: IkeSa, peer_public: bytes) -> None:
        assert sa.private is not None and sa.choice is not None
        shared = dh.group(sa.group).shared_secret(sa.private, peer_public)
        algorithms = self._algorithms(sa)
        sa.keys = derive_ike_keys(
            algorithms.prf,
            algorithms.encryption,
            algorithms.integrity,
            sa.nonce_i,
            sa.nonce_r,
            shared,
            sa.spi_i,
            sa.spi_r,
        )
        sa.private, sa.public = None, b""  # the DH secret is not needed any more

    def _fragmentation_supported(self) -> list[Payload]:
        if not self.gateway.ikev2_fragmentation:
            return []
        return [NotifyPayload(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)]

    def _signature_hashes(self) -> list[Payload]:
        """RFC 7427 §4: announce the hashes we sign with when we have any credentials."""
        return [hash_algorithms_notify()] if self.gateway.credentials else []

    def _certificate_request(self) -> list[Payload]:
        """The responder's CERTREQ (RFC 7296 §3.7) naming the CAs of every trustpoint."""
        certreq = certreq_payload(self.gateway.credentials)
        return [] if certreq is None else [certreq]

    def _cookie(self, nonce: bytes, addr: Address, spi_i: bytes) -> bytes:
        """RFC 7296 §2.6: <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)."""
        ip = _packed(addr[0])
        digest = hashlib.sha256(nonce + ip + spi_i + self._cookie_secret).digest()
        return b"\x00\x00\x00\x01" + digest

    def _nat_detected(
        self, message: Message, spi_i: bytes, spi_r: bytes, peer: Address, local: Address
    ) -> bool:
        """True when the peer's NAT-D hashes (if any) do not match the addresses we see."""
        expected = {n.notify_type: n.data for n in self._nat_detection(spi_i, spi_r, peer, local)}
        sources = [
            n.data
            for n in message.find_all(NotifyPayload)
            if n.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP
        ]
        destination = message.find_notify(NotifyType.NAT_DETECTION_DESTINATION_IP)
        if not sources and destination is None:
            return False
        peer_hash = expected[NotifyType.NAT_DETECTION_DESTINATION_IP]  # hash of the peer
        our_hash = expected[NotifyType.NAT_DETECTION_SOURCE_IP]  # hash of us
        peer_ok = peer_hash in sources
        we_ok = destination is not None and _equal(destination.data, our_hash)
        return not (peer_ok and we_ok)

    def _nat_detection(
        self, spi_i: bytes, spi_r: bytes, peer: Address, local: Address
    ) -> list[NotifyPayload]:
        """NAT_DETECTION_SOURCE_IP over our address ``local`` and NAT_DETECTION_DESTINATION_IP
        over the peer's: SHA-1(SPIi | SPIr | IP | Port), the IP as on the wire (4 octets for
        IPv4, 16 for IPv6; RFC 7296 §2.23)."""

        def digest(address: Address) -> bytes:
            ip = _packed(address[0])
            return hashlib.sha1(
                spi_i + spi_r + ip + address[1].to_bytes(2, "big"), usedforsecurity=False
            ).digest()

        return [
            NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, digest(local)),
            NotifyPayload(NotifyType.NAT_DETECTION_DESTINATION_IP, digest(peer)),
        ]
