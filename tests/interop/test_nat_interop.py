"""NAT traversal through a real NAT: the real gateway daemon (``tunnelgate run``) against
strongSwan's charon behind an nftables NAT, IKEv2 and IKEv1, either side initiating.

host-a 10.1.0.10 — gw-a (tunnelgate, 192.0.2.1) — inet — nat (198.51.100.2 / 10.99.0.1) —
gw-b (charon, 10.99.0.2) — host-b 10.2.0.10, the lab's ``--nat`` plan
(``tunnelgate.lab.topology.BEHIND_NAT``) with its nftables rules: masquerade of 10.99.0.0/24
behind 198.51.100.2 and a port forward of UDP 500/4500 on 198.51.100.2 to gw-b.

charon with kernel-libipsec fakes a NAT on its own (its NAT-D never matches), so a tunnel with
UDP-encapsulated ESP proves little by itself. Each test therefore also shows that the NAT is
real: the NAT's rule counters saw the flows (masquerade when charon initiates, the port forward
when tunnelgate does), charon sits on 10.99.0.2 while tunnelgate's IKE SA, IPsec SA and
``show crypto ipsec sa`` name the NAT's public address 198.51.100.2 with the port the NAT
left on the packets (masquerade keeps 4500 when it is free), and the inside address never
reaches tunnelgate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.interop import test_gateway_interop as v2
from tests.interop import test_ikev1_gateway_interop as v1
from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    Charon,
    CharonSettings,
    HarnessError,
    NatSites,
    Netns,
    Sites,
    TunnelgateDaemon,
    nat_counters,
    ping,
    tcp_transfer,
    topology_sites_nat,
)
from tests.interop.test_gateway_interop import unexpected_drops

TCP_BYTES = 256 * 1024
NAT_PUBLIC = Sites.GW_B  # the NAT's public address: gw-b's address as gw-a knows it


@dataclass
class Lab:
    sites: NatSites
    charon: Charon
    gateway: TunnelgateDaemon
    version: int


@pytest.fixture
def sites(netns: Netns) -> NatSites:
    return topology_sites_nat(netns)


def charon_behind_nat(conf: str) -> str:
    """charon's configuration with its own (inside) address; its IKE identity stays the
    public address, which is what tunnelgate's tunnel group names."""
    local = f"local_addrs = {Sites.GW_B}"
    assert local in conf
    return conf.replace(local, f"local_addrs = {NatSites.GW_B_INSIDE}")


def bring_up(
    sites: NatSites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], version: int
) -> Lab:
    if version == 2:
        conf, config = v2.charon_config(), v2.tunnelgate_config()
    else:
        conf, config = v1.charon_config(), v1.tunnelgate_config()
    charon = start_charon(
        sites.gw_b, charon_behind_nat(conf), name="gw-b", settings=CharonSettings()
    )
    gateway = TunnelgateDaemon(sites.gw_a, config.replace("{outside_if}", sites.gw_a_outside))
    gateways.append(gateway)
    gateway.start()
    return Lab(sites, charon, gateway, version)


def assert_traffic(lab: Lab, *, pings: int = 3) -> None:
    """Ping both ways and one TCP transfer host-a -> host-b, SHA-256 checked."""
    s = lab.sites
    for source, target in ((s.host_a, Sites.HOST_B), (s.host_b, Sites.HOST_A)):
        sent, received, out = ping(source, target, pings)
        assert (sent, received) == (pings, pings), f"{out}\n{lab.gateway.text()}"
    try:
        tx, rx = tcp_transfer(s.host_a, s.host_b, Sites.HOST_B, TCP_BYTES)
    except Exception as exc:
        raise AssertionError(f"TCP transfer failed: {exc}\n{lab.gateway.text()}") from exc
    assert tx == rx and tx.startswith(f"{TCP_BYTES} "), (tx, rx)


@pytest.mark.interop
@pytest.mark.parametrize(
    ("version", "initiator"),
    [(2, "charon"), (2, "tunnelgate"), (1, "charon"), (1, "tunnelgate")],
    ids=["ikev2-charon-initiates", "ikev2-tunnelgate-initiates", "ikev1-charon", "ikev1-tg"],
)
def test_nat_traversal_through_a_real_nat(
    sites: NatSites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    version: int,
    initiator: str,
) -> None:
    lab = bring_up(sites, start_charon, gateways, version)
    assert nat_counters(sites) == {"dnat": 0, "masquerade": 0}
    started = time.monotonic()
    if initiator == "tunnelgate":  # host-a's traffic is the ACQUIRE, to the NAT's address
        sent, received, out = ping(sites.host_a, Sites.HOST_B, 3)
        assert (sent, received) == (3, 3), f"{out}\n{lab.gateway.text()}"
        assert len(lab.gateway.find("NegotiationStarted")) == 1
    else:
        try:
            lab.charon.initiate("gw", timeout=15)
        except HarnessError as exc:
            raise AssertionError(f"{exc}\n{lab.gateway.text()}") from exc
        assert not lab.gateway.find("NegotiationStarted")

    # tunnelgate sees the NAT's public address and the port the NAT gave the flow
    installed = lab.gateway.wait_event("ChildSaInstalled")[0]
    setup = time.monotonic() - started
    assert installed["udp_encapsulation"] is True
    assert installed["peer"] == [NAT_PUBLIC, 4500], installed
    if version == 1:
        phase1 = lab.gateway.wait_event("Ikev1SaEstablished")[0]
        assert phase1["peer"] == [NAT_PUBLIC, 4500] and phase1["initiator"] is (
            initiator == "tunnelgate"
        )
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert f"current_peer: {NAT_PUBLIC}" in ipsec and "NAT-T-Encaps" in ipsec, ipsec
    assert NatSites.GW_B_INSIDE not in lab.gateway.text()

    # charon sits on the inside address and talks to tunnelgate's own, through the NAT
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert sa.local_host == NatSites.GW_B_INSIDE and sa.remote_host == Sites.GW_A, sa.raw
    assert sa.initiator is (initiator == "charon") and sa.remote_port == "4500"
    assert sa.nat_any, sa.raw
    (child,) = sa.installed("gw")
    assert child.encap and int(child.spi_in, 16) == installed["spi_out"], child

    assert_traffic(lab)

    # the NAT really translated: its rule counters saw the flows
    counted = nat_counters(sites)
    if initiator == "charon":  # charon's 500 and 4500 flows go out masqueraded
        assert counted["masquerade"] >= 2, counted
    else:  # tunnelgate reaches charon through the port forward, on 500 and 4500
        assert counted["dnat"] >= 2, counted
    drops = unexpected_drops(lab.gateway)
    print(f"IKEv{version}, {initiator} initiates through the NAT: up in {setup:.2f} s; {counted}")
    assert drops == {}, drops
