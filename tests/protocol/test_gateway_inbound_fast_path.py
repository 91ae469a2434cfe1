"""The inbound fast path of ``Gateway._inbound_esp`` (SPI and passed-flow caches) decides
exactly as the full path: a cached SPI from another source, a flow that passed before under
a policy since replaced, an SA since removed, and ICMP errors all take the full checks."""

from __future__ import annotations

from dataclasses import replace

from tests.protocol.test_gateway_data_path import only_sa, pair, udp
from tests.protocol.test_gateway_pair import icmp_echo
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import WriteTun

HQ_ADDR, BRANCH_ADDR = "203.0.113.1", "198.51.100.2"


def _esp_from_branch(branch: Gateway, packet: bytes, now: float) -> bytes:
    result = only_sa(branch).sa.protect(packet, 4, now, branch.random)
    return result.esp  # type: ignore[union-attr]


def _written(gw: Gateway) -> list[bytes]:
    return [o.packet for o in gw.outputs() if isinstance(o, WriteTun)]


def test_a_repeated_flow_passes_and_other_sources_are_still_refused() -> None:
    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    packets = [udp("10.2.0.9", "10.1.0.5", 100 + n) for n in range(3)]
    for packet in packets:
        hq.receive_esp(HQ_ADDR, BRANCH_ADDR, _esp_from_branch(branch, packet, wire.now), wire.now)
    assert _written(hq) == packets
    esp = _esp_from_branch(branch, packets[0], wire.now)
    hq.receive_esp(HQ_ADDR, "192.0.2.66", esp, wire.now)  # the SPI is cached: not the source
    hq.receive_esp(HQ_ADDR, BRANCH_ADDR, esp, wire.now)
    hq.receive_esp(HQ_ADDR, BRANCH_ADDR, esp, wire.now)  # replayed
    assert _written(hq) == [packets[0]]
    assert hq.drops == {"spi-peer-mismatch": 1, "replay": 1}


def test_a_flow_outside_the_selectors_is_refused_every_time() -> None:
    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    good, bad = udp("10.2.0.9", "10.1.0.5", 100), udp("10.9.0.9", "10.1.0.5", 100)
    for packet in (good, bad, good, bad):
        hq.receive_esp(HQ_ADDR, BRANCH_ADDR, _esp_from_branch(branch, packet, wire.now), wire.now)
    assert _written(hq) == [good, good]
    assert hq.drops == {"invalid-selectors": 2}


def test_a_new_policy_rechecks_flows_that_passed_before() -> None:
    acl = (
        "access-list OUTSIDE-IN extended permit icmp any any\n"
        "access-list OUTSIDE-IN extended deny ip any any\n"
        "access-group OUTSIDE-IN in interface outside\n"
    )
    wire = pair(acl)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    packet = udp("10.2.0.9", "10.1.0.5", 100)
    hq.receive_esp(HQ_ADDR, BRANCH_ADDR, _esp_from_branch(branch, packet, wire.now), wire.now)
    assert _written(hq) == [packet]
    hq.policy = replace(hq.policy, permit_vpn=False)  # what a reload does: a new object
    hq.receive_esp(HQ_ADDR, BRANCH_ADDR, _esp_from_branch(branch, packet, wire.now), wire.now)
    assert _written(hq) == []
    assert hq.drops == {"acl-denied": 1}


def test_a_removed_sa_is_not_found_through_the_cache() -> None:
    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    packet = icmp_echo("10.2.0.9", "10.1.0.5", 5)
    hq.receive_esp(HQ_ADDR, BRANCH_ADDR, _esp_from_branch(branch, packet, wire.now), wire.now)
    assert _written(hq) == [packet]
    esp = _esp_from_branch(branch, packet, wire.now)
    spi_in = only_sa(hq).sa.inbound.spi
    assert hq.tear_down(spi_in, "test", wire.now)
    hq.receive_esp(HQ_ADDR, BRANCH_ADDR, esp, wire.now)
    assert _written(hq) == []
    assert hq.drops.get("invalid-spi") == 1


def test_esp_in_udp_takes_the_same_checks() -> None:
    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    good, bad = udp("10.2.0.9", "10.1.0.5", 100), udp("10.9.0.9", "10.1.0.5", 100)
    local, remote = (HQ_ADDR, 4500), (BRANCH_ADDR, 4500)
    for packet in (good, bad, good):
        hq.receive_udp(local, remote, _esp_from_branch(branch, packet, wire.now), wire.now)
    hq.receive_udp(local, remote, b"\xff", wire.now)  # a keepalive
    hq.receive_udp(local, remote, bytes(4) + b"\x00\x00\x00\x7f" + bytes(8), wire.now)
    hq.receive_udp(local, remote, b"\x00\x00\x00\x05" + bytes(12), wire.now)  # reserved SPI
    assert _written(hq) == [good, good]
    assert hq.drops["invalid-selectors"] == 1
    assert hq.drops["udp-4500-spi-reserved"] == 1
    assert hq.counters["nat-keepalives-received"] == 1
