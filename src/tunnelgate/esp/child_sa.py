"""One child SA pair on the data path: protect outbound packets, unprotect inbound ones.

Composes the pieces of ``esp/``: the packet transform of each direction, the outbound
sequence counter, the inbound replay window, counters and lifetimes. Sans-IO: the caller
passes the clock and the random source and gets values back.

Inbound order (RFC 4303 §3.4):

| step                                   | refused as          |
|----------------------------------------|---------------------|
| SA expired (hard lifetime)             | ``sa-expired``      |
| header readable                        | ``short-packet``    |
| replay window pre-check (no change)    | ``replay``          |
| ICV, then decryption, then trailer     | ``EspError.reason`` |
| replay window commit (checks again)    | ``replay``          |

A refused packet is counted on the inbound SA under its reason and changes nothing else: a
forged packet neither moves the replay window nor counts toward the lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.crypto.cipher import CipherMode
from tunnelgate.esp import fast
from tunnelgate.esp.packet import (
    NEXT_HEADER_IPV4,
    NEXT_HEADER_NO_NEXT,
    EspError,
    EspTransform,
    RandomSource,
    decapsulate,
    encapsulate,
    open_esp,
    peek_spi_seq,
    seal,
)
from tunnelgate.esp.sa import (
    Direction,
    EspSaState,
    Lifetime,
    LifetimeEvent,
    SequenceExhausted,
)

SA_EXPIRED = "sa-expired"
REPLAY = "replay"
SEQUENCE_EXHAUSTED = "sequence-exhausted"


@dataclass(frozen=True, slots=True)
class Protected:
    """An ESP payload (header to ICV) to send, and the lifetime events it caused."""

    esp: bytes
    events: tuple[LifetimeEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Unprotected:
    """The inner packet of an accepted ESP packet; ``dummy`` ones are counted and discarded."""

    inner: bytes
    next_header: int
    dummy: bool
    events: tuple[LifetimeEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Dropped:
    """A packet this SA refused, with the reason it was counted under."""

    reason: str
    events: tuple[LifetimeEvent, ...] = field(default=())


class ChildSa:
    """The two directions of one child SA (a mutable owner of their states)."""

    __slots__ = ("inbound", "inbound_state", "outbound", "outbound_state")

    def __init__(
        self,
        outbound: EspTransform,
        inbound: EspTransform,
        lifetime: Lifetime,
        now: float,
        random: RandomSource,
        *,
        replay_window_size: int = 64,
    ) -> None:
        if outbound.esn or inbound.esn:
            raise ValueError("extended sequence numbers are not supported on the data path yet")
        self.outbound = outbound
        self.inbound = inbound
        self.outbound_state = EspSaState(outbound.spi, Direction.OUTBOUND, lifetime, now, random)
        self.inbound_state = EspSaState(
            inbound.spi,
            Direction.INBOUND,
            lifetime,
            now,
            random,
            replay_window_size=replay_window_size,
        )

    def protect(
        self,
        inner: bytes,
        next_header: int,
        now: float,
        random: RandomSource,
        *,
        tfc_padding: int = 0,
    ) -> Protected | Dropped:
        """Encapsulate one inner packet on the outbound SA (tunnel mode: next header 4)."""
        state = self.outbound_state
        if state.expired:
            state.record_error(SA_EXPIRED)
            return Dropped(SA_EXPIRED)
        seq = state.next_seq()
        if isinstance(seq, SequenceExhausted):  # only if the SA was not expired by account()
            state.record_error(SEQUENCE_EXHAUSTED)
            return Dropped(SEQUENCE_EXHAUSTED, tuple(state.tick(now)))
        esp = encapsulate(self.outbound, seq, inner, next_header, random, tfc_padding=tfc_padding)
        return Protected(esp, tuple(state.account(len(inner), now)))

    def unprotect(self, esp: bytes, now: float) -> Unprotected | Dropped:
        """Check, verify and decrypt one ESP payload that the SAD gave to this SA."""
        state = self.inbound_state
        window = state.replay
        assert window is not None  # an inbound state always has one
        if state.expired:
            return self._drop(SA_EXPIRED)
        try:
            _, seq = peek_spi_seq(esp)
        except EspError as error:
            return self._drop(error.reason)
        if not window.check(seq):
            return self._drop(REPLAY)
        try:
            result = decapsulate(self.inbound, esp)
        except EspError as error:
            return self._drop(error.reason)
        if not window.commit(seq):
            return self._drop(REPLAY)
        events = tuple(state.account(len(result.inner), now))
        return Unprotected(result.inner, result.next_header, result.dummy, events)

    def protect_packet(
        self, inner: bytes, next_header: int, now: float, random: RandomSource
    ) -> bytes | Protected | Dropped:
        """``protect`` (without TFC padding) for the data path: the ESP payload itself when
        the packet caused no lifetime event, else what ``protect`` returns. Same state
        changes, same bytes."""
        state = self.outbound_state
        if state.expired:
            return self.protect(inner, next_header, now, random)
        seq = state.next_seq()
        if type(seq) is not int:
            state.record_error(SEQUENCE_EXHAUSTED)
            return Dropped(SEQUENCE_EXHAUSTED, tuple(state.tick(now)))
        esp = seal(self.outbound, seq, inner, next_header, random)
        events = state.account(len(inner), now)
        return Protected(esp, tuple(events)) if events else esp

    def unprotect_packet(self, esp: bytes, now: float) -> bytes | Unprotected | Dropped:
        """``unprotect`` for the data path: the inner packet itself when it is an IPv4 one
        (next header 4) that caused no lifetime event, else what ``unprotect`` returns. Same
        checks in the same order, same state changes."""
        state = self.inbound_state
        window = state.replay
        if state.expired or len(esp) < 8 or window is None:
            return self.unprotect(esp, now)
        seq = int.from_bytes(esp[4:8])
        if not window.check(seq):
            return self._drop(REPLAY)
        try:
            inner, next_header = open_esp(self.inbound, esp)
        except EspError as error:
            return self._drop(error.reason)
        if not window.commit(seq):
            return self._drop(REPLAY)
        events = state.account(len(inner), now)
        if events or next_header != NEXT_HEADER_IPV4:
            dummy = next_header == NEXT_HEADER_NO_NEXT
            return Unprotected(inner, next_header, dummy, tuple(events))
        return inner

    def attach_fast(self, outbound: bool) -> fast.Sa | None:
        """Share one direction with a new C fast-path ``Sa`` (``esp/fast.py``) and return
        it; None when the C path is not built or does not implement the SA's transform: it
        does AES-GCM with a 16-byte ICV, and AES-CBC, 3DES and DES with an HMAC, with 32-bit
        sequence numbers."""
        transform = self.outbound if outbound else self.inbound
        enc, integrity = transform.encryption, transform.integrity
        if not fast.available() or transform.esn:
            return None
        if enc.mode is CipherMode.GCM and enc.icv_bytes == 16 and not integrity.icv_bytes:
            cipher, digest = "aes-gcm", ""
        elif enc.mode is CipherMode.CBC and integrity.hash_name is not None:
            cipher, digest = (
                ("aes-cbc" if enc.block_bytes == 16 else "3des-cbc"),
                integrity.hash_name,
            )
        else:
            return None
        state = self.outbound_state if outbound else self.inbound_state
        window = state.replay
        sa = fast.Sa(
            transform.keys.encryption_key,
            transform.spi,
            outbound,
            window.window_size if window is not None else 64,
            cipher=cipher,
            auth_key=transform.keys.integrity_key,
            digest=digest,
            icv=integrity.icv_bytes,
        )
        state.attach(sa, None if outbound else sa)
        return sa

    def tick(self, now: float) -> tuple[LifetimeEvent, ...]:
        """Lifetime events due by time on either direction."""
        return tuple(self.outbound_state.tick(now)) + tuple(self.inbound_state.tick(now))

    def _drop(self, reason: str) -> Dropped:
        self.inbound_state.record_error(reason)
        return Dropped(reason)


__all__ = [
    "REPLAY",
    "SA_EXPIRED",
    "SEQUENCE_EXHAUSTED",
    "ChildSa",
    "Dropped",
    "Protected",
    "Unprotected",
]
