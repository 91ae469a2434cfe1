"""Benchmark: how many IKEv2 tunnels one ``tunnelgate run`` responder holds (issue 8: 20,000).

A pair of network namespaces (initiator 192.0.2.1, responder 192.0.2.2); ``tunnelgate bench ike
--workers W`` opens ``--tunnels`` IKE SAs, each with the child SA of its IKE_AUTH, in batches of
``--batch``; after each batch it reports the set-up rate of that batch, the responder's resident
memory per tunnel (VmRSS from /proc against the idle daemon) and how long ``show crypto ikev2 sa``
and ``show crypto ipsec sa`` take on the control socket, ``--json`` then text (goal: 1 s each).
Run as root, by hand:
``.venv/bin/python benchmarks/ike_scale.py [--tunnels 20000] [--batch 2000] [--workers 2]``.
Not covered yet: DPD at scale (the load generator's initiators are gone once set up, so the
responder's liveness checks would tear every tunnel down) and recovery after a restart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.test_bench_ike import INITIATOR, PSK, RESPONDER, responder_config
from tests.e2e.test_ike_scale import rss_kib
from tests.interop.harness import HarnessError, Netns, TunnelgateDaemon

from tunnelgate.daemon.control import ControlError


def timed_show(daemon: TunnelgateDaemon, line: str, *, as_json: bool = True) -> str:
    """How long ``line`` takes on the control socket, in ms (or why it failed)."""
    asked = time.monotonic()
    try:
        daemon.show(line, as_json=as_json)
    except (ControlError, HarnessError) as exc:
        return f"failed after {time.monotonic() - asked:.0f} s: {exc}"[:60]
    return f"{(time.monotonic() - asked) * 1000:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunnels", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--proposal", default="aes256-sha256-ecp256")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    group = {"ecp256": 19, "modp2048": 14, "ecp384": 20}[args.proposal.rsplit("-", 1)[1]]
    with Netns() as netns:
        ini, rsp = netns.add("ini"), netns.add("rsp")
        netns.veth(ini, f"{INITIATOR}/24", rsp, f"{RESPONDER}/24")
        daemon = TunnelgateDaemon(rsp, responder_config(group=group)).start(timeout=30)
        pid = daemon.proc.pid
        idle = rss_kib(pid)
        print(f"responder pid {pid}, idle RSS {idle} KiB; {args.workers} generator processes")
        print(
            f"{'tunnels':>8}{'batch/s':>9}{'fail':>6}{'RSS KiB':>10}{'KiB/tun':>9}"
            f"{'show ike ms':>13}{'show ipsec ms':>15}{'ike text ms':>13}{'ipsec text ms':>15}"
        )
        held = 0
        while held < args.tunnels:
            n = min(args.batch, args.tunnels - held)
            argv = [sys.executable, "-m", "tunnelgate", "bench", "ike", "--peer", RESPONDER]
            argv += ["--local", INITIATOR, "--count", str(n), "--parallel", str(args.parallel)]
            argv += ["--workers", str(args.workers), "--proposal", args.proposal]
            argv += ["--psk", PSK, "--json"]
            done = ini.run(*argv, timeout=3600, check=False)
            result = json.loads(done.stdout.strip().splitlines()[0])
            held += int(result["ok"])
            show_ike = timed_show(daemon, "show crypto ikev2 sa")
            show_ipsec = timed_show(daemon, "show crypto ipsec sa")
            text_ike = timed_show(daemon, "show crypto ikev2 sa", as_json=False)
            text_ipsec = timed_show(daemon, "show crypto ipsec sa", as_json=False)
            rss = rss_kib(pid)
            print(
                f"{held:>8}{result['rate_per_s']:>9}{result['failed']:>6}{rss:>10}"
                f"{(rss - idle) / max(held, 1):>9.1f}{show_ike:>13}{show_ipsec:>15}"
                f"{text_ike:>13}{text_ipsec:>15}",
                flush=True,
            )
            if result["failed"]:
                print(f"    failures: {result['failures']}")
            if not daemon.running():
                print("the responder died", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
