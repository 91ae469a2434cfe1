"""Reliable IKEv2 exchanges (RFC 7296 §2.1-2.3, RFC 7383): requests with message IDs and a
window of one, retransmission, cached responses to retransmitted requests, encryption with
the SA's keys (§3.14) and reassembly of fragmented messages (RFC 7383 §2.6).
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Sequence
from typing import TypeVar

from tunnelgate.ike.addresses import LocalAddresses, default_mtu, ip_udp_overhead
from tunnelgate.ike.v2.constants import ExchangeType, HeaderFlag, NotifyType
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.events import AnyEvent
from tunnelgate.ike.v2.message import Header, Message, decode_inner_payloads, decode_message
from tunnelgate.ike.v2.payloads import Payload, SkfPayload
from tunnelgate.ike.v2.protection import Protection, open_body, seal, seal_fragments
from tunnelgate.ike.v2.state import NAT_T_PORT, Address, IkeSa, Pending, RandomSource, _Algorithms
from tunnelgate.policy.gateway import GatewayPolicy

P = TypeVar("P")
MAX_FRAGMENTS = 100  # spec: "A maximum of a 100 fragments can be received"


class TaskManager:
    """The state every exchange task shares and the reliable exchange of protected messages:
    message IDs, one outstanding request, retransmitted requests answered from the response
    cache, and RFC 7383 fragments (``Ikev2Engine`` sets these attributes)."""

    gateway: GatewayPolicy
    interface: str
    address: Address  # the primary local address (IPv4 when there is one)
    addresses: tuple[Address, ...]  # every local address served, the primary first
    _locals: LocalAddresses
    random: RandomSource
    retransmit_timeout_s: float
    retransmit_tries: int
    cookie_threshold: int  # half-open SAs before COOKIE is demanded
    _cookie_secret: bytes
    sas: dict[bytes, IkeSa]  # by our own SPI
    _half_open: dict[tuple[bytes, Address], IkeSa]  # responder, by (SPIi, peer)
    _outbox: list[tuple[bytes, Address, Address]]  # data, peer, our address it leaves from
    _events: deque[AnyEvent]
    drops: Counter[str]
    # per-SA deadlines, earliest first: (when, serial of the push, SA). Entries go stale when an
    # SA's timer is cleared or postponed or the SA goes away; they are dropped lazily when they
    # reach the top. A timer moved *earlier* (or set) must be pushed with ``_schedule``.
    _timers: list[tuple[float, int, IkeSa]]
    _timer_pushes: int
    _sa_serial: int

    def _local_of(self, sa: IkeSa) -> Address:
        """The local address ``sa`` uses (the primary one for an SA made without it)."""
        return sa.local_address or self.address

    def _add_sa(self, sa: IkeSa) -> None:
        """Enter ``sa`` in the table under its own SPI (and schedule its timers, if any)."""
        self._sa_serial += 1
        sa.serial = self._sa_serial
        self.sas[sa.key] = sa
        self._reschedule(sa)

    def _schedule(self, sa: IkeSa, when: float | None) -> None:
        """One of ``sa``'s timers (or its children's) is now due at ``when``."""
        if when is None:
            return
        self._timer_pushes += 1
        heapq.heappush(self._timers, (when, self._timer_pushes, sa))
        if len(self._timers) > 1024 + 3 * len(self.sas):
            self._compact_timers()

    def _reschedule(self, sa: IkeSa) -> None:
        self._schedule(sa, sa.next_deadline())

    def _compact_timers(self) -> None:
        """Rebuild the heap from the live SAs (stale entries piled up)."""
        fresh: list[tuple[float, int, IkeSa]] = []
        for sa in self.sas.values():
            due = sa.next_deadline()
            if due is not None:
                self._timer_pushes += 1
                fresh.append((due, self._timer_pushes, sa))
        heapq.heapify(fresh)
        self._timers = fresh

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

    def _reply(self, sa: IkeSa, exchange: ExchangeType, payloads: list[Payload], mid: int) -> None:
        self._send_encrypted(sa, exchange, payloads, request=False, now=0.0, message_id=mid)

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
            # window size 1 (RFC 7296 §2.3): only the latest response is ever retransmitted;
            # keeping every one would grow each SA by a response per DPD check
            sa.responses = {mid: data}
            local = self._local_of(sa)
            self._outbox.extend((d, sa.peer, local) for d in data)

    def _max_message(self, sa: IkeSa) -> int:
        """The IKE message size that fits the configured MTU (which counts the IP and UDP
        headers, and the non-ESP marker on port 4500; D57). Per the SA's family: the default
        MTU is 576 for IPv4 and 1280 for IPv6, the headers 20 + 8 and 40 + 8 octets."""
        ip = sa.peer[0]
        mtu = self.gateway.ikev2_fragmentation_mtu or default_mtu(ip)
        return mtu - ip_udp_overhead(ip) - (4 if sa.peer[1] == NAT_T_PORT else 0)

    def _send_request(self, sa: IkeSa, data: bytes | list[bytes], now: float) -> None:
        datagrams = [data] if isinstance(data, bytes) else data
        sa.last_request, sa.retransmits = datagrams, 0
        sa.retransmit_at = now + self.retransmit_timeout_s
        self._schedule(sa, sa.retransmit_at)
        local = self._local_of(sa)
        self._outbox.extend((d, sa.peer, local) for d in datagrams)

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
