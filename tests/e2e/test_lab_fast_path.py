"""The C fast path under the SA's own limits, live: a volume lifetime small enough that TCP
traffic crosses several soft points hands each crossing packet back to Python, which asks
for the rekey, while the transfer goes on through the new SAs. At these rates both gateways
reach their soft points within milliseconds of each other, so the rekeys collide (RFC 7296
§2.8.1) in every order; before D109 one ordering left a successor SA that one side dropped
as vpn-overlap-conflict for good and the transfer stalled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_lab_cli import cli
from tests.e2e.test_lab_tunnel import events, ping, pytestmark, show, tcp_transfer, up  # noqa: F401
from tunnelgate.esp import fast
from tunnelgate.lab import Lab


@pytest.mark.skipif(not fast.available(), reason="the C fast path (_fast) is not built")
@pytest.mark.parametrize("nat", [False, True], ids=["native-esp", "nat-t"])
def test_volume_rekeys_under_tcp_lose_nothing(
    make_lab: list[Lab], tmp_path: Path, nat: bool
) -> None:
    lab = up(make_lab, tmp_path, nat=nat)
    for gw in ("gw-a", "gw-b"):
        changed = cli(
            lab,
            gw,
            "configure terminal",
            "crypto map LAB-MAP 10 set security-association lifetime kilobytes 16384",
            "end",
        )
        assert changed.returncode == 0, changed.stdout + changed.stderr
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
    size = 64 * 1024 * 1024  # four times the lifetime
    sent, received = tcp_transfer(lab, size)
    assert sent == received and sent.startswith(f"{size} ")
    both = events(lab, "gw-a") + events(lab, "gw-b")
    rekeys = [e for e in both if e["event"] == "ChildSaInstalled" and e["rekey_of"]]
    assert len(rekeys) >= 3
    io = json.loads(show(lab, "gw-a", "show tunnelgate counters"))["io"]
    assert io["fast-sent"] > 10_000  # the C path carried the transfer between the rekeys
    for gw in ("gw-a", "gw-b"):  # make-before-break at speed (D110, D111, D116): no ESP lost
        drops = json.loads(show(lab, gw, "show tunnelgate counters"))["drops"]
        assert set(drops) <= {"too-big-df"}, (gw, drops)
    assert ping(lab, "host-a", "10.2.0.10", 2) == (2, 2)
