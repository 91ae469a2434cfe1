"""Tunnels between the gateways over IPv6 (D114): the real daemon against strongSwan's charon.

host-a 10.1.0.10, 2001:db8:1::10 — gw-a (tunnelgate, 2001:db8:ff:a::1) — inet (IPv6 router
2001:db8:ff:a::fe / 2001:db8:ff:b::fe) — gw-b (charon, 2001:db8:ff:b::2) — host-b 10.2.0.10,
2001:db8:2::10

The sites of ``harness.topology_sites`` keep their IPv4 addresses (the internet routes IPv4
too), but the tunnel is configured between the gateways' IPv6 addresses: tunnelgate's crypto map
``set peer 2001:db8:ff:b::2`` and its tunnel group of that name, charon's ``local_addrs`` /
``remote_addrs``. charon with kernel-libipsec always fakes a NAT, so IKE floats to UDP 4500
over IPv6 and ESP is UDP-encapsulated there both ways (tunnelgate reads its IPv6 4500 socket in
Python, with UDP_GRO). The router's nftables counters show what really crossed the internet:
IKE and ESP-in-UDP over IPv6, no IPv4 at all, no inner address in clear. Every case sends real
traffic between the hosts.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass

import pytest

from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    Charon,
    HarnessError,
    Namespace,
    Sites,
    TunnelgateDaemon,
    ping,
    psk_gateway_conf,
    run,
    tcp_transfer,
    wait_until,
)

PSK = "tunnelgate-ipv6-outer-interop"
TCP_BYTES = 512 * 1024

GW_A6, GW_B6 = "2001:db8:ff:a::1", "2001:db8:ff:b::2"  # the gateways on the IPv6 internet
INET_A6, INET_B6 = "2001:db8:ff:a::fe", "2001:db8:ff:b::fe"  # the router between them
NET_A4, NET_B4 = "10.1.0.0/24", "10.2.0.0/24"
NET_A6, NET_B6 = "2001:db8:1::/64", "2001:db8:2::/64"
HOST_A6, HOST_B6 = "2001:db8:1::10", "2001:db8:2::10"
GW_A_IN6, GW_B_IN6 = "2001:db8:1::1", "2001:db8:2::1"

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


#: The router's view of the internet: what it forwards, counted (``inet_counters``).
INET_COUNTERS = """\
table inet tgcount {
    chain forward {
        type filter hook forward priority 0; policy accept;
        meta nfproto ipv4 counter comment "ipv4"
        ip6 saddr { 2001:db8:1::/64, 2001:db8:2::/64 } counter comment "inner6-src"
        ip6 daddr { 2001:db8:1::/64, 2001:db8:2::/64 } counter comment "inner6-dst"
        meta nfproto ipv6 udp dport 500 counter comment "ike500"
        meta nfproto ipv6 udp sport 4500 udp dport 4500 counter comment "udp4500"
        meta nfproto ipv6 meta l4proto esp counter comment "esp"
    }
}
"""


def add_ipv6(sites: Sites) -> None:
    """The IPv6 internet (2001:db8:ff:a::/64, 2001:db8:ff:b::/64, routed by ``inet``), the
    sites' IPv6 networks, IPv6 forwarding, and the router's counters.

    Each interface also gets a link-local address without DAD: Linux sends a neighbour
    solicitation only from a link-local address that is no longer tentative, and the kernel's
    own ones stay tentative for up to ~2 s after the veths came up; until then the first IKE
    packets would die in an INCOMPLETE neighbour entry of the router."""
    outer = (
        (sites.gw_a, Sites.GW_A, f"{GW_A6}/64", "fe80::a:1/64"),
        (sites.inet, "192.0.2.254", f"{INET_A6}/64", "fe80::a:fe/64"),
        (sites.inet, "198.51.100.254", f"{INET_B6}/64", "fe80::b:fe/64"),
        (sites.gw_b, Sites.GW_B, f"{GW_B6}/64", "fe80::b:2/64"),
    )
    inner = (
        (sites.host_a, Sites.HOST_A, f"{HOST_A6}/64", "fe80::1:10/64"),
        (sites.gw_a, "10.1.0.1", f"{GW_A_IN6}/64", "fe80::1:1/64"),
        (sites.gw_b, "10.2.0.1", f"{GW_B_IN6}/64", "fe80::2:1/64"),
        (sites.host_b, Sites.HOST_B, f"{HOST_B6}/64", "fe80::2:10/64"),
    )
    for ns, v4, v6, link_local in (*outer, *inner):
        ifname = ifname_with(ns, v4)
        for address in (link_local, v6):
            ns.ip("address", "add", address, "dev", ifname, "nodad")
    sites.gw_a.ip("-6", "route", "add", "default", "via", INET_A6)
    sites.gw_b.ip("-6", "route", "add", "default", "via", INET_B6)
    sites.host_a.ip("-6", "route", "add", "default", "via", GW_A_IN6)
    sites.host_b.ip("-6", "route", "add", "default", "via", GW_B_IN6)
    for ns in (sites.gw_a, sites.inet, sites.gw_b):
        ns.run("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
    _nft(sites.inet, INET_COUNTERS)


def _nft(ns: Namespace, ruleset: str) -> None:
    """Load ``ruleset`` into ``ns`` (``nft -f /dev/stdin``)."""
    run(ns.argv(["nft", "-f", "/dev/stdin"]), input_text=ruleset, timeout=10)


def inet_counters(sites: Sites) -> dict[str, int]:
    """Packets the router forwarded, by the comment of the counting rule."""
    listed = json.loads(sites.inet.run("nft", "-j", "list", "table", "inet", "tgcount").stdout)
    out: dict[str, int] = {}
    for item in listed.get("nftables", []):
        rule = item.get("rule")
        if rule and "comment" in rule:
            out[rule["comment"]] = sum(
                e["counter"]["packets"] for e in rule["expr"] if "counter" in e
            )
    return out


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
 ipv6 address {GW_A6}/64
 ipv6 enable
{acl}
route outside 0.0.0.0 0.0.0.0 192.0.2.254
ipv6 route outside ::/0 {INET_A6}
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map MAP 10 match address VPN
crypto map MAP 10 set peer {GW_B6}
crypto map MAP 10 set ikev2 ipsec-proposal P
crypto map MAP interface outside
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group 19
 prf sha256
crypto ikev2 enable outside
tunnel-group {GW_B6} type ipsec-l2l
tunnel-group {GW_B6} ipsec-attributes
 ikev2 remote-authentication pre-shared-key {PSK}
 ikev2 local-authentication pre-shared-key {PSK}
 isakmp keepalive disable
"""


def charon_config(child: str, local_ts: str, remote_ts: str) -> str:
    """One connection ``gw`` between the gateways' IPv6 addresses, one child."""
    return psk_gateway_conf(
        child=child,
        local_addr=GW_B6,
        remote_addr=GW_A6,
        local_ts=local_ts,
        remote_ts=remote_ts,
        psk=PSK,
        proposals="aes256-sha256-ecp256",
        esp_proposals="aes256gcm16",
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
                f"inet: {inet_counters(self.sites)}\n"
                f"{self.gateway.show('show crypto ipsec sa')}\n{self.charon.log_tail(60)}"
            )
        return f"{self.gateway.text()}\n{self.charon.log_tail(60)}"


def bring_up(
    sites: Sites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    charon_conf: str,
    *aces: str,
    args: tuple[str, ...] = (),
) -> Lab:
    add_ipv6(sites)
    charon = start_charon(sites.gw_b, charon_conf, name="gw-b")
    gateway = TunnelgateDaemon(sites.gw_a, tunnelgate_config(sites, *aces), args=args)
    gateways.append(gateway)
    gateway.start()
    return Lab(sites, charon, gateway)


# ---------------------------------------------------------------------------------------------
# Checks


def counters(gateway: TunnelgateDaemon) -> dict[str, dict[str, int]]:
    value: dict[str, dict[str, int]] = json.loads(gateway.show("show tunnelgate counters"))
    return value


def unexpected_drops(gateway: TunnelgateDaemon) -> dict[str, int]:
    """Drops other than path MTU discovery of full-size segments (IPv4 DF, IPv6 too big)."""
    expected = {"too-big-df", "too-big-ipv6"}
    return {k: v for k, v in counters(gateway)["drops"].items() if k not in expected}


def assert_pings(lab: Lab, a: str, b: str, *, count: int = 3) -> None:
    """``count`` pings host-a -> ``b`` and host-b -> ``a``, every one answered."""
    s = lab.sites
    for src, dst in ((s.host_a, b), (s.host_b, a)):
        sent, received, out = ping(src, dst, count)
        assert (sent, received) == (count, count), f"{out}\n{lab.diagnostics()}"


def assert_ipv6_outer(lab: Lab, *, charon_initiated: bool, child_name: str) -> None:
    """Both ends name each other by their IPv6 addresses, ESP in UDP 4500 over IPv6, and
    the router forwarded IKE and ESP-in-UDP over IPv6 only, no inner address in clear."""
    sa = lab.charon.wait_established("gw", child_name, timeout=10)
    assert sa.initiator is charon_initiated
    assert (sa.local_host, sa.remote_host) == (GW_B6, GW_A6), sa
    assert sa.remote_port == "4500" and sa.local_port == "4500", sa  # floated (fake NAT)
    child = sa.installed(child_name)[0]
    assert child.encap and child.encr_alg == "AES_GCM_16", child
    installed = [
        e for e in lab.gateway.find("ChildSaInstalled") if int(child.spi_in, 16) == e["spi_out"]
    ]
    assert len(installed) == 1, lab.gateway.text()
    assert int(child.spi_out, 16) == installed[0]["spi_in"]
    assert installed[0]["udp_encapsulation"] is True, installed
    assert installed[0]["peer"] == [GW_B6, 4500], installed
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert f"local addr: {GW_A6}" in ipsec, ipsec
    assert f"current_peer: {GW_B6}" in ipsec, ipsec
    assert "NAT-T-Encaps" in ipsec, ipsec
    ikev2 = lab.gateway.show("show crypto ikev2 sa")
    assert GW_B6 in ikev2 and "READY" in ikev2, ikev2
    seen = inet_counters(lab.sites)
    assert seen["ipv4"] == 0, seen  # nothing of the tunnel (nor in clear) over IPv4
    assert seen["inner6-src"] == 0 and seen["inner6-dst"] == 0, seen
    assert seen["ike500"] >= 2, seen  # IKE_SA_INIT both ways on UDP 500 over IPv6
    assert seen["udp4500"] >= 10, seen  # IKE_AUTH and the ESP of the traffic
    assert seen["esp"] == 0, seen  # the fake NAT: no native ESP


# ---------------------------------------------------------------------------------------------
# 1. tunnelgate initiates over IPv6, IPv4 inside


@pytest.mark.interop
def test_ipv4_inside_tunnelgate_initiates(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways, charon_config("gw", NET_B4, NET_A4), ACE_V4)
    sent, received, out = ping(sites.host_a, Sites.HOST_B, 3)  # the first one is the ACQUIRE
    assert (sent, received) == (3, 3), f"{out}\n{lab.diagnostics()}"
    negotiations = lab.gateway.find("NegotiationStarted")
    assert len(negotiations) == 1 and negotiations[0]["how"] == "ike-sa-init", negotiations
    assert negotiations[0]["peer"] == GW_B6, negotiations
    ike = lab.gateway.wait_event("IkeSaEstablished")[0]
    assert ike["initiator"] is True
    assert_pings(lab, Sites.HOST_A, Sites.HOST_B)
    try:
        tx, rx = tcp_transfer(sites.host_a, sites.host_b, Sites.HOST_B, TCP_BYTES)
    except Exception as exc:
        raise AssertionError(f"TCP transfer failed: {exc}\n{lab.diagnostics()}") from exc
    assert tx == rx and tx.startswith(f"{TCP_BYTES} "), (tx, rx)
    assert_ipv6_outer(lab, charon_initiated=False, child_name="gw")
    child = lab.charon.wait_established("gw", "gw", timeout=5).installed("gw")[0]
    assert child.local_ts == (NET_B4,) and child.remote_ts == (NET_A4,), child
    listed = lab.charon.swanctl("--list-sas").stdout
    assert f"local  '{GW_B6}' @ {GW_B6}[4500]" in listed, listed
    assert f"remote '{GW_A6}' @ {GW_A6}[4500]" in listed and "TUNNEL-in-UDP" in listed, listed
    print(f"charon: {listed}\ninet: {inet_counters(sites)}\ncounters: {counters(lab.gateway)}")
    print(lab.gateway.show("show crypto ipsec sa"))
    assert unexpected_drops(lab.gateway) == {}, lab.diagnostics()


# ---------------------------------------------------------------------------------------------
# 2. charon initiates over IPv6, IPv6 inside


@pytest.mark.interop
def test_ipv6_inside_charon_initiates(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways, charon_config("v6", NET_B6, NET_A6), ACE_V6)
    lab.charon.initiate("v6", timeout=15)
    ike = lab.gateway.wait_event("IkeSaEstablished")[0]
    assert ike["initiator"] is False
    lab.gateway.wait_event("ChildSaInstalled")
    assert_pings(lab, HOST_A6, HOST_B6)
    try:  # IPv6 in IPv6: full-size segments meet the tunnel's IPv6 MTU (packet too big)
        tx, rx = tcp_transfer(sites.host_b, sites.host_a, HOST_A6, TCP_BYTES // 2)
    except Exception as exc:
        raise AssertionError(f"TCP/IPv6 transfer failed: {exc}\n{lab.diagnostics()}") from exc
    assert tx == rx and tx.startswith(f"{TCP_BYTES // 2} "), (tx, rx)
    assert not lab.gateway.find("NegotiationStarted")  # the traffic used charon's SA
    assert_ipv6_outer(lab, charon_initiated=True, child_name="v6")
    child = lab.charon.wait_established("gw", "v6", timeout=5).installed("v6")[0]
    assert child.local_ts == (NET_B6,) and child.remote_ts == (NET_A6,), child
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert "local ident (addr/mask/prot/port): (2001:db8:1::/64/0/0)" in ipsec, ipsec
    assert "remote ident (addr/mask/prot/port): (2001:db8:2::/64/0/0)" in ipsec, ipsec
    assert unexpected_drops(lab.gateway) == {}, lab.diagnostics()


# ---------------------------------------------------------------------------------------------
# 3. Child SA rekeys under a ping flow over IPv6 outer

REKEY_PINGS = 240  # 12 s at 20 pkt/s
CHILD_LIFETIME = "6"  # tunnelgate rekeys with 5-15 % of it left: ~5.3 s after install


@pytest.mark.interop
def test_child_rekeys_under_traffic_lose_nothing(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    """charon rekeys the child (``swanctl --rekey``) a few seconds into the flow, tunnelgate
    rekeys it on its short lifetime: not one of the pings is lost."""
    args = ("--child-lifetime-seconds", CHILD_LIFETIME)
    conf = charon_config("gw", NET_B4, NET_A4)
    lab = bring_up(sites, start_charon, gateways, conf, ACE_V4, args=args)
    assert ping(sites.host_a, Sites.HOST_B, 1)[:2] == (1, 1), lab.diagnostics()
    first = lab.charon.wait_established("gw", "gw", timeout=10).installed("gw")[0]
    result: list[tuple[int, int, str]] = []
    flow = threading.Thread(
        target=lambda: result.append(ping(sites.host_a, Sites.HOST_B, REKEY_PINGS, interval=0.05))
    )
    started = time.monotonic()
    flow.start()
    try:
        time.sleep(2.0)
        lab.charon.rekey(child="gw")

        def replaced() -> bool:
            sa = lab.charon.ike_sa("gw")
            return sa is not None and any(c.spi_in != first.spi_in for c in sa.installed("gw"))

        wait_until(replaced, timeout=5, what="charon: the rekeyed child")
    finally:
        flow.join(timeout=REKEY_PINGS * 0.05 + 30)
    elapsed = time.monotonic() - started
    assert result, "the ping flow did not finish"
    sent, received, out = result[0]
    events = lab.gateway.events()
    rekeys = [e for e in events if e["event"] == "ChildSaInstalled" and e["rekey_of"]]
    removed = [e for e in events if e["event"] == "ChildSaRemoved"]
    print(
        f"{sent} pings in {elapsed:.1f} s, {received} replies; child rekeys {len(rekeys)}, "
        f"child SAs removed {len(removed)}; inet {inet_counters(sites)}"
    )
    assert (sent, received) == (REKEY_PINGS, REKEY_PINGS), f"{out}\n{lab.diagnostics()}"
    assert len(rekeys) >= 2, lab.diagnostics()  # charon's and (at least) one of tunnelgate's
    log = lab.charon.log()  # both sides started a rekey (REKEY_SA in a CREATE_CHILD_SA)
    assert re.search(r"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\)", log), log
    assert re.search(r"parsed CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\)", log), log
    installed = [e for e in events if e["event"] == "ChildSaInstalled"]
    for new in rekeys:  # each rekey replaces an SA that was installed before it, over IPv6
        assert new["rekey_of"] in {e["spi_in"] for e in installed if e is not new}
        assert new["peer"] == [GW_B6, 4500], new
    assert len(lab.gateway.find("IkeSaEstablished")) == 1  # child rekeys only
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert len(sa.installed("gw")) == 1
    assert (sa.local_host, sa.remote_host) == (GW_B6, GW_A6), sa
    assert_pings(lab, Sites.HOST_A, Sites.HOST_B, count=2)  # the newest SA carries both ways
    seen = inet_counters(sites)
    assert seen["ipv4"] == 0 and seen["inner6-src"] == 0 and seen["esp"] == 0, seen
    assert unexpected_drops(lab.gateway) == {}, lab.diagnostics()
