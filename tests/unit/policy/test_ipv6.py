"""IPv6 protected traffic in the policy (D113): compiled crypto ACLs (the ``any`` rule),
the SPD (reference and compiled classifier), the responder, ranges ↔ prefixes.

IPv6 addresses are address integers ``IPV6_BASE | value``; flows are built from
``ipv6_int`` text as the data path builds them from packets.
"""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tunnelgate.config.compile import compile_acl, compile_config
from tunnelgate.policy.acl import DENY, PERMIT, Acl, Rule
from tunnelgate.policy.address import (
    IPV6_BASE,
    IPV6_ONES,
    address_text,
    ipv6_int,
    network_range,
    prefix_length,
    range_to_prefixes,
)
from tunnelgate.policy.crypto_map import STATIC, CryptoMapSet, MapEntry
from tunnelgate.policy.refusal import INVALID_ID_INFORMATION, TS_UNACCEPTABLE, Refusal
from tunnelgate.policy.responder import EntryChoice, choose_entry
from tunnelgate.policy.selector import (
    ALL_ADDRESSES,
    ALL_IPV6_ADDRESSES,
    ALL_PORTS,
    TCP,
    Flow,
    Range,
    Selector,
)
from tunnelgate.policy.spd import (
    Bypass,
    Classifier,
    Decision,
    Drop,
    Protect,
    check_inbound_clear,
    check_inbound_decrypted,
    evaluate_outbound,
)

HEAD = """\
interface GigabitEthernet0/0
 nameif outside
 ip address 203.0.113.1 255.255.255.0
crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-256
 protocol esp integrity sha-256
"""


def v6(network: str) -> Range:
    net = ipaddress.IPv6Network(network)
    return Range(IPV6_BASE | int(net.network_address), IPV6_BASE | int(net.broadcast_address))


def crypto_map(aces: str, extra: str = "") -> CryptoMapSet:
    text = (
        HEAD
        + aces
        + extra
        + "crypto map M 10 match address VPN\n"
        + "crypto map M 10 set peer 198.51.100.2\n"
        + "crypto map M 10 set ikev1 transform-set TS\n"
        + "crypto map M 10 set ikev2 ipsec-proposal P\n"
        + "crypto map M interface outside\n"
    )
    return compile_config(load(text)).crypto_maps["outside"]


def outbound(cmap: CryptoMapSet, flow: Flow) -> Decision:
    """The reference's decision, checked against the compiled classifier."""
    expected = evaluate_outbound(cmap, flow)
    assert Classifier.compile(cmap).classify(flow) == expected
    assert Classifier.compile(cmap, small_index=0).classify(flow) == expected  # size classes
    return expected


def line_of(decision: Decision) -> int:
    assert isinstance(decision, Protect), decision
    return decision.rule.line


def selectors(aces: str, extra: str = "") -> list[list[str]]:
    config = load(extra + aces)
    acl = compile_acl(config, config.access_lists["VPN"])
    return [[s.describe() for s in rule.selectors] for rule in acl.rules]


# --------------------------------------------------------------------------- compile


def test_ipv6_aces_compile_to_ipv6_ranges() -> None:
    aces = (
        "access-list VPN extended permit ip 2001:db8:1::/64 2001:db8:2::/64\n"
        "access-list VPN extended permit tcp host 2001:db8:1::5 any6 eq https\n"
        "access-list VPN extended permit ip 2001:db8::/32 host 2001:db8:2::9\n"
    )
    assert selectors(aces) == [
        ["ip 2001:db8:1::/64 2001:db8:2::/64"],
        ["6 host 2001:db8:1::5 any6 eq 443"],
        ["ip 2001:db8::/32 host 2001:db8:2::9"],
    ]
    config = load(aces)
    (first, *_rest) = compile_acl(config, config.access_lists["VPN"]).rules
    assert first.selectors == (Selector(0, v6("2001:db8:1::/64"), v6("2001:db8:2::/64")),)


@pytest.mark.parametrize(
    ("ace", "expected"),
    [
        ("ip any any", ["ip any4 any4"]),  # as before: IPv4 only
        ("ip any 2001:db8:2::/64", ["ip any6 2001:db8:2::/64"]),
        ("ip 2001:db8:1::/64 any", ["ip 2001:db8:1::/64 any6"]),
        ("ip any 10.2.0.0 255.255.0.0", ["ip any4 10.2.0.0 255.255.0.0"]),
        ("ip any any6", ["ip any6 any6"]),
        ("ip any4 any", ["ip any4 any4"]),
        ("ip any object-group DUAL", ["ip any4 10.2.0.0 255.255.0.0", "ip any6 2001:db8:2::/64"]),
        (
            "ip object-group DUAL object-group DUAL",
            [
                "ip 10.2.0.0 255.255.0.0 10.2.0.0 255.255.0.0",
                "ip 2001:db8:2::/64 2001:db8:2::/64",
            ],
        ),
        ("ip object V4 object V6", []),  # two families through objects: matches nothing
        ("ip interface outside any", ["ip host 203.0.113.1 any4"]),
    ],
)
def test_the_any_rule(ace: str, expected: list[str]) -> None:
    objects = (
        "interface GigabitEthernet0/0\n nameif outside\n ip address 203.0.113.1 255.255.255.0\n"
        "object network V4\n subnet 10.1.0.0 255.255.0.0\n"
        "object network V6\n subnet 2001:db8:1::/64\n"
        "object-group network DUAL\n network-object 10.2.0.0 255.255.0.0\n"
        " network-object 2001:db8:2::/64\n"
    )
    assert selectors(f"access-list VPN extended permit {ace}\n", objects) == [expected]


def test_ipv6_objects_hosts_and_ranges_compile() -> None:
    objects = (
        "object network H\n host 2001:db8::1\n"
        "object network R\n range 2001:db8::10 2001:db8::1f\n"
        "object network S\n subnet 2001:db8:4::/48\n"
        "object-group network G\n network-object host 2001:db8::2\n group-object NESTED\n"
    )
    nested = "object-group network NESTED\n network-object 2001:db8:5::/64\n"
    aces = (
        "access-list VPN extended permit ip object H object R\n"
        "access-list VPN extended permit ip object S object-group G\n"
    )
    assert selectors(aces, nested + objects) == [
        ["ip host 2001:db8::1 2001:db8::10/124"],
        ["ip 2001:db8:4::/48 host 2001:db8::2", "ip 2001:db8:4::/48 2001:db8:5::/64"],
    ]


# --------------------------------------------------------------------------- the SPD

DUAL = (
    "access-list VPN extended deny ip host 2001:db8:1::66 2001:db8:2::/64\n"
    "access-list VPN extended permit ip 2001:db8:1::/64 2001:db8:2::/64\n"
    "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0\n"
    "access-list VPN extended permit tcp any 2001:db8:3::/48 eq https\n"
)


@pytest.mark.parametrize(
    ("flow", "line"),
    [
        (Flow.of(0, "2001:db8:1::5", "2001:db8:2::9"), 2),
        (Flow.of(TCP, "2001:db8:1::5", "2001:db8:2::9", 1234, 22), 2),
        (Flow.of(0, "10.1.0.5", "10.2.0.9"), 3),
        (Flow.of(TCP, "2001:db8:77::1", "2001:db8:3:4::1", 1234, 443), 4),
    ],
)
def test_ipv6_flows_take_their_ace(flow: Flow, line: int) -> None:
    assert line_of(outbound(crypto_map(DUAL), flow)) == line


@pytest.mark.parametrize(
    "flow",
    [
        Flow.of(0, "2001:db8:1::66", "2001:db8:2::9"),  # the deny: leaves the entry
        Flow.of(0, "2001:db8:9::5", "2001:db8:2::9"),
        Flow.of(TCP, "2001:db8:77::1", "2001:db8:3:4::1", 1234, 80),
        # an IPv6 address whose low 32 bits are an IPv4 address of an ACE
        Flow(0, IPV6_BASE | 0x0A010005, IPV6_BASE | 0x0A020009),
    ],
)
def test_ipv6_flows_outside_the_aces_bypass(flow: Flow) -> None:
    assert isinstance(outbound(crypto_map(DUAL), flow), Bypass)


def test_any4_any4_does_not_take_ipv6_traffic() -> None:
    cmap = crypto_map("access-list VPN extended permit ip any any\n")
    assert line_of(outbound(cmap, Flow.of(0, "192.0.2.1", "198.51.100.1"))) == 1
    for flow in (
        Flow.of(0, "2001:db8::1", "2001:db8::2"),
        Flow.of(0, "::", "::"),
        Flow(0, IPV6_BASE, IPV6_BASE | IPV6_ONES),
    ):
        assert isinstance(outbound(cmap, flow), Bypass)
    assert check_inbound_clear(cmap, Flow.of(0, "2001:db8::2", "2001:db8::1")) is None


def test_any6_takes_every_ipv6_flow_and_no_ipv4_one() -> None:
    cmap = crypto_map("access-list VPN extended permit ip any6 any6\n")
    assert line_of(outbound(cmap, Flow(0, IPV6_BASE, IPV6_BASE | IPV6_ONES))) == 1
    assert isinstance(outbound(cmap, Flow.of(0, "0.0.0.0", "255.255.255.255")), Bypass)


def test_many_ipv6_aces_in_the_size_classes() -> None:
    aces = "".join(
        f"access-list VPN extended permit tcp host 2001:db8:1::{i:x} "
        f"2001:db8:{i:x}::/{48 + i % 80} eq {1000 + i}\n"
        for i in range(1, 60)
    )
    cmap = crypto_map(aces + "access-list VPN extended permit ip 10.0.0.0 255.0.0.0 any4\n")
    for i in (1, 17, 59):
        flow = Flow.of(TCP, f"2001:db8:1::{i:x}", f"2001:db8:{i:x}::1", 5, 1000 + i)
        assert line_of(outbound(cmap, flow)) == i
        assert isinstance(outbound(cmap, Flow.of(TCP, f"2001:db8:1::{i:x}", "::1", 5, 1)), Bypass)
    assert line_of(outbound(cmap, Flow.of(0, "10.9.9.9", "192.0.2.1"))) == 60


def test_inbound_checks_of_ipv6_traffic() -> None:
    cmap = crypto_map(DUAL)
    clear = Flow.of(0, "2001:db8:2::9", "2001:db8:1::5")  # from the peer's side, in clear
    drop = check_inbound_clear(cmap, clear)
    assert isinstance(drop, Drop) and drop.rule is not None and drop.rule.line == 2
    assert Classifier.compile(cmap).check_inbound_clear(clear) == drop
    sa = Selector(0, v6("2001:db8:1::/64"), v6("2001:db8:2::/64"))
    assert check_inbound_decrypted([sa], clear) is None
    assert check_inbound_decrypted([sa], Flow.of(0, "2001:db8:9::9", "2001:db8:1::5")) is not None


# --------------------------------------------------------------------------- IPv4 and IPv6 maps


_V6_ANCHORS = [0, 1, 0x20010DB8 << 96, (0x20010DB8 << 96) | (1 << 64), IPV6_ONES - 255, IPV6_ONES]
_V4_ANCHORS = [0, 0x0A000000, 0x0A0001F0, 0xFFFFFF00, 0xFFFFFFFF]


@st.composite
def family_addresses(draw: st.DrawFn, six: bool) -> int:
    if six:
        base = draw(st.sampled_from(_V6_ANCHORS)) + draw(st.integers(-3, 300))
        return IPV6_BASE | min(IPV6_ONES, max(0, base))
    base = draw(st.sampled_from(_V4_ANCHORS)) + draw(st.integers(-3, 300))
    return min(0xFFFFFFFF, max(0, base))


@st.composite
def family_ranges(draw: st.DrawFn, six: bool) -> Range:
    if draw(st.booleans()):
        length = draw(st.integers(0, 128 if six else 32))
        return Range(*network_range(draw(family_addresses(six)), length))
    a, b = draw(family_addresses(six)), draw(family_addresses(six))
    return Range(min(a, b), max(a, b))


@st.composite
def dual_maps(draw: st.DrawFn) -> CryptoMapSet:
    rules = []
    for line in range(1, draw(st.integers(1, 24)) + 1):
        six = draw(st.booleans())
        selector = Selector(
            draw(st.sampled_from([0, 0, TCP])),
            draw(family_ranges(six)),
            draw(family_ranges(six)),
            draw(st.sampled_from([ALL_PORTS, Range(443, 443)])),
            ALL_PORTS,
        )
        action = draw(st.sampled_from([PERMIT, PERMIT, DENY]))
        rules.append(Rule(action, (selector,), "VPN", line, f"rule {line}"))
    entry = MapEntry("M", 10, STATIC, acl=Acl("VPN", tuple(rules)), peers=("198.51.100.2",))
    return CryptoMapSet("M", "outside", (entry,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_classifier_agrees_with_the_reference_on_dual_stack_maps(data: st.DataObject) -> None:
    cmap = data.draw(dual_maps())
    rules = [s for e in cmap.entries if e.acl for r in e.acl.rules for s in r.selectors]
    compiled = Classifier.compile(cmap, small_index=data.draw(st.sampled_from([0, 4, 16])))
    for _ in range(8):
        six = data.draw(st.booleans())
        near = data.draw(st.sampled_from(rules))
        source = data.draw(
            st.sampled_from([near.source.low, near.source.high]) | family_addresses(six)
        )
        destination = data.draw(
            st.sampled_from([near.destination.low, near.destination.high]) | family_addresses(six)
        )
        flow = Flow(data.draw(st.sampled_from([0, TCP])), source, destination, 5, 443)
        assert compiled.classify(flow) == evaluate_outbound(cmap, flow)
        assert compiled.check_inbound_clear(flow) == check_inbound_clear(cmap, flow)


# --------------------------------------------------------------------------- ranges ↔ prefixes


@given(st.integers(0, IPV6_ONES), st.integers(0, IPV6_ONES))
def test_ipv6_ranges_to_prefixes_as_the_ipaddress_module(a: int, b: int) -> None:
    low, high = min(a, b), max(a, b)
    expected = [
        (IPV6_BASE | int(n.network_address), n.prefixlen)
        for n in ipaddress.summarize_address_range(
            ipaddress.IPv6Address(low), ipaddress.IPv6Address(high)
        )
    ]
    prefixes = range_to_prefixes(IPV6_BASE | low, IPV6_BASE | high)
    assert prefixes == expected
    assert all(network >= IPV6_BASE for network, _ in prefixes)
    # and back: the prefixes tile the range exactly
    spans = [network_range(network, length) for network, length in prefixes]
    assert spans[0][0] == IPV6_BASE | low and spans[-1][1] == IPV6_BASE | high
    assert all(x[1] + 1 == y[0] for x, y in itertools.pairwise(spans))
    if len(prefixes) == 1:
        assert prefix_length(IPV6_BASE | low, IPV6_BASE | high) == prefixes[0][1]


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
def test_ipv4_ranges_to_prefixes_as_the_ipaddress_module(a: int, b: int) -> None:
    low, high = min(a, b), max(a, b)
    expected = [
        (int(n.network_address), n.prefixlen)
        for n in ipaddress.summarize_address_range(
            ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)
        )
    ]
    assert range_to_prefixes(low, high) == expected


def test_prefix_helpers() -> None:
    assert network_range(ipv6_int("2001:db8::77"), 64) == (
        ipv6_int("2001:db8::"),
        ipv6_int("2001:db8::ffff:ffff:ffff:ffff"),
    )
    assert network_range(0x0A010203, 16) == (0x0A010000, 0x0A01FFFF)
    assert prefix_length(ALL_IPV6_ADDRESSES.low, ALL_IPV6_ADDRESSES.high) == 0
    assert prefix_length(ALL_ADDRESSES.low, ALL_ADDRESSES.high) == 0
    assert prefix_length(ipv6_int("2001:db8::1"), ipv6_int("2001:db8::1")) == 128
    assert prefix_length(ipv6_int("2001:db8::1"), ipv6_int("2001:db8::2")) is None
    with pytest.raises(ValueError, match="prefix length 129"):
        network_range(ipv6_int("::"), 129)


def test_flows_and_ranges_describe_ipv6() -> None:
    flow = Flow.of(TCP, "2001:DB8::1", "2001:db8::2", 1234, 443)
    assert flow.source == ipv6_int("2001:db8::1")
    assert flow.describe() == "proto 6 [2001:db8::1]:1234 -> [2001:db8::2]:443"
    assert (
        Flow.of(0, "2001:db8::1", "2001:db8::2").describe() == "proto 0 2001:db8::1 -> 2001:db8::2"
    )
    assert v6("2001:db8::/32").describe_address() == "2001:db8::/32"
    assert Range(ipv6_int("::1"), ipv6_int("::3")).describe_address() == "range ::1 ::3"
    assert address_text(ipv6_int("::ffff:10.0.0.1")) == "::ffff:a00:1"
    with pytest.raises(ValueError):
        Flow.of(0, "2001:db8::g", "::1")


# --------------------------------------------------------------------------- the responder


RESPONDER = (
    "access-list VPN extended permit ip 2001:db8:1::/48 2001:db8:2::/48\n"
    "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0\n"
)


def test_the_responder_accepts_and_narrows_ipv6_proposals() -> None:
    cmap = crypto_map(RESPONDER)
    inside = Selector(0, v6("2001:db8:1::/64"), v6("2001:db8:2::/64"))
    for version in (1, 2):
        choice = choose_entry(cmap, "198.51.100.2", inside, version)
        assert isinstance(choice, EntryChoice) and choice.rule is not None
        assert (choice.rule.line, choice.selector, choice.narrowed) == (1, inside, False)
    wider = Selector(0, v6("2001:db8::/32"), v6("2001:db8:2::/64"))
    narrowed = choose_entry(cmap, "198.51.100.2", wider, 2)
    assert isinstance(narrowed, EntryChoice) and narrowed.narrowed
    assert narrowed.selector == Selector(0, v6("2001:db8:1::/48"), v6("2001:db8:2::/64"))
    refused = choose_entry(cmap, "198.51.100.2", wider, 1)
    assert isinstance(refused, Refusal) and refused.notify == INVALID_ID_INFORMATION


@pytest.mark.parametrize(("version", "notify"), [(1, INVALID_ID_INFORMATION), (2, TS_UNACCEPTABLE)])
def test_the_responder_refuses_a_proposal_mixing_families(version: int, notify: str) -> None:
    cmap = crypto_map(RESPONDER)
    mixed = Selector(0, Range(0x0A010000, 0x0A01FFFF), v6("2001:db8:2::/64"))
    refused = choose_entry(cmap, "198.51.100.2", mixed, version)
    assert refused == Refusal(
        notify,
        "peer 198.51.100.2 proposes ip 10.1.0.0 255.255.0.0 2001:db8:2::/64 (local → remote): "
        "one side is IPv4 and the other IPv6",
    )


def test_an_ipv6_destination_leaves_by_the_interface_whose_crypto_map_protects_it() -> None:
    """No IPv6 routes in the configuration yet (D113): an IPv6 destination is routed by the
    crypto maps' permit ACEs, never by an IPv4 route (a default route's mask of 0 would
    otherwise match every IPv6 destination)."""
    text = (
        HEAD
        + "access-list VPN extended permit ip 2001:db8:1::/64 2001:db8:2::/64\n"
        + "route outside 0.0.0.0 0.0.0.0 203.0.113.254\n"
        + "crypto map M 10 match address VPN\n"
        + "crypto map M 10 set peer 198.51.100.2\n"
        + "crypto map M 10 set ikev2 ipsec-proposal P\n"
        + "crypto map M interface outside\n"
    )
    policy = compile_config(load(text))
    assert policy.egress_interface(ipv6_int("2001:db8:2::9")) == ("outside", None)
    assert policy.egress_interface(ipv6_int("2001:db8:3::9")) is None
    assert policy.egress_interface(ipv6_int("::cb00:7109")) is None  # low bits of an IPv4
    assert policy.egress_interface(int(ipaddress.IPv4Address("192.0.2.9"))) == (
        "outside",
        int(ipaddress.IPv4Address("203.0.113.254")),
    )
