"""Scale, reduced for CI: one ``tunnelgate run`` responder holds 500 IKE SAs (each with the child
SA of its IKE_AUTH), made by ``tunnelgate bench ike --workers 2``; ``show`` still answers within
1 s, and the responder's resident memory per tunnel (from /proc) stays within a generous bound.
The full run (20,000 tunnels) is ``benchmarks/ike_scale.py``, by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_bench_ike import INITIATOR, PSK, RESPONDER, responder_config
from tests.interop.harness import Namespace, Netns, TunnelgateDaemon

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and iproute2 (network namespaces, a TUN device)",
)

TUNNELS = 500
#: Generous: the goal of issue 8 is 8 KiB per tunnel; this catches leaks, not the goal.
RSS_PER_TUNNEL_BOUND_KIB = 256


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


@pytest.fixture
def pair() -> Iterator[tuple[Namespace, TunnelgateDaemon]]:
    with Netns() as netns:
        initiator, responder = netns.add("ini"), netns.add("rsp")
        netns.veth(initiator, f"{INITIATOR}/24", responder, f"{RESPONDER}/24")
        daemon = TunnelgateDaemon(responder, responder_config(group=19)).start()
        yield initiator, daemon


def test_five_hundred_tunnels_held_and_show_answers(
    pair: tuple[Namespace, TunnelgateDaemon],
) -> None:
    initiator, daemon = pair
    started = time.monotonic()
    pid = daemon.proc.pid
    before = rss_kib(pid)
    argv = [sys.executable, "-m", "tunnelgate", "bench", "ike", "--peer", RESPONDER]
    argv += ["--local", INITIATOR, "--count", str(TUNNELS), "--parallel", "8", "--workers", "2"]
    argv += ["--proposal", "aes256-sha256-ecp256", "--psk", PSK, "--json"]
    done = initiator.run(*argv, timeout=60, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{daemon.text()[-3000:]}"
    result = json.loads(done.stdout)
    assert result["ok"] == TUNNELS and result["failed"] == 0, result

    asked = time.monotonic()
    summary = json.loads(daemon.show("show crypto ikev2 sa", as_json=True))
    show_s = time.monotonic() - asked
    text_asked = time.monotonic()
    daemon.show("show crypto ipsec sa")
    show_ipsec_s = time.monotonic() - text_asked
    per_tunnel = (rss_kib(pid) - before) / TUNNELS
    print(
        f"\n{TUNNELS} tunnels: {result['rate_per_s']} set-ups/s, show crypto ikev2 sa "
        f"{show_s * 1000:.0f} ms, show crypto ipsec sa {show_ipsec_s * 1000:.0f} ms, "
        f"RSS {per_tunnel:.1f} KiB per tunnel"
    )
    assert _count_ike_sas(summary) == TUNNELS, str(summary)[:2000]
    assert show_s < 1.0 and show_ipsec_s < 1.0
    assert per_tunnel < RSS_PER_TUNNEL_BOUND_KIB
    assert daemon.running()
    assert time.monotonic() - started < 30


def _count_ike_sas(answer: object) -> int:
    """The IKE SAs in the JSON answer of ``show crypto ikev2 sa`` (a list, or a dict with one)."""
    if isinstance(answer, list):
        return len(answer)
    if isinstance(answer, dict):
        for value in answer.values():
            if isinstance(value, list):
                return len(value)
    raise AssertionError(f"unexpected answer: {str(answer)[:500]}")
