"""Benchmark: complete IKEv2 handshakes (IKE_SA_INIT + IKE_AUTH with a child SA, PSK) between
two tunnelgate engines in memory, both sides in this one process, for several DH groups.

Run by hand: ``.venv/bin/python benchmarks/ikev2_handshake.py [--count N]``. This is the
pure protocol cost (crypto + encoding + policy); the UDP runner and the kernel are not in
it. Issue 8 measures real UDP set-up rates against strongSwan's charon.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text

from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v2.engine import Ikev2Engine

GROUPS = {"modp2048 (14)": 14, "modp1536 (5)": 5, "ecp256 (19)": 19, "ecp384 (20)": 20}


def policy(group: int, side: dict[str, str]) -> object:
    text = gateway_text(
        side,
        ikev2_policy=f"crypto ikev2 policy 10\n encryption aes-256\n integrity sha256\n"
        f" group {group}\n prf sha256\n",
        group=f"tunnel-group {side['peer']} type ipsec-l2l\n"
        f"tunnel-group {side['peer']} ipsec-attributes\n"
        " ikev2 local-authentication pre-shared-key k\n"
        " ikev2 remote-authentication pre-shared-key k\n isakmp keepalive disable\n",
    )
    return compile_config(load(text))


def run(group: int, count: int) -> float:
    hq_policy, branch_policy = policy(group, HQ), policy(group, BRANCH)
    start = time.perf_counter()
    for _ in range(count):
        network = FakeNetwork(FakeClock())
        hq = Ikev2Engine(hq_policy, "outside", os.urandom)  # type: ignore[arg-type]
        branch = Ikev2Engine(branch_policy, "outside", os.urandom)  # type: ignore[arg-type]
        network.attach(("203.0.113.1", 500), hq)
        network.attach(("198.51.100.2", 500), branch)
        entry = hq.gateway.crypto_maps["outside"].entries[0]
        assert entry.acl is not None
        hq.initiate(entry, entry.acl.permits[0], network.clock.now)
        network.run(max_seconds=5)
        assert branch.next_event() is not None and hq.next_event() is not None
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'group':<16}{'ms/handshake':>14}{'handshakes/s':>14}  (both sides, one core)")
    for name, group in GROUPS.items():
        per = statistics.median(run(group, args.count) for _ in range(args.repeat))
        print(f"{name:<16}{per * 1000:>14.2f}{1 / per:>14.0f}")


if __name__ == "__main__":
    main()
