"""The mutable state of one ESP SA in one direction: sequence numbers, counters, lifetimes.

One ``EspSaState`` per SPI, as an ESP SA is unidirectional (RFC 4303 §1; RFC 4301 §4.1) and as
kernel XFRM keeps one state per SA: an outbound SA owns the sender's sequence counter, an
inbound SA owns its ``ReplayWindow``; each counts its own packets and bytes and ages against
its own lifetimes. The gateway pairs the two for ``show crypto ipsec sa``.

Lifetimes ("Change IPsec SA Lifetimes"): seconds and kilobytes (1 KB = 1024 bytes), each
``None`` for unlimited. The soft point, where a rekey is asked for, is drawn once per SA at
85–95 % of each lifetime (5–15 % remaining) from the injected random source; the hard point is
the lifetime itself. The outbound sequence number space (RFC 4303 §3.3.3: never cycles) is a
third lifetime, with its soft point at the same fraction.

The kilobyte soft point also follows the traffic (D111): at every 1/16 of the volume lifetime
the SA measures the rate since the previous check and, when what remains after the soft point
would last less than ``REKEY_LEAD_S`` at that rate, moves the soft point earlier, to leave that
much (but never before ``SOFT_FLOOR`` of the lifetime); both scale with the SA's draw (1–3 s,
50–56 %), so that the two ends of a tunnel seldom ask for the same rekey at once. A volume
lifetime of a few megabytes at gigabits per second is then still rekeyed before it runs out,
make-before-break.

| reached                     | event (each at most once per SA)      |
|-----------------------------|---------------------------------------|
| first soft point            | ``RekeyNeeded(spi, reason)``          |
| first hard point            | ``SaExpired(spi, reason)``            |

A hard point reached before any soft event emits only ``SaExpired`` (an expired SA is deleted,
not rekeyed). ``reason`` is ``"seconds"``, ``"kilobytes"`` or ``"sequence"``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from tunnelgate.esp.fast import UNLIMITED, Delegate
from tunnelgate.esp.replay import DEFAULT_WINDOW_SIZE, SEQ_MAX, ReplayWindow

DEFAULT_LIFETIME_SECONDS = 28_800
DEFAULT_LIFETIME_KILOBYTES = 4_608_000
SOFT_MIN = 0.85  # rekey when 15 % remains at the earliest ...
SOFT_MAX = 0.95  # ... and when 5 % remains at the latest
REKEY_LEAD_S = 1.0  # seconds of traffic the kilobyte soft point leaves before the hard one
SOFT_FLOOR = 0.5  # ... at the earliest at half the volume lifetime
RATE_CHECKS = 16  # the rate is measured at every 1/16 of the volume lifetime

RandomSource = Callable[[int], bytes]


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class LifetimeReason(StrEnum):
    SECONDS = "seconds"
    KILOBYTES = "kilobytes"
    SEQUENCE = "sequence"


@dataclass(frozen=True, slots=True)
class Lifetime:
    """The negotiated lifetimes of an SA; ``None`` is unlimited."""

    seconds: int | None = DEFAULT_LIFETIME_SECONDS
    kilobytes: int | None = DEFAULT_LIFETIME_KILOBYTES

    def __post_init__(self) -> None:
        for value in (self.seconds, self.kilobytes):
            if value is not None and value <= 0:
                raise ValueError(f"lifetime {value} must be positive or unlimited")


@dataclass(frozen=True, slots=True)
class RekeyNeeded:
    """The SA reached its soft point: negotiate its successor."""

    spi: int
    reason: LifetimeReason


@dataclass(frozen=True, slots=True)
class SaExpired:
    """The SA reached its hard point: it must no longer be used."""

    spi: int
    reason: LifetimeReason


LifetimeEvent = RekeyNeeded | SaExpired


@dataclass(frozen=True, slots=True)
class SequenceExhausted:
    """``next_seq`` result once the last sequence number was used: send nothing, rekey."""

    spi: int


@dataclass(frozen=True, slots=True)
class EspSaCounters:
    """A snapshot for ``show crypto ipsec sa``.

    Outbound, ``packets`` is #pkts encaps = encrypt = digest; inbound, ``packets`` is #pkts
    decaps = decrypt = verify (counted once the ICV verified and the payload decrypted).
    ``errors`` holds drop counts by reason name, sorted.
    """

    direction: Direction
    packets: int
    bytes: int
    errors: tuple[tuple[str, int], ...]


class Window(Protocol):
    """The anti-replay window: ``ReplayWindow``, or the C fast path's ``Sa`` holding it."""

    window_size: int

    @property
    def highest(self) -> int: ...

    @property
    def bitmap(self) -> int: ...

    def check(self, seq: int) -> bool: ...

    def commit(self, seq: int) -> bool: ...


class EspSaState:
    """Sequence numbers, counters and lifetimes of one SA direction (a mutable owner).

    ``attach`` shares them with the C fast path (``esp/fast.py``): from then on the sequence
    number, the packet and byte counts (and, inbound, the replay window) live in the C
    ``Sa``; every method here reads them from it first and writes them back, so both paths
    see one SA, and the C side only moves them below the next soft or hard point."""

    __slots__ = (
        "_at_bytes",
        "_at_seq",
        "_at_time",
        "_bytes",
        "_check_bytes",
        "_check_from",
        "_errors",
        "_fast",
        "_hard_done",
        "_packets",
        "_seq",
        "_soft_bytes",
        "_soft_done",
        "created_at",
        "direction",
        "lifetime",
        "replay",
        "seq_limit",
        "soft_fraction",
        "spi",
    )

    def __init__(
        self,
        spi: int,
        direction: Direction,
        lifetime: Lifetime,
        now: float,
        random: RandomSource,
        *,
        replay_window_size: int = DEFAULT_WINDOW_SIZE,
        seq_limit: int = SEQ_MAX,
    ) -> None:
        if not 1 <= seq_limit <= SEQ_MAX:
            raise ValueError(f"sequence limit {seq_limit} outside 1..{SEQ_MAX}")
        self.spi = spi
        self.direction = direction
        self.lifetime = lifetime
        self.created_at = now
        self.seq_limit = seq_limit
        self.soft_fraction = _draw_fraction(random)
        self.replay: Window | None = (
            ReplayWindow(replay_window_size) if direction is Direction.INBOUND else None
        )
        self._fast: Delegate | None = None
        self._seq = 0  # the last sequence number handed out
        self._packets = 0
        self._bytes = 0
        self._errors: Counter[str] | None = None  # drops by reason, from the first one
        self._soft_done = False
        self._hard_done = False
        kilobytes = lifetime.kilobytes
        self._soft_bytes = _NEVER if kilobytes is None else kilobytes * 1024 * self.soft_fraction
        self._check_bytes = _NEVER if kilobytes is None else kilobytes * 1024 / RATE_CHECKS
        self._check_from = (now, 0)  # time and byte count of the last rate check
        # the next point ``tick`` could report at, per measure (``_arm``): ``account`` calls
        # ``tick`` only once one is reached, instead of per packet
        self._at_time = self._at_bytes = self._at_seq = _NEVER
        self._arm()

    # ----------------------------------------------------------------- the C fast path

    def attach(self, delegate: Delegate, window: Window | None = None) -> None:
        """Share this SA's numbers with ``delegate`` (a C ``Sa``); inbound, ``window`` (the
        same object) takes over the replay window, with the numbers accepted so far."""
        delegate.seq, delegate.packets, delegate.bytes = self._seq, self._packets, self._bytes
        if window is not None and self.replay is not None:
            window_state = window  # the C Sa: its highest and bitmap are writable
            window_state.highest = self.replay.highest  # type: ignore[misc]
            window_state.bitmap = self.replay.bitmap  # type: ignore[misc]
            self.replay = window
        self._fast = delegate
        self._arm()

    def _pull(self) -> None:
        fast = self._fast
        if fast is not None:
            self._seq, self._packets, self._bytes = fast.seq, fast.packets, fast.bytes

    # ----------------------------------------------------------------- sequence numbers

    @property
    def last_seq(self) -> int:
        self._pull()
        return self._seq

    def next_seq(self) -> int | SequenceExhausted:
        """The next outbound sequence number (from 1), or ``SequenceExhausted``; never wraps."""
        if self.direction is not Direction.OUTBOUND:
            raise ValueError("only an outbound SA sends sequence numbers")
        fast = self._fast
        if fast is not None:
            self._seq = fast.seq
        if self._seq >= self.seq_limit:
            return SequenceExhausted(self.spi)
        self._seq += 1
        if fast is not None:
            fast.seq = self._seq
        return self._seq

    # ----------------------------------------------------------------- counters

    def account(self, nbytes: int, now: float) -> list[LifetimeEvent]:
        """Count one packet of ``nbytes`` processed on this SA; return the events now due."""
        if nbytes < 0:
            raise ValueError("negative byte count")
        fast = self._fast
        if fast is not None:
            self._pull()
            fast.packets = self._packets = self._packets + 1
            fast.bytes = self._bytes = self._bytes + nbytes
        else:
            self._packets += 1
            self._bytes += nbytes
        if now >= self._at_time or self._bytes >= self._at_bytes or self._seq >= self._at_seq:
            return self.tick(now)
        return []  # what ``tick`` says before any of its points (``_arm``)

    def record_error(self, reason: str) -> None:
        """Count a packet dropped on this SA (replay, ICV failure, padding, selectors...)."""
        errors = self._errors
        if errors is None:
            errors = self._errors = Counter()
        errors[str(reason)] += 1

    def counters(self) -> EspSaCounters:
        self._pull()
        return EspSaCounters(
            direction=self.direction,
            packets=self._packets,
            bytes=self._bytes,
            errors=tuple(sorted(self._errors.items())) if self._errors else (),
        )

    # ----------------------------------------------------------------- lifetimes

    @property
    def expired(self) -> bool:
        return self._hard_done

    def tick(self, now: float) -> list[LifetimeEvent]:
        """The lifetime events due at ``now`` that were not emitted before."""
        if self._hard_done:
            return []
        self._pull()
        hard = self._reached(now, 1.0, self.seq_limit)
        if hard is not None:
            self._hard_done = self._soft_done = True
            self._arm()
            return [SaExpired(self.spi, hard)]
        if self._soft_done:
            return []
        if self._bytes >= self._check_bytes:
            self._follow_rate(now)
        soft = self._reached(now, self.soft_fraction, self._soft_seq())
        if soft is not None:
            self._soft_done = True
            self._arm()
            return [RekeyNeeded(self.spi, soft)]
        return []

    def _soft_seq(self) -> int:
        return max(1, int(self.seq_limit * self.soft_fraction))

    def _follow_rate(self, now: float) -> None:
        """A rate check (D111): move the kilobyte soft point earlier when what it leaves
        before the hard point would last less than ``REKEY_LEAD_S`` at the rate measured since
        the last check; then arm the next check."""
        kilobytes = self.lifetime.kilobytes
        assert kilobytes is not None  # checks are armed only for a volume lifetime
        hard = kilobytes * 1024
        since, counted = self._check_from
        if now > since:
            rate = (self._bytes - counted) / (now - since)
            # both scaled by this SA's draw, as the drawn point is: the two ends of a tunnel
            # then seldom ask for the same rekey at once (a collision, RFC 7296 §2.8.1)
            spread = (1.0 - self.soft_fraction) / (1.0 - SOFT_MAX)  # 1 to 3
            floor = hard * SOFT_FLOOR * self.soft_fraction / SOFT_MIN  # 50 to 56 %
            lead = max(floor, hard - rate * REKEY_LEAD_S * spread)
            self._soft_bytes = min(self._soft_bytes, lead)
        self._check_from = (now, self._bytes)
        self._check_bytes = self._bytes + hard / RATE_CHECKS
        self._arm()

    def _arm(self) -> None:
        """The thresholds ``account`` compares with: the values at which ``_reached`` first
        holds for the next event due (the soft point until it was emitted, then the hard
        one), computed by the same expressions. The soft point is never past the hard one,
        so below every threshold ``tick`` has nothing to say."""
        self._at_time = self._at_bytes = self._at_seq = _NEVER
        if self._hard_done:
            self._share_limits()
            return
        fraction = 1.0 if self._soft_done else self.soft_fraction
        seconds, kilobytes = self.lifetime.seconds, self.lifetime.kilobytes
        if seconds is not None:
            self._at_time = self.created_at + seconds * fraction
        if kilobytes is not None:
            if self._soft_done:
                self._at_bytes = kilobytes * 1024
            else:
                self._at_bytes = min(self._soft_bytes, self._check_bytes)
        if self.direction is Direction.OUTBOUND:
            self._at_seq = self.seq_limit if self._soft_done else self._soft_seq()
        self._share_limits()

    def _share_limits(self) -> None:
        """The fast path's limits: it may use the sequence numbers below ``_at_seq`` and
        count bytes while the total stays below ``_at_bytes``; nothing once expired."""
        fast = self._fast
        if fast is None:
            return
        if self._hard_done:
            fast.seq_stop = fast.byte_stop = 0
            return
        fast.seq_stop = UNLIMITED if self._at_seq == _NEVER else int(self._at_seq)
        at_bytes = self._at_bytes
        fast.byte_stop = UNLIMITED if at_bytes == _NEVER else min(UNLIMITED, math.ceil(at_bytes))

    def next_deadline(self) -> float | None:
        """When ``tick`` next has something to say by time alone (for the one timer)."""
        seconds = self.lifetime.seconds
        if seconds is None or self._hard_done:
            return None
        fraction = 1.0 if self._soft_done else self.soft_fraction
        return self.created_at + seconds * fraction

    def remaining(self, now: float) -> tuple[int | None, int | None]:
        """(kilobytes, seconds) left before the hard point, as ``show`` prints them."""
        self._pull()
        kilobytes = self.lifetime.kilobytes
        seconds = self.lifetime.seconds
        kb_left = None if kilobytes is None else max(0, kilobytes - self._bytes // 1024)
        s_left = None if seconds is None else max(0, int(self.created_at + seconds - now))
        return kb_left, s_left

    def _reached(self, now: float, fraction: float, seq_point: int) -> LifetimeReason | None:
        seconds = self.lifetime.seconds
        # the same expression as ``next_deadline``: a timer fired at it always finds the event
        if seconds is not None and now >= self.created_at + seconds * fraction:
            return LifetimeReason.SECONDS
        kilobytes = self.lifetime.kilobytes
        if kilobytes is not None:
            point = kilobytes * 1024 if fraction >= 1.0 else self._soft_bytes
            if self._bytes >= point:
                return LifetimeReason.KILOBYTES
        if self.direction is Direction.OUTBOUND and self._seq >= seq_point:
            return LifetimeReason.SEQUENCE
        return None


_NEVER = float("inf")


def _draw_fraction(random: RandomSource) -> float:
    """A soft-point fraction in [SOFT_MIN, SOFT_MAX] from two random bytes."""
    draw = int.from_bytes(random(2), "big")
    return SOFT_MIN + (SOFT_MAX - SOFT_MIN) * draw / 0xFFFF
