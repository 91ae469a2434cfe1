"""The IKEv2 engine (RFC 7296) without I/O: IKE_SA_INIT and IKE_AUTH with pre-shared keys.

One ``Ikev2Engine`` serves the local addresses of one interface of a gateway (its IPv4
address and, when configured, its IPv6 address: ``tunnelgate.ike.addresses``, D115). It is
fed datagrams and time and emits datagrams, one timer and events (the house surface of
ARCHITECTURE.md): ``receive_datagram(data, addr, now, local=None)``, ``datagrams_to_send(now)``
(or ``datagrams_to_send_from(now)``, which also says the local address each datagram leaves
from), ``get_timer()``, ``handle_timer(now)``, ``next_event()``, and the command
``initiate(entry, rule, now)``. Each IKE SA keeps the local address it uses
(``IkeSa.local_address``): the one of the peer's family when we initiate, the one the
IKE_SA_INIT request arrived on when we answer.

Decisions come from ``tunnelgate.policy`` (proposal selection, responder crypto map
choice, tunnel-group lookup), so the engine, the analyzer and packet-tracer agree.
Peer input never raises out of ``receive_datagram``: malformed or unexpected datagrams
are dropped and counted in ``drops``; negotiation failures are answered with the notify
the RFC asks for and reported as events.

The exchanges live in one module per task and are mixed into ``Ikev2Engine``:
``ike_sa_init``, ``ike_auth``, ``create_child_sa`` and ``informational`` (with the commands that
start them). They build on ``sa_lifecycle`` (SAs coming and going) and ``task_manager`` (the
shared state, message IDs, retransmitted requests and cached responses, encryption and RFC 7383
fragments); ``state`` holds the SA dataclasses and ``traffic_selectors`` the TS conversions.
This module keeps the surface, the dispatch of received messages and of answers to our
requests, and the timers (retransmission §2.1, lifetimes and rekeying §2.8, liveness §2.4).
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, deque
from collections.abc import Callable, Sequence

from tunnelgate.crypto.errors import CryptoError, UnknownAlgorithm
from tunnelgate.ike.addresses import LocalAddresses, canonical_peer, interface_addresses
from tunnelgate.ike.v2.constants import ExchangeType, HeaderFlag, ProtocolId
from tunnelgate.ike.v2.create_child_sa import CreateChildSaExchange
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.events import AnyEvent, ChildSaDeleted, PeerUnreachable
from tunnelgate.ike.v2.ike_auth import IkeAuthExchange
from tunnelgate.ike.v2.ike_sa_init import IkeSaInitExchange
from tunnelgate.ike.v2.informational import InformationalExchange
from tunnelgate.ike.v2.message import decode_header, decode_message
from tunnelgate.ike.v2.payloads import DeletePayload, NotifyPayload, Payload
from tunnelgate.ike.v2.state import Address, IkeSa, Pending, RandomSource
from tunnelgate.ike.v2.task_manager import _first_fragment_or_whole
from tunnelgate.policy.gateway import GatewayPolicy

log = logging.getLogger("tunnelgate.ike")


class Ikev2Engine(IkeSaInitExchange, IkeAuthExchange, CreateChildSaExchange, InformationalExchange):
    """IKEv2 for the local addresses of one interface of a gateway (see the module docstring).

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
        cookie_threshold: int = 100,
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
        self.cookie_threshold = cookie_threshold  # half-open SAs before COOKIE is demanded
        self._cookie_secret = random(32)
        self.sas: dict[bytes, IkeSa] = {}  # by our own SPI
        self._half_open: dict[tuple[bytes, Address], IkeSa] = {}  # responder, by (SPIi, peer)
        self._outbox: list[tuple[bytes, Address, Address]] = []  # data, peer, local
        self._events: deque[AnyEvent] = deque()
        self.drops: Counter[str] = Counter()
        self._timers: list[tuple[float, int, IkeSa]] = []  # see TaskManager._schedule
        self._timer_pushes = 0
        self._sa_serial = 0

    # ------------------------------------------------------------------ surface

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

    def next_event(self) -> AnyEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline of any SA: the top of the deadline heap, after dropping
        stale entries (SA gone, timer cleared or postponed) at the top. Amortised O(log n)."""
        timers = self._timers
        while timers:
            when, _, sa = timers[0]
            if self.sas.get(sa.key) is not sa:
                heapq.heappop(timers)
                continue
            due = sa.next_deadline()
            if due is None:
                heapq.heappop(timers)
            elif due > when:  # postponed: move the entry to its real deadline
                self._timer_pushes += 1
                heapq.heapreplace(timers, (due, self._timer_pushes, sa))
            else:
                return when
        return None

    def handle_timer(self, now: float) -> None:
        """Act on the SAs whose deadline passed (only those: they come off the heap)."""
        timers, due = self._timers, dict[int, IkeSa]()
        while timers and timers[0][0] <= now:
            _, _, sa = heapq.heappop(timers)
            if self.sas.get(sa.key) is sa:
                due[id(sa)] = sa
        if not due:
            return
        ordered = sorted(due.values(), key=lambda sa: sa.serial)  # the table's order
        for sa in ordered:
            if sa.half_open_until is not None and sa.half_open_until <= now:
                sa.half_open_until = None
                if sa.state != "established":
                    self.drops["half-open-expired"] += 1  # IKE_AUTH never came (ike_sa_init)
                    self._remove(sa)
                    continue
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
            local = sa.local_address or self.address
            self._outbox.extend((d, sa.peer, local) for d in sa.last_request)
        for sa in ordered:
            if self.sas.get(sa.key) is not sa:
                continue
            if sa.state == "established":
                self._lifetimes(sa, now)
            if self.sas.get(sa.key) is sa:
                self._reschedule(sa)  # whatever is next for it (pushed once, maybe a duplicate)

    # ------------------------------------------------------------------ timers

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
        header = decode_header(data)
        initiator_flag = bool(header.flags & HeaderFlag.INITIATOR)
        if header.exchange_type == ExchangeType.IKE_SA_INIT and not header.is_response:
            if header.spi_r != bytes(8) or header.message_id != 0 or not initiator_flag:
                raise DecodeError("malformed IKE_SA_INIT request")
            self._on_init_request(decode_message(data), data, addr, local, now)
            return
        # The I flag marks the original initiator as the sender: then our SPI is SPIr.
        ours = header.spi_r if initiator_flag else header.spi_i
        sa = self.sas.get(ours)
        if sa is None or sa.peer[0] != addr[0]:
            self.drops["unknown-spi"] += 1
            return
        if sa.local_address is not None and sa.local_address[0] != local[0]:
            self.drops["unexpected-local-address"] += 1
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
                self._on_setup_response(sa, self._on_init_response, message, data, now)
                return
            opened = self._open(sa, message, data)
            if opened is None:  # more fragments to come
                return
            inner = opened
            if header.exchange_type == ExchangeType.IKE_AUTH and sa.state == "auth":
                self._on_setup_response(sa, self._on_auth_response, inner, now)
            elif sa.state == "established" and sa.pending is not None:
                sa.retransmit_at = None
                pending, sa.pending = sa.pending, None
                self._on_response(sa, pending, header.exchange_type, inner, now)
            else:  # dropped as if lost: our request stays outstanding (and retransmitted)
                self.drops["unexpected-exchange"] += 1
            return
        if header.message_id < sa.expected_request_id:
            cached = sa.responses.get(header.message_id)
            if cached is not None and _first_fragment_or_whole(data):
                # a retransmitted request: the same answer again (for a fragmented request
                # only on its first fragment, RFC 7383 §2.6.1)
                self._outbox.extend((d, addr, local) for d in cached)
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

    def _on_setup_response(self, sa: IkeSa, handle: Callable[..., None], *args: object) -> None:
        """Hand the answer to an IKE_SA_INIT or IKE_AUTH request to ``handle``, which moves the
        SA on (a new request: COOKIE, INVALID_KE, IKE_AUTH), establishes it or fails it. An
        answer it did neither with (a late copy answering an earlier request, e.g. a second
        COOKIE after a retransmission; or one that raised) is dropped as if it had been lost:
        the outstanding request keeps its retransmission timer. Without that an SA being set up
        would wait for ever, with no timer left (retransmission is its only one), for an answer
        it would then drop as unexpected (RFC 7296 §2.1: only the initiator retransmits)."""
        retransmit_at, state = sa.retransmit_at, sa.state
        sa.retransmit_at = None
        try:
            handle(sa, *args)
        finally:
            if sa.retransmit_at is None and sa.state == state and self.sas.get(sa.key) is sa:
                sa.retransmit_at = retransmit_at
                self._schedule(sa, retransmit_at)

    def _on_response(
        self, sa: IkeSa, pending: Pending, exchange: int, inner: list[Payload], now: float
    ) -> None:
        errors = [n for n in inner if isinstance(n, NotifyPayload) and int(n.notify_type) < 16384]
        if (
            pending.kind in ("rekey-child", "new-child")
            and exchange == ExchangeType.CREATE_CHILD_SA
        ):
            self._on_child_response(sa, pending, inner, errors, now)
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


__all__ = ["IkeSa", "Ikev2Engine"]
