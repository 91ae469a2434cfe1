"""IPv6 between the sites, carried through the lab's IPv4 tunnel (D113).

host-a 2001:db8:1::10 — gw-a — internet (IPv4 only) — gw-b — host-b 2001:db8:2::10

The example configurations protect 2001:db8:1::/64 <-> 2001:db8:2::/64 next to the IPv4
networks: IPv6 traffic brings up a child SA of its own (IPv6 traffic selectors), pings and a
TCP transfer get through, `show crypto ipsec sa` prints the IPv6 identities as the ASA
does, and nothing of it crosses the internet in clear.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.e2e.test_lab_tunnel import (
    captured,
    events,
    ping,
    show,
    start_capture,
    tcp_transfer,
    up,
)
from tunnelgate.esp import fast
from tunnelgate.lab import Lab
from tunnelgate.lab.topology import HOST_A_V6, HOST_B_V6

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, TUN)")


@pytest.mark.parametrize("nat", [False, True], ids=["native-esp", "nat-t"])
def test_ipv6_between_the_sites_rides_the_ipv4_tunnel(
    make_lab: list[Lab], tmp_path: Path, nat: bool
) -> None:
    lab = up(make_lab, tmp_path, nat=nat)
    assert ping(lab, "host-a", HOST_B_V6, 5) == (5, 5)  # the first waits for the SA
    assert ping(lab, "host-b", HOST_A_V6, 3) == (3, 3)
    sent, received = tcp_transfer(lab, 4 * 1024 * 1024, HOST_B_V6)
    assert sent == received and sent.startswith("4194304 ")
    assert ping(lab, "host-a", "10.2.0.10", 3) == (3, 3)  # IPv4 alongside: an SA of its own
    ipsec = show(lab, "gw-a", "show crypto ipsec sa")
    assert "local ident (addr/mask/prot/port): (2001:db8:1::/64/0/0)" in ipsec
    assert "remote ident (addr/mask/prot/port): (2001:db8:2::/64/0/0)" in ipsec
    assert "local ident (addr/mask/prot/port): (10.1.0.0/255.255.255.0/0/0)" in ipsec
    installed = [e for e in events(lab, "gw-a") if e["event"] == "ChildSaInstalled"]
    assert len(installed) == 2  # one child SA per ACE: IPv6 and IPv4
    if fast.available():  # the C fast path carried the IPv6 bulk both ways (D113)
        io_a = json.loads(show(lab, "gw-a", "show tunnelgate counters"))["io"]
        io_b = json.loads(show(lab, "gw-b", "show tunnelgate counters"))["io"]
        assert io_a["fast-sent"] > 2000 and io_b["fast-received"] > 2000
    for gw in ("gw-a", "gw-b"):
        counters = json.loads(show(lab, gw, "show tunnelgate counters"))
        # TCP over IPv6 learns the path MTU from the kernel's own "packet too big" (the
        # TUN's IPv6 MTU fits every transform): the gateway drops nothing
        assert set(counters["drops"]) <= {"too-big-df"}, counters["drops"]


def test_no_clear_ipv6_on_the_internet(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path)
    capture = start_capture(lab, 6)
    time.sleep(2)
    assert ping(lab, "host-a", HOST_B_V6, 5) == (5, 5)
    fields = ("ip.proto", "ipv6.src", "ipv6.dst")
    rows = captured(capture, tmp_path / "inet6.pcap", fields)
    protocols = {row[0] for row in rows}
    assert "50" in protocols  # ESP went by
    # the namespaces' own link-local chatter may pass; nothing of the sites' IPv6 does
    assert not any("2001:db8:" in "\t".join(row) for row in rows)
