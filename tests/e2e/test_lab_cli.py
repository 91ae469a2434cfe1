"""`tunnelgate cli` on the lab's running gateways: show, clear, and a live configuration
change that renegotiates with the new proposal while traffic keeps flowing afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.test_lab_tunnel import events, ping, pytestmark, up  # noqa: F401
from tunnelgate.lab import Lab


def cli(lab: Lab, gw: str, *lines: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tunnelgate", "cli", "--control", str(lab.socket(gw))]
    for line in lines:
        argv += ["-c", line]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_cli_shows_clears_and_changes_the_proposal_live(
    make_lab: list[Lab], tmp_path: Path
) -> None:
    lab = up(make_lab, tmp_path)
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    shown = cli(lab, "gw-a", "show crypto ipsec sa")
    assert shown.returncode == 0 and "transform: esp-aes-gcm-256 esp-null" in shown.stdout
    # clear: both sides lose the SA; the next ping brings a new one
    cleared = cli(lab, "gw-a", "clear crypto ipsec sa peer 198.51.100.2", "show crypto ipsec sa")
    assert cleared.returncode == 0 and "There are no ipsec sas" in cleared.stdout
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    # a live change of the proposal on both gateways: the tunnel is torn down, then
    # renegotiated with AES-256 + SHA-256 by the next packet
    change = (
        "configure terminal",
        "crypto ipsec ikev2 ipsec-proposal LAB",
        "protocol esp encryption aes-256",
        "protocol esp integrity sha-256",
        "end",
    )
    first = cli(lab, "gw-b", *change)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "torn down: crypto map LAB-MAP 10: transform set or IPsec proposal changed" in (
        first.stdout
    )
    assert "There are no ipsec sas" in cli(lab, "gw-a", "show crypto ipsec sa").stdout  # Delete
    second = cli(lab, "gw-a", *change)
    assert second.returncode == 0, second.stdout + second.stderr
    assert ping(lab, "host-a", "10.2.0.10", 3) == (3, 3)
    after = cli(lab, "gw-a", "show crypto ipsec sa").stdout
    assert "transform: esp-aes-256 esp-sha256-hmac" in after
    refused = cli(lab, "gw-a", "configure terminal", "crypto map LAB-MAP 10 set pfs group99")
    assert refused.returncode == 1 and "ERROR" in refused.stdout
    installed = [e for e in events(lab, "gw-a") if e["event"] == "ChildSaInstalled"]
    assert len(installed) == 3
