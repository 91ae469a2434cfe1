"""Quick mode (RFC 2409 §5.5): one IPsec SA pair per ACL permit line, as a transition table.

    Initiator                                        Responder
    QM1  HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] -->          QUICK_R0 -> QUICK_R1
    QM2  <-- HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N]    QUICK_I1 -> QUICK_I2
    QM3  HDR*, HASH(3)                               -->          QUICK_R1 -> QUICK_R2

    HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] [| IDci | IDcr])   (the rest of QM1)
    HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE] [| IDci | IDcr] [| N])
    HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
    KEYMAT  = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), K1 | K2 | …

Each direction is keyed with the SPI its receiver chose; the encryption key comes first, the
integrity key after it. The responder picks the crypto map entry with the policy's rule
(``choose_entry``: mirror ACL match of the proxy identities), the transform set with
``select_transform_set`` and checks PFS with ``check_pfs``; a refusal is an encrypted
informational notify (NO-PROPOSAL-CHOSEN, INVALID-ID-INFORMATION) and ``ChildSaFailed``. A
shorter local lifetime is announced with RESPONDER-LIFETIME (RFC 2407 §4.6.3.1). QM1 and QM2
are repeated until answered; a repeat of a message already answered gets the answer again.

The Commit flag (RFC 2408 §3.1, RFC 2409 §5.5): a responder that sets it in QM2 installs its
IPsec SA on QM3 and then says so with an informational CONNECTED notify (protocol ESP, its
inbound SPI); the initiator must not use the SA before that:

    QM2  <-- HDR*c, HASH(2), SA, Nr …                              QUICK_I1 -> QUICK_I2C
    QM3  HDR*, HASH(3)                               -->          QUICK_R1 -> QUICK_R2
    INF  <-- HDR*, HASH(1), N(CONNECTED)                           QUICK_I2C -> QUICK_I2

Only then is ``ChildSaEstablished`` reported; QM3 is repeated (back-off as QM1) until CONNECTED
arrives, and after ``retransmit_tries`` repeats the quick mode fails (``ChildSaFailed``, and an
ESP Delete in case the responder installed its SA after all). As responder tunnelgate sets the
flag in QM2 only when QM1 carried it (or ``set_commit_bit``, for tests): the gateway's initiator
hold (D87) covers the QM3 race instead. A repeat of QM3 gets CONNECTED again.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tunnelgate.crypto import dh
from tunnelgate.ike.v1.constants import (
    ExchangeType,
    HeaderFlag,
    NotifyMessageType,
    PayloadType,
    ProtocolId,
)
from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.events import ChildSaFailed
from tunnelgate.ike.v1.informational import InformationalExchange, open_hashed, phase1_prf
from tunnelgate.ike.v1.keymat import quick_mode_hash, quick_mode_hash3
from tunnelgate.ike.v1.message import Envelope, Header, encode_payloads
from tunnelgate.ike.v1.payloads import (
    DeletePayload,
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
)
from tunnelgate.ike.v1.phase2_proposal import (
    SPI_BYTES,
    EspOffer,
    answer,
    decode_attributes,
    encode_attributes,
    esp_offer,
    esp_offers,
    lifetime_attributes,
    lifetimes,
    read_offer,
)
from tunnelgate.ike.v1.proposals import Proposal, SaPayload
from tunnelgate.ike.v1.proxy_id import host_selector, proxy_ids, responder_selector
from tunnelgate.ike.v1.quick_mode_keys import child_established, pfs_secret
from tunnelgate.ike.v1.state import (
    NONCE_BYTES,
    Address,
    Phase1Sa,
    QuickMode,
    QuickModeState,
    local_of,
)
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.ipsec_proposal import check_pfs, select_lifetime, select_transform_set
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.responder import choose_entry

S = QuickModeState
P = PayloadType
N = NotifyMessageType
T = TypeVar("T")
ESP = ProtocolId.PROTO_IPSEC_ESP


class Dropped(Exception):
    """The message is dropped (counted under ``reason``), never answered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _forget_iv(sa: Phase1Sa, mid: int) -> None:
    """Drop the CBC state of an exchange that is not (or no longer) filed."""
    if mid not in sa.quick and sa.protection is not None:
        sa.protection.ivs.pop(mid, None)


@dataclass(frozen=True, slots=True)
class QmInbound:
    """A decrypted quick-mode message: header, payloads (HASH first), the bytes after HASH."""

    header: Header
    payloads: tuple[Payload, ...]
    rest: bytes

    def all(self, cls: type[T]) -> tuple[T, ...]:
        return tuple(p for p in self.payloads if isinstance(p, cls))

    def get(self, cls: type[T]) -> T:
        found = self.all(cls)
        if len(found) != 1:
            raise DecodeError(f"{len(found)} {cls.__name__} in a quick-mode message")
        return found[0]

    @property
    def hash(self) -> bytes:
        first = self.payloads[0]
        assert isinstance(first, HashPayload)
        return first.data


class QuickModeExchange(InformationalExchange):
    """Quick mode, both roles; mixed into ``Ikev1Engine``."""

    address: Address
    retransmit_timeout_s: float
    set_commit_bit = False
    """As responder, set the Commit flag in every QM2 (tunnelgate does only when QM1 has it)."""

    # ------------------------------------------------------------------ commands

    def create_child(self, sa: Phase1Sa, entry: MapEntry, rule: Rule, now: float) -> None:
        """Quick mode for the traffic of one permit ACE (source = our side); queued until
        phase 1 is established. ``ValueError`` when the ACE or entry cannot be offered."""
        if not rule.selectors:
            raise ValueError(f"{rule.acl} line {rule.line} names no traffic")
        if not entry.transform_sets:
            raise ValueError(f"{entry.label} has no IKEv1 transform set")
        proxy_ids(rule.selectors[0])  # ValueError now rather than later
        if sa.state.established:
            self._send_qm1(sa, entry, rule, now)
        else:
            sa.waiting.append((entry, rule))

    def _start_phase2(self, sa: Phase1Sa, now: float) -> None:
        """Phase 1 is up: run the quick modes ``initiate`` / ``create_child`` queued."""
        waiting, sa.waiting = sa.waiting, []
        for entry, rule in waiting:
            self._send_qm1(sa, entry, rule, now)

    def _send_qm1(self, sa: Phase1Sa, entry: MapEntry, rule: Rule, now: float) -> None:
        selector = rule.selectors[0]
        ids = proxy_ids(selector)
        qm = QuickMode(True, self._new_message_id(sa), S.QUICK_I1, entry, selector)
        qm.spi_in, qm.nonce_i, qm.group = self._new_spi(), self.random(NONCE_BYTES), entry.pfs_group
        qm.offered = esp_offer(
            entry.transform_sets,
            qm.spi_in,
            qm.group,
            entry.lifetime_seconds,
            entry.lifetime_kilobytes,
            sa.nat_detected,
            draft=sa.nat_t_draft,
        )
        payloads: list[Payload] = [qm.offered, NoncePayload(qm.nonce_i)]
        if qm.group is not None:
            qm.private, public = dh.group(qm.group).generate(self.random)
            payloads.append(KePayload(public))
        payloads += ids
        sa.quick[qm.message_id] = qm
        self._send_quick(sa, qm, payloads, b"", now)

    # ------------------------------------------------------------------ dispatch

    def _on_quick_mode(self, sa: Phase1Sa, envelope: Envelope, data: bytes, now: float) -> None:
        mid = envelope.header.message_id
        if not sa.state.established or mid == 0 or sa.protection is None:
            self.drops["out-of-state"] += 1
            return
        qm = sa.quick.get(mid)
        if qm is not None and data == qm.last_received:
            self.drops["duplicate"] += 1
            if qm.state in (S.QUICK_R1, S.QUICK_I2, S.QUICK_I2C, S.QUICK_R2):  # ours was lost
                self._outbox.append((qm.last_sent, sa.peer, local_of(sa, self.address)))
            return
        qm = qm or QuickMode(False, mid, S.QUICK_R0)
        row = BY_STATE.get(qm.state)
        if row is None:
            self.drops["out-of-state"] += 1
            return
        try:
            payloads, rest = open_hashed(sa, envelope)
            if not fits(row, payloads):
                raise Dropped("out-of-state")
            row.handler(self, sa, qm, QmInbound(envelope.header, payloads, rest), now)
        except Dropped as drop:
            self.drops[drop.reason] += 1
        except Phase1Error as error:
            self._refuse_quick(sa, qm, error)
        except DecodeError:
            _forget_iv(sa, mid)
            raise
        else:
            sa.last_heard = now
            qm.state, qm.last_received, qm.retransmits = row.next_state, data, 0
            if qm.state is S.QUICK_I2 and qm.commit:  # QM3 sent: CONNECTED still to come
                qm.state = S.QUICK_I2C
            if qm.state is S.QUICK_R1:
                sa.quick[mid] = qm
            elif qm.state is S.QUICK_R2 and not qm.commit:
                del sa.quick[mid]  # a repeated QM3 then fits no row and is dropped
                _forget_iv(sa, mid)
            return
        _forget_iv(sa, mid)

    def _refuse_quick(self, sa: Phase1Sa, qm: QuickMode, error: Phase1Error) -> None:
        """Give the quick mode up and tell the peer (encrypted notify, RFC 2409 §5.7)."""
        sa.quick.pop(qm.message_id, None)
        if len(qm.spi_out) == SPI_BYTES:
            notify = NotifyPayload(error.notify, protocol_id=ESP, spi=qm.spi_out)
        else:
            notify = NotifyPayload(error.notify, spi=sa.cookie_i + sa.cookie_r)
        self._send_informational(sa, [notify])
        self.drops[error.notify.name] += 1
        self._events.append(ChildSaFailed(sa.peer, error.notify.name, error.reason))

    # ------------------------------------------------------------------ handlers

    def _on_qm1(self, sa: Phase1Sa, qm: QuickMode, m: QmInbound, now: float) -> None:
        """Responder: check HASH(1), choose entry, transform set and PFS; answer QM2 (with
        the Commit flag when QM1 has it)."""
        self._verify(sa, m.hash, m.header.message_id, m.rest)
        qm.commit = HeaderFlag.COMMIT in m.header.flags or self.set_commit_bit
        offered = m.get(SaPayload)
        qm.nonce_i = m.get(NoncePayload).data
        qm.spi_out = offered.proposals[0].spi
        ids = m.all(IdPayload)
        if len(ids) not in (0, 2):
            raise Phase1Error(N.INVALID_ID_INFORMATION, f"{len(ids)} proxy identities")
        local = local_of(sa, self.address)[0]  # no proxy IDs: the two IKE addresses (D115)
        proposal = responder_selector(*ids) if ids else host_selector(local, sa.peer[0])
        cmap = self.gateway.crypto_maps.get(self.interface)
        if cmap is None:
            raise Phase1Error(N.INVALID_ID_INFORMATION, f"no crypto map on {self.interface}")
        choice = choose_entry(cmap, sa.peer[0], proposal, 1)
        if isinstance(choice, Refusal):
            raise Phase1Error(NotifyMessageType[choice.notify], choice.reason)
        entry = choice.entry
        offers = esp_offers(offered)
        picked = select_transform_set([o.transform_set for o in offers], entry.transform_sets)
        if isinstance(picked, Refusal):
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, picked.reason)
        offer = next(o for o in offers if o.transform_set is picked.offer)
        if picked.mode != offer.transform_set.mode:
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, f"{offer.transform_set.mode} mode refused")
        pfs = check_pfs(offer.group, entry.pfs_group)
        if pfs is not None:
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, pfs.reason)
        qm.entry, qm.selector, qm.offer, qm.group = entry, choice.selector, offer, offer.group
        qm.spi_out, qm.spi_in, qm.nonce_r = (
            offer.proposal.spi,
            self._new_spi(),
            self.random(NONCE_BYTES),
        )
        qm.lifetime_seconds, qm.lifetime_kilobytes = select_lifetime(
            offer.lifetime_seconds,
            offer.lifetime_kilobytes,
            entry.lifetime_seconds,
            entry.lifetime_kilobytes,
        )
        payloads: list[Payload] = [answer(offer, qm.spi_in), NoncePayload(qm.nonce_r)]
        public = pfs_secret(qm, m.all(KePayload), self.random, generate=True)
        if public is not None:
            payloads.append(KePayload(public))
        payloads += ids
        if (qm.lifetime_seconds, qm.lifetime_kilobytes) != (
            offer.lifetime_seconds,
            offer.lifetime_kilobytes,
        ):
            life = encode_attributes(
                lifetime_attributes(qm.lifetime_seconds, qm.lifetime_kilobytes)
            )
            payloads.append(NotifyPayload(N.RESPONDER_LIFETIME, life, ESP, qm.spi_in))
        self._send_quick(sa, qm, payloads, qm.nonce_i, now)

    def _on_qm2(self, sa: Phase1Sa, qm: QuickMode, m: QmInbound, now: float) -> None:
        """Initiator: check HASH(2) and the answer, send HASH(3): established."""
        self._verify(sa, m.hash, m.header.message_id, qm.nonce_i + m.rest)
        answered = m.get(SaPayload).proposals
        assert qm.offered is not None and qm.selector is not None
        if len(answered) != 1 or len(answered[0].transforms) != 1:
            raise Phase1Error(N.BAD_PROPOSAL_SYNTAX, "the answer is not one ESP transform")
        chosen = answered[0]
        ours = next((p for p in qm.offered.proposals if p.number == chosen.number), None)
        offer = read_offer(chosen, chosen.transforms[0])
        if ours is None or offer is None or not _offered(ours, offer):
            raise Phase1Error(N.NO_PROPOSAL_CHOSEN, "the peer chose a transform we did not offer")
        if chosen.protocol_id != ESP or len(chosen.spi) != SPI_BYTES:
            raise Phase1Error(N.INVALID_SPI, "the answer is not an ESP SA with a 4-octet SPI")
        ids = m.all(IdPayload)
        if ids and ids != proxy_ids(qm.selector):
            raise Phase1Error(N.INVALID_ID_INFORMATION, "the peer changed the proxy identities")
        qm.nonce_r, qm.spi_out, qm.offer = m.get(NoncePayload).data, chosen.spi, offer
        pfs_secret(qm, m.all(KePayload), self.random, generate=False)
        mine = read_offer(ours, ours.transforms[0])
        assert mine is not None
        qm.lifetime_seconds, qm.lifetime_kilobytes = select_lifetime(
            offer.lifetime_seconds,
            offer.lifetime_kilobytes,
            mine.lifetime_seconds,
            mine.lifetime_kilobytes,
        )
        for notify in m.all(NotifyPayload):
            if notify.notify_type == N.RESPONDER_LIFETIME:
                seconds, kilobytes = lifetimes(decode_attributes(notify.data))
                qm.lifetime_seconds, qm.lifetime_kilobytes = select_lifetime(
                    seconds, kilobytes, qm.lifetime_seconds, qm.lifetime_kilobytes
                )
        assert sa.keys is not None and sa.protection is not None
        mid = qm.message_id
        digest = quick_mode_hash3(phase1_prf(sa), sa.keys.skeyid_a, mid, qm.nonce_i, qm.nonce_r)
        qm.last_sent = sa.protection.seal(self._qm_header(sa, mid), [HashPayload(digest)])
        self._outbox.append((qm.last_sent, sa.peer, local_of(sa, self.address)))
        if HeaderFlag.COMMIT in m.header.flags:  # not before CONNECTED (RFC 2408 §3.1)
            qm.commit = True
            qm.retransmit_at = now + self.retransmit_timeout_s
            return
        qm.retransmit_at = None
        self._events.append(child_established(sa, qm))

    def _on_qm3(self, sa: Phase1Sa, qm: QuickMode, m: QmInbound, now: float) -> None:
        """Responder: check HASH(3): established."""
        assert sa.keys is not None
        mid = m.header.message_id
        expected = quick_mode_hash3(phase1_prf(sa), sa.keys.skeyid_a, mid, qm.nonce_i, qm.nonce_r)
        if not hmac.compare_digest(m.hash, expected):
            raise Dropped("invalid-hash")
        qm.retransmit_at = None
        self._events.append(child_established(sa, qm))
        if qm.commit:  # installed: tell the initiator; a repeated QM3 gets it again
            notify = NotifyPayload(N.CONNECTED, protocol_id=ESP, spi=qm.spi_in)
            self._send_informational(sa, [notify])
            qm.last_sent = self._outbox[-1][0]

    def _on_connected(self, sa: Phase1Sa, notify: NotifyPayload) -> None:
        """Initiator: the responder installed the IPsec SA of a committed quick mode (matched
        by either SPI, else the only one waiting): established."""
        waiting = [q for q in sa.quick.values() if q.state is S.QUICK_I2C]
        match = [q for q in waiting if notify.spi in (q.spi_in, q.spi_out)]
        if not match and len(waiting) == 1:
            match = waiting
        if not match:
            self.drops["unexpected-connected"] += 1
            return
        qm = match[0]
        qm.state, qm.retransmit_at, qm.retransmits = S.QUICK_I2, None, 0
        self._events.append(child_established(sa, qm))

    # ------------------------------------------------------------------ helpers

    def _verify(self, sa: Phase1Sa, received: bytes, mid: int, covered: bytes) -> None:
        assert sa.keys is not None
        if not hmac.compare_digest(
            received, quick_mode_hash(phase1_prf(sa), sa.keys.skeyid_a, mid, covered)
        ):
            raise Dropped("invalid-hash")

    def _send_quick(
        self, sa: Phase1Sa, qm: QuickMode, payloads: list[Payload], prefix: bytes, now: float
    ) -> None:
        """QM1 (``prefix`` empty) or QM2 (``prefix`` Ni_b) with its HASH, kept for repeats."""
        assert sa.keys is not None and sa.protection is not None
        rest = encode_payloads(payloads)[1]
        mid = qm.message_id
        digest = quick_mode_hash(phase1_prf(sa), sa.keys.skeyid_a, mid, prefix, rest)
        commit = qm.commit and not qm.initiator  # QM2 of a committed quick mode
        qm.last_sent = sa.protection.seal(
            self._qm_header(sa, mid, commit=commit), [HashPayload(digest), *payloads]
        )
        qm.retransmit_at = now + self.retransmit_timeout_s
        self._outbox.append((qm.last_sent, sa.peer, local_of(sa, self.address)))

    def _qm_timer(self, sa: Phase1Sa, qm: QuickMode, now: float) -> None:
        """Repeat QM1 / QM2 (QM3 while CONNECTED is awaited) with exponential back-off; give
        up after ``retransmit_tries``."""
        if qm.retransmits >= self.retransmit_tries:
            del sa.quick[qm.message_id]
            _forget_iv(sa, qm.message_id)
            if qm.state is S.QUICK_I2C:
                reason = f"no CONNECTED notify after {qm.retransmits + 1} QM3s (Commit flag)"
                self._send_informational(sa, [DeletePayload(ESP, (qm.spi_in,))])
                self._events.append(ChildSaFailed(sa.peer, "", reason))
            elif qm.initiator:
                reason = f"no answer to quick mode after {qm.retransmits + 1} tries"
                self._events.append(ChildSaFailed(sa.peer, "", reason))
            return
        qm.retransmits += 1
        qm.retransmit_at = now + self.retransmit_timeout_s * (2**qm.retransmits)
        self._outbox.append((qm.last_sent, sa.peer, local_of(sa, self.address)))

    @staticmethod
    def _qm_header(sa: Phase1Sa, mid: int, *, commit: bool = False) -> Header:
        flags = HeaderFlag.COMMIT if commit else HeaderFlag(0)
        return Header(
            sa.cookie_i, sa.cookie_r, ExchangeType.QUICK_MODE, flags=flags, message_id=mid
        )

    def _new_spi(self) -> bytes:
        """A fresh inbound SPI, unique on this engine (1-255 are reserved, RFC 4303 §2.1)."""
        used = {spi for s in self.sas.values() for spi in s.children}
        used |= {q.spi_in for s in self.sas.values() for q in s.quick.values()}
        while True:
            spi = self.random(SPI_BYTES)
            if int.from_bytes(spi, "big") > 255 and spi not in used:
                return spi


def _offered(ours: Proposal, answer: EspOffer) -> bool:
    """Whether the answered transform is the one of ``ours`` by what it negotiates: ESP
    algorithms and key length, mode (UDP-encapsulated or not) and PFS group. The peer may
    encode it afresh (charon orders the attributes its own way) and with shorter lifetimes,
    which then apply (RFC 2407 §4.5.4 lets the responder lower them)."""
    for transform in ours.transforms:
        offer = read_offer(ours, transform)
        if offer is not None and (
            (offer.transform_set.encryption, offer.transform_set.integrity)
            == (answer.transform_set.encryption, answer.transform_set.integrity)
            and offer.transform_set.mode == answer.transform_set.mode
            and offer.udp_encapsulated == answer.udp_encapsulated
            and offer.group == answer.group
        ):
            return True
    return False


Handler = Callable[[QuickModeExchange, Phase1Sa, QuickMode, QmInbound, float], None]


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the quick-mode microcode (all its messages are encrypted)."""

    state: QuickModeState
    next_state: QuickModeState
    required: frozenset[int]
    allowed: frozenset[int]
    handler: Handler


_OFFER = frozenset({P.HASH, P.SA, P.NONCE})
_OPTIONAL = frozenset({P.KE, P.ID, P.N, P.VID, P.NAT_OA, P.NAT_OA_DRAFT})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.QUICK_R0, S.QUICK_R1, _OFFER, _OPTIONAL, QuickModeExchange._on_qm1),
    Transition(S.QUICK_I1, S.QUICK_I2, _OFFER, _OPTIONAL, QuickModeExchange._on_qm2),
    Transition(
        S.QUICK_R1, S.QUICK_R2, frozenset({P.HASH}), frozenset({P.N}), QuickModeExchange._on_qm3
    ),
)
"""The quick-mode microcode, one row per state that expects a message."""

BY_STATE: dict[QuickModeState, Transition] = {t.state: t for t in TRANSITIONS}


def fits(row: Transition, payloads: tuple[Payload, ...]) -> bool:
    """Whether a message is the one ``row`` expects: its payload types, one HASH (first)."""
    types = [int(p.payload_type) for p in payloads]
    if types.count(P.HASH) != 1 or types.count(P.SA) > 1 or types.count(P.NONCE) > 1:
        return False
    return row.required <= set(types) <= row.required | row.allowed


__all__ = ["BY_STATE", "TRANSITIONS", "QuickModeExchange", "Transition", "fits"]
