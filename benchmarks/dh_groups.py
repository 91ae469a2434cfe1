"""Benchmark: one ``generate`` plus one ``shared_secret`` per Diffie-Hellman group.

Run by hand: ``.venv/bin/python benchmarks/dh_groups.py [--rounds N] [--groups 2,14,19,31]``.
Each round is what one side of an IKE exchange does: make a key pair, then derive g^ir
from the peer's public value (generated beforehand, outside the timing). MODP groups are
measured with gmpy2 and, when ``--no-gmpy2`` is given too, with Python's ``pow``.
"""

from __future__ import annotations

import argparse
import os
import time

from tunnelgate.crypto import dh


def measure(number: int, rounds: int) -> float:
    """Mean seconds for generate + shared_secret in ``group(number)``."""
    grp = dh.group(number)
    _, peer_public = grp.generate(os.urandom)
    start = time.perf_counter()
    for _ in range(rounds):
        private, _ = grp.generate(os.urandom)
        grp.shared_secret(private, peer_public)
    return (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--groups", default="2,14,19,31")
    parser.add_argument("--no-gmpy2", action="store_true", help="also time MODP without gmpy2")
    args = parser.parse_args()
    numbers = [int(n) for n in args.groups.split(",")]
    backends = [("gmpy2" if dh._gmpy2 is not None else "pow", dh._gmpy2)]
    if args.no_gmpy2 and dh._gmpy2 is not None:
        backends.append(("pow", None))
    saved = dh._gmpy2
    for label, module in backends:
        dh._gmpy2 = module
        for number in numbers:
            grp = dh.group(number)
            if label == "pow" and not isinstance(grp, dh.ModpGroup) and len(backends) > 1:
                continue
            mean = measure(number, args.rounds)
            backend = label if isinstance(grp, dh.ModpGroup) else "pyca"
            print(f"group {number:>2} {grp.name:<14} {backend:<6} {mean * 1e3:8.3f} ms")
    dh._gmpy2 = saved


if __name__ == "__main__":
    main()
