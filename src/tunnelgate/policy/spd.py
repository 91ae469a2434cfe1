"""The security policy database: what a crypto map set decides for one packet.

Outbound, the spec's permit/deny table ("Define Crypto Maps") over the entries of a crypto
map set in evaluation order (static entries by seq, then dynamic-map entries):

| what the packet meets                  | result                                            |
|----------------------------------------|---------------------------------------------------|
| an incomplete static entry             | ``Drop(incomplete-crypto-map)``: nothing is sent  |
| a permit ACE (first match of an entry) | ``Protect(entry, rule)``: evaluation stops        |
| a deny ACE (first match of an entry)   | leave this entry, resume at the next one          |
| no ACE of the entry                    | next entry                                        |
| the end of the set                     | ``Bypass``: routed in the clear                   |

A dynamic-map entry without an ACL matches nothing outbound (its traffic is what peers
negotiate). Inbound, a clear-text packet matching the mirror of any permit ACE is dropped
(deny ACEs ignored), and a decrypted packet must match its SA's selectors.

``evaluate_outbound`` is the literal, linear reference; ``Classifier`` is the compiled form
with the same results and a per-packet cost independent of the number of ACEs.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain
from typing import TypeVar

from tunnelgate.policy.acl import Rule
from tunnelgate.policy.address import IPV6_BASE, IPV6_ONES
from tunnelgate.policy.crypto_map import CryptoMapSet, MapEntry
from tunnelgate.policy.selector import PORT_PROTOCOLS, Flow, Range, Selector

# --------------------------------------------------------------------------- decisions


class DropReason(StrEnum):
    """Why a packet was dropped; the drop counters of ``show`` commands carry these names."""

    INCOMPLETE_CRYPTO_MAP = "incomplete-crypto-map"
    CLEAR_TEXT_MATCHES_CRYPTO_ACL = "clear-text-matches-crypto-acl"
    INVALID_SELECTORS = "invalid-selectors"
    NO_SA_DYNAMIC_MAP = "no-sa-dynamic-map"
    ACQUIRE_QUEUE_FULL = "acquire-queue-full"
    ACQUIRE_TIMEOUT = "acquire-timeout"
    ACQUIRE_FAILED = "acquire-failed"


DROP_REASONS: dict[DropReason, str] = {
    DropReason.INCOMPLETE_CRYPTO_MAP: "outbound packet reached an incomplete static crypto map",
    DropReason.CLEAR_TEXT_MATCHES_CRYPTO_ACL: "clear-text packet should have been protected",
    DropReason.INVALID_SELECTORS: "decrypted packet outside its SA's selectors",
    DropReason.NO_SA_DYNAMIC_MAP: "dynamic crypto map cannot initiate an SA",
    DropReason.ACQUIRE_QUEUE_FULL: "too many packets waiting for an SA",
    DropReason.ACQUIRE_TIMEOUT: "no SA established in time",
    DropReason.ACQUIRE_FAILED: "SA negotiation failed",
}

BYPASS_NO_PERMIT = "no-permit-ace"  # no permit ACE of the crypto map set matched


@dataclass(frozen=True, slots=True)
class Protect:
    """Send through an SA of ``entry``; ``rule`` (the permit ACE) gives the SA's scope."""

    entry: MapEntry
    rule: Rule


@dataclass(frozen=True, slots=True)
class Bypass:
    """Route in the clear."""

    reason: str = BYPASS_NO_PERMIT


@dataclass(frozen=True, slots=True)
class Drop:
    """Discard the packet, counted under ``reason``."""

    reason: DropReason
    entry: MapEntry | None = None
    rule: Rule | None = None


Decision = Protect | Bypass | Drop

_BYPASS = Bypass()


# --------------------------------------------------------------------------- reference


def evaluate_outbound(cmap: CryptoMapSet, flow: Flow) -> Decision:
    """The spec's table applied literally, entry by entry, ACE by ACE."""
    for entry in cmap.entries:
        if entry.incomplete is not None:
            return Drop(DropReason.INCOMPLETE_CRYPTO_MAP, entry)
        if entry.acl is None:
            continue  # a dynamic entry without ACL: defined by the SAs peers negotiate
        rule = entry.acl.first_match(flow)
        if rule is not None and rule.is_permit:
            return Protect(entry, rule)
    return _BYPASS


def check_inbound_clear(cmap: CryptoMapSet, flow: Flow) -> Drop | None:
    """A clear-text packet arriving on the map's interface that matches the mirror of a
    permit ACE of any crypto ACL of the set is dropped (deny ACEs are ignored)."""
    outbound = flow.reversed()
    for entry in cmap.entries:
        if entry.acl is None:
            continue
        for rule in entry.acl.permits:
            if rule.matches(outbound):
                return Drop(DropReason.CLEAR_TEXT_MATCHES_CRYPTO_ACL, entry, rule)
    return None


def check_inbound_decrypted(sa_selectors: Sequence[Selector], flow: Flow) -> Drop | None:
    """The inner packet of an inbound SA must match the mirror of one of its selectors
    (selectors are written from this gateway's side: source = local network)."""
    outbound = flow.reversed()
    if any(s.matches(outbound) for s in sa_selectors):
        return None
    return Drop(DropReason.INVALID_SELECTORS)


# --------------------------------------------------------------------------- compiled form

_ADDRESS_MAX = IPV6_BASE | IPV6_ONES  # the last address integer: IPv4 then IPv6 (D113)
_ARRAY_MAX = (1 << 64) - 1  # what an array("L") holds (IPv6 address integers do not fit)
_WIDE = Range(-(1 << 64), 1 << 64)  # the port range of a selector that does not look at ports
SMALL_INDEX = 16  # up to this many ranges: one plain bisect
_SHIFTS = (8, 16, 24)  # bucket sizes (/24, /16, /8) of the size classes of larger indexes
BUCKET_CROWD = 8  # ranges per /16 bucket below which small ranges share the /16 buckets

# (rank, entry index, protocol, sport low, sport high, dport low, dport high, icmp type,
#  the decision when this ACE decides: Protect / Drop for permits, None for denies)
_Item = tuple[int, int, int, int, int, int, int, int | None, Decision | None]
V = TypeVar("V")
L = TypeVar("L")

# Elementary intervals: their first addresses (ascending, the first one 0 or the bucket's
# start) and the leaf of each; ``leaves[bisect_right(bounds, a) - 1]`` is ``a``'s leaf.
_Intervals = tuple[tuple[int, ...], tuple[L, ...]]
# One size class of a range index: (bucket shift, buckets, intervals). Shift 0: no buckets,
# one set of intervals. Otherwise every range of the class spans at most two buckets of
# ``2**shift`` addresses; only the buckets they touch are listed, each with its own
# intervals (small, allocated together: few cache misses on large indexes).
_Part = tuple[int, dict[int, _Intervals[L]], _Intervals[L]]


def _sweep(groups: Sequence[tuple[Range, V]]) -> tuple[list[int], list[tuple[V, ...]]]:
    """Cut the address space into elementary intervals at every range edge; for each, the
    values of the ranges that cover it. ``bisect_right(bounds, a) - 1`` finds ``a``'s."""
    starts: dict[int, list[int]] = defaultdict(list)
    ends: dict[int, list[int]] = defaultdict(list)
    for i, (r, _) in enumerate(groups):
        starts[r.low].append(i)
        if r.high < _ADDRESS_MAX:
            ends[r.high + 1].append(i)
    bounds = sorted({0, *starts, *ends})
    active: dict[int, V] = {}
    covering: list[tuple[V, ...]] = []
    interned: dict[tuple[int, ...], tuple[V, ...]] = {}
    for b in bounds:
        for i in ends.get(b, ()):
            del active[i]
        for i in starts.get(b, ()):
            active[i] = groups[i][1]
        ids = tuple(active)
        values = interned.get(ids)
        if values is None:
            values = interned[ids] = tuple(active.values())
        covering.append(values)
    return bounds, covering


def _part(
    shift: int, groups: Sequence[tuple[Range, V]], leaf: Callable[[tuple[V, ...]], L]
) -> _Part[L]:
    bounds, covering = _sweep(groups)
    made: dict[int, L] = {}  # covering tuples are shared: make each leaf once
    leaves = tuple(
        made[id(c)] if id(c) in made else made.setdefault(id(c), leaf(c)) for c in covering
    )
    if not shift:
        return 0, {}, (_fresh(bounds), leaves)
    buckets: dict[int, _Intervals[L]] = {}
    for r, _ in groups:
        for k in range(r.low >> shift, (r.high >> shift) + 1):
            if k not in buckets:
                start = k << shift
                low = bisect_right(bounds, start) - 1
                high = bisect_left(bounds, start + (1 << shift))
                buckets[k] = (_fresh([start, *bounds[low + 1 : high]]), leaves[low:high])
    return shift, buckets, ((), ())


def _fresh(bounds: list[int]) -> tuple[int, ...]:
    """The same integers as new objects, adjacent in memory (bisect touches fewer lines);
    bounds past 64 bits (IPv6) are kept as they are."""
    if bounds and bounds[-1] > _ARRAY_MAX:
        return tuple(bounds)
    return tuple(array("L", bounds))


def _range_index(
    groups: Sequence[tuple[Range, V]],
    leaf: Callable[[tuple[V, ...]], L],
    small: int,
    crowd_limit: int,
) -> tuple[_Part[L], ...]:
    """Find the values of the ranges covering an address: one part for a few ranges, else
    one part per size class so that a lookup is a bucket probe and a short bisect."""
    if len(groups) <= small:
        return (_part(0, groups, leaf),)
    classes: dict[int, list[tuple[Range, V]]] = defaultdict(list)
    for group in groups:
        size = group[0].high - group[0].low
        classes[next((s for s in _SHIFTS if size < 1 << s), 0)].append(group)
    if 8 in classes:  # the /24 buckets of small ranges in the /16 buckets: one probe, not two
        merged = classes[8] + classes.get(16, [])
        crowd = Counter(k for r, _ in merged for k in range(r.low >> 16, (r.high >> 16) + 1))
        if max(crowd.values()) <= crowd_limit:
            del classes[8]
            classes[16] = merged
    return tuple(_part(shift, members, leaf) for shift, members in sorted(classes.items()))


def _flatten(lists: tuple[list[_Item], ...]) -> tuple[_Item, ...]:
    return tuple(chain.from_iterable(lists))


_Node = tuple[_Part[tuple[_Item, ...]], ...]  # the destination index of one source range


@dataclass(frozen=True, slots=True)
class _SelectorIndex:
    """Two-level range index: source address → source ranges covering it → destination
    address → the items whose both ranges cover the flow; protocol, ports and ICMP type are
    then checked on these few candidates."""

    parts: tuple[_Part[tuple[_Node, ...]], ...]

    @classmethod
    def build(
        cls, items: Iterable[tuple[Selector, _Item]], small: int, crowd_limit: int
    ) -> _SelectorIndex:
        by_source: dict[Range, dict[Range, list[_Item]]] = defaultdict(lambda: defaultdict(list))
        for selector, item in items:
            by_source[selector.source][selector.destination].append(item)
        groups = [
            (source, _range_index(list(by_destination.items()), _flatten, small, crowd_limit))
            for source, by_destination in by_source.items()
        ]
        return cls(_range_index(groups, tuple, small, crowd_limit))

    def candidates(self, flow: Flow) -> list[_Item]:
        """Every item whose selector matches ``flow``, in no particular order."""
        source, destination, protocol = flow.source, flow.destination, flow.protocol
        sport, dport, icmp_type = flow.source_port, flow.destination_port, flow.icmp_type
        out: list[_Item] = []
        for shift, buckets, intervals in self.parts:
            if shift:
                bucket = buckets.get(source >> shift)
                if bucket is None:
                    continue
                intervals = bucket
            bounds, nodes = intervals
            for node in nodes[bisect_right(bounds, source) - 1]:
                for dshift, dbuckets, dintervals in node:
                    if dshift:
                        dbucket = dbuckets.get(destination >> dshift)
                        if dbucket is None:
                            continue
                        dintervals = dbucket
                    dbounds, leaves = dintervals
                    for item in leaves[bisect_right(dbounds, destination) - 1]:
                        proto = item[2]
                        if (
                            (not proto or proto == protocol)
                            and item[3] <= sport <= item[4]
                            and item[5] <= dport <= item[6]
                            and (item[7] is None or item[7] == icmp_type)
                        ):
                            out.append(item)
        return out


def _item(rank: int, entry_index: int, s: Selector, decision: Decision | None) -> _Item:
    ports = s.protocol in PORT_PROTOCOLS
    sp = s.source_ports if ports else _WIDE
    dp = s.destination_ports if ports else _WIDE
    return (rank, entry_index, s.protocol, sp.low, sp.high, dp.low, dp.high, s.icmp_type, decision)


@dataclass(frozen=True, slots=True)
class Classifier:
    """A crypto map set compiled for per-packet lookups; same results as the reference."""

    name: str
    outbound: _SelectorIndex
    inbound_clear: _SelectorIndex  # mirrored permit ACEs of every crypto ACL
    otherwise: Decision  # when no ACE decides: Bypass, or the first incomplete entry's Drop

    @classmethod
    def compile(
        cls,
        cmap: CryptoMapSet,
        *,
        small_index: int = SMALL_INDEX,
        bucket_crowd: int = BUCKET_CROWD,
    ) -> Classifier:
        """Index every ACE reachable outbound, and every permit's mirror for inbound checks.
        Tuning (results never change): up to ``small_index`` ranges an index level is one
        plain bisect; ``bucket_crowd``, see ``BUCKET_CROWD``."""
        outbound: list[tuple[Selector, _Item]] = []
        inbound: list[tuple[Selector, _Item]] = []
        otherwise: Decision = _BYPASS
        rank = 0
        reachable = True  # entries after an incomplete one are never reached outbound
        for index, entry in enumerate(cmap.entries):
            if reachable and entry.incomplete is not None:
                otherwise = Drop(DropReason.INCOMPLETE_CRYPTO_MAP, entry)
                reachable = False
            if entry.acl is None:
                continue
            for rule in entry.acl.rules:
                protect = Protect(entry, rule) if rule.is_permit else None
                clear = Drop(DropReason.CLEAR_TEXT_MATCHES_CRYPTO_ACL, entry, rule)
                for selector in rule.selectors:
                    rank += 1
                    if reachable:
                        outbound.append((selector, _item(rank, index, selector, protect)))
                    if rule.is_permit:
                        mirrored = selector.mirrored()
                        inbound.append((mirrored, _item(rank, index, mirrored, clear)))
        return cls(
            cmap.name,
            _SelectorIndex.build(outbound, small_index, bucket_crowd),
            _SelectorIndex.build(inbound, small_index, bucket_crowd),
            otherwise,
        )

    def classify(self, flow: Flow) -> Decision:
        """The outbound decision for ``flow``."""
        matched = self.outbound.candidates(flow)
        if not matched:
            return self.otherwise
        matched.sort()  # ranks are unique: entry order, then ACE order
        skipped = -1
        for item in matched:
            entry_index = item[1]
            if entry_index == skipped:
                continue
            decision = item[8]
            if decision is not None:
                return decision
            skipped = entry_index  # deny: leave this entry
        return self.otherwise

    def check_inbound_clear(self, flow: Flow) -> Drop | None:
        """Same as ``check_inbound_clear(cmap, flow)``."""
        matched = self.inbound_clear.candidates(flow)
        if not matched:
            return None
        decision = min(matched)[8]
        assert isinstance(decision, Drop)
        return decision


__all__ = [
    "BYPASS_NO_PERMIT",
    "DROP_REASONS",
    "Bypass",
    "Classifier",
    "Decision",
    "Drop",
    "DropReason",
    "Protect",
    "check_inbound_clear",
    "check_inbound_decrypted",
    "evaluate_outbound",
]
