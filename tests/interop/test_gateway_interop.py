"""The real gateway daemon (``tunnelgate run``) against strongSwan's charon, with traffic.

host-a 10.1.0.10 — gw-a (tunnelgate, 192.0.2.1) — inet — gw-b (charon, 198.51.100.2) — host-b
10.2.0.10. tunnelgate routes 10.2.0.0/24 into its TUN; charon (kernel-libipsec) routes 10.1.0.0/24
into its ``ipsec0`` TUN. charon with libipsec always fakes a NAT, so IKE floats to UDP 4500 and
ESP is UDP-encapsulated both ways (tunnelgate's NAT-T path, RFC 3948). Every test sends real
traffic between the hosts: ping both ways and a TCP transfer checked by SHA-256.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import pytest

from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    Charon,
    Sites,
    TunnelgateDaemon,
    end_process,
    ping,
    psk_gateway_conf,
    tcp_transfer,
    wait_until,
)

PSK = "tunnelgate-gateway-interop"
TCP_BYTES = 512 * 1024


@dataclass(frozen=True)
class Algorithms:
    """One row of the matrix: ASA keywords for tunnelgate, proposal strings for charon."""

    esp_encryption: str
    esp_integrity: str
    group: int
    esp_charon: str
    ike_charon_group: str
    charon_encr: str  # charon's encr-alg/encr-keysize of the child SA
    charon_integ: str  # charon's integ-alg of the child SA ("" for AEAD)


GCM_19 = Algorithms("aes-gcm-256", "null", 19, "aes256gcm16", "ecp256", "AES_GCM_16/256", "")


def tunnelgate_config(
    algs: Algorithms = GCM_19, *, keepalive: str = "isakmp keepalive disable"
) -> str:
    return f"""\
hostname gw-a
interface {{outside_if}}
 nameif outside
 security-level 0
 ip address {Sites.GW_A} 255.255.255.0
access-list VPN extended permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0
route outside 0.0.0.0 0.0.0.0 192.0.2.254
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption {algs.esp_encryption}
 protocol esp integrity {algs.esp_integrity}
crypto map MAP 10 match address VPN
crypto map MAP 10 set peer {Sites.GW_B}
crypto map MAP 10 set ikev2 ipsec-proposal P
crypto map MAP interface outside
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group {algs.group}
 prf sha256
crypto ikev2 enable outside
tunnel-group {Sites.GW_B} type ipsec-l2l
tunnel-group {Sites.GW_B} ipsec-attributes
 ikev2 remote-authentication pre-shared-key {PSK}
 ikev2 local-authentication pre-shared-key {PSK}
 {keepalive}
"""


def charon_config(algs: Algorithms = GCM_19, *, extra_child: str = "") -> str:
    return psk_gateway_conf(
        local_addr=Sites.GW_B,
        remote_addr=Sites.GW_A,
        local_ts="10.2.0.0/24",
        remote_ts="10.1.0.0/24",
        psk=PSK,
        proposals=f"aes256-sha256-{algs.ike_charon_group}",
        esp_proposals=algs.esp_charon,
        extra_child=extra_child,
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
    algs: Algorithms = GCM_19,
    *,
    args: tuple[str, ...] = (),
    keepalive: str = "isakmp keepalive disable",
    charon_child: str = "",
    prelude: str | None = None,
) -> Lab:
    charon = start_charon(sites.gw_b, charon_config(algs, extra_child=charon_child), name="gw-b")
    config = tunnelgate_config(algs, keepalive=keepalive).replace(
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


def counters(gateway: TunnelgateDaemon) -> dict[str, dict[str, int]]:
    value: dict[str, dict[str, int]] = json.loads(gateway.show("show tunnelgate counters"))
    return value


def unexpected_drops(gateway: TunnelgateDaemon) -> dict[str, int]:
    """Drops other than ``too-big-df`` (path MTU discovery of full-size TCP segments)."""
    return {k: v for k, v in counters(gateway)["drops"].items() if k != "too-big-df"}


# ---------------------------------------------------------------------------------------------
# 1. Either side initiates


@pytest.mark.interop
@pytest.mark.parametrize("initiator", ["tunnelgate", "charon"])
def test_tunnel_up_and_traffic(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], initiator: str
) -> None:
    lab = bring_up(sites, start_charon, gateways)
    started = time.monotonic()
    if initiator == "tunnelgate":  # host-a's traffic is the ACQUIRE
        sent, received, out = ping(sites.host_a, Sites.HOST_B, 3)
        assert received == sent == 3, f"{out}\n{lab.gateway.text()}"
        negotiations = lab.gateway.find("NegotiationStarted")
        assert len(negotiations) == 1 and negotiations[0]["how"] == "ike-sa-init"
    else:
        lab.charon.initiate("gw", timeout=15)
        assert not lab.gateway.find("NegotiationStarted")
    setup = time.monotonic() - started
    ike = lab.gateway.wait_event("IkeSaEstablished")[0]
    assert ike["initiator"] is (initiator == "tunnelgate")
    assert ike["algorithms"] == "aes-256/sha256/prf sha256/group 19"
    installed = lab.gateway.wait_event("ChildSaInstalled")[0]
    assert installed["udp_encapsulation"] is True  # charon + libipsec fakes a NAT
    assert installed["rekey_of"] is None
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert sa.initiator is (initiator == "charon") and sa.remote_port == "4500"
    child = sa.installed("gw")[0]
    assert child.encap and child.encr_alg == "AES_GCM_16" and child.encr_keysize == "256"
    assert int(child.spi_in, 16) == installed["spi_out"]
    assert int(child.spi_out, 16) == installed["spi_in"]
    assert_traffic(lab)
    ipsec = lab.gateway.show("show crypto ipsec sa")
    assert f"current_peer: {Sites.GW_B}" in ipsec and "NAT-T-Encaps" in ipsec, ipsec
    assert "READY" in lab.gateway.show("show crypto ikev2 sa")
    drops = unexpected_drops(lab.gateway)
    print(f"{initiator} initiated: first traffic/initiate {setup:.2f} s; drops {drops}")
    assert drops == {}, drops


# ---------------------------------------------------------------------------------------------
# 2. Algorithm matrix (tunnelgate initiates)

MATRIX = [
    pytest.param(
        Algorithms("aes-gcm-256", "null", 20, "aes256gcm16", "ecp384", "AES_GCM_16/256", ""),
        id="gcm256-ecp384",
    ),
    pytest.param(
        Algorithms(
            "aes-256",
            "sha-256",
            14,
            "aes256-sha256",
            "modp2048",
            "AES_CBC/256",
            "HMAC_SHA2_256_128",
        ),
        id="aes256-sha256-modp2048",
    ),
    pytest.param(
        Algorithms("aes", "sha-1", 19, "aes128-sha1", "ecp256", "AES_CBC/128", "HMAC_SHA1_96"),
        id="aes128-sha1-ecp256",
    ),
    pytest.param(
        Algorithms("3des", "sha-1", 14, "3des-sha1", "modp2048", "3DES_CBC/", "HMAC_SHA1_96"),
        id="3des-sha1-modp2048",
    ),
    pytest.param(
        Algorithms(
            "aes-256", "sha-256", 20, "aes256-sha256", "ecp384", "AES_CBC/256", "HMAC_SHA2_256_128"
        ),
        id="aes256-sha256-ecp384",
    ),
]


@pytest.mark.interop
@pytest.mark.parametrize("algs", MATRIX)
def test_algorithm_matrix(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], algs: Algorithms
) -> None:
    lab = bring_up(sites, start_charon, gateways, algs)
    assert_traffic(lab)
    ike = lab.gateway.wait_event("IkeSaEstablished")[0]
    assert ike["algorithms"] == f"aes-256/sha256/prf sha256/group {algs.group}"
    child = lab.gateway.wait_event("ChildSaEstablished")[0]
    assert child["encryption"] == algs.esp_encryption
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert sa.dh_group.upper().endswith(algs.ike_charon_group.upper()[-3:]), sa.dh_group
    c = sa.installed("gw")[0]
    encr, keysize = algs.charon_encr.split("/")
    assert c.encr_alg == encr and (not keysize or c.encr_keysize == keysize), c
    assert c.integ_alg == algs.charon_integ, c
    assert unexpected_drops(lab.gateway) == {}


# ---------------------------------------------------------------------------------------------
# 3. Rekeys under traffic

REKEY_PINGS = 400  # 20 s at 20 pkt/s


@pytest.mark.interop
def test_rekeys_under_traffic_lose_nothing(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    args = ("--child-lifetime-seconds", "8", "--ike-lifetime-seconds", "12")
    lab = bring_up(sites, start_charon, gateways, args=args)
    assert ping(sites.host_a, Sites.HOST_B, 1)[:2] == (1, 1)
    started = time.monotonic()
    sent, received, out = ping(sites.host_a, Sites.HOST_B, REKEY_PINGS, interval=0.05)
    elapsed = time.monotonic() - started
    tx, rx = tcp_transfer(sites.host_a, sites.host_b, Sites.HOST_B, TCP_BYTES)
    events = lab.gateway.events()
    rekeys = [e for e in events if e["event"] == "ChildSaInstalled" and e["rekey_of"]]
    ike_sas = [e for e in events if e["event"] == "IkeSaEstablished"]
    removed = [e for e in events if e["event"] == "ChildSaRemoved"]
    print(
        f"{sent} pings in {elapsed:.1f} s, {received} replies; child rekeys {len(rekeys)}, "
        f"IKE SAs {len(ike_sas)}, child SAs removed {len(removed)}"
    )
    assert (sent, received) == (REKEY_PINGS, REKEY_PINGS), f"{out}\n{lab.gateway.text()}"
    assert tx == rx, (tx, rx)
    assert len(rekeys) >= 2, lab.gateway.text()
    assert len(ike_sas) >= 2, lab.gateway.text()  # the first one and at least one IKE rekey
    installed = [e for e in events if e["event"] == "ChildSaInstalled"]
    for new in rekeys:  # each rekey replaces an SA that was installed before it
        assert new["rekey_of"] in {e["spi_in"] for e in installed if e is not new}
    sa = lab.charon.wait_established("gw", "gw", timeout=10)
    assert len(sa.installed("gw")) == 1
    assert unexpected_drops(lab.gateway) == {}


# ---------------------------------------------------------------------------------------------
# 4. charon deletes the IKE SA


@pytest.mark.interop
def test_peer_delete_then_renegotiate(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    lab = bring_up(sites, start_charon, gateways)
    assert_traffic(lab, pings=2)
    lab.charon.wait_established("gw", "gw", timeout=10)
    lab.charon.terminate(ike="gw", timeout=10)
    lab.gateway.wait_event("IkeSaDeleted", timeout=10)
    lab.gateway.wait_event("ChildSaDeleted", timeout=10)
    wait_until(
        lambda: "There are no ipsec sas" in lab.gateway.show("show crypto ipsec sa"),
        timeout=5,
        what="no ipsec SAs on tunnelgate",
    )
    assert "There are no IKEv2 SAs" in lab.gateway.show("show crypto ikev2 sa")
    assert not lab.charon.list_sas()
    assert_traffic(lab, pings=2)  # host-a's first packet renegotiates
    assert len(lab.gateway.find("NegotiationStarted")) == 2
    assert len(lab.gateway.find("IkeSaEstablished")) == 2
    lab.charon.wait_established("gw", "gw", timeout=10)


# ---------------------------------------------------------------------------------------------
# 5. Dead peer detection

#: The engine retransmits a request 5 times with a doubling timeout starting at 1 s (63 s in all,
#: whatever ``retry`` says): the test shortens the base timeout to 0.1 s (6.3 s) so the whole
#: detection fits in ~20 s. Only the retransmission base changes; DPD's threshold is the config's.
FAST_RETRANSMITS = (
    "import functools\n"
    "from tunnelgate.ike.v2 import engine as _engine\n"
    "_engine.Ikev2Engine.__init__ = functools.partialmethod(\n"
    "    _engine.Ikev2Engine.__init__, retransmit_timeout_s=0.1)\n"
)


@pytest.mark.interop
def test_dead_peer_detected(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    # the grammar's minimum: threshold <10-3600>, retry <2-10>
    keepalive = "isakmp keepalive threshold 10 retry 2"
    lab = bring_up(sites, start_charon, gateways, keepalive=keepalive, prelude=FAST_RETRANSMITS)
    assert ping(sites.host_a, Sites.HOST_B, 2)[:2] == (2, 2)
    assert ping(sites.host_b, Sites.HOST_A, 2)[:2] == (2, 2)
    assert lab.charon.proc is not None
    killed = time.monotonic()
    lab.charon.proc.kill()  # by its pid, no DELETE sent
    end_process(lab.charon.proc)
    unreachable = lab.gateway.wait_event("PeerUnreachable", timeout=30)[0]
    detected = time.monotonic() - killed
    print(f"PeerUnreachable {detected:.1f} s after charon was killed: {unreachable}")
    assert detected <= 10 + 6.3 + 3
    lab.gateway.wait_event("ChildSaRemoved", timeout=5)
    wait_until(
        lambda: "There are no ipsec sas" in lab.gateway.show("show crypto ipsec sa"),
        timeout=5,
        what="no ipsec SAs after DPD",
    )


# ---------------------------------------------------------------------------------------------
# 6. Full-size TCP segments: path MTU discovery through the gateway


@pytest.mark.interop
def test_full_size_tcp_through_path_mtu_discovery(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon]
) -> None:
    """The TUN's MTU is 1500: host-a's first full-size DF segments exceed what fits one ESP
    packet, tunnelgate answers ICMP frag-needed (from its own stack: written into the TUN, the
    kernel would drop a packet with a local source as a martian) and the transfer completes."""
    lab = bring_up(sites, start_charon, gateways)
    assert ping(sites.host_a, Sites.HOST_B, 2)[:2] == (2, 2)
    try:
        tx, rx = tcp_transfer(sites.host_a, sites.host_b, Sites.HOST_B, 256 * 1024, timeout=6)
    finally:
        seen = counters(lab.gateway)
        print(f"counters: {seen}")
    assert tx == rx and tx.startswith("262144 "), (tx, rx)
    assert seen["drops"].get("too-big-df", 0) >= 1, seen  # PMTU discovery did happen
    ipsec = lab.gateway.show("show crypto ipsec sa")
    sent = re.search(r"#PMTUs sent: (\d+)", ipsec)
    assert sent is not None and int(sent.group(1)) >= 1, ipsec
