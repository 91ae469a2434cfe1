"""IPv6 inside the IPv4 tunnel: the real daemon (``tunnelgate run``) against strongSwan's charon.

host-a 10.1.0.10, 2001:db8:1::10 — gw-a (tunnelgate, 192.0.2.1) — inet (IPv4 only) —
gw-b (charon, 198.51.100.2) — host-b 10.2.0.10, 2001:db8:2::10

tunnelgate's crypto ACL carries an IPv6 ACE (``permit ip 2001:db8:1::/64 2001:db8:2::/64``);
its child SA has IPv6 traffic selectors (IKEv2 TS_IPV6_ADDR_RANGE) while IKE and ESP stay on
IPv4 (ESP next header 41). charon (kernel-libipsec: ESP in user space over its ``ipsec0`` TUN)
installs the route of the remote IPv6 prefix into ``ipsec0`` itself (table 220), as it does
for IPv4: ``charon_route`` checks it. Every case sends real traffic between the hosts.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from dataclasses import dataclass

import pytest

from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    Charon,
    ChildSa,
    HarnessError,
    Namespace,
    Sites,
    TunnelgateDaemon,
    ping,
    psk_gateway_conf,
    tcp_transfer,
    wait_until,
)
from tunnelgate.esp import fast

PSK = "tunnelgate-ipv6-interop"
TCP_BYTES = 512 * 1024

NET_A6, NET_B6 = "2001:db8:1::/64", "2001:db8:2::/64"
HOST_A6, HOST_B6 = "2001:db8:1::10", "2001:db8:2::10"
GW_A_IN6, GW_B_IN6 = "2001:db8:1::1", "2001:db8:2::1"
NET_A4, NET_B4 = "10.1.0.0/24", "10.2.0.0/24"

ACE_V4 = "access-list VPN extended permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0"
ACE_V6 = f"access-list VPN extended permit ip {NET_A6} {NET_B6}"


# ---------------------------------------------------------------------------------------------
# IPv6 on the sites of ``harness.topology_sites``


def ifname_with(ns: Namespace, address: str) -> str:
    """The interface of ``ns`` that holds ``address``."""
    for link in json.loads(ns.run("ip", "-j", "addr", "show").stdout):
        if any(info.get("local") == address for info in link.get("addr_info", [])):
            return str(link["ifname"])
    raise HarnessError(f"{ns.name}: no interface has {address}")


def add_ipv6(sites: Sites) -> None:
    """The lab's IPv6 plan (``tunnelgate.lab.topology``) on the hosts' links; the gateways
    forward IPv6 (the internet between them stays IPv4 only)."""
    for ns, v4, v6 in (
        (sites.host_a, Sites.HOST_A, HOST_A6),
        (sites.gw_a, "10.1.0.1", GW_A_IN6),
        (sites.gw_b, "10.2.0.1", GW_B_IN6),
        (sites.host_b, Sites.HOST_B, HOST_B6),
    ):
        ns.ip("address", "add", f"{v6}/64", "dev", ifname_with(ns, v4), "nodad")
    sites.host_a.ip("-6", "route", "add", "default", "via", GW_A_IN6)
    sites.host_b.ip("-6", "route", "add", "default", "via", GW_B_IN6)
    for gw in (sites.gw_a, sites.gw_b):
        gw.run("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")


# ---------------------------------------------------------------------------------------------
# Configurations


def tunnelgate_config(sites: Sites, *aces: str) -> str:
    acl = "\n".join(aces)
    return f"""\
hostname gw-a
interface {sites.gw_a_outside}
 nameif outside
 security-level 0
 ip address {Sites.GW_A} 255.255.255.0
{acl}
route outside 0.0.0.0 0.0.0.0 192.0.2.254
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map MAP 10 match address VPN
crypto map MAP 10 set peer {Sites.GW_B}
crypto map MAP 10 set ikev2 ipsec-proposal P
crypto map MAP interface outside
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group 19
 prf sha256
crypto ikev2 enable outside
tunnel-group {Sites.GW_B} type ipsec-l2l
tunnel-group {Sites.GW_B} ipsec-attributes
 ikev2 remote-authentication pre-shared-key {PSK}
 ikev2 local-authentication pre-shared-key {PSK}
 isakmp keepalive disable
"""


def charon_v6_config() -> str:
    """One child ``v6``: 2001:db8:2::/64 (local) <-> 2001:db8:1::/64."""
    return psk_gateway_conf(
        child="v6",
        local_addr=Sites.GW_B,
        remote_addr=Sites.GW_A,
        local_ts=NET_B6,
        remote_ts=NET_A6,
        psk=PSK,
        proposals="aes256-sha256-ecp256",
        esp_proposals="aes256gcm16",
    )


def charon_dual_stack_config() -> str:
    """Two children in one connection, ``v4`` and ``v6`` (``psk_gateway_conf`` makes one)."""
    children = "".join(
        f"""
                {name} {{
                    local_ts = {local}
                    remote_ts = {remote}
                    esp_proposals = aes256gcm16
                }}"""
        for name, local, remote in (("v4", NET_B4, NET_A4), ("v6", NET_B6, NET_A6))
    )
    return textwrap.dedent(
        f"""\
        connections {{
            gw {{
                version = 2
                local_addrs = {Sites.GW_B}
                remote_addrs = {Sites.GW_A}
                proposals = aes256-sha256-ecp256
                local {{
                    auth = psk
                    id = {Sites.GW_B}
                }}
                remote {{
                    auth = psk
                    id = {Sites.GW_A}
                }}
                children {{{children}
                }}
            }}
        }}
        secrets {{
            ike-gw {{
                id-local = {Sites.GW_B}
                id-remote = {Sites.GW_A}
                secret = "{PSK}"
            }}
        }}
        """
    )


@dataclass
class Lab:
    sites: Sites
    charon: Charon
    gateway: TunnelgateDaemon

    def diagnostics(self) -> str:
        with contextlib.suppress(Exception):
            return (
                f"{self.gateway.text()}\ncounters: {counters(self.gateway)}\n"
                f"{self.gateway.show('show crypto ipsec sa')}\n{self.charon.log_tail(60)}"
            )
        return f"{self.gateway.text()}\n{self.charon.log_tail(60)}"


def bring_up(
    sites: Sites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    charon_conf: str,
    *aces: str,
) -> Lab:
    add_ipv6(sites)
    charon = start_charon(sites.gw_b, charon_conf, name="gw-b")
    gateway = TunnelgateDaemon(sites.gw_a, tunnelgate_config(sites, *aces))
    gateways.append(gateway)
    gateway.start()
    return Lab(sites, charon, gateway)


# ---------------------------------------------------------------------------------------------
# Checks


def counters(gateway: TunnelgateDaemon) -> dict[str, dict[str, int]]:
    value: dict[str, dict[str, int]] = json.loads(gateway.show("show tunnelgate counters"))
    return value


def unexpected_drops(gateway: TunnelgateDaemon) -> dict[str, int]:
    """Drops other than ``too-big-df`` (path MTU discovery of full-size TCP segments)."""
    return {k: v for k, v in counters(gateway)["drops"].items() if k != "too-big-df"}


def charon_route(lab: Lab, prefix: str) -> str:
    """charon's own route of ``prefix`` (kernel-libipsec: into ``ipsec0``, table 220)."""
    family = "-6" if ":" in prefix else "-4"
    out = lab.sites.gw_b.run("ip", family, "route", "show", "table", "all", prefix).stdout
    return next((line for line in out.splitlines() if "dev ipsec0" in line), "")


def assert_pings(lab: Lab, a: str, b: str, *, count: int = 3) -> None:
    """``count`` pings host-a -> ``b`` and host-b -> ``a``, every one answered."""
    s = lab.sites
    for src, dst in ((s.host_a, b), (s.host_b, a)):
        sent, received, out = ping(src, dst, count)
        assert (sent, received) == (count, count), f"{out}\n{lab.diagnostics()}"


def assert_v6_child(lab: Lab, child_name: str, *, charon_initiated: bool) -> None:
    """charon's child carries the IPv6 selectors, tunnelgate shows the ASA's IPv6 idents,
    charon routed tunnelgate's IPv6 prefix into ipsec0."""
    sa = lab.charon.wait_established("gw", child_name, timeout=10)
    assert sa.initiator is charon_initiated
    child = sa.installed(child_name)[0]
    assert child.local_ts == (NET_B6,) and child.remote_ts == (NET_A6,), child
    assert child.encap and child.encr_alg == "AES_GCM_16", child
    installed = [
        e for e in lab.gateway.find("ChildSaInstalled") if int(child.spi_in, 16) == e["spi_out"]
    ]
    assert len(installed) == 1, lab.gateway.text()
    assert int(child.spi_out, 16) == installed[0]["spi_in"]
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert "local ident (addr/mask/prot/port): (2001:db8:1::/64/0/0)" in ipsec, ipsec
    assert "remote ident (addr/mask/prot/port): (2001:db8:2::/64/0/0)" in ipsec, ipsec
    assert f"current_peer: {Sites.GW_B}" in ipsec, ipsec
    route = charon_route(lab, NET_A6)
    assert route, lab.sites.gw_b.run("ip", "-6", "route", "show", "table", "all").stdout
    assert f"src {GW_B_IN6}" in route, route


# ---------------------------------------------------------------------------------------------
# 1. tunnelgate initiates the IPv6 child


@pytest.mark.interop
def test_ipv6_child_tunnelgate_initiates(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways, charon_v6_config(), ACE_V6)
    # host-a's first IPv6 packet is the ACQUIRE
    sent, received, out = ping(sites.host_a, HOST_B6, 3)
    assert (sent, received) == (3, 3), f"{out}\n{lab.diagnostics()}"
    negotiations = lab.gateway.find("NegotiationStarted")
    assert len(negotiations) == 1 and negotiations[0]["how"] == "ike-sa-init", negotiations
    ike = lab.gateway.wait_event("IkeSaEstablished")[0]
    assert ike["initiator"] is True
    installed = lab.gateway.wait_event("ChildSaInstalled")
    assert len(installed) == 1 and installed[0]["udp_encapsulation"] is True, installed
    assert_pings(lab, HOST_A6, HOST_B6)
    try:
        tx, rx = tcp_transfer(sites.host_a, sites.host_b, HOST_B6, TCP_BYTES)
    except Exception as exc:
        raise AssertionError(f"TCP/IPv6 transfer failed: {exc}\n{lab.diagnostics()}") from exc
    assert tx == rx and tx.startswith(f"{TCP_BYTES} "), (tx, rx)
    assert_v6_child(lab, "v6", charon_initiated=False)
    # swanctl's own text shows the IPv6 selectors too
    listed = lab.charon.swanctl("--list-sas").stdout
    assert f"local  {NET_B6}" in listed and f"remote {NET_A6}" in listed, listed
    seen = counters(lab.gateway)
    print(f"charon: {listed}\ncharon's route: {charon_route(lab, NET_A6)}\ncounters: {seen}")
    if fast.available():  # the C fast path carried the IPv6 bulk both ways
        assert seen["io"].get("fast-sent", 0) > 100, seen
        assert seen["io"].get("fast-received", 0) > 50, seen
    assert unexpected_drops(lab.gateway) == {}, lab.diagnostics()


# ---------------------------------------------------------------------------------------------
# 2. charon initiates the IPv6 child


@pytest.mark.interop
def test_ipv6_child_charon_initiates(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways, charon_v6_config(), ACE_V6)
    lab.charon.initiate("v6", timeout=15)
    ike = lab.gateway.wait_event("IkeSaEstablished")[0]
    assert ike["initiator"] is False
    lab.gateway.wait_event("ChildSaInstalled")
    assert not lab.gateway.find("NegotiationStarted")
    assert_pings(lab, HOST_A6, HOST_B6)
    assert_v6_child(lab, "v6", charon_initiated=True)
    assert not lab.gateway.find("NegotiationStarted")  # the traffic used charon's SA
    assert unexpected_drops(lab.gateway) == {}, lab.diagnostics()


# ---------------------------------------------------------------------------------------------
# 3. Dual stack: an IPv4 and an IPv6 ACE, two child SAs in one IKE SA


def charon_one_child_both_pairs_config() -> str:
    """One child ``both`` with both selector pairs (IPv4 and IPv6 on each side)."""
    return psk_gateway_conf(
        child="both",
        local_addr=Sites.GW_B,
        remote_addr=Sites.GW_A,
        local_ts=f"{NET_B4},{NET_B6}",
        remote_ts=f"{NET_A4},{NET_A6}",
        psk=PSK,
        proposals="aes256-sha256-ecp256",
        esp_proposals="aes256gcm16",
    )


def charon_children(lab: Lab, names: tuple[str, ...]) -> list[ChildSa]:
    """charon's INSTALLED children of ``names`` in its one IKE SA, once there are two."""

    def two() -> list[ChildSa] | None:
        sas = [s for s in lab.charon.list_sas() if s.state == "ESTABLISHED"]
        if len(sas) != 1:
            return None
        children = [c for name in names for c in sas[0].installed(name)]
        return children if len(children) == 2 else None

    try:
        return wait_until(two, timeout=10, what="charon: two children in one IKE SA")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{lab.charon.list_sas()}\n{lab.diagnostics()}") from exc


@pytest.mark.interop
@pytest.mark.parametrize("charon_side", ["two-children", "one-child-both-pairs"])
def test_dual_stack_two_child_sas(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], charon_side: str
) -> None:
    """``two-children``: charon has a ``v4`` and a ``v6`` child; tunnelgate initiates (IPv4
    traffic: IKE_SA_INIT + IKE_AUTH, then IPv6 traffic: CREATE_CHILD_SA). ``one-child-both-
    pairs``: charon initiates one child proposing both pairs; tunnelgate, which keeps one child
    SA per ACE, narrows it to one pair, and the other family's traffic gets a CREATE_CHILD_SA of
    its own (charon accepts it under the same child)."""
    if charon_side == "two-children":
        lab = bring_up(sites, start_charon, gateways, charon_dual_stack_config(), ACE_V4, ACE_V6)
        names: tuple[str, ...] = ("v4", "v6")
        for target in (Sites.HOST_B, HOST_B6):
            sent, received, out = ping(sites.host_a, target, 3)
            assert (sent, received) == (3, 3), f"{out}\n{lab.diagnostics()}"
        hows = [e["how"] for e in lab.gateway.find("NegotiationStarted")]
        assert hows == ["ike-sa-init", "create-child-sa"], hows
    else:
        config = charon_one_child_both_pairs_config()
        lab = bring_up(sites, start_charon, gateways, config, ACE_V4, ACE_V6)
        names = ("both",)
        lab.charon.initiate("both", timeout=15)
        first = lab.gateway.wait_event("ChildSaInstalled")
        assert len(first) == 1, first
        narrowed = lab.charon.wait_established("gw", "both", timeout=10).installed("both")[0]
        assert (narrowed.local_ts, narrowed.remote_ts) in {
            ((NET_B4,), (NET_A4,)),
            ((NET_B6,), (NET_A6,)),
        }, narrowed  # narrowed to exactly one ACE's pair
        other = HOST_B6 if narrowed.local_ts == (NET_B4,) else Sites.HOST_B
        sent, received, out = ping(sites.host_a, other, 3)
        assert (sent, received) == (3, 3), f"{out}\n{lab.diagnostics()}"
        hows = [e["how"] for e in lab.gateway.find("NegotiationStarted")]
        assert hows == ["create-child-sa"], hows
    assert len(lab.gateway.find("IkeSaEstablished")) == 1
    installed = lab.gateway.wait_event("ChildSaInstalled", count=2)
    assert len(installed) == 2, installed
    assert_pings(lab, Sites.HOST_A, Sites.HOST_B)
    assert_pings(lab, HOST_A6, HOST_B6)
    tx, rx = tcp_transfer(sites.host_a, sites.host_b, Sites.HOST_B, TCP_BYTES // 4)
    assert tx == rx and tx.startswith(f"{TCP_BYTES // 4} "), (tx, rx)
    tx, rx = tcp_transfer(sites.host_a, sites.host_b, HOST_B6, TCP_BYTES // 4)
    assert tx == rx and tx.startswith(f"{TCP_BYTES // 4} "), (tx, rx)

    children = charon_children(lab, names)
    assert sorted((c.local_ts, c.remote_ts) for c in children) == [
        ((NET_B4,), (NET_A4,)),
        ((NET_B6,), (NET_A6,)),
    ], children
    assert {int(c.spi_in, 16) for c in children} == {e["spi_out"] for e in installed}
    assert {int(c.spi_out, 16) for c in children} == {e["spi_in"] for e in installed}
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert "local ident (addr/mask/prot/port): (10.1.0.0/255.255.255.0/0/0)" in ipsec, ipsec
    assert "local ident (addr/mask/prot/port): (2001:db8:1::/64/0/0)" in ipsec, ipsec
    assert charon_route(lab, NET_A4) and charon_route(lab, NET_A6)
    assert unexpected_drops(lab.gateway) == {}, lab.diagnostics()
