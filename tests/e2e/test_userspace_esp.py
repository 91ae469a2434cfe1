"""End to end: two userspace ESP runners carry ping between two namespaces over UDP 4500.

Namespaces ``a`` and ``b`` are linked by a veth pair (192.0.2.1/24 <-> 192.0.2.2/24) and hold
inside addresses 10.1.0.1/32 and 10.2.0.1/32 on their loopbacks. Each runs
``tunnelgate.net.esp_runner`` with mirrored static aes-gcm-256 keys; 10.2.0.0/24 (in ``a``) and
10.1.0.0/24 (in ``b``) are routed into the TUN. A raw AF_PACKET capture on ``b``'s veth checks
that the gateways exchange only UDP 4500 ESP with our SPIs and that no ICMP crosses in clear.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import cast

import pytest

from tests.interop.harness import (
    HarnessError,
    Namespace,
    Netns,
    end_process,
    run,
    wait_until,
)
from tunnelgate.esp.child_sa import ChildSa
from tunnelgate.esp.packet import EspKeys, EspTransform
from tunnelgate.esp.sa import Lifetime
from tunnelgate.esp.udp_encap import NAT_KEEPALIVE
from tunnelgate.net.esp_runner import EspRunner, _Udp
from tunnelgate.net.tun import TunDevice

GW_A, GW_B = "192.0.2.1", "192.0.2.2"
INSIDE_A, INSIDE_B = "10.1.0.1", "10.2.0.1"
SPI_A_TO_B, SPI_B_TO_A = 0x1001, 0x1002
TUN = "tg0"
PINGS = 5


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices)"
    if not Path("/dev/net/tun").exists():
        return "/dev/net/tun is not available"
    if shutil.which("ip") is None or shutil.which("ping") is None:
        return "iproute2 ('ip') or ping is not installed"
    try:
        run(["ip", "netns", "list"], timeout=5)
    except HarnessError:
        return "'ip netns' is not usable here"
    return None


_PROBLEM = _unavailable()
needs_namespaces = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")

#: Prints one line per frame seen on an interface: "ethertype proto src dst sport dport head".
_CAPTURE = textwrap.dedent(
    """
    import socket, struct, sys, time
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((sys.argv[1], 0))
    sys.stdout.write("READY\\n"); sys.stdout.flush()
    deadline = time.monotonic() + float(sys.argv[2])
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            frame = s.recv(65535)
        except TimeoutError:
            break
        ethertype = struct.unpack("!H", frame[12:14])[0]
        fields = [f"{ethertype:04x}", "-", "-", "-", "-", "-", "-"]
        if ethertype == 0x0800:
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            fields[1:4] = [str(ip[9]), socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])]
            l4 = ip[ihl:]
            if ip[9] == 17:
                sport, dport = struct.unpack("!HH", l4[:4])
                fields[4:7] = [str(sport), str(dport), l4[8:12].hex() or "-"]
            elif ip[9] == 1:
                fields[4] = str(l4[0])
        sys.stdout.write(" ".join(fields) + "\\n"); sys.stdout.flush()
    """
)


def _start_runner(
    ns: Namespace, local: str, peer: str, out_spi: int, in_spi: int, out_key: bytes, in_key: bytes
) -> subprocess.Popen[bytes]:
    return ns.popen(
        *(sys.executable, "-m", "tunnelgate.net.esp_runner", "--tun", TUN),
        *("--local", local, "--peer", peer),
        *("--out-spi", hex(out_spi), "--in-spi", hex(in_spi)),
        *("--out-key", out_key.hex(), "--in-key", in_key.hex()),
        *("--encryption", "aes-gcm-256", "--integrity", "null"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_tun(ns: Namespace, proc: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise HarnessError(f"esp_runner in {ns.name} exited {proc.returncode}: {err}")
        return ns.run("ip", "link", "show", TUN, check=False, timeout=5).returncode == 0

    wait_until(ready, timeout=5.0, what=f"{TUN} in {ns.name}")


def _counters(proc: subprocess.Popen[bytes]) -> dict[str, object]:
    end_process(proc)
    assert proc.stdout is not None
    lines = proc.stdout.read().decode().splitlines()
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert len(lines) == 1, lines
    report: dict[str, object] = json.loads(lines[0])
    return report


@needs_namespaces
def test_ping_through_userspace_esp() -> None:
    key_a_to_b, key_b_to_a = secrets.token_bytes(36), secrets.token_bytes(36)
    with Netns() as netns:
        a, b = netns.add("a"), netns.add("b")
        link = netns.veth(a, f"{GW_A}/24", b, f"{GW_B}/24")
        a.add_address(f"{INSIDE_A}/32")
        b.add_address(f"{INSIDE_B}/32")
        runner_a = _start_runner(a, GW_A, GW_B, SPI_A_TO_B, SPI_B_TO_A, key_a_to_b, key_b_to_a)
        runner_b = _start_runner(b, GW_B, GW_A, SPI_B_TO_A, SPI_A_TO_B, key_b_to_a, key_a_to_b)
        for ns, proc, remote in ((a, runner_a, "10.2.0.0/24"), (b, runner_b, "10.1.0.0/24")):
            _wait_tun(ns, proc)
            ns.ip("link", "set", TUN, "mtu", "1400", "up")
            local = INSIDE_A if ns is a else INSIDE_B
            ns.ip("route", "add", remote, "dev", TUN, "src", local)

        capture = b.popen(
            sys.executable,
            *("-c", _CAPTURE, link.b_ifname, "15"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert capture.stdout is not None
        assert capture.stdout.readline().decode().strip() == "READY"

        started = time.monotonic()
        ping = a.run(
            *("ping", "-c", str(PINGS), "-i", "0.2", "-W", "2", "-I", INSIDE_A, INSIDE_B),
            timeout=20,
            check=False,
        )
        elapsed = time.monotonic() - started
        time.sleep(0.2)
        end_process(capture)
        frames = [line.split() for line in capture.stdout.read().decode().splitlines()]
        counters_a, counters_b = _counters(runner_a), _counters(runner_b)

        rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)", ping.stdout)
        print(f"ping {elapsed:.2f} s, rtt min/avg/max ms: {rtt.groups() if rtt else None}")
        print(f"counters a: {counters_a}\ncounters b: {counters_b}")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert f"{PINGS} received" in ping.stdout, ping.stdout

    ipv4 = [f for f in frames if f[0] == "0800"]
    gateways = {GW_A, GW_B}
    between = [f for f in ipv4 if {f[2], f[3]} == gateways]
    assert all(f[1] == "17" and f[4] == f[5] == "4500" for f in between), between
    assert not [f for f in ipv4 if f[1] == "1"], "ICMP seen in clear on the veth"
    assert all(f[2] in gateways and f[3] in gateways for f in ipv4), ipv4
    spis = {f"{SPI_A_TO_B:08x}": 0, f"{SPI_B_TO_A:08x}": 0}
    for f in between:
        assert f[6] in spis, f
        spis[f[6]] += 1
    assert min(spis.values()) >= PINGS, spis

    for report in (counters_a, counters_b):
        assert isinstance(report["protected"], int) and report["protected"] >= PINGS, report
        assert isinstance(report["unprotected"], int) and report["unprotected"] >= PINGS, report
        drops = report["drops"]
        assert isinstance(drops, dict) and set(drops) <= {"outbound-not-ipv4"}, report


# ---------------------------------------------------------------------------------------------
# The runner's decisions without a network: fake TUN and UDP transport.


class _FakeTun:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, packet: bytes) -> bool:
        self.written.append(packet)
        return True


class _FakeTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))


def _sa(out_spi: int, in_spi: int, out_key: bytes, in_key: bytes) -> ChildSa:
    def transform(spi: int, key: bytes) -> EspTransform:
        return EspTransform.from_keywords(spi, "aes-gcm-256", "null", EspKeys(key))

    unlimited = Lifetime(seconds=None, kilobytes=None)
    return ChildSa(
        transform(out_spi, out_key), transform(in_spi, in_key), unlimited, 0.0, os.urandom
    )


def _runner(sa: ChildSa) -> tuple[EspRunner, _FakeTun, _FakeTransport]:
    tun, transport = _FakeTun(), _FakeTransport()
    runner = EspRunner(cast(TunDevice, tun), sa, GW_A, GW_B, clock=lambda: 1.0)
    _Udp(runner).connection_made(cast(asyncio.DatagramTransport, transport))  # attaches it
    return runner, tun, transport


_INNER = bytes.fromhex("4500001c000000004001") + bytes(18)  # an IPv4-looking packet


def test_runner_round_trip_and_drops() -> None:
    k1, k2 = secrets.token_bytes(36), secrets.token_bytes(36)
    a, _, sent_a = _runner(_sa(SPI_A_TO_B, SPI_B_TO_A, k1, k2))
    b, tun_b, _ = _runner(_sa(SPI_B_TO_A, SPI_A_TO_B, k2, k1))

    a.outbound(_INNER)
    a.outbound(b"\x60" + bytes(39))  # IPv6: not carried by this SA
    a.outbound(_INNER)
    [(esp, addr), (second, _)] = sent_a.sent
    assert addr == (GW_B, 4500) and esp[:4] == SPI_A_TO_B.to_bytes(4, "big")

    b.received(esp)
    b.received(esp)  # replayed
    b.received(second[:-1] + bytes([second[-1] ^ 1]))  # forged ICV
    b.received(NAT_KEEPALIVE)
    b.received(b"\x00\x00\x00\x00ike")  # IKE on 4500 belongs to the IKE runner
    assert tun_b.written == [_INNER]
    assert a.report()["protected"] == 2 and a.drops == {"outbound-not-ipv4": 1}
    report = b.report()
    assert report["unprotected"] == 1 and report["keepalive"] == 1
    assert report["dropped"] == 3 and b.drops["replay"] == 1 and b.drops["not-esp"] == 1
    b.received(second)  # the genuine one is still accepted: the forgery changed nothing
    assert tun_b.written == [_INNER, _INNER]


def test_runner_drops_esp_from_anyone_but_the_peer() -> None:
    k1, k2 = secrets.token_bytes(36), secrets.token_bytes(36)
    a, _, sent_a = _runner(_sa(SPI_A_TO_B, SPI_B_TO_A, k1, k2))
    b, tun_b, _ = _runner(_sa(SPI_B_TO_A, SPI_A_TO_B, k2, k1))  # b's peer address is GW_B here
    a.outbound(_INNER)
    a.outbound(_INNER)
    [(first, _), (second, _)] = sent_a.sent
    b.received(first, ("203.0.113.9", 4500))  # a valid packet, replayed from elsewhere
    assert tun_b.written == [] and b.drops == {"spi-peer-mismatch": 1}
    b.received(first, (GW_B, 61000))  # the peer behind a NAT that changed the port
    b.received(second, (GW_B, 4500))
    assert tun_b.written == [_INNER, _INNER]
