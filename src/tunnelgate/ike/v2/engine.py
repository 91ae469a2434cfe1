"""The IKEv2 engine (RFC 7296) without I/O: IKE_SA_INIT and IKE_AUTH with pre-shared keys.

One ``Ikev2Engine`` serves one local address of a gateway. It is fed datagrams and time
and emits datagrams, one timer and events (the house surface of ARCHITECTURE.md):
``receive_datagram(data, addr, now)``, ``datagrams_to_send(now)``, ``get_timer()``,
``handle_timer(now)``, ``next_event()``, and the command ``initiate(entry, rule, now)``.

Decisions come from ``tunnelgate.policy`` (proposal selection, responder crypto map
choice, tunnel-group lookup), so the engine, the analyzer and packet-tracer agree.
Peer input never raises out of ``receive_datagram``: malformed or unexpected datagrams
are dropped and counted in ``drops``; negotiation failures are answered with the notify
the RFC asks for and reported as events.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tunnelgate.crypto import dh
from tunnelgate.crypto.cipher import EncryptionAlgorithm
from tunnelgate.crypto.errors import CryptoError, UnknownAlgorithm
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.crypto.prf import Prf
from tunnelgate.crypto.registry import (
    Kind,
    encryption,
    integrity_algorithm,
    prf_algorithm,
)
from tunnelgate.ike.v2 import proposals as wire
from tunnelgate.ike.v2.auth import psk_auth, signed_octets
from tunnelgate.ike.v2.constants import (
    AuthMethod,
    ExchangeType,
    HeaderFlag,
    IdType,
    NotifyType,
    ProtocolId,
)
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.events import (
    AnyEvent,
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaFailed,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaFailed,
    InvalidSelectorsReceived,
    PeerUnreachable,
)
from tunnelgate.ike.v2.keymat import (
    IkeKeys,
    derive_child_keys,
    derive_ike_keys,
    derive_rekeyed_ike_keys,
)
from tunnelgate.ike.v2.message import (
    Header,
    Message,
    decode_header,
    decode_inner_payloads,
    decode_message,
    encode_message,
)
from tunnelgate.ike.v2.payloads import (
    AuthPayload,
    DeletePayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    SkfPayload,
    TrafficSelector,
    TsiPayload,
    TsrPayload,
)
from tunnelgate.ike.v2.protection import Protection, open_body, seal, seal_fragments
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.address import ipv4_text
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.ike import PreSharedKey
from tunnelgate.policy.ike_proposal import (
    Ikev2Choice,
    check_ke_group,
    initial_ke_group,
    select_ikev2,
)
from tunnelgate.policy.ipsec_proposal import check_pfs, select_ipsec_proposal, select_mode
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.responder import choose_entry
from tunnelgate.policy.selector import Range, Selector
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group

Address = tuple[str, int]
P = TypeVar("P")
RandomSource = Callable[[int], bytes]
NONCE_BYTES = 32
NAT_T_PORT = 4500
MAX_FRAGMENTS = 100  # spec: "A maximum of a 100 fragments can be received"
INVALID_SELECTORS_INTERVAL_S = 5.0  # spec: "one notification message per SA every five seconds"
MAX_HALF_OPEN = 1000


@dataclass(frozen=True, slots=True)
class _Algorithms:
    """The implementations behind a chosen IKE proposal."""

    prf: Prf
    encryption: EncryptionAlgorithm
    integrity: Integrity

    @classmethod
    def of(cls, c: Ikev2Choice) -> _Algorithms:
        return cls(
            prf_algorithm(Kind.IKEV2_PRF, c.prf),
            encryption(Kind.IKEV2_ENCRYPTION, c.encryption),
            integrity_algorithm(Kind.IKEV2_INTEGRITY, c.integrity),
        )


@dataclass(slots=True)
class Child:
    """An established child SA, by the SPI we receive on."""

    spi_in: bytes
    spi_out: bytes
    encryption: str
    integrity: str
    mode: str
    selector: Selector  # source = our side
    entry: MapEntry
    rekey_at: float | None = None  # 85-95 % of the lifetime (jitter from the random source)
    expire_at: float | None = None  # the hard lifetime
    # the peer rekeyed this child while our own rekey of it was outstanding (RFC 7296
    # §2.8.1): the nonces of the peer's exchange (Ni, Nr), to find the redundant new SA
    collision: tuple[bytes, bytes] | None = None
    invalid_selectors_sent_at: float | None = None  # rate limit: one per SA per 5 s


@dataclass(slots=True)
class Pending:
    """What our outstanding request is for (one at a time: window size 1)."""

    kind: str  # rekey-child | delete-child | liveness | delete-ike
    child: Child | None = None
    new_spi: bytes = b""
    nonce: bytes = b""
    group: int | None = None
    private: dh.DhPrivateKey | None = field(default=None, repr=False)


@dataclass(slots=True)
class IkeSa:
    """One IKE SA being negotiated or established (the mutable owner of its state)."""

    initiator: bool
    peer: Address
    spi_i: bytes
    spi_r: bytes = bytes(8)
    state: str = "init"  # init | auth | established | failed
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    group: int = 0
    private: dh.DhPrivateKey | None = None
    choice: Ikev2Choice | None = None
    keys: IkeKeys | None = field(default=None, repr=False)
    init_request: bytes = b""
    init_response: bytes = b""
    cookie: bytes = b""
    nat_detected: bool = False  # NAT-D hashes did not match: IKE moves to UDP 4500
    # initiator's child request
    entry: MapEntry | None = None
    selector: Selector | None = None
    child_spi: bytes = b""
    local_psk: PreSharedKey | None = field(default=None, repr=False)
    remote_psk: PreSharedKey | None = field(default=None, repr=False)
    # reliability
    next_message_id: int = 0
    last_request: list[bytes] = field(default_factory=list)  # one datagram per fragment
    retransmit_at: float | None = None
    retransmits: int = 0
    responses: dict[int, list[bytes]] = field(default_factory=dict)  # message id -> datagrams
    fragmentation: bool = False  # both announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383)
    fragments: dict[int, dict[int, bytes]] = field(default_factory=dict)  # mid -> n -> plain
    fragment_first: dict[int, int] = field(default_factory=dict)  # mid -> first payload
    expected_request_id: int = 0  # the next request id the peer may send
    pending: Pending | None = None
    children: dict[bytes, Child] = field(default_factory=dict)  # by our inbound SPI
    dpd_at: float | None = None  # next liveness check (tunnel-group isakmp keepalive)
    rekey_at: float | None = None  # IKE SA rekey, 85-95 % of the policy lifetime
    dpd_interval: float | None = None

    @property
    def key(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r


class Ikev2Engine:
    """IKEv2 for one local address of a gateway (see the module docstring)."""

    def __init__(
        self,
        gateway: GatewayPolicy,
        interface: str,
        random: RandomSource,
        *,
        retransmit_timeout_s: float = 1.0,
        retransmit_tries: int = 5,
        port: int = 500,
        cookie_threshold: int = 100,
    ) -> None:
        self.gateway = gateway
        self.interface = interface
        iface = gateway.interfaces[interface]
        if iface.address is None:
            raise ValueError(f"interface {interface} has no IPv4 address")
        self.address: Address = (ipv4_text(iface.address), port)
        self.random = random
        self.retransmit_timeout_s = retransmit_timeout_s
        self.retransmit_tries = retransmit_tries
        self.cookie_threshold = cookie_threshold  # half-open SAs before COOKIE is demanded
        self._cookie_secret = random(32)
        self.sas: dict[bytes, IkeSa] = {}  # by our own SPI
        self._half_open: dict[tuple[bytes, Address], IkeSa] = {}  # responder, by (SPIi, peer)
        self._outbox: list[tuple[bytes, Address]] = []
        self._events: deque[AnyEvent] = deque()
        self.drops: Counter[str] = Counter()

    # ------------------------------------------------------------------ surface

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> AnyEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        timers: list[float] = []
        for sa in self.sas.values():
            timers += [t for t in (sa.retransmit_at, sa.dpd_at, sa.rekey_at) if t is not None]
            for child in sa.children.values():
                timers += [t for t in (child.rekey_at, child.expire_at) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        for sa in list(self.sas.values()):
            if sa.retransmit_at is None or sa.retransmit_at > now:
                continue
            if sa.retransmits >= self.retransmit_tries:
                self._events.append(PeerUnreachable(sa.peer, sa.retransmits + 1))
                for child in sa.children.values():
                    self._events.append(
                        ChildSaDeleted(child.spi_in, child.spi_out, "peer unreachable")
                    )
                sa.children.clear()
                self._remove(sa)
                continue
            sa.retransmits += 1
            sa.retransmit_at = now + self.retransmit_timeout_s * (2**sa.retransmits)
            self._outbox.extend((d, sa.peer) for d in sa.last_request)
        for sa in list(self.sas.values()):
            if sa.state == "established":
                self._lifetimes(sa, now)

    def _lifetimes(self, sa: IkeSa, now: float) -> None:
        """Hard expiry, rekeys at 85-95 % of a child's lifetime, and liveness checks."""
        busy = sa.pending is not None or sa.retransmit_at is not None
        for child in list(sa.children.values()):
            if child.expire_at is not None and child.expire_at <= now:
                del sa.children[child.spi_in]
                self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, "lifetime expired"))
                if not busy:
                    self._request(
                        sa,
                        Pending("delete-child", child),
                        ExchangeType.INFORMATIONAL,
                        [DeletePayload(ProtocolId.ESP, (child.spi_in,))],
                        now,
                    )
                    busy = True
            elif child.rekey_at is not None and child.rekey_at <= now:
                if busy:
                    child.rekey_at = now + 1.0  # one request at a time: try again shortly
                    continue
                child.rekey_at = None  # rekeyed once; the new child gets its own timers
                self.rekey_child(child.spi_in, now)
                busy = True
        if sa.rekey_at is not None and sa.rekey_at <= now:
            if busy:
                sa.rekey_at = now + 1.0
            else:
                self.rekey_ike_sa(sa, now)
                busy = True
        if sa.dpd_at is not None and sa.dpd_at <= now and sa.dpd_interval is not None:
            sa.dpd_at = now + sa.dpd_interval
            if not busy:
                self.check_liveness(sa, now)

    def _jitter(self, low: float, high: float) -> float:
        """A uniform fraction in [low, high] from the injected random source."""
        return low + (high - low) * int.from_bytes(self.random(2), "big") / 0xFFFF

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Handle one datagram from ``addr``; never raises for anything the peer sends."""
        try:
            self._receive(data, addr, now)
        except (DecodeError, CryptoError, UnknownAlgorithm, ValueError) as exc:
            self.drops[type(exc).__name__] += 1

    # ------------------------------------------------------------------ initiator

    def initiate(self, entry: MapEntry, rule: Rule, now: float, peer_port: int = 500) -> IkeSa:
        """Start IKE_SA_INIT towards the entry's first peer for the traffic of ``rule``."""
        if not entry.peers or not rule.selectors:
            raise ValueError(f"{entry.label} has no peer or {rule.acl} line {rule.line} no traffic")
        peer = (entry.peers[0], peer_port)
        sa = IkeSa(True, peer, self._new_spi(), entry=entry, selector=rule.selectors[0])
        match = find_tunnel_group(self.gateway, peer_address=peer[0], version=2, auth="psk")
        if isinstance(match, Refusal):
            raise ValueError(match.reason)
        sa.local_psk = match.group.ikev2_local_psk
        sa.remote_psk = match.group.ikev2_remote_psk
        sa.group = initial_ke_group(self.gateway.ikev2_policies)
        sa.nonce_i = self.random(NONCE_BYTES)
        self.sas[sa.spi_i] = sa
        self._send_init_request(sa, now)
        return sa

    def _send_init_request(self, sa: IkeSa, now: float) -> None:
        group = dh.group(sa.group)
        sa.private, public = group.generate(self.random)
        payloads: list[Payload] = []
        if sa.cookie:
            payloads.append(NotifyPayload(NotifyType.COOKIE, sa.cookie))
        payloads += [
            wire.ike_offer(self.gateway.ikev2_policies),
            KePayload(sa.group, public),
            NoncePayload(sa.nonce_i),
            *self._nat_detection(sa.spi_i, bytes(8), sa.peer),
            *self._fragmentation_supported(),
        ]
        header = Header(sa.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0)
        sa.init_request = encode_message(Message(header, tuple(payloads)))
        sa.next_message_id = 1
        self._send_request(sa, sa.init_request, now)

    def _on_init_response(self, sa: IkeSa, message: Message, data: bytes, now: float) -> None:
        cookie = message.find_notify(NotifyType.COOKIE)
        if cookie is not None and not sa.cookie:
            sa.cookie = cookie.data
            self._send_init_request(sa, now)
            return
        invalid_ke = message.find_notify(NotifyType.INVALID_KE_PAYLOAD)
        if invalid_ke is not None and len(invalid_ke.data) == 2:
            wanted = int.from_bytes(invalid_ke.data, "big")
            allowed = {g for p in self.gateway.ikev2_policies for g in p.group}
            if wanted in allowed and wanted != sa.group:
                sa.group = wanted
                self._send_init_request(sa, now)
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
        sa.nat_detected = self._nat_detected(message, sa.spi_i, sa.spi_r, sa.peer)
        sa.fragmentation = self.gateway.ikev2_fragmentation and (
            message.find_notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
        )
        if sa.nat_detected:  # RFC 7296 §2.23: continue on port 4500
            sa.peer = (sa.peer[0], NAT_T_PORT)
        sa.state = "auth"
        self._send_auth_request(sa, now)

    def _send_auth_request(self, sa: IkeSa, now: float) -> None:
        assert sa.entry is not None and sa.selector is not None and sa.keys is not None
        sa.child_spi = self._new_child_spi()
        id_payload = IdiPayload(*self._identity())
        algorithms = self._algorithms(sa)
        octets = signed_octets(
            algorithms.prf,
            sa.init_request,
            sa.nonce_r,
            sa.keys.sk_pi,
            int(id_payload.id_type),
            id_payload.data,
        )
        if sa.local_psk is None:
            self._fail(
                sa, "AUTHENTICATION_FAILED", f"no IKEv2 local pre-shared key for {sa.peer[0]}"
            )
            return
        auth = AuthPayload(
            AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE,
            psk_auth(algorithms.prf, sa.local_psk.value, octets),
        )
        payloads: list[Payload] = [id_payload, auth]
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
        expected = (
            None if sa.remote_psk is None else psk_auth(algorithms.prf, sa.remote_psk.value, octets)
        )
        if expected is None or not _equal(expected, auth.data):
            self._fail(sa, "AUTHENTICATION_FAILED", "the peer's AUTH does not match our remote key")
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
        )

    # ------------------------------------------------------------------ responder

    def _on_init_request(self, message: Message, data: bytes, addr: Address, now: float) -> None:
        key = (message.header.spi_i, addr)
        existing = self._half_open.get(key)
        if existing is not None:  # a retransmitted request: answer the same way
            if existing.init_response:
                self._outbox.append((existing.init_response, addr))
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
                self._answer_init_error(message.header, addr, NotifyType.COOKIE, expected)
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
            self._answer_init_error(header, addr, NotifyType.NO_PROPOSAL_CHOSEN, b"")
            self._events.append(IkeSaFailed(addr, choice.notify, choice.reason))
            return
        wrong_group = check_ke_group(choice, int(ke.dh_group))
        if wrong_group is not None:
            self._answer_init_error(
                header, addr, NotifyType.INVALID_KE_PAYLOAD, choice.group.to_bytes(2, "big")
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
            group=choice.group,
            nonce_i=nonce.data,
            nonce_r=self.random(NONCE_BYTES),
            choice=choice,
            init_request=data,
        )
        sa.private, public = dh.group(choice.group).generate(self.random)
        self._derive(sa, ke.data)
        payloads: tuple[Payload, ...] = (
            wire.ike_answer(
                choice.offer.priority, choice.encryption, choice.integrity, choice.prf, choice.group
            ),
            KePayload(choice.group, public),
            NoncePayload(sa.nonce_r),
            *self._nat_detection(sa.spi_i, sa.spi_r, addr),
            *(self._fragmentation_supported() if wants_fragments else []),
        )
        response = Header(sa.spi_i, sa.spi_r, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
        sa.init_response = encode_message(Message(response, payloads))
        sa.nat_detected = self._nat_detected(message, sa.spi_i, bytes(8), addr)
        sa.fragmentation = wants_fragments
        sa.state, sa.next_message_id, sa.expected_request_id = "auth", 0, 1
        self.sas[sa.spi_r] = sa
        self._half_open[key] = sa
        self._outbox.append((sa.init_response, addr))

    def _answer_init_error(
        self, header: Header, addr: Address, notify: NotifyType, data: bytes
    ) -> None:
        response = Header(header.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
        self._outbox.append(
            (encode_message(Message(response, (NotifyPayload(notify, data),))), addr)
        )

    def _on_auth_request(self, sa: IkeSa, inner: list[Payload], now: float) -> None:
        assert sa.keys is not None
        idi, auth = _first(inner, IdiPayload), _first(inner, AuthPayload)
        if idi is None or auth is None:
            raise DecodeError("IKE_AUTH request without IDi or AUTH")
        ike_id = _identity_text(int(idi.id_type), idi.data)
        match = find_tunnel_group(
            self.gateway, peer_address=sa.peer[0], version=2, auth="psk", ike_id=ike_id
        )
        algorithms = self._algorithms(sa)
        if isinstance(match, Refusal) or match.group.ikev2_remote_psk is None:
            self._refuse_auth(sa, now, "no tunnel group with a key for this peer")
            return
        octets = signed_octets(
            algorithms.prf, sa.init_request, sa.nonce_r, sa.keys.sk_pi, int(idi.id_type), idi.data
        )
        expected = psk_auth(algorithms.prf, match.group.ikev2_remote_psk.value, octets)
        if not _equal(expected, auth.data) or match.group.ikev2_local_psk is None:
            self._refuse_auth(
                sa, now, f"pre-shared key mismatch with tunnel-group {match.group.name}"
            )
            return
        id_payload = IdrPayload(*self._identity())
        my_octets = signed_octets(
            algorithms.prf,
            sa.init_response,
            sa.nonce_i,
            sa.keys.sk_pr,
            int(id_payload.id_type),
            id_payload.data,
        )
        my_auth = AuthPayload(
            AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE,
            psk_auth(algorithms.prf, match.group.ikev2_local_psk.value, my_octets),
        )
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
            [id_payload, my_auth, *child],
            request=False,
            now=now,
            message_id=1,
        )
        self._half_open.pop((sa.spi_i, sa.peer), None)

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
        proposal = _selector_from_ts(tsr.selectors[0], tsi.selectors[0])
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

    # ------------------------------------------------------------------ established SAs

    def find_child(self, spi_in: bytes) -> tuple[IkeSa, Child]:
        for sa in self.sas.values():
            if spi_in in sa.children:
                return sa, sa.children[spi_in]
        raise KeyError(f"no child SA with inbound SPI {spi_in.hex()}")

    def _request(
        self,
        sa: IkeSa,
        pending: Pending,
        exchange: ExchangeType,
        payloads: list[Payload],
        now: float,
    ) -> None:
        if sa.state != "established":
            raise ValueError("the IKE SA is not established")
        if sa.pending is not None or sa.retransmit_at is not None:
            raise ValueError("a request is already outstanding on this IKE SA")
        sa.pending = pending
        self._send_encrypted(sa, exchange, payloads, request=True, now=now)

    def rekey_child(self, spi_in: bytes, now: float) -> None:
        """CREATE_CHILD_SA rekeying the child SA we receive on with ``spi_in`` (§1.3.3)."""
        sa, child = self.find_child(spi_in)
        child.rekey_at = None
        pending = Pending("rekey-child", child, self._new_child_spi(), self.random(NONCE_BYTES))
        payloads: list[Payload] = [
            NotifyPayload(NotifyType.REKEY_SA, b"", ProtocolId.ESP, child.spi_in),
            wire.esp_offer(child.entry.proposals, pending.new_spi, child.entry.pfs_group),
            NoncePayload(pending.nonce),
        ]
        if child.entry.pfs_group is not None:
            pending.group = child.entry.pfs_group
            pending.private, public = dh.group(pending.group).generate(self.random)
            payloads.append(KePayload(pending.group, public))
        if child.mode == "transport":
            payloads.insert(0, NotifyPayload(NotifyType.USE_TRANSPORT_MODE))
        sel = child.selector
        payloads += [
            TsiPayload((_ts(sel.source, sel.source_ports, sel),)),
            TsrPayload((_ts(sel.destination, sel.destination_ports, sel),)),
        ]
        self._request(sa, pending, ExchangeType.CREATE_CHILD_SA, payloads, now)

    def rekey_ike_sa(self, sa: IkeSa, now: float) -> None:
        """CREATE_CHILD_SA rekeying the IKE SA itself (RFC 7296 §1.3.2), same algorithms."""
        assert sa.choice is not None
        c = sa.choice
        sa.rekey_at = None
        pending = Pending("rekey-ike", None, self._new_spi(), self.random(NONCE_BYTES), c.group)
        pending.private, public = dh.group(c.group).generate(self.random)
        offer = wire.ike_answer(1, c.encryption, c.integrity, c.prf, c.group, pending.new_spi)
        payloads: list[Payload] = [offer, NoncePayload(pending.nonce), KePayload(c.group, public)]
        self._request(sa, pending, ExchangeType.CREATE_CHILD_SA, payloads, now)

    def _rekeyed_sa(
        self,
        old: IkeSa,
        *,
        initiator: bool,
        spi_i: bytes,
        spi_r: bytes,
        choice: Ikev2Choice,
        nonce_i: bytes,
        nonce_r: bytes,
        shared: bytes,
        now: float,
    ) -> IkeSa:
        """The IKE SA that replaces ``old``: new keys, counters at 0, the children moved."""
        assert old.keys is not None
        old_algorithms, new = self._algorithms(old), _Algorithms.of(choice)
        keys = derive_rekeyed_ike_keys(
            old_algorithms.prf,
            old.keys.sk_d,
            new.prf,
            new.encryption,
            new.integrity,
            nonce_i,
            nonce_r,
            shared,
            spi_i,
            spi_r,
        )
        sa = IkeSa(
            initiator,
            old.peer,
            spi_i,
            spi_r,
            nonce_i=nonce_i,
            nonce_r=nonce_r,
            group=choice.group,
            choice=choice,
            keys=keys,
            nat_detected=old.nat_detected,
        )
        sa.children, old.children = old.children, {}
        self.sas[sa.key] = sa
        self._established(sa, now)
        return sa

    def invalid_selectors(self, spi_in: bytes, packet: bytes, now: float) -> bool:
        """The data plane dropped a decrypted packet outside the SA's selectors: tell the
        peer with N(INVALID_SELECTORS) when ``crypto ikev2 notify invalid-selectors`` is on,
        at most once per SA every five seconds. Returns whether a notify was sent."""
        if not self.gateway.ikev2_notify_invalid_selectors:
            return False
        sa, child = self.find_child(spi_in)
        last = child.invalid_selectors_sent_at
        if last is not None and now - last < INVALID_SELECTORS_INTERVAL_S:
            self.drops["invalid-selectors-rate-limited"] += 1
            return False
        if sa.pending is not None or sa.retransmit_at is not None:
            self.drops["invalid-selectors-busy"] += 1
            return False
        child.invalid_selectors_sent_at = now
        notify = NotifyPayload(NotifyType.INVALID_SELECTORS, packet[:64], ProtocolId.ESP, spi_in)
        self._request(sa, Pending("liveness"), ExchangeType.INFORMATIONAL, [notify], now)
        return True

    def delete_child(self, spi_in: bytes, now: float) -> None:
        """INFORMATIONAL with a Delete of one child SA (§1.4.1)."""
        sa, child = self.find_child(spi_in)
        self._request(
            sa,
            Pending("delete-child", child),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.ESP, (child.spi_in,))],
            now,
        )

    def check_liveness(self, sa: IkeSa, now: float) -> None:
        """An empty INFORMATIONAL request (dead peer detection); no answer after every
        retransmission ends the SA with ``PeerUnreachable``."""
        self._request(sa, Pending("liveness"), ExchangeType.INFORMATIONAL, [], now)

    def delete_ike_sa(self, sa: IkeSa, now: float) -> None:
        """INFORMATIONAL with a Delete of the IKE SA (and so of all its children)."""
        self._request(
            sa,
            Pending("delete-ike"),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.IKE)],
            now,
        )

    def _on_response(
        self, sa: IkeSa, pending: Pending, exchange: int, inner: list[Payload], now: float
    ) -> None:
        errors = [n for n in inner if isinstance(n, NotifyPayload) and int(n.notify_type) < 16384]
        if pending.kind == "rekey-child" and exchange == ExchangeType.CREATE_CHILD_SA:
            old = pending.child
            assert old is not None
            if errors:
                name = _notify_name(errors[0].notify_type)
                self._events.append(ChildSaFailed(sa.peer, name, "the peer refused the rekey"))
                return
            answer, nonce = _first(inner, SaPayload), _first(inner, NoncePayload)
            answers = wire.esp_offers_as_proposals(answer) if answer else []
            if nonce is None or len(answers) != 1:
                raise DecodeError("CREATE_CHILD_SA response without SA or Nonce")
            proposal, chosen = answers[0]
            picked = select_ipsec_proposal([chosen], old.entry.proposals)
            if isinstance(picked, Refusal):
                self._events.append(ChildSaFailed(sa.peer, picked.notify, picked.reason))
                return
            shared = b""
            if pending.private is not None:
                ke = _first(inner, KePayload)
                if ke is None or pending.group is None or int(ke.dh_group) != pending.group:
                    self._events.append(
                        ChildSaFailed(
                            sa.peer, "NO_PROPOSAL_CHOSEN", "the peer answered PFS without our group"
                        )
                    )
                    return
                shared = dh.group(pending.group).shared_secret(pending.private, ke.data)
            mine = self._child(
                sa,
                picked.encryption,
                picked.integrity,
                pending.new_spi,
                proposal.spi,
                old.mode,
                old.selector,
                old.entry,
                nonces=(pending.nonce, nonce.data),
                shared_secret=shared,
                initiator=True,
                rekeyed=old,
                now=now,
            )
            if old.collision is not None:
                ours = (pending.nonce, nonce.data)
                lowest = min(*ours, *old.collision)
                if lowest in ours:  # our new SA is the redundant one: we close it
                    self._request(
                        sa,
                        Pending("delete-child", mine),
                        ExchangeType.INFORMATIONAL,
                        [DeletePayload(ProtocolId.ESP, (mine.spi_in,))],
                        now,
                    )
                    return
            # the rekeyed SA is deleted by the side that rekeyed it (RFC 7296 §2.8)
            self._request(
                sa,
                Pending("delete-child", old),
                ExchangeType.INFORMATIONAL,
                [DeletePayload(ProtocolId.ESP, (old.spi_in,))],
                now,
            )
        elif pending.kind == "rekey-ike" and exchange == ExchangeType.CREATE_CHILD_SA:
            self._on_ike_rekey_response(sa, pending, inner, errors, now)
        elif pending.kind == "delete-child" and exchange == ExchangeType.INFORMATIONAL:
            child = pending.child
            assert child is not None
            if sa.children.pop(child.spi_in, None) is not None:
                self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, "deleted"))
        elif pending.kind == "delete-ike" and exchange == ExchangeType.INFORMATIONAL:
            self._ike_deleted(sa, "deleted")
        elif pending.kind != "liveness":
            self.drops["unexpected-exchange"] += 1

    def _on_create_child_request(
        self, sa: IkeSa, inner: list[Payload], mid: int, now: float
    ) -> None:
        """Rekey of the IKE SA, of a child SA (REKEY_SA), or a new child SA, as the responder."""
        offer, nonce = _first(inner, SaPayload), _first(inner, NoncePayload)
        if offer is None or nonce is None:
            raise DecodeError("CREATE_CHILD_SA request without SA or Nonce")
        if any(int(p.protocol_id) == ProtocolId.IKE for p in offer.proposals):
            self._on_ike_rekey_request(sa, offer, nonce, inner, mid, now)
            return
        tsi, tsr = _first(inner, TsiPayload), _first(inner, TsrPayload)
        if tsi is None or tsr is None:
            raise DecodeError("CREATE_CHILD_SA request for a child SA without TSi or TSr")
        rekey = next(
            (
                n
                for n in inner
                if isinstance(n, NotifyPayload) and n.notify_type == NotifyType.REKEY_SA
            ),
            None,
        )
        old = None
        if rekey is not None:
            old = next((c for c in sa.children.values() if c.spi_out == rekey.spi), None)
            if old is None:
                self._reply(
                    sa,
                    ExchangeType.CREATE_CHILD_SA,
                    [NotifyPayload(NotifyType.CHILD_SA_NOT_FOUND, b"", ProtocolId.ESP, rekey.spi)],
                    mid,
                )
                return
            entry, selector = old.entry, old.selector
        else:
            cmap = self.gateway.crypto_maps.get(self.interface)
            wanted = _selector_from_ts(tsr.selectors[0], tsi.selectors[0])
            found = choose_entry(cmap, sa.peer[0], wanted, 2) if cmap else None
            if found is None or isinstance(found, Refusal):
                self._reply(
                    sa,
                    ExchangeType.CREATE_CHILD_SA,
                    [NotifyPayload(NotifyType.TS_UNACCEPTABLE)],
                    mid,
                )
                return
            entry, selector = found.entry, found.selector
        offered = wire.esp_offers_as_proposals(offer)
        picked = select_ipsec_proposal([p for _, p in offered], entry.proposals)
        ke = _first(inner, KePayload)
        pfs = check_pfs(int(ke.dh_group) if ke else None, entry.pfs_group)
        if isinstance(picked, Refusal) or pfs is not None:
            reason = picked.reason if isinstance(picked, Refusal) else pfs.reason if pfs else ""
            self._events.append(ChildSaFailed(sa.peer, "NO_PROPOSAL_CHOSEN", reason))
            self._reply(
                sa,
                ExchangeType.CREATE_CHILD_SA,
                [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)],
                mid,
            )
            return
        wire_proposal = next(w for w, p in offered if p == picked.offer)
        nonce_r, spi = self.random(NONCE_BYTES), self._new_child_spi()
        answer: list[Payload] = [
            wire.esp_answer(wire_proposal.number, spi, picked.encryption, picked.integrity),
            NoncePayload(nonce_r),
        ]
        shared = b""
        if ke is not None:
            group = dh.group(int(ke.dh_group))
            private, public = group.generate(self.random)
            shared = group.shared_secret(private, ke.data)
            answer.append(KePayload(int(ke.dh_group), public))
        mode = old.mode if old else "tunnel"
        pending = sa.pending
        if (
            old is not None
            and pending is not None
            and pending.kind == "rekey-child"
            and (pending.child is old)
        ):
            old.collision = (nonce.data, nonce_r)  # both sides rekey this child at once
        self._child(
            sa,
            picked.encryption,
            picked.integrity,
            spi,
            wire_proposal.spi,
            mode,
            selector,
            entry,
            nonces=(nonce.data, nonce_r),
            shared_secret=shared,
            initiator=False,
            rekeyed=old,
            now=now,
        )
        if mode == "transport":
            answer.insert(0, NotifyPayload(NotifyType.USE_TRANSPORT_MODE))
        answer += [
            TsiPayload((_ts(selector.destination, selector.destination_ports, selector),)),
            TsrPayload((_ts(selector.source, selector.source_ports, selector),)),
        ]
        self._reply(sa, ExchangeType.CREATE_CHILD_SA, answer, mid)

    def _on_ike_rekey_response(
        self,
        sa: IkeSa,
        pending: Pending,
        inner: list[Payload],
        errors: list[NotifyPayload],
        now: float,
    ) -> None:
        if errors:
            name = _notify_name(errors[0].notify_type)
            self._events.append(IkeSaFailed(sa.peer, name, "the peer refused the IKE rekey"))
            return
        answer, nonce = _first(inner, SaPayload), _first(inner, NoncePayload)
        ke = _first(inner, KePayload)
        if answer is None or nonce is None or ke is None or len(answer.proposals) != 1:
            raise DecodeError("IKE rekey response without SA, Nonce or KE")
        offers = wire.ike_offers_as_policies(answer)
        choice = select_ikev2(offers, self.gateway.ikev2_policies) if offers else None
        if (
            not isinstance(choice, Ikev2Choice)
            or pending.private is None
            or int(ke.dh_group) != pending.group
            or len(answer.proposals[0].spi) != 8
        ):
            self._events.append(
                IkeSaFailed(sa.peer, "NO_PROPOSAL_CHOSEN", "unusable answer to our IKE rekey")
            )
            return
        shared = dh.group(choice.group).shared_secret(pending.private, ke.data)
        self._rekeyed_sa(
            sa,
            initiator=True,
            spi_i=pending.new_spi,
            spi_r=answer.proposals[0].spi,
            choice=choice,
            nonce_i=pending.nonce,
            nonce_r=nonce.data,
            shared=shared,
            now=now,
        )
        # the initiator of the rekey deletes the old IKE SA (RFC 7296 §2.18)
        self._request(
            sa,
            Pending("delete-ike"),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.IKE)],
            now,
        )

    def _on_ike_rekey_request(
        self,
        sa: IkeSa,
        offer: SaPayload,
        nonce: NoncePayload,
        inner: list[Payload],
        mid: int,
        now: float,
    ) -> None:
        """The peer rekeys the IKE SA: answer and create the new SA; the peer deletes the old."""
        ke = _first(inner, KePayload)
        choice = select_ikev2(wire.ike_offers_as_policies(offer), self.gateway.ikev2_policies)
        if isinstance(choice, Refusal) or ke is None:
            self._reply(
                sa,
                ExchangeType.CREATE_CHILD_SA,
                [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)],
                mid,
            )
            return
        if int(ke.dh_group) != choice.group:
            data = choice.group.to_bytes(2, "big")
            self._reply(
                sa,
                ExchangeType.CREATE_CHILD_SA,
                [NotifyPayload(NotifyType.INVALID_KE_PAYLOAD, data)],
                mid,
            )
            return
        chosen = next(p for p in offer.proposals if p.number == choice.offer.priority)
        if len(chosen.spi) != 8:
            raise DecodeError("IKE rekey proposal without an 8-byte SPI")
        group = dh.group(choice.group)
        private, public = group.generate(self.random)
        shared = group.shared_secret(private, ke.data)
        nonce_r, spi_r = self.random(NONCE_BYTES), self._new_spi()
        answer = wire.ike_answer(
            chosen.number, choice.encryption, choice.integrity, choice.prf, choice.group, spi_r
        )
        self._reply(
            sa,
            ExchangeType.CREATE_CHILD_SA,
            [answer, NoncePayload(nonce_r), KePayload(choice.group, public)],
            mid,
        )
        self._rekeyed_sa(
            sa,
            initiator=False,
            spi_i=chosen.spi,
            spi_r=spi_r,
            choice=choice,
            nonce_i=nonce.data,
            nonce_r=nonce_r,
            shared=shared,
            now=now,
        )

    def _on_informational_request(
        self, sa: IkeSa, inner: list[Payload], mid: int, now: float
    ) -> None:
        """Deletes and liveness checks from the peer (§1.4)."""
        answer: list[Payload] = []
        ours: list[bytes] = []
        for notify in (p for p in inner if isinstance(p, NotifyPayload)):
            if notify.notify_type == NotifyType.INVALID_SELECTORS:
                self._events.append(InvalidSelectorsReceived(sa.peer, notify.spi, notify.data))
        for delete in (p for p in inner if isinstance(p, DeletePayload)):
            if int(delete.protocol_id) == ProtocolId.IKE:
                self._reply(sa, ExchangeType.INFORMATIONAL, [], mid)
                self._ike_deleted(sa, "deleted by the peer")
                return
            for spi in delete.spis:
                child = next((c for c in sa.children.values() if c.spi_out == spi), None)
                if child is not None:
                    del sa.children[child.spi_in]
                    ours.append(child.spi_in)
                    self._events.append(
                        ChildSaDeleted(child.spi_in, child.spi_out, "deleted by the peer")
                    )
        if ours:
            answer.append(DeletePayload(ProtocolId.ESP, tuple(ours)))
        self._reply(sa, ExchangeType.INFORMATIONAL, answer, mid)

    def _reply(self, sa: IkeSa, exchange: ExchangeType, payloads: list[Payload], mid: int) -> None:
        self._send_encrypted(sa, exchange, payloads, request=False, now=0.0, message_id=mid)

    def _ike_deleted(self, sa: IkeSa, reason: str) -> None:
        for child in list(sa.children.values()):
            self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, reason))
        sa.children.clear()
        sa.state = "deleted"
        self._events.append(IkeSaDeleted(sa.spi_i, sa.spi_r, sa.peer, reason))
        self._remove(sa)

    # ------------------------------------------------------------------ shared

    def _receive(self, data: bytes, addr: Address, now: float) -> None:
        header = decode_header(data)
        initiator_flag = bool(header.flags & HeaderFlag.INITIATOR)
        if header.exchange_type == ExchangeType.IKE_SA_INIT and not header.is_response:
            if header.spi_r != bytes(8) or header.message_id != 0 or not initiator_flag:
                raise DecodeError("malformed IKE_SA_INIT request")
            self._on_init_request(decode_message(data), data, addr, now)
            return
        # The I flag marks the original initiator as the sender: then our SPI is SPIr.
        ours = header.spi_r if initiator_flag else header.spi_i
        sa = self.sas.get(ours)
        if sa is None or sa.peer[0] != addr[0]:
            self.drops["unknown-spi"] += 1
            return
        if sa.peer != addr and not sa.nat_detected:
            self.drops["unexpected-port"] += 1
            return
        if header.is_response:
            if header.message_id != sa.next_message_id - 1 or sa.retransmit_at is None:
                self.drops["unexpected-response"] += 1
                return
            message = decode_message(data)
            if header.exchange_type == ExchangeType.IKE_SA_INIT and sa.state == "init":
                sa.retransmit_at = None
                self._on_init_response(sa, message, data, now)
                return
            opened = self._open(sa, message, data)
            if opened is None:  # more fragments to come
                return
            inner = opened
            sa.retransmit_at = None
            if header.exchange_type == ExchangeType.IKE_AUTH and sa.state == "auth":
                self._on_auth_response(sa, inner, now)
            elif sa.state == "established" and sa.pending is not None:
                pending, sa.pending = sa.pending, None
                self._on_response(sa, pending, header.exchange_type, inner, now)
            else:
                self.drops["unexpected-exchange"] += 1
            return
        if header.message_id < sa.expected_request_id:
            cached = sa.responses.get(header.message_id)
            if cached is not None and _first_fragment_or_whole(data):
                # a retransmitted request: the same answer again (for a fragmented request
                # only on its first fragment, RFC 7383 §2.6.1)
                self._outbox.extend((d, addr) for d in cached)
            else:
                self.drops["old-request"] += 1
            return
        if header.message_id > sa.expected_request_id:
            self.drops["request-outside-window"] += 1
            return
        message = decode_message(data)
        opened = self._open(sa, message, data)
        if opened is None:  # more fragments to come
            return
        inner = opened
        sa.peer = addr  # authenticated: answer where it came from (RFC 7296 §2.23)
        sa.expected_request_id += 1
        mid = header.message_id
        if header.exchange_type == ExchangeType.IKE_AUTH and sa.state == "auth" and mid == 1:
            self._on_auth_request(sa, inner, now)
        elif header.exchange_type == ExchangeType.CREATE_CHILD_SA and sa.state == "established":
            self._on_create_child_request(sa, inner, mid, now)
        elif header.exchange_type == ExchangeType.INFORMATIONAL and sa.state == "established":
            self._on_informational_request(sa, inner, mid, now)
        else:
            self.drops["unexpected-request"] += 1

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
        sa.private = None  # the DH secret is not needed any more

    def _algorithms(self, sa: IkeSa) -> _Algorithms:
        assert sa.choice is not None
        return _Algorithms.of(sa.choice)

    def _protection(self, sa: IkeSa, outbound: bool) -> Protection:
        """Keys for messages we send (outbound) or receive, by our role."""
        assert sa.keys is not None
        a = self._algorithms(sa)
        initiator_keys = sa.initiator == outbound
        k = sa.keys
        return Protection(
            a.encryption,
            a.integrity,
            k.sk_ei if initiator_keys else k.sk_er,
            k.sk_ai if initiator_keys else k.sk_ar,
        )

    def _send_encrypted(
        self,
        sa: IkeSa,
        exchange: ExchangeType,
        payloads: list[Payload],
        *,
        request: bool,
        now: float,
        message_id: int | None = None,
    ) -> None:
        flags = HeaderFlag.INITIATOR if sa.initiator else HeaderFlag(0)
        if not request:
            flags |= HeaderFlag.RESPONSE
        mid = sa.next_message_id if request else (message_id or 0)
        header = Header(sa.spi_i, sa.spi_r, exchange, flags, mid)
        protection = self._protection(sa, True)
        data = [seal(header, payloads, protection, self.random)]
        limit = self._max_message(sa)
        if sa.fragmentation and len(data[0]) > limit:
            data = seal_fragments(header, payloads, protection, self.random, limit)
        if request:
            sa.next_message_id += 1
            self._send_request(sa, data, now)
        else:
            sa.responses[mid] = data
            self._outbox.extend((d, sa.peer) for d in data)

    def _max_message(self, sa: IkeSa) -> int:
        """The IKE message size that fits the configured MTU (which counts the IPv4 and UDP
        headers, and the non-ESP marker on port 4500)."""
        mtu = self.gateway.ikev2_fragmentation_mtu or 576
        return mtu - 28 - (4 if sa.peer[1] == NAT_T_PORT else 0)

    def _send_request(self, sa: IkeSa, data: bytes | list[bytes], now: float) -> None:
        datagrams = [data] if isinstance(data, bytes) else data
        sa.last_request, sa.retransmits = datagrams, 0
        sa.retransmit_at = now + self.retransmit_timeout_s
        self._outbox.extend((d, sa.peer) for d in datagrams)

    def _established(self, sa: IkeSa, now: float) -> None:
        assert sa.choice is not None
        sa.state = "established"
        match = find_tunnel_group(self.gateway, peer_address=sa.peer[0], version=2, auth="psk")
        keepalive = None if isinstance(match, Refusal) else match.group.keepalive
        if keepalive is not None:  # (threshold, retry): a liveness check every threshold s
            sa.dpd_interval = float(keepalive[0])
            sa.dpd_at = now + sa.dpd_interval
        if sa.choice.lifetime_seconds:
            sa.rekey_at = now + sa.choice.lifetime_seconds * (1 - self._jitter(0.05, 0.15))
        c = sa.choice
        names = f"{c.encryption}/{c.integrity}/prf {c.prf}/group {c.group}"
        self._events.append(
            IkeSaEstablished(sa.spi_i, sa.spi_r, sa.peer, sa.initiator, names, c.lifetime_seconds)
        )

    def _child(
        self,
        sa: IkeSa,
        encr: str,
        integ: str,
        spi_in: bytes,
        spi_out: bytes,
        mode: str,
        selector: Selector,
        entry: MapEntry,
        *,
        nonces: tuple[bytes, bytes] | None = None,
        shared_secret: bytes = b"",
        initiator: bool | None = None,
        rekeyed: Child | None = None,
        now: float | None = None,
    ) -> Child:
        """Derive the child's keys (RFC 7296 §2.17), record it and tell the owner."""
        assert sa.keys is not None
        a = self._algorithms(sa)
        nonce_i, nonce_r = nonces or (sa.nonce_i, sa.nonce_r)
        keys = derive_child_keys(
            a.prf,
            sa.keys.sk_d,
            encryption(Kind.ESP_V2_ENCRYPTION, encr),
            integrity_algorithm(Kind.ESP_V2_INTEGRITY, integ),
            nonce_i,
            nonce_r,
            shared_secret,
        )
        child = Child(spi_in, spi_out, encr, integ, mode, selector, entry)
        if now is not None:
            lifetime = float(entry.lifetime_seconds)
            child.expire_at = now + lifetime
            child.rekey_at = now + lifetime * (1 - self._jitter(0.05, 0.15))
        sa.children[spi_in] = child
        self._events.append(
            ChildSaEstablished(
                spi_in,
                spi_out,
                encr,
                integ,
                mode,
                selector,
                entry.lifetime_seconds,
                entry.lifetime_kilobytes,
                keys,
                sa.initiator if initiator is None else initiator,
                entry.label,
                rekeyed.spi_in if rekeyed else None,
            )
        )
        return child

    def _fail(self, sa: IkeSa, notify: str, reason: str) -> None:
        sa.state = "failed"
        self._events.append(IkeSaFailed(sa.peer, notify, reason))
        self._remove(sa)

    def _remove(self, sa: IkeSa) -> None:
        self.sas.pop(sa.key, None)
        self._half_open.pop((sa.spi_i, sa.peer), None)

    def _new_spi(self) -> bytes:
        while True:
            spi = self.random(8)
            if spi != bytes(8) and spi not in self.sas:
                return spi

    def _new_child_spi(self) -> bytes:
        while True:
            spi = self.random(4)
            if int.from_bytes(spi, "big") > 255:  # SPIs 1-255 are reserved (RFC 4303)
                return spi

    def _fragmentation_supported(self) -> list[Payload]:
        if not self.gateway.ikev2_fragmentation:
            return []
        return [NotifyPayload(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)]

    def _open(self, sa: IkeSa, message: Message, data: bytes) -> list[Payload] | None:
        """The inner payloads of an encrypted message, reassembling SKF fragments (RFC 7383
        §2.6; at most 100 per message). None while fragments are still missing."""
        first, plain = open_body(data, message, self._protection(sa, False))
        last = message.payloads[-1]
        if not isinstance(last, SkfPayload):
            return list(decode_inner_payloads(first, plain))
        mid = message.header.message_id
        if last.total_fragments > MAX_FRAGMENTS:
            raise DecodeError(f"{last.total_fragments} fragments: at most {MAX_FRAGMENTS}")
        held = sa.fragments.setdefault(mid, {})
        if held and len(held) and max(held) > last.total_fragments:
            raise DecodeError("fragments disagree on their total")
        held[last.fragment_number] = plain
        if last.fragment_number == 1:
            sa.fragment_first[mid] = first
        if len(held) < last.total_fragments or mid not in sa.fragment_first:
            self.drops["fragment-held"] += 1
            return None
        whole = b"".join(held[n] for n in range(1, last.total_fragments + 1))
        first_type = sa.fragment_first.pop(mid)
        del sa.fragments[mid]
        return list(decode_inner_payloads(first_type, whole))

    def _identity(self) -> tuple[IdType, bytes]:
        """Our phase-1 identity per ``crypto isakmp identity`` (auto: the address with PSK)."""
        kind = self.gateway.identity
        if kind == "hostname":
            fqdn = self.gateway.hostname
            if self.gateway.domain_name:
                fqdn += "." + self.gateway.domain_name
            return IdType.ID_FQDN, fqdn.encode()
        if kind == "key-id" and self.gateway.identity_key_id:
            return IdType.ID_KEY_ID, self.gateway.identity_key_id.encode()
        return IdType.ID_IPV4_ADDR, ipaddress.IPv4Address(self.address[0]).packed

    def _cookie(self, nonce: bytes, addr: Address, spi_i: bytes) -> bytes:
        """RFC 7296 §2.6: <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)."""
        ip = ipaddress.ip_address(addr[0]).packed
        digest = hashlib.sha256(nonce + ip + spi_i + self._cookie_secret).digest()
        return b"\x00\x00\x00\x01" + digest

    def _nat_detected(self, message: Message, spi_i: bytes, spi_r: bytes, peer: Address) -> bool:
        """True when the peer's NAT-D hashes (if any) do not match the addresses we see."""
        expected = {n.notify_type: n.data for n in self._nat_detection(spi_i, spi_r, peer)}
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

    def _nat_detection(self, spi_i: bytes, spi_r: bytes, peer: Address) -> list[NotifyPayload]:
        def digest(address: Address) -> bytes:
            ip = ipaddress.ip_address(address[0]).packed
            return hashlib.sha1(
                spi_i + spi_r + ip + address[1].to_bytes(2, "big"), usedforsecurity=False
            ).digest()

        return [
            NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, digest(self.address)),
            NotifyPayload(NotifyType.NAT_DETECTION_DESTINATION_IP, digest(peer)),
        ]


# ---------------------------------------------------------------------- helpers


def _first(payloads: Sequence[Payload], cls: type[P]) -> P | None:
    return next((p for p in payloads if isinstance(p, cls)), None)


def _first_fragment_or_whole(data: bytes) -> bool:
    try:
        last = decode_message(data).payloads[-1]
    except (DecodeError, IndexError):
        return False
    return not isinstance(last, SkfPayload) or last.fragment_number == 1


def _equal(a: bytes, b: bytes) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


def _notify_name(value: object) -> str:
    return value.name if isinstance(value, NotifyType) else str(value)


def _ts(addresses: Range, ports: Range, selector: Selector) -> TrafficSelector:
    return TrafficSelector(
        ipaddress.IPv4Address(addresses.low),
        ipaddress.IPv4Address(addresses.high),
        selector.protocol,
        ports.low,
        ports.high,
    )


def _range(ts: TrafficSelector) -> tuple[Range, Range]:
    return (Range(int(ts.start_address), int(ts.end_address)), Range(ts.start_port, ts.end_port))


def _selector_from_ts(ours: TrafficSelector, theirs: TrafficSelector) -> Selector:
    """A selector in our view (source = our side) from our TS and the peer's TS."""
    src, sports = _range(ours)
    dst, dports = _range(theirs)
    protocol = ours.ip_protocol or theirs.ip_protocol
    return Selector(protocol, src, dst, sports, dports)


def _narrowed(requested: Selector, tsi: TsiPayload, tsr: TsrPayload) -> Selector:
    got = _selector_from_ts(tsi.selectors[0], tsr.selectors[0])
    return requested.intersect(got) or requested


def _identity_text(id_type: int, data: bytes) -> str | None:
    if id_type == IdType.ID_IPV4_ADDR and len(data) == 4:
        return str(ipaddress.IPv4Address(data))
    if id_type in (IdType.ID_FQDN, IdType.ID_RFC822_ADDR, IdType.ID_KEY_ID):
        return data.decode("utf-8", "replace")
    return None


__all__ = ["IkeSa", "Ikev2Engine"]
