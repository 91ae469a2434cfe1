"""ESP SA state: sequence exhaustion, counters, lifetimes on a fake clock."""

from __future__ import annotations

import pytest

from tunnelgate.esp.replay import SEQ_MAX
from tunnelgate.esp.sa import (
    RATE_CHECKS,
    REKEY_LEAD_S,
    SOFT_FLOOR,
    Direction,
    EspSaState,
    Lifetime,
    LifetimeReason,
    RandomSource,
    RekeyNeeded,
    SaExpired,
    SequenceExhausted,
)

SPI = 0x1234ABCD


def fixed(byte: int) -> RandomSource:
    """A random source that always returns ``byte``: 0x00 → soft at 85 %, 0xFF → 95 %."""
    return lambda n: bytes([byte]) * n


def outbound(lifetime: Lifetime, *, now: float = 1000.0, byte: int = 0, **kw: int) -> EspSaState:
    return EspSaState(SPI, Direction.OUTBOUND, lifetime, now, fixed(byte), **kw)


NO_LIMITS = Lifetime(seconds=None, kilobytes=None)


def test_sequence_numbers_start_at_one_and_never_wrap() -> None:
    sa = outbound(NO_LIMITS, seq_limit=3)
    assert [sa.next_seq() for _ in range(5)] == [
        1,
        2,
        3,
        SequenceExhausted(SPI),
        SequenceExhausted(SPI),
    ]
    assert sa.last_seq == 3


def test_sequence_soft_then_hard() -> None:
    sa = outbound(NO_LIMITS, seq_limit=100)  # soft at 85 packets
    events = []
    for _ in range(100):
        assert isinstance(sa.next_seq(), int)
        events += [(sa.last_seq, e) for e in sa.account(10, now=1000.0)]
    assert events == [
        (85, RekeyNeeded(SPI, LifetimeReason.SEQUENCE)),
        (100, SaExpired(SPI, LifetimeReason.SEQUENCE)),
    ]
    assert sa.expired
    assert sa.next_seq() == SequenceExhausted(SPI)


def test_default_limit_is_the_32_bit_space() -> None:
    assert outbound(NO_LIMITS).seq_limit == SEQ_MAX


def test_inbound_has_a_replay_window_and_no_sequence_counter() -> None:
    sa = EspSaState(SPI, Direction.INBOUND, Lifetime(), 0.0, fixed(0), replay_window_size=128)
    assert sa.replay is not None and sa.replay.window_size == 128
    assert outbound(Lifetime()).replay is None
    with pytest.raises(ValueError):
        sa.next_seq()


def test_counters_and_errors() -> None:
    sa = EspSaState(SPI, Direction.INBOUND, Lifetime(), 0.0, fixed(0))
    sa.account(100, 1.0)
    sa.account(50, 2.0)
    sa.record_error("replay")
    sa.record_error("icv")
    sa.record_error("replay")
    counters = sa.counters()
    assert (counters.direction, counters.packets, counters.bytes) == (Direction.INBOUND, 2, 150)
    assert counters.errors == (("icv", 1), ("replay", 2))


def test_seconds_soft_once_then_hard_once() -> None:
    sa = outbound(Lifetime(seconds=1000, kilobytes=None), now=500.0, byte=0xFF)  # soft at 95 %
    assert sa.next_deadline() == pytest.approx(1450.0)
    assert sa.tick(1449.0) == []
    assert sa.tick(1450.0) == [RekeyNeeded(SPI, LifetimeReason.SECONDS)]
    assert sa.tick(1451.0) == []
    assert sa.next_deadline() == 1500.0
    assert sa.remaining(1460.0) == (None, 40)
    assert sa.tick(1499.9) == []
    assert sa.tick(1500.0) == [SaExpired(SPI, LifetimeReason.SECONDS)]
    assert sa.tick(2000.0) == []
    assert sa.account(1, 2000.0) == []
    assert sa.next_deadline() is None


def test_soft_point_is_between_85_and_95_percent() -> None:
    fractions = [outbound(Lifetime(), byte=b).soft_fraction for b in (0, 0x80, 0xFF)]
    assert fractions[0] == pytest.approx(0.85)
    assert 0.85 < fractions[1] < 0.95
    assert fractions[2] == pytest.approx(0.95)


def test_kilobytes_soft_once_then_hard_once() -> None:
    sa = outbound(Lifetime(seconds=None, kilobytes=100))  # 102400 bytes, soft at 87040
    assert sa.account(87_039, 1.0) == []
    assert sa.remaining(1.0) == (100 - 87_039 // 1024, None)
    assert sa.account(1, 2.0) == [RekeyNeeded(SPI, LifetimeReason.KILOBYTES)]
    assert sa.account(10_000, 3.0) == []
    assert sa.account(5_360, 4.0) == [SaExpired(SPI, LifetimeReason.KILOBYTES)]
    assert sa.account(1, 5.0) == []
    assert sa.remaining(5.0) == (0, None)


def _feed(sa: EspSaState, total: int, chunk: int, rate: float, start: float) -> list[tuple]:
    """Account ``total`` bytes in ``chunk``-byte packets arriving at ``rate`` bytes/s from
    ``start``; the events with the byte count at which each came."""
    events: list[tuple] = []
    counted, now = 0, start
    while counted < total:
        counted += chunk
        now += chunk / rate
        events += [(counted, e) for e in sa.account(chunk, now)]
    return events


def test_the_kilobyte_soft_point_moves_earlier_when_the_rate_would_outrun_the_rekey() -> None:
    """16 MB at 250 MB/s last 64 ms: the drawn soft point (85 %) would leave 10 ms for the
    rekey; the first rate check (at 1/16) moves it to half the lifetime (D111)."""
    hard = 16 * 1024 * 1024
    sa = outbound(Lifetime(seconds=None, kilobytes=16 * 1024), now=0.0)  # drawn: 85 %
    events = _feed(sa, hard, 16 * 1024, 250e6, 0.0)
    assert events == [
        (hard * SOFT_FLOOR, RekeyNeeded(SPI, LifetimeReason.KILOBYTES)),
        (hard, SaExpired(SPI, LifetimeReason.KILOBYTES)),
    ]


def test_the_soft_point_leaves_rekey_lead_seconds_of_traffic_before_the_hard_one() -> None:
    """4 GB at 200 MB/s: 1 s of traffic (200 MB, under the drawn 15 %) is left: the drawn
    point stands; at 400 MB/s 5 % (the 95 % draw) is 205 MB, so the point moves to leave
    400 MB."""
    kilobytes = 4 * 1024 * 1024
    hard = kilobytes * 1024
    chunk = 1024 * 1024
    slow = outbound(Lifetime(seconds=None, kilobytes=kilobytes), now=0.0)
    assert _feed(slow, hard, chunk, 200e6, 0.0)[0] == (
        int(hard * 0.85) // chunk * chunk + chunk,
        RekeyNeeded(SPI, LifetimeReason.KILOBYTES),
    )
    fast = outbound(Lifetime(seconds=None, kilobytes=kilobytes), now=0.0, byte=0xFF)
    first = _feed(fast, hard, chunk, 400e6, 0.0)[0]
    assert first[1] == RekeyNeeded(SPI, LifetimeReason.KILOBYTES)
    assert hard - 400e6 * REKEY_LEAD_S <= first[0] < hard - 400e6 * REKEY_LEAD_S + chunk


def test_a_rate_check_without_time_passing_changes_nothing() -> None:
    sa = outbound(Lifetime(seconds=None, kilobytes=100), now=5.0)
    assert sa.account(102400 // RATE_CHECKS, 5.0) == []  # a check, at the same instant
    assert sa.account(87_039 - 102400 // RATE_CHECKS, 5.0) == []
    assert sa.account(1, 5.0) == [RekeyNeeded(SPI, LifetimeReason.KILOBYTES)]


def test_hard_point_first_emits_only_the_expiry() -> None:
    sa = outbound(Lifetime(seconds=None, kilobytes=1))
    assert sa.account(5000, 1.0) == [SaExpired(SPI, LifetimeReason.KILOBYTES)]
    assert sa.tick(10.0) == []


def test_unlimited_never_expires() -> None:
    sa = outbound(NO_LIMITS)
    assert sa.next_deadline() is None
    assert sa.account(10**12, 1e9) == []
    assert sa.tick(1e12) == []
    assert sa.remaining(1e12) == (None, None)


def test_first_reason_wins_when_several_are_reached() -> None:
    sa = outbound(Lifetime(seconds=100, kilobytes=1))
    assert sa.account(2000, 1200.0) == [SaExpired(SPI, LifetimeReason.SECONDS)]  # checked first


@pytest.mark.parametrize("kw", [{"seconds": 0}, {"kilobytes": -1}])
def test_lifetimes_must_be_positive(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Lifetime(**kw)
