"""IPv6 protected traffic over the IPv4 IKEv2 pair (D113): TS_IPV6_ADDR_RANGE both ways,
dual-stack crypto ACLs, narrowing per family, and a traffic-selector pair that mixes
families refused with TS_UNACCEPTABLE.

Same timeline as ``test_ikev2_exchanges.py`` (HQ initiates towards the branch); only the
crypto ACLs change:

    HQ  --- IKE_AUTH request: SK{... TSi(2001:db8:1::/64) TSr(2001:db8:2::/64)} --> branch
    HQ  <-- IKE_AUTH response: SK{... TSi(2001:db8:1::/64) TSr(2001:db8:2::/64)} -- branch
"""

from __future__ import annotations

from ipaddress import ip_address

from tests.protocol.test_ikev2_exchanges import (
    child_of,
    events,
    initiate,
    setup,
)
from tunnelgate.ike.v2.events import ChildSaEstablished, ChildSaFailed, IkeSaEstablished
from tunnelgate.ike.v2.payloads import TrafficSelector, TsiPayload, TsrPayload
from tunnelgate.ike.v2.traffic_selectors import _narrowed, _proposed, _ts
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.address import ipv4_int, ipv6_int
from tunnelgate.policy.selector import ALL_PORTS, Range, Selector


def acl(*aces: str) -> dict[str, str]:
    return {"acl": "".join(f"access-list VPN extended permit {ace}\n" for ace in aces)}


V6_HQ = acl("ip 2001:db8:1::/64 2001:db8:2::/64")
V6_BRANCH = acl("ip 2001:db8:2::/64 2001:db8:1::/64")
DUAL_HQ = acl("ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0", "ip 2001:db8:1::/64 2001:db8:2::/64")
DUAL_BRANCH = acl(
    "ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0", "ip 2001:db8:2::/64 2001:db8:1::/64"
)


def v6(network: str) -> Range:
    address, _, length = network.partition("/")
    low = ipv6_int(address)
    return Range(low, low | ((1 << (128 - int(length))) - 1))


def test_an_ipv6_crypto_acl_gets_a_child_sa_with_ipv6_selectors_on_both_sides() -> None:
    network, hq, branch = setup(hq=V6_HQ, branch=V6_BRANCH)
    initiate(network, hq)
    network.run()
    hq_events, branch_events = events(hq), events(branch)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in branch_events] == [IkeSaEstablished, ChildSaEstablished]
    child_h, child_b = child_of(hq_events), child_of(branch_events)
    assert child_h.selector == Selector(0, v6("2001:db8:1::/64"), v6("2001:db8:2::/64"))
    assert child_b.selector == child_h.selector.mirrored()
    assert child_h.selector.describe() == "ip 2001:db8:1::/64 2001:db8:2::/64"
    assert child_h.keys == child_b.keys and child_h.spi_in == child_b.spi_out


def test_a_dual_stack_acl_gets_one_child_sa_per_family() -> None:
    network, hq, branch = setup(hq=DUAL_HQ, branch=DUAL_BRANCH)
    initiate(network, hq)  # the IPv4 line, in IKE_AUTH
    network.run()
    first_h, first_b = child_of(events(hq)), child_of(events(branch))
    assert not first_h.selector.source.is_ipv6 and first_h.selector == first_b.selector.mirrored()
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.create_child(next(iter(hq.sas.values())), entry, entry.acl.permits[1], network.clock.now)
    network.run()
    second_h, second_b = child_of(events(hq)), child_of(events(branch))
    assert second_h.selector.describe() == "ip 2001:db8:1::/64 2001:db8:2::/64"
    assert second_h.selector == second_b.selector.mirrored()
    assert second_h.keys == second_b.keys and second_h.rekeyed_spi is None
    assert len(next(iter(hq.sas.values())).children) == 2
    assert len(next(iter(branch.sas.values())).children) == 2


def test_the_ipv6_line_of_a_dual_stack_acl_can_come_first() -> None:
    network, hq, branch = setup(hq=DUAL_HQ, branch=DUAL_BRANCH)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[1], network.clock.now)
    network.run()
    child_h, child_b = child_of(events(hq)), child_of(events(branch))
    assert child_h.selector.source == v6("2001:db8:1::/64")
    assert child_b.selector.source == v6("2001:db8:2::/64")


def test_the_responder_narrows_an_ipv6_proposal_to_its_acl() -> None:
    hq = acl("ip 2001:db8:1::/48 2001:db8:2::/48")
    network, hq_e, branch_e = setup(hq=hq, branch=V6_BRANCH)
    initiate(network, hq_e)
    network.run()
    child_h, child_b = child_of(events(hq_e)), child_of(events(branch_e))
    assert child_h.selector == Selector(0, v6("2001:db8:1::/64"), v6("2001:db8:2::/64"))
    assert child_b.selector == child_h.selector.mirrored()


def test_ipv6_selectors_that_do_not_mirror_fail_the_child_only() -> None:
    branch = acl("ip 2001:db8:2::/64 2001:db8:9::/64")
    network, hq, branch_e = setup(hq=V6_HQ, branch=branch)
    initiate(network, hq)
    network.run()
    hq_events = events(hq)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaFailed]
    failed = hq_events[1]
    assert isinstance(failed, ChildSaFailed) and failed.notify == "TS_UNACCEPTABLE"
    (_, refused) = events(branch_e)
    assert isinstance(refused, ChildSaFailed)
    assert "no permit ACE of access-list VPN matches the proposal" in refused.reason


def test_a_traffic_selector_pair_mixing_families_is_ts_unacceptable() -> None:
    network, hq, branch = setup(hq=V6_HQ, branch=V6_BRANCH)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    mixed = Selector(
        0, Range(ipv4_int("10.1.0.0"), ipv4_int("10.1.255.255")), v6("2001:db8:2::/64")
    )
    rule = Rule("permit", (mixed,), "VPN", 1, "extended permit ip (mixed by hand)")
    hq.initiate(entry, rule, network.clock.now)
    network.run()
    hq_events, branch_events = events(hq), events(branch)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaFailed]
    failed = hq_events[1]
    assert isinstance(failed, ChildSaFailed) and failed.notify == "TS_UNACCEPTABLE"
    refused = branch_events[1]
    assert isinstance(refused, ChildSaFailed) and refused.notify == "TS_UNACCEPTABLE"
    assert "one side is IPv4 and the other IPv6" in refused.reason


# --------------------------------------------------------------------------- the conversions


def ts(first: str, last: str, protocol: int = 0) -> TrafficSelector:
    return TrafficSelector(ip_address(first), ip_address(last), protocol)


def test_ipv6_ranges_become_ts_ipv6_addr_range_and_back() -> None:
    selector = Selector(
        6, v6("2001:db8:1::/64"), Range(ipv6_int("2001:db8::5"), ipv6_int("2001:db8::9"))
    )
    ours = _ts(selector.source, selector.source_ports, selector)
    theirs = _ts(selector.destination, selector.destination_ports, selector)
    assert ours == ts("2001:db8:1::", "2001:db8:1::ffff:ffff:ffff:ffff", 6)
    assert int(ours.ts_type) == 8  # TS_IPV6_ADDR_RANGE
    assert theirs == ts("2001:db8::5", "2001:db8::9", 6)
    # the peer initiates: its TSi is its side, TSr ours
    assert _proposed(TsiPayload((theirs,)), TsrPayload((ours,))) == selector


def test_a_dual_stack_proposal_is_read_per_family() -> None:
    tsi = TsiPayload((ts("10.2.0.0", "10.2.255.255"), ts("2001:db8:2::", "2001:db8:2::ff")))
    tsr = TsrPayload((ts("2001:db8:1::", "2001:db8:1::ff"), ts("10.1.0.0", "10.1.255.255")))
    proposal = _proposed(tsi, tsr)  # the first TSi with the TSr of its family
    assert proposal.describe() == "ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0"
    only_mixed = _proposed(TsiPayload(tsi.selectors[:1]), TsrPayload(tsr.selectors[:1]))
    assert only_mixed.mixes_families


def test_narrowing_keeps_the_requested_family() -> None:
    requested = Selector(0, v6("2001:db8:1::/48"), v6("2001:db8:2::/48"))
    answer_i = TsiPayload((ts("10.1.0.0", "10.1.0.255"), ts("2001:db8:1::", "2001:db8:1::ff")))
    answer_r = TsrPayload((ts("10.2.0.0", "10.2.0.255"), ts("2001:db8:2::", "2001:db8:2::ff")))
    got = _narrowed(requested, answer_i, answer_r)
    assert got == Selector(
        0,
        Range(ipv6_int("2001:db8:1::"), ipv6_int("2001:db8:1::ff")),
        Range(ipv6_int("2001:db8:2::"), ipv6_int("2001:db8:2::ff")),
        ALL_PORTS,
        ALL_PORTS,
    )
    v4_only = _narrowed(
        requested, TsiPayload(answer_i.selectors[:1]), TsrPayload(answer_r.selectors[:1])
    )
    assert v4_only == requested  # nothing of the requested family: the request stands
