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
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_lab_tunnel import events, ping, show, up
from tunnelgate.esp import fast
from tunnelgate.lab import Lab
from tunnelgate.lab.topology import HOST_A_V6, HOST_B_V6

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, TUN)")

SERVER6 = """
import hashlib, socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("2001:db8:2::10", 5006)); s.listen(1); s.settimeout(20)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(20); h = hashlib.sha256(); n = 0
while chunk := c.recv(65536):
    h.update(chunk); n += len(chunk)
print(n, h.hexdigest(), flush=True)
"""

CLIENT6 = """
import hashlib, random, socket, sys
size = int(sys.argv[1]); data = random.Random(11).randbytes(size)
c = socket.create_connection(("2001:db8:2::10", 5006), timeout=20)
c.sendall(data); c.close()
print(size, hashlib.sha256(data).hexdigest(), flush=True)
"""


def tcp6_transfer(lab: Lab, size: int) -> tuple[str, str]:
    """``size`` bytes host-a -> host-b over TCP/IPv6; (sent, received) "bytes sha256"."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.namespace("host-b"), sys.executable, "-c", SERVER6],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "listening"
        sent = lab.exec("host-a", [sys.executable, "-c", CLIENT6, str(size)], timeout=60)
        assert sent.returncode == 0, sent.stderr
        received, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return sent.stdout.strip(), received.strip()


@pytest.mark.parametrize("nat", [False, True], ids=["native-esp", "nat-t"])
def test_ipv6_between_the_sites_rides_the_ipv4_tunnel(
    make_lab: list[Lab], tmp_path: Path, nat: bool
) -> None:
    lab = up(make_lab, tmp_path, nat=nat)
    assert ping(lab, "host-a", HOST_B_V6, 5) == (5, 5)  # the first waits for the SA
    assert ping(lab, "host-b", HOST_A_V6, 3) == (3, 3)
    sent, received = tcp6_transfer(lab, 4 * 1024 * 1024)
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
    capture = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab.namespace("inet"),
            "tshark",
            "-i",
            "eth0",
            "-a",
            "duration:6",
            "-w",
            "-",
            "-F",
            "pcap",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2)
    assert ping(lab, "host-a", HOST_B_V6, 5) == (5, 5)
    pcap, _ = capture.communicate(timeout=30)
    path = tmp_path / "inet6.pcap"
    path.write_bytes(pcap)
    fields = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "ip.proto",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split("\n")
    protocols = {line.split("\t")[0] for line in fields if line}
    assert "50" in protocols  # ESP went by
    # the namespaces' own link-local chatter may pass; nothing of the sites' IPv6 does
    assert not any("2001:db8:" in line for line in fields), [f for f in fields if "2001" in f]
