"""Tunnels between the gateways over IPv6 (D114): `examples/lab-ipv6`.

host-a — gw-a 2001:db8:ff:a::1 — internet (IPv6) — gw-b 2001:db8:ff:b::2 — host-b

IKEv2 runs over UDP 500 on IPv6, ESP is IPv6 next header 50; both sites' IPv4 and IPv6
networks ride it. Nothing of the sites crosses the internet in clear.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest

from tests.e2e.test_lab_tunnel import captured, events, ping, show, start_capture, tcp_transfer
from tunnelgate.lab import Lab
from tunnelgate.lab.topology import GW_A_PUBLIC_V6, GW_B_PUBLIC_V6, HOST_A_V6, HOST_B_V6

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, TUN)")

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "lab-ipv6"


def up6(labs: list[Lab], tmp_path: Path) -> Lab:
    prefix = "tg6" + secrets.token_hex(3)
    lab = Lab.up(prefix, state_dir=tmp_path / prefix, config_dir=CONFIGS)
    labs.append(lab)
    return lab


def test_both_families_ride_a_tunnel_over_ipv6(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up6(make_lab, tmp_path)
    capture = start_capture(lab, 8)
    time.sleep(2)
    assert ping(lab, "host-a", "10.2.0.10", 4) == (4, 4)  # the first waits for the SA
    assert ping(lab, "host-b", HOST_A_V6, 3) == (3, 3)
    sent, received = tcp_transfer(lab, 1024 * 1024, HOST_B_V6)
    assert sent == received and sent.startswith("1048576 ")
    fields = ("ipv6.nxt", "ipv6.src", "ipv6.dst", "ip.proto")
    rows = captured(capture, tmp_path / "inet.pcap", fields)
    esp = {(row[1], row[2]) for row in rows if row[0] == "50"}
    assert esp == {(GW_A_PUBLIC_V6, GW_B_PUBLIC_V6), (GW_B_PUBLIC_V6, GW_A_PUBLIC_V6)}
    assert not any(row[3] for row in rows)  # no IPv4 at all on the internet
    assert not any("2001:db8:1:" in "\t".join(r) or "2001:db8:2:" in "\t".join(r) for r in rows)
    ipsec = show(lab, "gw-a", "show crypto ipsec sa")
    assert f"local addr: {GW_A_PUBLIC_V6}" in ipsec
    assert f"current_peer: {GW_B_PUBLIC_V6}" in ipsec
    assert "(2001:db8:1::/64/0/0)" in ipsec and "(10.1.0.0/255.255.255.0/0/0)" in ipsec
    ikev2 = show(lab, "gw-b", "show crypto ikev2 sa")
    assert GW_A_PUBLIC_V6 in ikev2 and "READY" in ikev2
    (started,) = [e for e in events(lab, "gw-a") if e["event"] == "GatewayStarted"]
    assert f"outside {GW_A_PUBLIC_V6}" in str(started["interfaces"])
    installed = [e for e in events(lab, "gw-a") if e["event"] == "ChildSaInstalled"]
    assert len(installed) == 2  # one child SA per ACE, one IKE SA
    for gw in ("gw-a", "gw-b"):
        drops = json.loads(show(lab, gw, "show tunnelgate counters"))["drops"]
        assert set(drops) <= {"too-big-df", "too-big-ipv6"}, drops
