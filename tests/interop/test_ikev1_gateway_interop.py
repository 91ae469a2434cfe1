"""The real gateway daemon (``tunnelgate run``) against strongSwan's charon over IKEv1, with
traffic.

host-a 10.1.0.10 — gw-a (tunnelgate, 192.0.2.1) — inet — gw-b (charon, 198.51.100.2) — host-b
10.2.0.10 (the topology of ``test_gateway_interop.py``). charon with kernel-libipsec always fakes
a NAT (its NAT-D never matches), so main mode floats to UDP 4500 after MM4 (RFC 3947 §4), quick
mode negotiates the UDP-encapsulated tunnel mode and ESP travels in UDP 4500 both ways.

IKE: aes-256 / sha / group 5 (modp1536: IKEv1 policies offer groups 1, 2 and 5), pre-shared
key, lifetime 3600 s (as responder the ASA rule wants our lifetime <= the offer's: charon
offers rekey_time + over_time = 15840 s); ESP: esp-aes-256 esp-sha-hmac; PFS (where tested)
group 5, the strongest ``set pfs`` allows with IKEv1 transform sets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    Charon,
    CharonSettings,
    HarnessError,
    Sites,
    TunnelgateDaemon,
    end_process,
    ping,
    psk_gateway_conf,
    tcp_transfer,
    wait_until,
)
from tests.interop.test_gateway_interop import counters, unexpected_drops

PSK = "tunnelgate-ikev1-interop"
TCP_BYTES = 256 * 1024


def tunnelgate_config(
    *, pfs: bool = False, keepalive: str = "isakmp keepalive disable", aggressive: bool = False
) -> str:
    return f"""\
hostname gw-a
interface {{outside_if}}
 nameif outside
 security-level 0
 ip address {Sites.GW_A} 255.255.255.0
access-list VPN extended permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0
route outside 0.0.0.0 0.0.0.0 192.0.2.254
crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac
crypto map MAP 10 match address VPN
crypto map MAP 10 set peer {Sites.GW_B}
crypto map MAP 10 set ikev1 transform-set TS
{"crypto map MAP 10 set pfs group5" if pfs else ""}
{"crypto map MAP 10 set ikev1 phase1-mode aggressive" if aggressive else ""}
crypto map MAP interface outside
crypto ikev1 policy 10
 authentication pre-share
 encryption aes-256
 hash sha
 group 5
 lifetime 3600
crypto ikev1 enable outside
tunnel-group {Sites.GW_B} type ipsec-l2l
tunnel-group {Sites.GW_B} ipsec-attributes
 ikev1 pre-shared-key {PSK}
 {keepalive}
"""


def charon_config(*, pfs: bool = False, aggressive: bool = False) -> str:
    return psk_gateway_conf(
        aggressive=aggressive,
        version=1,
        local_addr=Sites.GW_B,
        remote_addr=Sites.GW_A,
        local_ts="10.2.0.0/24",
        remote_ts="10.1.0.0/24",
        psk=PSK,
        proposals="aes256-sha1-modp1536",
        esp_proposals="aes256-sha1-modp1536" if pfs else "aes256-sha1",
    )


@dataclass
class Lab:
    sites: Sites
    charon: Charon
    gateway: TunnelgateDaemon


def bring_up(
    sites: Sites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    *,
    pfs: bool = False,
    args: tuple[str, ...] = (),
    keepalive: str = "isakmp keepalive disable",
    prelude: str | None = None,
    aggressive: bool = False,
) -> Lab:
    charon = start_charon(
        sites.gw_b,
        charon_config(pfs=pfs, aggressive=aggressive),
        name="gw-b",
        settings=CharonSettings(aggressive_psk_responder=aggressive),
    )
    config = tunnelgate_config(pfs=pfs, keepalive=keepalive, aggressive=aggressive).replace(
        "{outside_if}", sites.gw_a_outside
    )
    gateway = TunnelgateDaemon(sites.gw_a, config, args=args, python_prelude=prelude)
    gateways.append(gateway)
    gateway.start()
    return Lab(sites, charon, gateway)


def assert_traffic(lab: Lab, *, pings: int = 3) -> None:
    """Ping both ways and one TCP transfer host-a -> host-b, SHA-256 checked."""
    s = lab.sites
    sent, received, out = ping(s.host_a, Sites.HOST_B, pings)
    assert (sent, received) == (pings, pings), f"{out}\n{lab.gateway.text()}"
    sent, received, out = ping(s.host_b, Sites.HOST_A, pings)
    assert (sent, received) == (pings, pings), f"{out}\n{lab.gateway.text()}"
    try:
        tx, rx = tcp_transfer(s.host_a, s.host_b, Sites.HOST_B, TCP_BYTES)
    except Exception as exc:
        raise AssertionError(
            f"TCP transfer failed: {exc}\n{lab.gateway.text()}\n"
            f"counters: {counters(lab.gateway)}\n{lab.gateway.show('show crypto ipsec sa')}"
        ) from exc
    assert tx == rx and tx.startswith(f"{TCP_BYTES} "), (tx, rx)


def warm_up(lab: Lab) -> None:
    """host-a's traffic brings the tunnel up; nothing is lost: the first packets wait until
    charon has installed its SA after QM3 (D87)."""
    sent, received, out = ping(lab.sites.host_a, Sites.HOST_B, 3)
    assert (sent, received) == (3, 3), f"{out}\n{lab.gateway.text()}"


# ---------------------------------------------------------------------------------------------
# 1. Either side initiates; quick mode with and without PFS


@pytest.mark.interop
@pytest.mark.parametrize(
    ("initiator", "pfs"),
    [("tunnelgate", False), ("charon", False), ("tunnelgate", True), ("charon", True)],
    ids=["tunnelgate-initiates", "charon-initiates", "tunnelgate-initiates-pfs", "charon-pfs"],
)
def test_tunnel_up_and_traffic(
    sites: Sites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    initiator: str,
    pfs: bool,
) -> None:
    lab = bring_up(sites, start_charon, gateways, pfs=pfs)
    started = time.monotonic()
    if initiator == "tunnelgate":  # host-a's traffic is the ACQUIRE
        warm_up(lab)
        negotiations = lab.gateway.find("NegotiationStarted")
        assert len(negotiations) == 1 and negotiations[0]["how"] == "main-mode"
    else:
        try:
            lab.charon.initiate("gw", timeout=15)
        except HarnessError as exc:
            raise AssertionError(f"{exc}\n{lab.gateway.text()}") from exc
        assert not lab.gateway.find("NegotiationStarted")
    setup = time.monotonic() - started
    phase1 = lab.gateway.wait_event("Ikev1SaEstablished")[0]
    assert phase1["initiator"] is (initiator == "tunnelgate")
    assert phase1["algorithms"] == "aes-256/sha/group 5/pre-share"
    assert phase1["peer"] == [Sites.GW_B, 4500]  # floated (RFC 3947 §4)
    child = lab.gateway.wait_event("ChildSaEstablished")[0]
    assert child["udp_encapsulation"] is True and child["encryption"] == "aes-256"
    installed = lab.gateway.wait_event("ChildSaInstalled")[0]
    assert installed["udp_encapsulation"] is True and installed["peer"] == [Sites.GW_B, 4500]
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert sa.version == "1" or sa.version.upper() == "IKEV1", sa.version
    assert sa.initiator is (initiator == "charon") and sa.remote_port == "4500"
    c = sa.installed("gw")[0]
    assert c.encap and c.encr_alg == "AES_CBC" and c.encr_keysize == "256", c
    assert c.integ_alg == "HMAC_SHA1_96", c
    assert int(c.spi_in, 16) == installed["spi_out"]
    assert int(c.spi_out, 16) == installed["spi_in"]
    assert bool(c.raw.get("dh-group")) is pfs, c.raw
    assert_traffic(lab)
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert f"current_peer: {Sites.GW_B}" in ipsec and "NAT-T-Encaps" in ipsec, ipsec
    assert "MM_ACTIVE" in lab.gateway.show("show crypto isakmp sa")
    drops = unexpected_drops(lab.gateway)
    print(f"{initiator} initiated (pfs {pfs}): up in {setup:.2f} s; drops {drops}")
    assert drops == {}, drops


@pytest.mark.interop
@pytest.mark.parametrize("initiator", ["tunnelgate", "charon"])
def test_aggressive_mode_both_ways(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], initiator: str
) -> None:
    lab = bring_up(sites, start_charon, gateways, aggressive=True)
    if initiator == "tunnelgate":
        warm_up(lab)
    else:
        try:
            lab.charon.initiate("gw", timeout=15)
        except HarnessError as exc:
            raise AssertionError(f"{exc}\n{lab.gateway.text()}") from exc
    phase1 = lab.gateway.wait_event("Ikev1SaEstablished")[0]
    assert phase1["initiator"] is (initiator == "tunnelgate")
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert sa.initiator is (initiator == "charon")
    assert_traffic(lab)
    assert unexpected_drops(lab.gateway) == {}


# ---------------------------------------------------------------------------------------------
# 2. charon deletes (swanctl --terminate): Delete payloads for the IPsec and the ISAKMP SA


@pytest.mark.interop
def test_peer_delete_then_renegotiate(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways)
    warm_up(lab)
    lab.charon.wait_established("gw", "gw", timeout=10)
    lab.charon.terminate(ike="gw", timeout=10)
    lab.gateway.wait_event("Ikev1SaDeleted", timeout=10)
    lab.gateway.wait_event("ChildSaDeleted", timeout=10)
    wait_until(
        lambda: "There are no ipsec sas" in lab.gateway.show("show crypto ipsec sa"),
        timeout=5,
        what="no ipsec SAs on tunnelgate",
    )
    assert not lab.charon.list_sas()
    warm_up(lab)  # host-a's first packet renegotiates
    assert_traffic(lab, pings=2)
    assert [e["how"] for e in lab.gateway.find("NegotiationStarted")] == ["main-mode"] * 2
    assert len(lab.gateway.find("Ikev1SaEstablished")) == 2
    lab.charon.wait_established("gw", "gw", timeout=10)


# ---------------------------------------------------------------------------------------------
# 3. Dead peer detection (RFC 3706 R-U-THERE over UDP 4500)

#: R-U-THERE is repeated every ``retry`` seconds, ``retransmit_tries`` (5) times: the test lowers
#: the tries to 2 so detection takes threshold 10 s + 3 x 2 s.
FEWER_TRIES = (
    "import functools\n"
    "from tunnelgate.ike.v1 import engine as _engine\n"
    "_engine.Ikev1Engine.__init__ = functools.partialmethod(\n"
    "    _engine.Ikev1Engine.__init__, retransmit_tries=2)\n"
)


@pytest.mark.interop
def test_dead_peer_detected(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    keepalive = "isakmp keepalive threshold 10 retry 2"  # the grammar's minimum
    lab = bring_up(sites, start_charon, gateways, keepalive=keepalive, prelude=FEWER_TRIES)
    warm_up(lab)
    assert ping(sites.host_b, Sites.HOST_A, 2)[:2] == (2, 2)
    assert lab.charon.proc is not None
    killed = time.monotonic()
    lab.charon.proc.kill()  # by its pid, no Delete sent
    end_process(lab.charon.proc)
    unreachable = lab.gateway.wait_event("PeerUnreachable", timeout=30)[0]
    detected = time.monotonic() - killed
    print(f"PeerUnreachable {detected:.1f} s after charon was killed: {unreachable}")
    assert detected <= 10 + 3 * 2 + 4
    wait_until(
        lambda: "There are no ipsec sas" in lab.gateway.show("show crypto ipsec sa"),
        timeout=5,
        what="no ipsec SAs after DPD",
    )


# ---------------------------------------------------------------------------------------------
# 4. Rekey under traffic: a new quick mode before the lifetime ends, no packet lost

REKEY_PINGS = 300  # 15 s at 20 pkt/s


@pytest.mark.interop
def test_rekeys_under_traffic_lose_nothing(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways, args=("--child-lifetime-seconds", "8"))
    warm_up(lab)
    started = time.monotonic()
    sent, received, out = ping(sites.host_a, Sites.HOST_B, REKEY_PINGS, interval=0.05)
    elapsed = time.monotonic() - started
    tx, rx = tcp_transfer(sites.host_a, sites.host_b, Sites.HOST_B, TCP_BYTES)
    events = lab.gateway.events()
    rekeys = [e for e in events if e["event"] == "ChildSaInstalled" and e["rekey_of"]]
    removed = [e for e in events if e["event"] == "ChildSaRemoved"]
    print(
        f"{sent} pings in {elapsed:.1f} s, {received} replies; quick-mode rekeys {len(rekeys)}, "
        f"IPsec SAs removed {len(removed)}"
    )
    assert (sent, received) == (REKEY_PINGS, REKEY_PINGS), f"{out}\n{lab.gateway.text()}"
    assert tx == rx, (tx, rx)
    assert len(rekeys) >= 1, lab.gateway.text()
    assert all(e["udp_encapsulation"] for e in rekeys)
    assert len(lab.gateway.find("Ikev1SaEstablished")) == 1  # all on the one ISAKMP SA
    assert unexpected_drops(lab.gateway) == {}
