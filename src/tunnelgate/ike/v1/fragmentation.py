"""IKEv1 fragmentation: the Cisco proprietary extension that strongSwan, Windows and racoon
also speak, so that phase-1 messages carrying certificate chains cross paths that drop IP
fragments.

Negotiation (strongSwan ``isakmp_vendor.c``): the initiator puts the FRAGMENTATION vendor ID
(``FRAGMENTATION_VID``, the 16-octet Cisco ID followed by a 4-octet capability word with
``CAPABILITY_IKE`` = 0x80000000, "fragmentation of main and aggressive mode messages") in its
first phase-1 message; the responder echoes it in its first answer only when the initiator
sent it. A peer announces it with the 16 bare octets or with a capability word that has
``CAPABILITY_IKE`` set (``announces_fragmentation``).

Sending (strongSwan ``message.c`` ``fragment()``): a phase-1 message longer than the largest
IKE message the path carries (``max_message_size``: the MTU less the IP (IPv4 or IPv6) and UDP
headers and the non-ESP marker on UDP 4500) is sent, once both sides announced the vendor ID, as the
complete encoded datagram (the ISAKMP header included; the ciphertext when it is encrypted)
cut into slices of at most ``max_message - 28 - 8`` octets. Each slice travels in its own
unencrypted ISAKMP message: the SA's cookies, exchange type main mode (aggressive mode for
an aggressive-mode message), message ID 0, no flags, and one fragment payload::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    ! Next Payload  !    RESERVED   !         Payload Length        !
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    !         Fragment ID           !  Fragment Num !     Flags     !
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    ~                       Fragment Data                           ~

payload type 132, numbers from 1, flag ``FragmentPayload.LAST`` (0x01) on the final one.
strongSwan always uses fragment ID 1; ``Outgoing`` counts from 1 per SA so that a new
message never mixes with the remains of the previous one. A retransmission resends all the
fragments of the message, byte for byte.

Receiving (strongSwan ``add_fragment_v1``): fragments are collected per peer address and
cookie pair (one message at a time: a new fragment ID replaces the unfinished one), in any
order, duplicates ignored; a message is whole when the fragment flagged last and every number
below it are there. The memory is bounded (``MAX_FRAGMENTS`` per message, ``MAX_MESSAGE_BYTES``
per message, ``MAX_REASSEMBLIES`` messages at once, ``REASSEMBLY_TIMEOUT_S``); what does not
fit is dropped with a reason the engine counts. A repeat of the last fragment of a message
already put together gives that message again, so that the engine answers a retransmitted
request whose answer was lost (its usual duplicate rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tunnelgate.ike.v1.constants import ExchangeType
from tunnelgate.ike.v1.message import (
    HEADER_SIZE,
    Header,
    Message,
    decode_header,
    decode_message,
    encode_message,
)
from tunnelgate.ike.v1.payloads import FragmentPayload, Payload, VidPayload

Address = tuple[str, int]
ReassemblyKey = tuple[str, bytes, bytes]  # peer IP, initiator cookie, responder cookie

CISCO_FRAGMENTATION_ID = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d3")
CAPABILITY_IKE = 0x80000000  # racoon/strongSwan: fragments of main and aggressive mode
FRAGMENTATION_VID = CISCO_FRAGMENTATION_ID + CAPABILITY_IKE.to_bytes(4, "big")
"""The vendor ID as strongSwan sends it (``isakmp_vendor.c``, "FRAGMENTATION")."""

FRAGMENT_HEADER_SIZE = 8  # generic payload header + fragment ID, number, flags
IPV4_UDP_OVERHEAD = 20 + 8
IPV6_UDP_OVERHEAD = 40 + 8
NON_ESP_MARKER_SIZE = 4
NAT_T_PORT = 4500
DEFAULT_MTU = 576  # IPv4 minimum datagram size: strongSwan's and the ASA's IPv4 default
DEFAULT_MTU_IPV6 = 1280  # IPv6 minimum link MTU (RFC 8200 §5): the default over IPv6 (D115)

MAX_FRAGMENTS = 100  # per message: the spec's "a maximum of a 100 fragments can be received"
MAX_MESSAGE_BYTES = 32768  # a reassembled message; certificate chains stay well below
MAX_REASSEMBLIES = 32  # messages being put together at once (the oldest goes first)
REASSEMBLY_TIMEOUT_S = 30.0  # an unfinished message is forgotten after this


# --- negotiation -------------------------------------------------------------------------------


def announces_fragmentation(payloads: Sequence[Payload]) -> bool:
    """Whether the peer sent the FRAGMENTATION vendor ID: the 16-octet Cisco ID alone (as
    Windows sends it) or with a capability word that has ``CAPABILITY_IKE`` set."""
    for payload in payloads:
        if not isinstance(payload, VidPayload):
            continue
        data = payload.data
        if data[:16] != CISCO_FRAGMENTATION_ID:
            continue
        if len(data) == 16:
            return True
        if len(data) == 20 and int.from_bytes(data[16:], "big") & CAPABILITY_IKE:
            return True
    return False


def with_fragmentation_vid(data: bytes) -> bytes:
    """An unencrypted encoded message with ``FRAGMENTATION_VID`` appended to its payloads (no
    hash of phase 1 covers vendor IDs); an encrypted one is returned as it is."""
    if decode_header(data).is_encrypted:
        return data
    message = decode_message(data)
    if any(isinstance(p, VidPayload) and p.data == FRAGMENTATION_VID for p in message.payloads):
        return data
    return encode_message(
        Message(message.header, (*message.payloads, VidPayload(FRAGMENTATION_VID)))
    )


# --- sending -----------------------------------------------------------------------------------


def max_message_size(mtu: int, peer_port: int, *, ipv6: bool = False) -> int:
    """The largest IKE message (ISAKMP header included) that fits an IPv4 (``ipv6``: IPv6)
    datagram of ``mtu`` octets towards ``peer_port`` (the non-ESP marker precedes it on UDP
    4500)."""
    marker = NON_ESP_MARKER_SIZE if peer_port == NAT_T_PORT else 0
    return mtu - (IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD) - marker


def fragment_datagrams(data: bytes, fragment_id: int, max_message: int) -> list[bytes]:
    """``data``, a whole encoded ISAKMP datagram, as fragment datagrams of at most
    ``max_message`` octets each (see the module docstring for the layout)."""
    original = decode_header(data)
    exchange = (
        ExchangeType.AGGRESSIVE
        if original.exchange_type == ExchangeType.AGGRESSIVE
        else ExchangeType.MAIN_MODE
    )
    header = Header(original.initiator_cookie, original.responder_cookie, exchange)
    room = max(1, max_message - HEADER_SIZE - FRAGMENT_HEADER_SIZE)
    slices = [data[i : i + room] for i in range(0, len(data), room)]
    if len(slices) > 0xFF:
        raise ValueError(f"{len(data)} octets need {len(slices)} fragments: at most 255")
    return [
        encode_message(
            Message(
                header,
                (
                    FragmentPayload(
                        fragment_id,
                        number,
                        FragmentPayload.LAST if number == len(slices) else 0,
                        piece,
                    ),
                ),
            )
        )
        for number, piece in enumerate(slices, start=1)
    ]


@dataclass(slots=True)
class Outgoing:
    """The sending side of one ISAKMP SA whose peer announced fragmentation: the fragment ID
    of the last message sent in fragments, and its fragments (a retransmission resends them)."""

    fragment_id: int = 0
    whole: bytes = b""
    max_message: int = 0
    datagrams: list[bytes] = field(default_factory=list)

    def datagrams_for(self, data: bytes, max_message: int) -> list[bytes]:
        """``data`` itself when it fits ``max_message``, else its fragments (the same ones
        again when ``data`` is the message fragmented last)."""
        if len(data) <= max_message:
            return [data]
        if data != self.whole or max_message != self.max_message:
            self.fragment_id = self.fragment_id % 0xFFFF + 1
            self.datagrams = fragment_datagrams(data, self.fragment_id, max_message)
            self.whole, self.max_message = data, max_message
        return list(self.datagrams)


# --- receiving ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A whole message: the datagram the fragments carried."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Held:
    """The fragment was kept or dropped; ``reason`` is the engine's counter for it."""

    reason: str


Outcome = Reassembled | Held


@dataclass(slots=True)
class _Buffer:
    fragment_id: int
    started_at: float
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0
    last: int | None = None  # the number flagged LAST, once it arrived
    whole: bytes | None = None  # set once complete


@dataclass(slots=True)
class Reassembler:
    """Puts fragmented messages together, one at a time per peer address and cookie pair."""

    max_fragments: int = MAX_FRAGMENTS
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_reassemblies: int = MAX_REASSEMBLIES
    timeout_s: float = REASSEMBLY_TIMEOUT_S
    buffers: dict[ReassemblyKey, _Buffer] = field(default_factory=dict)
    expired: int = 0  # buffers forgotten unfinished (timeout or room for newer ones)

    def add(self, key: ReassemblyKey, fragment: FragmentPayload, now: float) -> Outcome:
        """Take one fragment; the whole message once it is complete."""
        self._prune(now)
        number = fragment.number
        if number > self.max_fragments or number == 0:
            return Held("fragment-too-many" if number else "fragment-malformed")
        buffer = self.buffers.get(key)
        if buffer is not None and buffer.whole is not None:
            if buffer.fragment_id == fragment.fragment_id and buffer.parts.get(number) == (
                fragment.data
            ):  # a repeat of the message put together last (the peer retransmits)
                if number == buffer.last:
                    return Reassembled(buffer.whole)
                return Held("fragment-duplicate")
            buffer = None  # the next message
        elif buffer is not None and buffer.fragment_id != fragment.fragment_id:
            self.expired += 1  # strongSwan's rule: a new fragment ID replaces the old message
            buffer = None
        if buffer is None:
            self.buffers.pop(key, None)
            while len(self.buffers) >= self.max_reassemblies:
                del self.buffers[next(iter(self.buffers))]
                self.expired += 1
            buffer = self.buffers[key] = _Buffer(fragment.fragment_id, now)
        return self._put(key, buffer, fragment)

    def _put(self, key: ReassemblyKey, buffer: _Buffer, fragment: FragmentPayload) -> Outcome:
        number = fragment.number
        if number in buffer.parts:
            return Held("fragment-duplicate")
        if fragment.is_last:
            if buffer.last is not None or any(n > number for n in buffer.parts):
                del self.buffers[key]
                return Held("fragment-inconsistent")
            buffer.last = number
        elif buffer.last is not None and number > buffer.last:
            del self.buffers[key]
            return Held("fragment-inconsistent")
        buffer.size += len(fragment.data)
        if buffer.size > self.max_message_bytes:
            del self.buffers[key]
            return Held("fragment-too-large")
        buffer.parts[number] = fragment.data
        if buffer.last is None or len(buffer.parts) < buffer.last:
            return Held("fragment-held")
        buffer.whole = b"".join(buffer.parts[n] for n in range(1, buffer.last + 1))
        return Reassembled(buffer.whole)

    def _prune(self, now: float) -> None:
        stale = [k for k, b in self.buffers.items() if now - b.started_at >= self.timeout_s]
        for key in stale:
            if self.buffers.pop(key).whole is None:
                self.expired += 1


__all__ = [
    "CAPABILITY_IKE",
    "DEFAULT_MTU",
    "DEFAULT_MTU_IPV6",
    "FRAGMENTATION_VID",
    "MAX_FRAGMENTS",
    "MAX_MESSAGE_BYTES",
    "MAX_REASSEMBLIES",
    "REASSEMBLY_TIMEOUT_S",
    "Held",
    "Outgoing",
    "Reassembled",
    "Reassembler",
    "announces_fragmentation",
    "fragment_datagrams",
    "max_message_size",
    "with_fragmentation_vid",
]
