"""The compiled classifier decides exactly as the linear reference of the spec's table.

Crypto map sets are built directly from policy values (entries, ACLs, rules, selectors):
random prefixes from /0 to /32 and arbitrary ranges around a few shared anchors so that
rules overlap, permits and denies, tcp/udp port ranges, ICMP types, incomplete static
entries and dynamic entries. Flows are drawn mostly at and around the rules' edges.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunnelgate.policy.acl import DENY, PERMIT, Acl, Rule
from tunnelgate.policy.crypto_map import DYNAMIC, STATIC, CryptoMapSet, MapEntry
from tunnelgate.policy.selector import ALL_PORTS, ICMP, TCP, UDP, Flow, Range, Selector
from tunnelgate.policy.spd import Classifier, check_inbound_clear, evaluate_outbound

MAX = 0xFFFFFFFF
ANCHORS = [0, 0x0A000000, 0x0A000100, 0x0A0001F0, 0x0A010000, 0xC0A80000, 0xFFFFFF00, MAX]
PROTOCOLS = [0, 0, ICMP, TCP, TCP, UDP, 50]
PORTS = [0, 1, 22, 53, 80, 443, 1023, 1024, 8080, 65534, 65535]
ICMP_TYPES = [0, 3, 8]

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def addresses(draw: st.DrawFn) -> int:
    base = draw(st.sampled_from(ANCHORS))
    return min(MAX, max(0, base + draw(st.integers(-3, 300))))


@st.composite
def address_ranges(draw: st.DrawFn) -> Range:
    if draw(st.booleans()):  # a prefix, /0 to /32
        length = draw(st.sampled_from([0, 8, 16, 23, 24, 25, 28, 30, 31, 32, 32]))
        mask = (MAX << (32 - length)) & MAX
        network = draw(addresses()) & mask
        return Range(network, network | (~mask & MAX))
    a, b = draw(addresses()), draw(addresses())
    return Range(min(a, b), max(a, b))


@st.composite
def port_ranges(draw: st.DrawFn) -> Range:
    if draw(st.booleans()):
        return ALL_PORTS
    a, b = draw(st.sampled_from(PORTS)), draw(st.sampled_from(PORTS))
    return Range(min(a, b), max(a, b))


@st.composite
def selectors(draw: st.DrawFn) -> Selector:
    protocol = draw(st.sampled_from(PROTOCOLS))
    icmp = draw(st.sampled_from([None, *ICMP_TYPES])) if protocol == ICMP else None
    return Selector(
        protocol,
        draw(address_ranges()),
        draw(address_ranges()),
        draw(port_ranges()),  # kept even when the protocol has no ports: ignored then
        draw(port_ranges()),
        icmp,
    )


@st.composite
def acls(draw: st.DrawFn, name: str) -> Acl:
    rules = tuple(
        Rule(
            draw(st.sampled_from([PERMIT, PERMIT, DENY])),
            tuple(draw(st.lists(selectors(), min_size=1, max_size=3))),
            name,
            line,
            f"rule {line}",
        )
        for line in range(1, draw(st.integers(0, 6)) + 1)
    )
    return Acl(name, rules)


@st.composite
def crypto_map_sets(draw: st.DrawFn) -> CryptoMapSet:
    pool = [draw(acls(f"ACL{i}")) for i in range(draw(st.integers(1, 4)))]
    entries: list[MapEntry] = []
    for seq in range(1, draw(st.integers(0, 5)) + 1):
        acl = draw(st.sampled_from([*pool, None])) if draw(st.integers(0, 5)) == 0 else None
        acl = acl if acl is not None else draw(st.sampled_from(pool))
        has_peer = draw(st.integers(0, 6)) > 0
        missing = [w for w, ok in (("match address", acl), ("peer", has_peer)) if not ok]
        entries.append(
            MapEntry(
                "M",
                seq * 10,
                STATIC,
                acl=acl,
                peers=("203.0.113.1",) if has_peer else (),
                incomplete=("no " + " and no ".join(missing)) if missing else None,
            )
        )
    for dseq in range(1, draw(st.integers(0, 3)) + 1):
        acl = draw(st.sampled_from([*pool, None]))
        entries.append(MapEntry("M", 5, DYNAMIC, "DYN", dseq, acl=acl))
    return CryptoMapSet("M", "outside", tuple(entries))


def _selectors(cmap: CryptoMapSet) -> list[Selector]:
    return [s for e in cmap.entries for r in (e.acl.rules if e.acl else ()) for s in r.selectors]


def _near(r: Range) -> st.SearchStrategy[int]:
    """An address of ``r`` (an edge, the middle) or just outside it."""
    inside = [r.low, r.high, (r.low + r.high) // 2]
    outside = [a for a in (r.low - 1, r.high + 1) if 0 <= a <= MAX]
    return st.sampled_from(inside) | st.sampled_from(outside or inside)


@st.composite
def flows_for(draw: st.DrawFn, cmap: CryptoMapSet) -> Flow:
    """Mostly a flow at the edges of one of the rules' selectors, else anywhere."""
    port = st.sampled_from(PORTS).map(lambda p: min(65535, p + 1)) | st.sampled_from(PORTS)
    candidates = _selectors(cmap)
    if not candidates or draw(st.integers(0, 4)) == 0:
        protocol = draw(st.sampled_from(PROTOCOLS))
        source, destination = draw(addresses()), draw(addresses())
        sport, dport = draw(port), draw(port)
    else:
        s = draw(st.sampled_from(candidates))
        t = draw(st.sampled_from(candidates))  # the other address from another selector
        protocol = s.protocol or draw(st.sampled_from(PROTOCOLS))
        if draw(st.integers(0, 5)) == 0:
            protocol = draw(st.sampled_from(PROTOCOLS))
        source = draw(_near(s.source if draw(st.integers(0, 3)) else t.source))
        destination = draw(_near(s.destination if draw(st.integers(0, 3)) else t.destination))
        sport = draw(_near(s.source_ports) | port)
        dport = draw(_near(s.destination_ports) | port)
    icmp = draw(st.sampled_from(ICMP_TYPES)) if protocol == ICMP else None
    return Flow(protocol, source, destination, sport, dport, icmp)


@st.composite
def cases(draw: st.DrawFn) -> tuple[CryptoMapSet, list[Flow]]:
    cmap = draw(crypto_map_sets())
    return cmap, draw(st.lists(flows_for(cmap), min_size=1, max_size=12))


@_SETTINGS
@given(cases())
def test_classifier_equals_reference(case: tuple[CryptoMapSet, list[Flow]]) -> None:
    cmap, flows = case
    classifiers = [
        Classifier.compile(cmap),  # small sets: one bisect per level
        Classifier.compile(cmap, small_index=0),  # large ones: /16 and /8 buckets …
        Classifier.compile(cmap, small_index=0, bucket_crowd=0),  # … and /24 buckets
    ]
    for flow in flows:
        expected = evaluate_outbound(cmap, flow)
        inbound = flow.reversed()
        expected_clear = check_inbound_clear(cmap, inbound)
        for classifier in classifiers:
            assert classifier.classify(flow) == expected, flow.describe()
            assert classifier.check_inbound_clear(inbound) == expected_clear
