"""Encrypted informational exchanges of an ISAKMP SA (RFC 2409 §5.7, RFC 2408 §4.8, §3.15).

Every message is ``HDR*, HASH(1), N/D`` with HASH(1) = prf(SKEYID_a, M-ID | N/D) and its own
random message ID (its first IV is hash(last phase-1 CBC block | M-ID), App. B). Nothing is
acknowledged except a liveness check:

* Delete (RFC 2408 §3.15): ESP with our inbound SPIs, or ISAKMP with the cookie pair (which
  ends every IPsec SA it negotiated) → ``ChildSaDeleted`` / ``Ikev1SaDeleted``.
* DPD (RFC 3706): both sides announce the DPD vendor ID in main mode. When the peer was
  silent ``threshold`` seconds (tunnel group ``isakmp keepalive threshold N retry M``) we send
  R-U-THERE with a sequence number and repeat it (next number) every ``retry`` seconds; after
  ``retransmit_tries`` unanswered repeats the peer is dead: ``PeerUnreachable`` and every SA
  with it deleted. A R-U-THERE is answered with R-U-THERE-ACK carrying its number (§5).
* INITIAL-CONTACT (RFC 2407 §4.6.3.3): sent after phase 1 when we hold no other SA with the
  peer; received, it deletes the peer's older ISAKMP SAs and their IPsec SAs.
* Error notifies answering our quick mode (NO-PROPOSAL-CHOSEN, INVALID-ID-INFORMATION …) end
  it with ``ChildSaFailed``.
* CONNECTED (RFC 2408 §3.1, §3.14.1; RFC 2409 §5.5): the responder of a quick mode with the
  Commit flag sends it once its IPsec SA is installed (after QM3); the initiator uses the SA
  only then (``quick_mode``).
"""

from __future__ import annotations

import hmac
from collections import Counter, deque
from collections.abc import Iterable

from tunnelgate.crypto.prf import Prf
from tunnelgate.crypto.registry import Kind, prf_algorithm
from tunnelgate.ike.v1.constants import ExchangeType, NotifyMessageType, PayloadType, ProtocolId
from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.events import (
    ChildSaDeleted,
    ChildSaFailed,
    Ikev1Event,
    Ikev1SaDeleted,
    PeerUnreachable,
)
from tunnelgate.ike.v1.keymat import quick_mode_hash
from tunnelgate.ike.v1.message import Envelope, Header, encode_payloads
from tunnelgate.ike.v1.payloads import DeletePayload, HashPayload, NotifyPayload, Payload
from tunnelgate.ike.v1.state import Address, Phase1Sa, QuickModeState, RandomSource, local_of
from tunnelgate.policy.gateway import GatewayPolicy

DPD_VID = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706 §5, version 1.0
ERROR_NOTIFY_LIMIT = 8192  # notify types below are errors (RFC 2408 §3.14.1)
PEER_DELETED, EXPIRED = "deleted by the peer", "lifetime expired"
HANDED_OVER = (PEER_DELETED, EXPIRED)  # a newer ISAKMP SA with the peer takes the IPsec SAs
N = NotifyMessageType


def phase1_prf(sa: Phase1Sa) -> Prf:
    """The HMAC of the negotiated phase-1 hash (RFC 2409 §4)."""
    assert sa.choice is not None
    return prf_algorithm(Kind.IKEV1_HASH, sa.choice.policy.hash)


def open_hashed(sa: Phase1Sa, envelope: Envelope) -> tuple[tuple[Payload, ...], bytes]:
    """Decrypt a message of an exchange after phase 1: its payloads (HASH first, RFC 2409
    §5.5) and the bytes after the HASH payload up to the padding, which the hash covers."""
    if sa.protection is None or sa.keys is None or not envelope.header.is_encrypted:
        raise DecodeError("not an encrypted message of an established ISAKMP SA")
    payloads, plaintext = sa.protection.open_plain(envelope)
    if not payloads or not isinstance(payloads[0], HashPayload):
        raise DecodeError("the first payload is not HASH")
    position, next_type = 0, envelope.first_payload
    while next_type != PayloadType.NONE:  # the chain decoded, so every length is sound
        next_type = plaintext[position]
        position += int.from_bytes(plaintext[position + 2 : position + 4], "big")
    first_length = int.from_bytes(plaintext[2:4], "big")
    return payloads, plaintext[first_length:position]


class InformationalExchange:
    """Informational exchanges, both directions; mixed into ``Ikev1Engine``."""

    gateway: GatewayPolicy
    interface: str
    random: RandomSource
    address: Address  # the primary local address (an SA's ``local_address`` when it has none)
    retransmit_tries: int
    sas: dict[tuple[bytes, str], Phase1Sa]
    drops: Counter[str]
    _outbox: list[tuple[bytes, Address, Address]]  # data, peer, our address it leaves from
    _events: deque[Ikev1Event]

    # ------------------------------------------------------------------ commands

    def delete_child(self, spi_in: bytes, now: float) -> None:
        """Delete the IPsec SA we receive on with ``spi_in`` and tell the peer (§3.15)."""
        sa = next((s for s in self.sas.values() if spi_in in s.children), None)
        if sa is None:
            raise KeyError(f"no IPsec SA with inbound SPI {spi_in.hex()}")
        child = sa.children.pop(spi_in)
        self._send_informational(sa, [DeletePayload(ProtocolId.PROTO_IPSEC_ESP, (spi_in,))])
        self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, "deleted locally"))

    def delete_sa(self, sa: Phase1Sa, now: float, reason: str = "deleted locally") -> None:
        """Delete the ISAKMP SA and with it its IPsec SAs, telling the peer (ESP first)."""
        if sa.children:
            spis = tuple(sa.children)
            self._send_informational(sa, [DeletePayload(ProtocolId.PROTO_IPSEC_ESP, spis)])
        cookies = sa.cookie_i + sa.cookie_r
        self._send_informational(sa, [DeletePayload(ProtocolId.PROTO_ISAKMP, (cookies,))])
        self._sa_gone(sa, reason)

    def check_liveness(self, sa: Phase1Sa, now: float) -> None:
        """Send R-U-THERE with the next sequence number (RFC 3706 §5)."""
        sa.dpd_seq = (sa.dpd_seq + 1) & 0xFFFFFFFF
        spi = sa.cookie_i + sa.cookie_r
        notify = NotifyPayload(N.R_U_THERE, sa.dpd_seq.to_bytes(4, "big"), spi=spi)
        self._send_informational(sa, [notify])
        sa.dpd_waiting = True
        if sa.keepalive is not None:
            sa.dpd_at = now + sa.keepalive[1]

    # ------------------------------------------------------------------ timers

    def _start_dpd(self, sa: Phase1Sa, keepalive: tuple[int, int] | None, now: float) -> None:
        sa.last_heard = now
        if keepalive is not None and sa.peer_dpd:
            sa.keepalive = keepalive
            sa.dpd_seq = int.from_bytes(self.random(4), "big") & 0x7FFFFFFF
            sa.dpd_at = now + keepalive[0]

    def _dpd_timer(self, sa: Phase1Sa, now: float) -> None:
        """Idle ``threshold`` s: R-U-THERE; then one every ``retry`` s until the peer is dead."""
        if sa.keepalive is None:
            return
        threshold = sa.keepalive[0]
        if sa.dpd_waiting:
            if sa.dpd_retries >= self.retransmit_tries:
                self._events.append(PeerUnreachable(sa.peer, sa.dpd_retries + 1, version=1))
                self._sa_gone(sa, "peer unreachable")
                return
            sa.dpd_retries += 1
            self.check_liveness(sa, now)
        elif now - sa.last_heard >= threshold:
            sa.dpd_retries = 0
            self.check_liveness(sa, now)
        else:
            sa.dpd_at = sa.last_heard + threshold

    # ------------------------------------------------------------------ messages

    def _send_informational(self, sa: Phase1Sa, payloads: list[Payload]) -> None:
        """``HDR*, HASH(1), N/D`` with a new message ID (RFC 2409 §5.7)."""
        assert sa.protection is not None and sa.keys is not None
        mid = self._new_message_id(sa)
        digest = quick_mode_hash(
            phase1_prf(sa), sa.keys.skeyid_a, mid, encode_payloads(payloads)[1]
        )
        header = Header(sa.cookie_i, sa.cookie_r, ExchangeType.INFORMATIONAL, message_id=mid)
        sealed = sa.protection.seal(header, [HashPayload(digest), *payloads])
        self._outbox.append((sealed, sa.peer, local_of(sa, self.address)))
        sa.protection.ivs.pop(mid, None)  # a one-message exchange

    def _on_encrypted_informational(self, sa: Phase1Sa, envelope: Envelope, now: float) -> None:
        mid = envelope.header.message_id
        if sa.keys is None or sa.protection is None or mid == 0:
            self.drops["invalid-message-id"] += 1
            return
        payloads, rest = open_hashed(sa, envelope)
        sa.protection.ivs.pop(mid, None)
        assert isinstance(payloads[0], HashPayload)
        expected = quick_mode_hash(phase1_prf(sa), sa.keys.skeyid_a, mid, rest)
        if not hmac.compare_digest(payloads[0].data, expected):
            self.drops["invalid-hash"] += 1
            return
        sa.last_heard = now
        for payload in payloads[1:]:
            if isinstance(payload, NotifyPayload):
                self._on_notify(sa, payload, now)
            elif isinstance(payload, DeletePayload):
                self._on_delete(sa, payload)
            if sa.key not in self.sas:
                return

    def _on_notify(self, sa: Phase1Sa, notify: NotifyPayload, now: float) -> None:
        kind = notify.notify_type
        if kind == N.R_U_THERE:
            spi = sa.cookie_i + sa.cookie_r
            ack = NotifyPayload(N.R_U_THERE_ACK, notify.data, spi=spi)
            self._send_informational(sa, [ack])
        elif kind == N.R_U_THERE_ACK:
            if notify.data == sa.dpd_seq.to_bytes(4, "big") and sa.keepalive is not None:
                sa.dpd_waiting, sa.dpd_retries = False, 0
                sa.dpd_at = now + sa.keepalive[0]
            else:
                self.drops["unexpected-dpd-ack"] += 1
        elif kind == N.INITIAL_CONTACT:
            for other in list(self.sas.values()):
                if other is not sa and other.peer[0] == sa.peer[0] and other.state.established:
                    self._sa_gone(other, "initial contact from the peer")
        elif kind == N.CONNECTED:
            self._on_connected(sa, notify)
        elif int(kind) < ERROR_NOTIFY_LIMIT:
            self._quick_mode_refused(sa, notify)
        else:
            self.drops["notify-ignored"] += 1

    def _quick_mode_refused(self, sa: Phase1Sa, notify: NotifyPayload) -> None:
        """An error notify for one of our quick modes (matched by our SPI, else the only one)."""
        ours = [q for q in sa.quick.values() if q.state is QuickModeState.QUICK_I1]
        match = [q for q in ours if q.spi_in == notify.spi] or (ours if len(ours) == 1 else [])
        if not match:
            self.drops["notify-ignored"] += 1
            return
        qm = match[0]
        del sa.quick[qm.message_id]
        kind = notify.notify_type
        name = kind.name if isinstance(kind, NotifyMessageType) else str(kind)
        self._events.append(ChildSaFailed(sa.peer, name, "the peer refused quick mode"))

    def _on_delete(self, sa: Phase1Sa, delete: DeletePayload) -> None:
        if delete.protocol_id == ProtocolId.PROTO_ISAKMP:
            if sa.cookie_i + sa.cookie_r in delete.spis:
                self._sa_gone(sa, PEER_DELETED)
            return
        if delete.protocol_id != ProtocolId.PROTO_IPSEC_ESP:
            self.drops["delete-ignored"] += 1
            return
        for spi in delete.spis:
            child = next((c for c in sa.children.values() if c.spi_out == spi), None)
            if child is None:
                self.drops["delete-unknown-spi"] += 1
                continue
            del sa.children[child.spi_in]
            self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, "deleted by the peer"))

    def _on_connected(self, sa: Phase1Sa, notify: NotifyPayload) -> None:
        raise NotImplementedError  # quick mode's

    # ------------------------------------------------------------------ helpers

    def _sa_gone(self, sa: Phase1Sa, reason: str) -> None:
        """Forget an ISAKMP SA and every IPsec SA it holds, unless the peer deleted it (or its
        lifetime ended) while a newer one with the peer is up: a rekey (``rekey``), whose
        new ISAKMP SA takes the IPsec SAs."""
        self.sas.pop(sa.key, None)
        successor = _successor(self.sas.values(), sa) if reason in HANDED_OVER else None
        if successor is not None:
            successor.children.update(sa.children)
            sa.children.clear()
            reason = "rekeyed" if reason == PEER_DELETED else reason
        for child in sa.children.values():
            self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, reason))
        sa.children.clear()
        for qm in sa.quick.values():
            if qm.state in (QuickModeState.QUICK_I1, QuickModeState.QUICK_I2C):
                self._events.append(ChildSaFailed(sa.peer, "", reason))
        sa.quick.clear()
        self._events.append(Ikev1SaDeleted(sa.cookie_i, sa.cookie_r, sa.peer, reason))

    def _new_message_id(self, sa: Phase1Sa) -> int:
        while True:
            mid = int.from_bytes(self.random(4), "big")
            if mid and mid not in sa.quick:
                return mid


def _successor(sas: Iterable[Phase1Sa], old: Phase1Sa) -> Phase1Sa | None:
    """The newest established ISAKMP SA with the peer of ``old``, established after it."""
    since = old.established_at if old.established_at is not None else float("inf")
    newer = [
        s
        for s in sas
        if s is not old
        and s.peer[0] == old.peer[0]
        and s.state.established
        and s.established_at is not None
        and s.established_at >= since
    ]
    return max(newer, key=lambda s: s.established_at or 0.0, default=None)


__all__ = ["DPD_VID", "InformationalExchange", "open_hashed", "phase1_prf"]
