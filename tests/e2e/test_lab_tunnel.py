"""The two-site lab with real `tunnelgate run` gateways: traffic through the tunnel.

host-a 10.1.0.10 — gw-a 192.0.2.1 — internet — (NAT 198.51.100.2 →) gw-b — host-b 10.2.0.10

Each test brings up its own lab (unique prefix), sends real traffic from the hosts and
checks what arrives, what the gateways show, and that nothing protected crossed the
internet in clear text.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunnelgate.daemon.control import request
from tunnelgate.esp import fast
from tunnelgate.lab import Lab

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, TUN)")

SERVER = """
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(20)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(20); h = hashlib.sha256(); n = 0
while chunk := c.recv(65536):
    h.update(chunk); n += len(chunk)
print(n, h.hexdigest(), flush=True)
"""

CLIENT = """
import hashlib, random, socket, sys
size = int(sys.argv[1]); data = random.Random(7).randbytes(size)
c = socket.create_connection((sys.argv[2], 5001), timeout=20)
c.sendall(data); c.close()
print(size, hashlib.sha256(data).hexdigest(), flush=True)
"""


def up(labs: list[Lab], tmp_path: Path, *, nat: bool = False, args: tuple[str, ...] = ()) -> Lab:
    prefix = "tge" + secrets.token_hex(3)
    lab = Lab.up(prefix, nat=nat, state_dir=tmp_path / prefix, gateway_args=args)
    labs.append(lab)
    return lab


def ping(lab: Lab, node: str, target: str, count: int, interval: float = 0.2) -> tuple[int, int]:
    """(sent, received) of ``ping`` from ``node``."""
    out = lab.exec(
        node,
        ["ping", "-c", str(count), "-i", str(interval), "-W", "2", target],
        timeout=count * interval + 15,
    ).stdout
    for line in out.splitlines():
        if "packets transmitted" in line:
            parts = line.split()
            return int(parts[0]), int(parts[3])
    raise AssertionError(f"no ping summary in {out!r}")


def show(lab: Lab, gw: str, line: str, *, as_json: bool = False) -> str:
    answer = request(lab.socket(gw), line, as_json=as_json)
    assert answer.ok, answer.output
    return answer.output


def events(lab: Lab, gw: str) -> list[dict[str, object]]:
    out = []
    for line in lab.log(gw).read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def tcp_transfer(lab: Lab, size: int, to: str = "10.2.0.10") -> tuple[str, str]:
    """Send ``size`` bytes host-a -> host-b (its address ``to``, IPv4 or IPv6) over TCP;
    (sent, received) "bytes sha256"."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.namespace("host-b"), sys.executable, "-c", SERVER, to],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "listening"
        sent = lab.exec("host-a", [sys.executable, "-c", CLIENT, str(size), to], timeout=60)
        assert sent.returncode == 0, sent.stderr
        received, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return sent.stdout.strip(), received.strip()


def start_capture(lab: Lab, seconds: int) -> subprocess.Popen[bytes]:
    """tshark on the internet link (inet's eth0) for ``seconds``; the pcap on stdout."""
    argv = ["tshark", "-i", "eth0", "-a", f"duration:{seconds}", "-w", "-", "-F", "pcap", "-q"]
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.namespace("inet"), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def captured(
    capture: subprocess.Popen[bytes],
    path: Path,
    fields: tuple[str, ...] = ("ip.proto", "ip.src", "ip.dst"),
) -> list[list[str]]:
    """The ``fields`` of each packet ``capture`` saw, once it ended (kept in ``path``)."""
    pcap, _ = capture.communicate(timeout=30)
    path.write_bytes(pcap)
    argv = ["tshark", "-r", str(path), "-T", "fields"]
    for field in fields:
        argv += ["-e", field]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    return [line.split("\t") for line in out.split("\n") if line]


def test_ping_and_tcp_through_the_tunnel_initiated_by_site_a(
    make_lab: list[Lab], tmp_path: Path
) -> None:
    lab = up(make_lab, tmp_path)
    assert ping(lab, "host-a", "10.2.0.10", 5) == (5, 5)  # the first waits for the SA
    sent, received = tcp_transfer(lab, 4 * 1024 * 1024)
    assert sent == received and sent.startswith("4194304 ")
    ipsec = show(lab, "gw-a", "show crypto ipsec sa")
    assert "Crypto map tag: LAB-MAP, seq num: 10, local addr: 192.0.2.1" in ipsec
    assert "current_peer: 198.51.100.2" in ipsec
    assert "remote crypto endpt.: 198.51.100.2/500" in ipsec  # native ESP: no NAT
    # what automation reads: the ntc-templates TextFSM template parses the live output
    from ntc_templates.parse import parse_output

    (row,) = parse_output(platform="cisco_asa", command="show crypto ipsec sa", data=ipsec)
    assert (row["crypto_map_tag"], row["current_peer"]) == ("LAB-MAP", "198.51.100.2")
    assert row["local_identity_addr"] == "10.1.0.0" and row["remote_identity_addr"] == "10.2.0.0"
    assert int(row["packets_encapsulated"]) >= 5 and int(row["packets_decapsulated"]) >= 5
    assert row["pmtus_sent"] == ipsec.split("#PMTUs sent: ")[1].split(",")[0]
    ikev2 = show(lab, "gw-b", "sh cry ikev2 sa")
    assert "READY" in ikev2 and "RESPONDER" in ikev2
    # TCP sends with DF: full-size segments were answered with "fragmentation needed"
    # (path MTU discovery through the tunnel), nothing else was dropped
    counters = json.loads(show(lab, "gw-a", "show tunnelgate counters"))
    drops = counters["drops"]
    assert set(drops) <= {"too-big-df"}
    pmtus_sent = int(ipsec.split("#PMTUs sent: ")[1].split(",")[0])
    assert pmtus_sent == drops.get("too-big-df", 0)
    if fast.available():  # the C fast path carried the bulk of it, both ways
        io_a = counters["io"]
        io_b = json.loads(show(lab, "gw-b", "show tunnelgate counters"))["io"]
        assert io_a["fast-sent"] > 2000 and io_b["fast-received"] > 2000
        assert io_a["fast-received"] > 0 and io_b["fast-sent"] > 0  # host-b's ACKs
        # host-a's TCP reached gw-a's TUN as super-segments, and gw-b gathered the data
        # segments into GSO writes to its TUN
        assert io_a["tun-super-segments"] > 0 and io_b["tun-coalesced"] > 1000


@pytest.mark.parametrize("nat", [False, True], ids=["native-esp", "nat-t"])
def test_the_python_data_path_alone_carries_the_same_traffic(
    make_lab: list[Lab], tmp_path: Path, nat: bool
) -> None:
    lab = up(make_lab, tmp_path, nat=nat, args=("--no-fast-path",))
    assert ping(lab, "host-a", "10.2.0.10", 3) == (3, 3)
    sent, received = tcp_transfer(lab, 1024 * 1024)
    assert sent == received and sent.startswith("1048576 ")
    for gw in ("gw-a", "gw-b"):
        io = json.loads(show(lab, gw, "show tunnelgate counters"))["io"]
        assert "fast-sent" not in io and "fast-received" not in io


def test_site_b_initiates_too(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path)
    assert ping(lab, "host-b", "10.1.0.10", 3) == (3, 3)
    started = [e for e in events(lab, "gw-b") if e["event"] == "NegotiationStarted"]
    assert len(started) == 1 and started[0]["peer"] == "192.0.2.1"
    assert not [e for e in events(lab, "gw-a") if e["event"] == "NegotiationStarted"]


def test_through_nat_esp_rides_udp_4500_both_ways(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path, nat=True)
    assert ping(lab, "host-b", "10.1.0.10", 3) == (3, 3)
    assert ping(lab, "host-a", "10.2.0.10", 3) == (3, 3)
    ipsec = show(lab, "gw-a", "show crypto ipsec sa")
    assert "NAT-T-Encaps" in ipsec
    assert "local crypto endpt.: 192.0.2.1/4500" in ipsec
    sent, received = tcp_transfer(lab, 1024 * 1024)
    assert sent == received


@pytest.mark.parametrize("nat", [False, True], ids=["native-esp", "nat-t"])
def test_rekeys_under_traffic_lose_nothing(make_lab: list[Lab], tmp_path: Path, nat: bool) -> None:
    # child SAs live 6 s (rekeyed at 85-95 %), the IKE SA 10 s: several of each in 16 s
    args = ("--child-lifetime-seconds", "6", "--ike-lifetime-seconds", "10")
    lab = up(make_lab, tmp_path, nat=nat, args=args)
    assert ping(lab, "host-a", "10.2.0.10", 1) == (1, 1)
    start = time.monotonic()
    sent, received = ping(lab, "host-a", "10.2.0.10", 320, interval=0.05)
    assert time.monotonic() - start >= 15
    assert (sent, received) == (320, 320)
    both = events(lab, "gw-a") + events(lab, "gw-b")
    child_rekeys = [e for e in both if e["event"] == "ChildSaInstalled" and e["rekey_of"]]
    ike_sas = [e for e in both if e["event"] == "IkeSaEstablished"]
    assert len(child_rekeys) >= 4
    assert len(ike_sas) >= 4  # the first pair plus at least one IKE SA rekey seen by both


def test_no_clear_text_on_the_internet(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path)
    capture = start_capture(lab, 6)
    time.sleep(2)
    assert ping(lab, "host-a", "10.2.0.10", 5) == (5, 5)
    rows = captured(capture, tmp_path / "inet.pcap", ("ip.proto", "ip.dst"))
    protocols = {row[0] for row in rows}
    assert "50" in protocols  # ESP went by
    assert "1" not in protocols  # no clear ICMP between the sites
    assert not any("10.2.0.10" in "\t".join(row) for row in rows)


def test_protected_traffic_never_leaks_when_the_gateway_dies(
    make_lab: list[Lab], tmp_path: Path
) -> None:
    lab = up(make_lab, tmp_path)
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    os.kill(lab.pids["gw-a"], 9)  # no clean shutdown: the TUN and its routes vanish
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "tgtun0" in lab.exec("gw-a", ["ip", "link"]).stdout:
        time.sleep(0.1)
    routes = lab.exec("gw-a", ["ip", "route", "show", "10.2.0.0/24"]).stdout
    assert "blackhole 10.2.0.0/24" in routes  # fail closed, not the default route
    capture = start_capture(lab, 5)
    time.sleep(2)
    assert ping(lab, "host-a", "10.2.0.10", 3)[1] == 0
    seen = captured(capture, tmp_path / "dead.pcap", ("ip.dst",))
    assert not any("10.2.0.10" in row[0] for row in seen)
