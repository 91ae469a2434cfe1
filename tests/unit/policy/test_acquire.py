"""ACQUIRE: permitted traffic without an SA waits for negotiation, never leaves in the clear."""

from __future__ import annotations

from tunnelgate.policy.acl import PERMIT, Acl, Rule
from tunnelgate.policy.acquire import Acquire, AcquireKey, AcquireTable
from tunnelgate.policy.crypto_map import DYNAMIC, MapEntry
from tunnelgate.policy.selector import Range, Selector
from tunnelgate.policy.spd import Drop, DropReason, Protect

RULE = Rule(PERMIT, (Selector(0, Range(1, 1), Range(2, 2)),), "X", 1, "extended permit ip …")
OTHER_RULE = Rule(PERMIT, (Selector(0, Range(3, 3), Range(4, 4)),), "X", 2, "extended permit …")
ACL = Acl("X", (RULE, OTHER_RULE))
STATIC_ENTRY = MapEntry("M", 10, acl=ACL, peers=("203.0.113.9",))
DYNAMIC_ENTRY = MapEntry("M", 5, DYNAMIC, "DYN", 20, acl=ACL)
KEY = AcquireKey.of(Protect(STATIC_ENTRY, RULE))
OTHER = AcquireKey.of(Protect(STATIC_ENTRY, OTHER_RULE))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def drop(reason: DropReason, rule: Rule = RULE) -> Drop:
    return Drop(reason, STATIC_ENTRY, rule)


def test_first_packet_acquires_and_the_rest_queue() -> None:
    clock, table = Clock(), AcquireTable(max_packets_per_sa=4, timeout_s=30)
    assert table.next_deadline() is None
    assert table.on_protect_without_sa(KEY, b"p1", clock.now) == [Acquire(KEY)]
    assert table.next_deadline() == 1030.0
    for packet in (b"p2", b"p3", b"p4"):
        assert table.on_protect_without_sa(KEY, packet, clock.advance(1)) == []
    assert table.on_protect_without_sa(KEY, b"p5", clock.advance(1)) == [
        drop(DropReason.ACQUIRE_QUEUE_FULL)
    ]
    assert table.pending() == {KEY: 4}
    assert table.next_deadline() == 1030.0  # later packets do not push the deadline
    assert table.sa_ready(KEY, clock.advance(1)) == [b"p1", b"p2", b"p3", b"p4"]
    assert table.pending() == {} and table.next_deadline() is None
    assert table.sa_ready(KEY, clock.now) == []


def test_keys_are_independent() -> None:
    clock, table = Clock(), AcquireTable(max_packets_per_sa=1, timeout_s=10)
    assert table.on_protect_without_sa(KEY, b"a", clock.now) == [Acquire(KEY)]
    assert table.on_protect_without_sa(OTHER, b"b", clock.advance(5)) == [Acquire(OTHER)]
    assert table.on_protect_without_sa(KEY, b"c", clock.now) == [
        drop(DropReason.ACQUIRE_QUEUE_FULL)
    ]
    assert table.next_deadline() == 1010.0
    assert table.sa_ready(OTHER, clock.now) == [b"b"]
    assert table.pending() == {KEY: 1}


def test_timeout_drops_every_queued_packet_then_acquires_again() -> None:
    clock, table = Clock(), AcquireTable(max_packets_per_sa=4, timeout_s=30)
    table.on_protect_without_sa(KEY, b"p1", clock.now)
    table.on_protect_without_sa(KEY, b"p2", clock.advance(10))
    table.on_protect_without_sa(OTHER, b"q1", clock.advance(10))  # deadline 1050
    assert table.expire(clock.advance(9.5)) == []  # 1029.5
    assert table.expire(clock.advance(0.5)) == [drop(DropReason.ACQUIRE_TIMEOUT)] * 2  # 1030
    assert table.pending() == {OTHER: 1}
    assert table.next_deadline() == 1050.0
    # a new packet starts a new negotiation
    assert table.on_protect_without_sa(KEY, b"p3", clock.advance(1)) == [Acquire(KEY)]
    assert table.next_deadline() == 1050.0
    assert table.expire(clock.advance(100)) == [
        drop(DropReason.ACQUIRE_TIMEOUT, OTHER_RULE),
        drop(DropReason.ACQUIRE_TIMEOUT),
    ]
    assert table.next_deadline() is None


def test_failed_negotiation_drops_the_queue() -> None:
    clock, table = Clock(), AcquireTable(max_packets_per_sa=2)
    table.on_protect_without_sa(KEY, b"p1", clock.now)
    table.on_protect_without_sa(KEY, b"p2", clock.now)
    assert table.sa_failed(KEY, clock.advance(1)) == [drop(DropReason.ACQUIRE_FAILED)] * 2
    assert table.sa_failed(KEY, clock.now) == []
    assert table.pending() == {}


def test_dynamic_entries_never_acquire() -> None:
    clock, table = Clock(), AcquireTable()
    key = AcquireKey.of(Protect(DYNAMIC_ENTRY, RULE))
    assert key.is_dynamic and not KEY.is_dynamic
    assert table.on_protect_without_sa(key, b"p", clock.now) == [
        Drop(DropReason.NO_SA_DYNAMIC_MAP, DYNAMIC_ENTRY, RULE)
    ]
    assert table.pending() == {} and table.next_deadline() is None


def test_no_queue_still_acquires() -> None:
    table = AcquireTable(max_packets_per_sa=0)
    assert table.on_protect_without_sa(KEY, b"p", 0.0) == [
        Acquire(KEY),
        drop(DropReason.ACQUIRE_QUEUE_FULL),
    ]
    assert table.on_protect_without_sa(KEY, b"p", 1.0) == [drop(DropReason.ACQUIRE_QUEUE_FULL)]


def test_keys_compare_by_entry_and_ace() -> None:
    again = AcquireKey.of(Protect(STATIC_ENTRY, RULE))
    assert again == KEY and hash(again) == hash(KEY) and again != OTHER
    assert (KEY.map, KEY.seq, KEY.acl, KEY.line) == ("M", 10, "X", 1)


def test_each_selector_of_an_expanded_ace_is_a_key_of_its_own() -> None:
    """An ACE of objects expands to several selectors (of either family, D113): a packet
    waits for, and IKE negotiates, the one that matched it."""
    from tunnelgate.policy.address import ipv6_int
    from tunnelgate.policy.selector import Flow

    v6 = Selector(
        0,
        Range(ipv6_int("2001:db8:1::"), ipv6_int("2001:db8:1::ff")),
        Range(ipv6_int("2001:db8:2::"), ipv6_int("2001:db8:2::ff")),
    )
    rule = Rule(PERMIT, (RULE.selectors[0], v6), "X", 3, "extended permit ip object-group …")
    protect = Protect(STATIC_ENTRY, rule)
    first = AcquireKey.of(protect, Flow(1, 1, 2))
    second = AcquireKey.of(protect, Flow(1, ipv6_int("2001:db8:1::5"), ipv6_int("2001:db8:2::9")))
    assert (first.selector, second.selector) == (0, 1)
    assert first != second and AcquireKey.of(protect) == first
    assert first.rule.selectors == (RULE.selectors[0],)
    assert second.rule.selectors == (v6,) and second.rule.line == 3
    assert KEY.rule is RULE  # one selector: the ACE itself
