"""The IKEv1 engine (RFC 2409) without I/O: main and aggressive mode with pre-shared keys,
quick mode, the encrypted informational exchange and phase-1 rekeying.

One ``Ikev1Engine`` serves the local addresses of one interface of a gateway (its IPv4
address and, when configured, its IPv6 address: ``tunnelgate.ike.addresses``, D115), with the
house surface of ARCHITECTURE.md: ``receive_datagram(data, addr, now, local=None)``,
``datagrams_to_send(now)`` (or ``datagrams_to_send_from(now)``, which also says the local
address each datagram leaves from), ``get_timer()``, ``handle_timer(now)``, ``next_event()``
and the commands
``initiate(entry, rule, now)`` (main mode, or aggressive mode when the entry says
``set ikev1 phase1-mode aggressive``, then quick mode for ``rule``),
``create_child(sa, entry, rule, now)`` (another quick mode on an ISAKMP SA),
``delete_child(spi_in, now)``, ``delete_sa(sa, now)`` and ``check_liveness(sa, now)``.
ISAKMP SAs are filed by (initiator cookie, peer address) and keep the local address they use
(``Phase1Sa.local_address``: of the peer's family when we initiate, the one MM1/AM1 arrived
on when we answer); IPsec SAs are reported with the IKEv2 child-SA events (``events``).

Reliability (RFC 2408 §5, as pluto and charon do it): the initiator retransmits its last
message until the answer arrives; a repeat of the last message a responder received is
answered with its last message again; any other message that does not fit the state's row
of ``main_mode.TRANSITIONS`` (``aggressive_mode``, ``quick_mode``) is dropped and counted in
``drops``; in aggressive mode the responder also repeats AM2 until AM3 arrives.
Peer input never raises out of ``receive_datagram``: ``DecodeError`` and crypto errors become
drops, ``Phase1Error`` a notify (unprotected in main mode, RFC 2408 §5; encrypted in quick
mode), a failure event and a count under the notify's name.

After phase 1 the initiator sends INITIAL-CONTACT (when it holds no other SA with the peer),
both sides start DPD (``informational``) and the initiator runs its queued quick modes.

NAT traversal (RFC 3947, ``nat_traversal``): when NAT-D shows a NAT the initiator floats to
the peer's UDP 4500 from MM5 on; a message from the peer's address on another port moves the
SA there once it authenticates (decrypts and fits; a quick mode or informational one must
also pass its HASH), so the responder follows MM5 to 4500 and both follow a NAT's new
mapping. The gateway adds and strips the non-ESP marker; quick mode then offers the
UDP-encapsulated modes and its IPsec SAs carry ``udp_encapsulation`` and the peer's port.

The initiator of an ISAKMP SA rekeys it before its lifetime ends (``rekey``).

IKEv1 fragmentation (``fragmentation``, the Cisco extension strongSwan speaks): each side's
first phase-1 message carries the FRAGMENTATION vendor ID (the responder's only when the
initiator sent it); once the peer announced it, a phase-1 message longer than the path takes
goes out (and is retransmitted) as fragment datagrams. Fragments from any peer are put
together (``Reassembler``) and the whole message takes the normal receive path.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Sequence

from tunnelgate.crypto.errors import CryptoError, UnknownAlgorithm
from tunnelgate.ike.addresses import (
    LocalAddresses,
    canonical,
    canonical_peer,
    default_mtu,
    interface_addresses,
)
from tunnelgate.ike.v1 import aggressive_mode, main_mode
from tunnelgate.ike.v1.aggressive_mode import AggressiveModeExchange, am3_floats
from tunnelgate.ike.v1.constants import ExchangeType, NotifyMessageType, PayloadType, ProtocolId
from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.events import Ikev1Event, Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v1.fragmentation import (
    Held,
    Outgoing,
    Reassembler,
    announces_fragmentation,
    max_message_size,
    with_fragmentation_vid,
)
from tunnelgate.ike.v1.informational import ERROR_NOTIFY_LIMIT
from tunnelgate.ike.v1.main_mode import Inbound, fits
from tunnelgate.ike.v1.message import (
    Envelope,
    Header,
    Message,
    decode_envelope,
    decode_header,
    decode_payloads,
    encode_message,
)
from tunnelgate.ike.v1.nat_traversal import may_float
from tunnelgate.ike.v1.payloads import FragmentPayload, NotifyPayload, Payload
from tunnelgate.ike.v1.quick_mode import QuickModeExchange
from tunnelgate.ike.v1.rekey import Phase1Rekey
from tunnelgate.ike.v1.state import (
    COOKIE_BYTES,
    Address,
    MainModeState,
    Phase1Sa,
    RandomSource,
    local_of,
)
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group

log = logging.getLogger("tunnelgate.ike")
N = NotifyMessageType

ZERO_COOKIE = bytes(COOKIE_BYTES)
HALF_OPEN_TIMEOUT_S = 30.0  # a responder forgets an unfinished main mode after this
UNHEARD = float("-inf")  # Phase1Sa.last_heard while a message is handled, until it authenticates
BY_STATE = {**main_mode.BY_STATE, **aggressive_mode.BY_STATE}
S = MainModeState


class Ikev1Engine(AggressiveModeExchange, QuickModeExchange, Phase1Rekey):
    """IKEv1 for the local addresses of one interface of a gateway (see the module docstring).

    ``addresses``: the local IP addresses (text) the engine serves; by default the
    interface's IPv4 address and its IPv6 address when it has one. ``address`` is the
    primary one (IPv4 when there is one), ``addresses`` all of them, each with ``port``."""

    def __init__(
        self,
        gateway: GatewayPolicy,
        interface: str,
        random: RandomSource,
        *,
        retransmit_timeout_s: float = 1.0,
        retransmit_tries: int = 5,
        port: int = 500,
        fragment_mtu: int | None = None,
        addresses: Sequence[str] | None = None,
    ) -> None:
        self.gateway = gateway
        self.interface = interface
        if addresses is None:
            addresses = interface_addresses(gateway, interface)
            if not addresses:
                raise ValueError(f"interface {interface} has no IPv4 or IPv6 address")
        self._locals = LocalAddresses(addresses, port)
        self.address = self._locals.primary
        self.addresses = self._locals.all
        self.random = random
        self.retransmit_timeout_s = retransmit_timeout_s
        self.retransmit_tries = retransmit_tries
        self.sas: dict[tuple[bytes, str], Phase1Sa] = {}
        self._outbox: list[tuple[bytes, Address, Address]] = []  # data, peer, local
        self._events: deque[Ikev1Event] = deque()
        self.drops: Counter[str] = Counter()
        # IKEv1 fragmentation (``fragmentation``): the MTU of fragment datagrams (None: the
        # gateway's IKEv2 fragmentation MTU, else 576 for IPv4 and 1280 for IPv6), the SAs
        # whose peer announced it
        self.fragment_mtu = fragment_mtu
        self.fragmenting: dict[tuple[bytes, str], Outgoing] = {}
        self.reassembly = Reassembler()

    # ------------------------------------------------------------------ surface

    def initiate(self, entry: MapEntry, rule: Rule, now: float, peer_port: int = 500) -> Phase1Sa:
        """Start main (or aggressive) mode towards the entry's first peer; quick mode for
        ``rule`` follows once phase 1 is up."""
        if not entry.peers:
            raise ValueError(f"{entry.label} has no peer")
        if not self.gateway.ikev1_policies:
            raise ValueError("no crypto ikev1 policy is configured")
        peer = (canonical(entry.peers[0]), peer_port)
        local = self._locals.for_peer(peer[0])  # ValueError: no address of the peer's family
        sa = Phase1Sa(True, peer, self._new_cookie(), local_address=local)
        self._initiator_auth(sa)  # the group's key / certificate (main_mode); else ValueError
        self.create_child(sa, entry, rule, now)  # queued; ValueError before anything is sent
        self.sas[sa.key] = sa
        if entry.ikev1_phase1_mode == "aggressive":
            self._send_am1(sa, now)
        else:
            self._send_mm1(sa, now)
        return sa

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        """The datagrams to send now, as (data, peer). Callers that serve more than one
        local address use ``datagrams_to_send_from`` instead (both drain the same queue)."""
        out, self._outbox = self._outbox, []
        return [(data, peer) for data, peer, _ in out]

    def datagrams_to_send_from(self, now: float) -> list[tuple[bytes, Address, Address]]:
        """The datagrams to send now, as (data, peer, local): ``local`` is the address of
        ``addresses`` (with the engine's port) it leaves from, the SA's ``local_address``.
        The port to send from stays the caller's choice, as with ``datagrams_to_send``: 4500
        with the non-ESP marker when the peer's port is 4500 (NAT traversal)."""
        out, self._outbox = self._outbox, []
        return out

    def set_addresses(self, addresses: Sequence[str]) -> None:
        """Serve ``addresses`` from now on (a reconfiguration added or removed the
        interface's IPv6 address), with the same port. SAs keep the local address they use;
        datagrams for one whose address is gone are dropped (``not-a-local-address``) until
        it fails or is deleted. ``ValueError`` for bad text or no address at all."""
        self._locals = LocalAddresses(addresses, self.address[1])
        self.address = self._locals.primary
        self.addresses = self._locals.all

    def next_event(self) -> Ikev1Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        timers = [
            t
            for sa in self.sas.values()
            for t in (sa.retransmit_at, sa.expire_at, sa.dpd_at, sa.rekey_at)
            if t is not None
        ]
        timers += [
            q.retransmit_at
            for sa in self.sas.values()
            for q in sa.quick.values()
            if q.retransmit_at is not None
        ]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        for sa in list(self.sas.values()):
            if sa.expire_at is not None and sa.expire_at <= now:
                self._expire(sa)
            elif sa.retransmit_at is not None and sa.retransmit_at <= now:
                if sa.retransmits >= self.retransmit_tries:
                    self._fail(sa, "", f"no answer after {sa.retransmits + 1} tries")
                    continue
                sa.retransmits += 1
                sa.retransmit_at = now + self.retransmit_timeout_s * (2**sa.retransmits)
                self._emit(sa, sa.last_sent)
        for sa in list(self.sas.values()):
            for qm in list(sa.quick.values()):
                if qm.retransmit_at is not None and qm.retransmit_at <= now:
                    self._qm_timer(sa, qm, now)
            if sa.dpd_at is not None and sa.dpd_at <= now and sa.key in self.sas:
                self._dpd_timer(sa, now)
            if sa.rekey_at is not None and sa.rekey_at <= now and sa.key in self.sas:
                self.rekey_sa(sa, now)

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, local: Address | str | None = None
    ) -> None:
        """Handle one datagram from ``addr`` that arrived on our address ``local`` (its IP
        counts; None: our address of ``addr``'s family, the IPv4 one for an IPv4 peer as
        before); never raises for anything the peer sends."""
        try:
            addr = canonical_peer(addr)
            arrival = self._locals.arrival(local, addr[0])
            if arrival is None:
                self.drops["not-a-local-address"] += 1
                return
            self._receive(data, addr, arrival, now)
        except (DecodeError, CryptoError, UnknownAlgorithm, ValueError) as exc:
            self.drops[type(exc).__name__] += 1
            log.debug("dropped %d bytes from %s:%d: %s", len(data), addr[0], addr[1], exc)

    # ------------------------------------------------------------------ dispatch

    def _receive(self, data: bytes, addr: Address, local: Address, now: float) -> None:
        envelope = decode_envelope(data)
        header = envelope.header
        if envelope.first_payload == PayloadType.FRAGMENT:
            self._on_fragment(envelope, addr, local, now)
        elif header.exchange_type in (ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE):
            self._on_phase1(envelope, data, addr, local, now)
        elif header.exchange_type == ExchangeType.INFORMATIONAL and not header.is_encrypted:
            self._on_informational(envelope, addr)
        elif header.exchange_type in (ExchangeType.INFORMATIONAL, ExchangeType.QUICK_MODE):
            sa = self._established_sa(header, addr, local)
            if sa is None:
                return
            previous, heard = sa.peer, sa.last_heard
            sa.peer = addr  # answers go where the message came from, if it authenticates
            sa.last_heard = UNHEARD  # the handlers set it when the message authenticated
            try:
                if header.exchange_type == ExchangeType.QUICK_MODE:
                    self._on_quick_mode(sa, envelope, data, now)
                else:
                    self._on_encrypted_informational(sa, envelope, now)
            finally:
                authenticated = sa.last_heard != UNHEARD
                if not authenticated:
                    sa.last_heard = heard
                self._moved(sa, previous, authenticated=authenticated)
        else:
            self.drops["unsupported-exchange"] += 1

    def _on_phase1(
        self, envelope: Envelope, data: bytes, addr: Address, local: Address, now: float
    ) -> None:
        header = envelope.header
        aggressive = header.exchange_type == ExchangeType.AGGRESSIVE
        if header.message_id != 0:
            self.drops["invalid-message-id"] += 1
            return
        sa = self.sas.get((header.initiator_cookie, addr[0]))
        if sa is None:
            if header.responder_cookie != ZERO_COOKIE or header.is_encrypted:
                self.drops["unknown-cookie"] += 1
                return
            if self.interface not in self.gateway.ikev1_enabled:
                self.drops["ikev1-not-enabled"] += 1
                return
            sa = Phase1Sa(False, addr, header.initiator_cookie, self._new_cookie())
            sa.state = S.AGGR_R0 if aggressive else S.MAIN_R0
            sa.local_address = local  # the address MM1/AM1 arrived on (D115)
        elif sa.local_address is not None and sa.local_address[0] != local[0]:
            self.drops["unexpected-local-address"] += 1
            return
        elif sa.state.aggressive != aggressive:
            self.drops["out-of-state"] += 1
            return
        elif sa.peer != addr and not (
            may_float(sa.peer, addr, sa.nat_detected) or am3_floats(sa, addr)
        ):
            self.drops["unexpected-port"] += 1
            return
        elif data == sa.last_received:
            self.drops["duplicate"] += 1
            if not sa.initiator or sa.state is S.AGGR_I2:  # the peer lost our answer: again
                self._emit(sa, sa.last_sent)
            return
        elif header.responder_cookie != sa.cookie_r and sa.state not in (S.MAIN_I1, S.AGGR_I1):
            self.drops["invalid-cookie"] += 1
            return
        row = BY_STATE.get(sa.state)
        if row is None:
            self.drops["out-of-state"] += 1
            return
        previous, authenticated = sa.peer, False
        sa.peer = addr  # MM5 (AM3) on 4500 (the float): MM6 and the rest go back there
        try:
            payloads, sa_body = self._payloads(sa, envelope, row.undecryptable)
            if not fits(row, header.is_encrypted, payloads):
                self.drops["out-of-state"] += 1
                return
            if not header.is_encrypted and announces_fragmentation(payloads):
                self._fragments_to(sa)
            authenticated = True  # decrypted (MM5/MM6) with the SA's keys; else Phase1Error
            row.handler(self, sa, Inbound(header, payloads, data, sa_body), now)
        except Phase1Error as error:
            self._refuse(sa, error)
            return
        finally:
            self._moved(sa, previous, authenticated=authenticated)
        sa.state, sa.last_received = row.next_state, data
        if sa.initiator or sa.state.established:  # answered: _send armed the timer again
            sa.retransmits = 0
            if sa.state.established:
                sa.retransmit_at = None
        if sa.state in (S.MAIN_R1, S.AGGR_R1):  # a new responder SA: filed once MM2/AM2 is out
            self.sas[sa.key] = sa
            sa.expire_at = now + HALF_OPEN_TIMEOUT_S

    def _moved(self, sa: Phase1Sa, previous: Address, *, authenticated: bool) -> None:
        """After a message from ``sa.peer``: keep the new port if the message authenticated,
        else go back to ``previous`` (an unauthenticated datagram moves nothing)."""
        if sa.peer == previous:
            return
        if not authenticated:
            sa.peer = previous
            return
        log.info(
            "IKEv1 with %s moves from port %d to %d (NAT traversal)",
            sa.peer[0], previous[1], sa.peer[1],
        )  # fmt: skip

    def _established_sa(self, header: Header, addr: Address, local: Address) -> Phase1Sa | None:
        """The established ISAKMP SA a quick mode or encrypted informational belongs to."""
        sa = self.sas.get((header.initiator_cookie, addr[0]))
        if sa is None or header.responder_cookie != sa.cookie_r:
            self.drops["unknown-cookie"] += 1
            return None
        if sa.local_address is not None and sa.local_address[0] != local[0]:
            self.drops["unexpected-local-address"] += 1
            return None
        if sa.peer != addr and not may_float(sa.peer, addr, sa.nat_detected):
            self.drops["unexpected-port"] += 1
            return None
        if not sa.state.established or not header.is_encrypted:
            self.drops["out-of-state"] += 1
            return None
        return sa

    def _payloads(
        self, sa: Phase1Sa, envelope: Envelope, undecryptable: NotifyMessageType | None
    ) -> tuple[tuple[Payload, ...], bytes]:
        if not envelope.header.is_encrypted:
            payloads = decode_payloads(envelope.first_payload, envelope.body)
            return payloads, _raw_sa_body(envelope)
        if sa.protection is None:
            raise DecodeError("encrypted before the keys exist")
        try:
            return sa.protection.open(envelope), b""
        except (DecodeError, CryptoError) as exc:
            if undecryptable is None:
                raise
            raise Phase1Error(
                undecryptable, f"message does not decrypt, pre-shared keys differ? ({exc})"
            ) from None

    def _on_informational(self, envelope: Envelope, addr: Address) -> None:
        """An unprotected error notify ends a negotiation not yet authenticated."""
        header = envelope.header
        sa = self.sas.get((header.initiator_cookie, addr[0]))
        if sa is None or sa.state.established:
            self.drops["unprotected-informational"] += 1
            return
        notifies = [
            p
            for p in decode_payloads(envelope.first_payload, envelope.body)
            if isinstance(p, NotifyPayload) and int(p.notify_type) < ERROR_NOTIFY_LIMIT
        ]
        if not notifies:
            self.drops["informational-without-error"] += 1
            return
        notify = notifies[0].notify_type
        name = notify.name if isinstance(notify, NotifyMessageType) else str(notify)
        self._fail(sa, name, f"the peer refused {sa.state.mode_name}")

    # ------------------------------------------------------------------ outcomes

    def _send(self, sa: Phase1Sa, data: bytes, now: float) -> None:
        if not sa.last_sent and (sa.initiator or sa.key in self.fragmenting):
            data = with_fragmentation_vid(data)  # MM1/AM1, or the answer to a peer that has it
        sa.last_sent = data
        self._emit(sa, data)
        if sa.initiator:
            sa.retransmit_at = now + self.retransmit_timeout_s

    def _emit(self, sa: Phase1Sa, data: bytes) -> None:
        """Send a phase-1 message, in fragments when it is too long and the peer announced
        fragmentation (a retransmission sends the same fragments again)."""
        outgoing = self.fragmenting.get(sa.key)
        local = local_of(sa, self.address)
        if outgoing is None:
            self._outbox.append((data, sa.peer, local))
            return
        ipv6 = ":" in sa.peer[0]
        mtu = self.fragment_mtu or self.gateway.ikev2_fragmentation_mtu or default_mtu(sa.peer[0])
        limit = max_message_size(mtu, sa.peer[1], ipv6=ipv6)
        self._outbox.extend((d, sa.peer, local) for d in outgoing.datagrams_for(data, limit))

    def _fragments_to(self, sa: Phase1Sa) -> None:
        """The peer of ``sa`` announced fragmentation: long messages go out in fragments."""
        self.fragmenting.setdefault(sa.key, Outgoing())
        if len(self.fragmenting) > 2 * len(self.sas) + 16:  # forget the SAs that are gone
            keep = {*self.sas, sa.key}
            self.fragmenting = {k: v for k, v in self.fragmenting.items() if k in keep}

    def _on_fragment(self, envelope: Envelope, addr: Address, local: Address, now: float) -> None:
        """One IKEv1 fragment (``fragmentation``): the whole message, once every fragment is
        there, takes the normal receive path. The Encryption flag is ignored: racoon sets it
        on fragments, which are never encrypted themselves."""
        header = envelope.header
        payloads = decode_payloads(envelope.first_payload, envelope.body)
        fragment = payloads[0] if len(payloads) == 1 else None
        if not isinstance(fragment, FragmentPayload):
            self.drops["fragment-malformed"] += 1
            return
        cookies = header.initiator_cookie + header.responder_cookie
        if header.responder_cookie != ZERO_COOKIE:
            sa = self.sas.get((header.initiator_cookie, addr[0]))
            known = sa is not None and (
                header.responder_cookie == sa.cookie_r or sa.state in (S.MAIN_I1, S.AGGR_I1)
            )
            if not known:
                self.drops["fragment-unknown-cookie"] += 1
                return
        elif self.interface not in self.gateway.ikev1_enabled:
            self.drops["ikev1-not-enabled"] += 1
            return
        key = (addr[0], header.initiator_cookie, header.responder_cookie)
        expired = self.reassembly.expired
        outcome = self.reassembly.add(key, fragment, now)
        if self.reassembly.expired != expired:
            self.drops["fragment-expired"] += self.reassembly.expired - expired
        if isinstance(outcome, Held):
            self.drops[outcome.reason] += 1
            return
        whole = outcome.data
        inner = decode_header(whole)
        if inner.initiator_cookie + inner.responder_cookie != cookies:
            self.drops["fragment-mismatch"] += 1
            return
        if whole[16] == PayloadType.FRAGMENT:  # the next payload octet: no nesting
            self.drops["fragment-malformed"] += 1
            return
        self._receive(whole, addr, local, now)

    def _established(self, sa: Phase1Sa, now: float) -> None:
        choice = sa.choice
        assert choice is not None
        p = choice.policy
        sa.established_at = now
        sa.expire_at = now + choice.lifetime_seconds
        self._arm_rekey(sa, choice.lifetime_seconds, now)
        self._events.append(
            Ikev1SaEstablished(
                sa.cookie_i,
                sa.cookie_r,
                sa.peer,
                sa.initiator,
                f"{p.encryption}/{p.hash}/group {p.group}/{p.authentication}",
                choice.lifetime_seconds,
                local_of(sa, self.address),
            )
        )
        by_id = sa.peer_id is not None  # aggressive-mode responder: the group of IDii
        match = find_tunnel_group(
            self.gateway, peer_address=sa.peer[0], version=1, auth="psk", aggressive=by_id,
            ike_id=sa.peer_id,
        )  # fmt: skip
        keepalive = None if isinstance(match, Refusal) else match.group.keepalive
        if sa.tunnel_group in self.gateway.tunnel_groups:  # certificates: the group it used
            keepalive = self.gateway.tunnel_groups[sa.tunnel_group].keepalive
        self._start_dpd(sa, keepalive, now)
        if sa.initiator:
            others = [s for s in self.sas.values() if s is not sa and s.peer[0] == sa.peer[0]]
            if not any(s.state.established for s in others):  # RFC 2407 §4.6.3.3
                notify = NotifyPayload(N.INITIAL_CONTACT, spi=sa.cookie_i + sa.cookie_r)
                self._send_informational(sa, [notify])
            self._take_over(sa, now)  # a rekey: the IPsec SAs move here, the old SA goes
            self._start_phase2(sa, now)

    def _refuse(self, sa: Phase1Sa, error: Phase1Error) -> None:
        """Answer a ``Phase1Error`` with its notify (RFC 2408 §3.14) and give the SA up."""
        header = Header(
            sa.cookie_i,
            sa.cookie_r,
            ExchangeType.INFORMATIONAL,
            message_id=int.from_bytes(self.random(4), "big") or 1,
        )
        spi = sa.cookie_i + sa.cookie_r
        notify = NotifyPayload(error.notify, protocol_id=ProtocolId.PROTO_ISAKMP, spi=spi)
        local = local_of(sa, self.address)
        self._outbox.append((encode_message(Message(header, (notify,))), sa.peer, local))
        self.drops[error.notify.name] += 1
        self._fail(sa, error.notify.name, error.reason)

    def _fail(self, sa: Phase1Sa, notify: str, reason: str) -> None:
        self.sas.pop(sa.key, None)
        self._events.append(Ikev1SaFailed(sa.peer, notify, reason))
        log.info("IKEv1 phase 1 with %s failed: %s %s", sa.peer[0], notify, reason)

    def _expire(self, sa: Phase1Sa) -> None:
        if not sa.state.established:
            self._fail(sa, "", f"{sa.state.mode_name} did not finish in time")
            return
        self._sa_gone(sa, "lifetime expired")

    def _new_cookie(self) -> bytes:
        cookie = self.random(COOKIE_BYTES)
        return cookie if cookie != ZERO_COOKIE else b"\x00" * 7 + b"\x01"


def _raw_sa_body(envelope: Envelope) -> bytes:
    """The received bytes of the first SA payload's body (SAi_b as the peer sent it)."""
    if envelope.first_payload != PayloadType.SA or len(envelope.body) < 4:
        return b""
    length = int.from_bytes(envelope.body[2:4], "big")
    return envelope.body[4:length]


__all__ = ["HALF_OPEN_TIMEOUT_S", "Ikev1Engine"]
