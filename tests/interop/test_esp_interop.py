"""Ping through an IKEv2 tunnel between tunnelgate and strongSwan charon, ESP by both.

Namespaces ``a`` (charon with kernel-libipsec, 203.0.113.1, inside 10.1.0.1) and ``b``
(tunnelgate, 203.0.113.2, inside 10.2.0.1). Either side initiates; tunnelgate's
``ChildSaEstablished`` keys (in the responder's order when charon initiated) drive a
userspace ``ChildSa`` between a TUN and the IKE runner's UDP 4500 socket (charon fakes a
NAT, so its ESP is UDP-encapsulated on the same port as IKE). A raw capture on ``b``'s veth
checks that no ICMP crosses the link in clear. A child SA rekey under a ping stream must lose
nothing: the old inbound SA keeps decrypting until it is deleted.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_userspace_esp import _CAPTURE
from tests.interop.conftest import StartCharon
from tests.interop.harness import Netns, end_process, topology_two_gateways
from tests.interop.test_ikev2_interop import Peer, _charon_conf

INSIDE_A, INSIDE_B = "10.1.0.1", "10.2.0.1"
TUN = "tgesp0"
PINGS = 5


@pytest.mark.interop
@pytest.mark.parametrize("initiator", ["tunnelgate", "charon"])
def test_ping_through_tunnelgate_esp_to_charon(
    netns: Netns, start_charon: StartCharon, tmp_path: Path, initiator: str
) -> None:
    gw_a, gw_b, link = topology_two_gateways(netns)
    ours = initiator == "tunnelgate"
    charon = start_charon(gw_a, _charon_conf(), name="a")
    peer = Peer(gw_b, tmp_path, initiate=ours, extra_args=["--tun", TUN, "--inner-src", INSIDE_B])
    try:
        if not ours:
            charon.initiate("gw", timeout=10)
        events = peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        charon.wait_established("gw", "gw", timeout=10)
        child = next(e for e in events if e["event"] == "ChildSaEstablished")
        assert child["initiator"] is ours
        assert child["encryption"] == "aes-gcm-256"
        capture = gw_b.popen(
            sys.executable,
            *("-c", _CAPTURE, link.b_ifname, "10"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert capture.stdout is not None
        assert capture.stdout.readline().decode().strip() == "READY"
        started = time.monotonic()
        ping = gw_b.run(
            *("ping", "-c", str(PINGS), "-i", "0.2", "-W", "2", "-I", INSIDE_B, INSIDE_A),
            timeout=15,
            check=False,
        )
        elapsed = time.monotonic() - started
        time.sleep(0.2)
        end_process(capture)
        frames = [line.split() for line in capture.stdout.read().decode().splitlines()]
    finally:
        peer.stop()
    peer.wait_for({"EspCounters"}, timeout=5)
    counters = next(e for e in peer.events if e["event"] == "EspCounters")
    rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)", ping.stdout)
    print(f"ping {elapsed:.2f} s, rtt min/avg/max ms: {rtt.groups() if rtt else None}")
    print(f"counters: {counters}")
    assert ping.returncode == 0 and f"{PINGS} received" in ping.stdout, ping.stdout + ping.stderr
    assert counters["protected"] >= PINGS and counters["unprotected"] >= PINGS, counters
    ipv4 = [f for f in frames if f[0] == "0800"]
    assert not [f for f in ipv4 if f[1] == "1"], "ICMP seen in clear on the veth"
    esp = [f for f in ipv4 if f[1] == "17" and f[4] == f[5] == "4500" and f[6] != "00000000"]
    spis = {child["spi_out"]: 0, child["spi_in"]: 0}  # ours out, charon's out
    for f in esp:
        assert f[6] in spis, f
        spis[f[6]] += 1
    assert min(spis.values()) >= PINGS, spis


REKEY_PINGS = 30


@pytest.mark.interop
def test_child_rekey_under_ping_loses_nothing(
    netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    """tunnelgate rekeys the child ~1 s into a 3 s ping stream: 30/30 replies, new SA used."""
    gw_a, gw_b, _ = topology_two_gateways(netns)
    charon = start_charon(gw_a, _charon_conf(), name="a")
    peer = Peer(
        gw_b,
        tmp_path,
        initiate=True,
        rekey_after=1.2,
        extra_args=["--tun", TUN, "--inner-src", INSIDE_B],
    )
    try:
        peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        charon.wait_established("gw", "gw", timeout=10)
        started = time.monotonic()
        ping = gw_b.run(
            *("ping", "-c", str(REKEY_PINGS), "-i", "0.1", "-W", "2", "-w", "10"),
            *("-I", INSIDE_B, INSIDE_A),
            timeout=15,
            check=False,
        )
        elapsed = time.monotonic() - started
        peer.wait_for({"ChildSaDeleted"}, timeout=5)
    finally:
        peer.stop()
    peer.wait_for({"EspCounters"}, timeout=5)
    children = [e for e in peer.events if e["event"] == "ChildSaEstablished"]
    counters = next(e for e in peer.events if e["event"] == "EspCounters")
    print(f"ping {elapsed:.2f} s: {ping.stdout.strip().splitlines()[-2:]}")
    print(f"counters: {counters}")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert f"{REKEY_PINGS} packets transmitted, {REKEY_PINGS} received" in ping.stdout
    assert len(children) == 2 and children[1]["rekeyed_spi"] == children[0]["spi_in"]
    deleted = [e["spi_in"] for e in peer.events if e["event"] == "ChildSaDeleted"]
    assert deleted == [children[0]["spi_in"]]
    assert counters["sas_installed"] == 2
    old, new = counters["per_sa"]
    assert (old["spi_in"], new["spi_in"]) == (children[0]["spi_in"], children[1]["spi_in"])
    for sa in (old, new):  # both SAs carried traffic both ways, and nothing was lost
        assert sa["protected"] > 0 and sa["unprotected"] > 0, counters
    assert old["protected"] + new["protected"] == REKEY_PINGS, counters
    assert old["unprotected"] + new["unprotected"] == REKEY_PINGS, counters
