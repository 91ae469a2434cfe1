"""Operating the lab's gateways: ASA syslog messages to a server over UDP (configured live
through `tunnelgate cli`), and Prometheus metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.test_lab_cli import cli
from tests.e2e.test_lab_tunnel import ping, pytestmark, up  # noqa: F401
from tunnelgate.lab import Lab

RECEIVER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.254", 514)); s.settimeout(0.5)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        print(s.recv(4096).decode(), flush=True)
    except TimeoutError:
        pass
"""

FETCH = """
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9477/metrics", timeout=5).read().decode())
"""


def test_syslog_messages_reach_a_udp_server(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path)
    done = cli(
        lab,
        "gw-a",
        "configure terminal",
        "logging enable",
        "logging timestamp",
        "logging trap informational",
        "logging host outside 192.0.2.254",
        "end",
    )
    assert done.returncode == 0, done.stdout
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", lab.namespace("inet"), sys.executable, "-c", RECEIVER, "6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    time.sleep(0.5)
    out, _ = receiver.communicate(timeout=30)
    lines = [line for line in out.splitlines() if line.startswith("<")]
    # facility 20 (local4) * 8 + severity
    assert any(
        line.startswith("<166>")
        and "%ASA-6-602303: IPSEC: An outbound LAN-to-LAN SA" in line
        and "between 192.0.2.1 and 198.51.100.2" in line
        for line in lines
    )
    assert any("%ASA-5-750006:" in line and "IKEv2 SA UP" in line for line in lines)
    assert not any("lab-secret" in line for line in lines)


def test_prometheus_metrics_of_a_running_gateway(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path, args=("--metrics", "127.0.0.1:9477"))
    assert ping(lab, "host-a", "10.2.0.10", 3) == (3, 3)
    text = lab.exec("gw-a", [sys.executable, "-c", FETCH]).stdout
    assert "tunnelgate_child_sas 1.0" in text and "tunnelgate_ike_sas 1.0" in text
    sent = [
        line
        for line in text.splitlines()
        if line.startswith("tunnelgate_esp_packets_total") and 'direction="out"' in line
    ]
    assert sent and float(sent[0].rsplit(" ", 1)[1]) >= 3


def _wait_exit(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid if not Path(f"/proc/{pid}").exists() else 0
        if done == pid:
            return True
        time.sleep(0.1)
    return False


def test_a_clean_stop_deletes_the_sas_at_the_peer(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up(make_lab, tmp_path)
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    os.kill(lab.pids["gw-a"], signal.SIGTERM)
    assert _wait_exit(lab.pids["gw-a"], 10)
    shown = cli(lab, "gw-b", "show crypto ipsec sa", "show crypto ikev2 sa").stdout
    assert "There are no ipsec sas" in shown and "There are no IKEv2 SAs" in shown


def test_reload_wait_keeps_the_gateway_up_until_its_tunnels_end(
    make_lab: list[Lab], tmp_path: Path
) -> None:
    lab = up(make_lab, tmp_path)
    assert (
        cli(lab, "gw-a", "configure terminal", "crypto isakmp reload-wait", "end").returncode == 0
    )
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    os.kill(lab.pids["gw-a"], signal.SIGTERM)
    assert not _wait_exit(lab.pids["gw-a"], 2)  # waiting: a tunnel is up
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)  # and it still carries traffic
    cli(lab, "gw-b", "clear crypto ikev2 sa")  # the tunnel ends from the other side
    assert _wait_exit(lab.pids["gw-a"], 10)
