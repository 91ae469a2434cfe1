"""ESP transport mode in the lab (D91-D94): GRE between gw-a and gw-b's own addresses.

gw-a 192.0.2.1 (GRE inner 172.16.0.1) — internet — gw-b 198.51.100.2 (GRE inner 172.16.0.2)

The crypto ACL protects ``gre host 192.0.2.1 host 198.51.100.2`` in transport mode: the
gateways' own GRE is captured by policy rules into the TUN, crosses the internet as ESP
(protocol 50, the same addresses), and is delivered locally on the other side.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_lab_tunnel import captured, ping, show, start_capture
from tunnelgate.lab import Lab
from tunnelgate.lab.command import default_config_dir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, TUN)")

SIDES = {
    "gw-a": ("192.0.2.1", "198.51.100.2", "172.16.0.1"),
    "gw-b": ("198.51.100.2", "192.0.2.1", "172.16.0.2"),
}


def transport_configs(directory: Path, protocol: str = "gre") -> Path:
    """``examples/lab`` with a host-to-host ACL and ``set ikev2 mode transport``."""
    directory.mkdir(parents=True, exist_ok=True)
    for gw, (local, peer, _) in SIDES.items():
        lines = []
        for line in (default_config_dir() / f"{gw}.cfg").read_text().splitlines():
            if line.startswith("access-list LAB-VPN"):
                line = f"access-list LAB-VPN extended permit {protocol} host {local} host {peer}"
            lines.append(line)
            if line.startswith("crypto map LAB-MAP 10 set ikev2 ipsec-proposal"):
                lines.append("crypto map LAB-MAP 10 set ikev2 mode transport")
        (directory / f"{gw}.cfg").write_text("\n".join(lines) + "\n")
    return directory


GRE = """
import socket, struct, sys

def csum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

def echo(src, dst, kind, seq):
    icmp = bytes([kind, 0, 0, 0, 0, 7]) + seq.to_bytes(2, "big") + b"tunnelgate" * 5
    icmp = icmp[:2] + csum(icmp).to_bytes(2, "big") + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return b"\\0\\0\\x08\\0" + ip[:10] + csum(ip).to_bytes(2, "big") + ip[12:] + icmp

role, local, peer, inner, far, count = sys.argv[1:7]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)  # GRE (RFC 2784) in userspace
s.bind((local, 0))
s.settimeout(3 if role == "ping" else 30)
print("ready", flush=True)
answered = 0
for seq in range(1, int(count) + 1):
    if role == "ping":
        s.sendto(echo(inner, far, 8, seq), (peer, 0))
    try:
        data, (source, _) = s.recvfrom(65535)
    except TimeoutError:
        continue
    gre = data[(data[0] & 15) * 4:]
    if source != peer or gre[2:4] != b"\\x08\\0" or gre[4 + 16:4 + 20] != socket.inet_aton(inner):
        continue
    kind, got = gre[4 + 20], int.from_bytes(gre[4 + 26:4 + 28], "big")
    if role == "echo" and kind == 8:
        s.sendto(echo(inner, far, 0, got), (peer, 0))
        answered += 1
    elif role == "ping" and kind == 0 and got == seq:
        answered += 1
print(answered, flush=True)
"""


def netns(lab: Lab, node: str) -> list[str]:
    return ["ip", "netns", "exec", lab.namespace(node)]


def script(role: str, local: str, peer: str, inner: str, far: str, count: int) -> list[str]:
    return [sys.executable, "-c", GRE, role, local, peer, inner, far, str(count)]


def gre_ping(lab: Lab, pinger: str, responder: str, count: int) -> int:
    """Echoes from ``pinger``'s GRE inner address to ``responder``'s, answered there: GRE
    built and read on raw sockets (the lab kernel has no ip_gre), replies counted."""
    local, peer, inner = SIDES[responder]
    echo = subprocess.Popen(
        [*netns(lab, responder), *script("echo", local, peer, inner, SIDES[pinger][2], count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
        local, peer, inner = SIDES[pinger]
        argv = script("ping", local, peer, inner, SIDES[responder][2], count)
        done = lab.exec(pinger, argv, timeout=count * 3 + 10)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])
    finally:
        echo.kill()
        echo.wait()


def test_gre_between_the_gateways_in_transport_mode(make_lab: list[Lab], tmp_path: Path) -> None:
    prefix = "tgt" + secrets.token_hex(3)
    lab = Lab.up(prefix, state_dir=tmp_path / prefix, config_dir=transport_configs(tmp_path / "c"))
    make_lab.append(lab)
    rules = lab.exec("gw-a", ["ip", "rule", "show"]).stdout
    assert "ipproto gre" in rules and "lookup 4521" in rules, rules
    assert "198.51.100.2" not in lab.exec("gw-a", ["ip", "route", "show"]).stdout.split("via")[0]
    capture = start_capture(lab, 6)
    time.sleep(2)
    # the first echo triggers IKE (queued meanwhile); then both ways through GRE
    assert gre_ping(lab, "gw-a", "gw-b", 5) >= 4
    assert gre_ping(lab, "gw-b", "gw-a", 3) == 3
    lines = ["\t".join(row) for row in captured(capture, tmp_path / "inet.pcap")]
    protocols = {line.split("\t")[0] for line in lines}
    assert "50" in protocols  # ESP went by …
    assert "47" not in protocols  # … and no clear GRE
    assert not any("172.16.0." in line for line in lines)  # not even as IP-in-IP
    esp = {tuple(line.split("\t")[1:]) for line in lines if line.startswith("50\t")}
    assert esp <= {("192.0.2.1", "198.51.100.2"), ("198.51.100.2", "192.0.2.1")}, esp
    sa = show(lab, "gw-a", "show crypto ipsec sa")
    assert "192.0.2.1" in sa


def test_any_protocol_between_the_gateways_keeps_ike_and_esp_out_and_fails_closed(
    make_lab: list[Lab], tmp_path: Path
) -> None:
    """``permit ip host A host B`` in transport mode: the gateways' own pings are protected,
    their IKE and ESP are not captured (the exceptions); when gw-a dies, the rules and the
    blackhole stay and its pings to gw-b never leave in clear."""
    prefix = "tgt" + secrets.token_hex(3)
    configs = transport_configs(tmp_path / "c", "ip")
    lab = Lab.up(prefix, state_dir=tmp_path / prefix, config_dir=configs)
    make_lab.append(lab)
    capture = start_capture(lab, 6)
    time.sleep(2)
    assert ping(lab, "gw-a", "198.51.100.2", 5)[1] >= 4
    assert ping(lab, "gw-b", "192.0.2.1", 3) == (3, 3)
    packets = captured(capture, tmp_path / "up.pcap")
    assert {p[0] for p in packets} >= {"17", "50"} and "1" not in {p[0] for p in packets}
    os.kill(lab.pids["gw-a"], 9)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "tgtun0" in lab.exec("gw-a", ["ip", "link"]).stdout:
        time.sleep(0.1)
    assert "blackhole default" in lab.exec("gw-a", ["ip", "route", "show", "table", "4521"]).stdout
    assert "lookup 4521" in lab.exec("gw-a", ["ip", "rule", "show"]).stdout
    capture = start_capture(lab, 4)
    time.sleep(1.5)
    dead = lab.exec("gw-a", ["ping", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.2"])
    assert dead.returncode != 0 and "bytes from" not in dead.stdout  # the blackhole answers
    assert "1" not in {p[0] for p in captured(capture, tmp_path / "down.pcap")}
