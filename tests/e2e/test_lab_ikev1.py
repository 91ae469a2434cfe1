"""The lab with IKEv1 gateways (`examples/lab-ikev1/`): main mode + quick mode carry traffic,
a TCP transfer keeps its checksum, and rekeys (new quick modes) under traffic lose nothing."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.e2e.test_lab_cli import cli
from tests.e2e.test_lab_tunnel import events, ping, pytestmark, tcp_transfer  # noqa: F401
from tunnelgate.lab import Lab

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "lab-ikev1"


def up_v1(labs: list[Lab], tmp_path: Path, args: tuple[str, ...] = ()) -> Lab:
    prefix = "tg1" + secrets.token_hex(3)
    lab = Lab.up(prefix, state_dir=tmp_path / prefix, config_dir=CONFIGS, gateway_args=args)
    labs.append(lab)
    return lab


def test_ikev1_lab_carries_ping_and_tcp(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up_v1(make_lab, tmp_path)
    assert ping(lab, "host-a", "10.2.0.10", 3) == (3, 3)
    assert ping(lab, "host-b", "10.1.0.10", 3) == (3, 3)
    sent, received = tcp_transfer(lab, 1024 * 1024)
    assert sent == received
    shown = cli(lab, "gw-a", "show crypto isakmp sa", "show crypto ipsec sa").stdout
    assert "IKEv1 SAs:" in shown and "State   : MM_ACTIVE" in shown
    assert "transform: esp-aes-256 esp-sha-hmac" in shown
    assert "IKEv1" in shown.split("in use settings")[1].split("\n")[0]
    # the IPv6 sites: a quick mode of their own with IPv6 identities (D113)
    assert ping(lab, "host-a", "2001:db8:2::10", 3) == (3, 3)
    shown = cli(lab, "gw-a", "show crypto ipsec sa").stdout
    assert "remote ident (addr/mask/prot/port): (2001:db8:2::/64/0/0)" in shown


def test_ikev1_rekeys_under_traffic_lose_nothing(make_lab: list[Lab], tmp_path: Path) -> None:
    lab = up_v1(make_lab, tmp_path, ("--child-lifetime-seconds", "6"))
    assert ping(lab, "host-a", "10.2.0.10", 1) == (1, 1)
    assert ping(lab, "host-a", "10.2.0.10", 300, interval=0.05) == (300, 300)
    both = events(lab, "gw-a") + events(lab, "gw-b")
    assert len([e for e in both if e["event"] == "ChildSaInstalled" and e["rekey_of"]]) >= 2
