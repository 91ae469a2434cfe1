"""Benchmark: SPD lookups of the compiled classifier against crypto ACLs of growing size.

Run by hand: ``.venv/bin/python benchmarks/spd_lookup.py [--lookups N] [--seed S]``.
Crypto ACLs look like real ones: a few dozen local networks, remote networks /16 to /32
(mostly /24 and hosts), one ACE in ten tcp/udp with ports, a few deny lines in front. Each
size is measured split over many crypto map entries (20 ACEs each) and as one huge ACL.
Flows are half hits (inside a random ACE) and half misses (random addresses).
"""

from __future__ import annotations

import argparse
import random
import time

from tunnelgate.policy.acl import DENY, PERMIT, Acl, Rule
from tunnelgate.policy.crypto_map import CryptoMapSet, MapEntry
from tunnelgate.policy.selector import ALL_PORTS, TCP, UDP, Flow, Range, Selector
from tunnelgate.policy.spd import Classifier, Protect, evaluate_outbound

SIZES = (10, 1_000, 100_000)
ACES_PER_ENTRY = 20
REMOTE_LENGTHS = [16, 20, 22, 24, 24, 24, 24, 24, 24, 24, 26, 28, 29, 32, 32, 32, 32]


def _prefix(address: int, length: int) -> Range:
    mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
    return Range(address & mask, (address & mask) | (~mask & 0xFFFFFFFF))


def _local_networks(rng: random.Random) -> list[Range]:
    """Nested local networks in 10.0.0.0/8: a few /16s and /24s inside them."""
    sixteens = [_prefix(0x0A000000 | rng.randrange(1 << 16) << 8, 16) for _ in range(8)]
    inside = [_prefix(r.low | rng.randrange(256) << 8, rng.choice([20, 24])) for r in sixteens]
    return sixteens + inside * 4


def _selector(rng: random.Random, local: list[Range]) -> Selector:
    source = rng.choice(local)
    remote = rng.randrange(0x0B000000, 0xDF000000)  # outside 10/8, below multicast
    destination = _prefix(remote, rng.choice(REMOTE_LENGTHS))
    kind = rng.random()
    if kind < 0.05:
        return Selector(TCP, source, destination, ALL_PORTS, Range(p := rng.randrange(1, 1024), p))
    if kind < 0.08:
        low = rng.randrange(1024, 60000)
        return Selector(UDP, source, destination, ALL_PORTS, Range(low, low + rng.randrange(100)))
    if kind < 0.10:
        return Selector(TCP, source, destination, Range(1024, 65535), ALL_PORTS)
    return Selector(0, source, destination)


def crypto_map_set(aces: int, *, split: bool, seed: int) -> CryptoMapSet:
    rng = random.Random(seed)
    local = _local_networks(rng)
    rules: list[Selector] = [_selector(rng, local) for _ in range(aces)]
    per_entry = ACES_PER_ENTRY if split else aces
    entries = []
    for n, start in enumerate(range(0, aces, per_entry)):
        name = f"SITE{n}"
        chunk = rules[start : start + per_entry]
        acl_rules = tuple(
            # about one ACE in thirty denies: a host carved out of the next ACE's networks
            Rule(DENY if rng.random() < 0.03 else PERMIT, (s,), name, line, "")
            for line, s in enumerate(chunk, start=1)
        )
        entries.append(MapEntry("OUTSIDE", n + 1, acl=Acl(name, acl_rules), peers=("peer",)))
    return CryptoMapSet("OUTSIDE", "outside", tuple(entries))


def flows(cmap: CryptoMapSet, count: int, seed: int) -> list[Flow]:
    """Half inside a random ACE, half random addresses (mostly misses)."""
    rng = random.Random(seed)
    selectors = [s for e in cmap.entries if e.acl for r in e.acl.rules for s in r.selectors]
    out = []
    for i in range(count):
        if i % 2:
            s = rng.choice(selectors)
            protocol = s.protocol or rng.choice([TCP, UDP, 1])
            out.append(
                Flow(
                    protocol,
                    rng.randint(s.source.low, s.source.high),
                    rng.randint(s.destination.low, s.destination.high),
                    rng.randint(s.source_ports.low, s.source_ports.high),
                    rng.randint(s.destination_ports.low, s.destination_ports.high),
                    8 if protocol == 1 else None,
                )
            )
        else:
            src = rng.randrange(1 << 32) if rng.random() < 0.5 else rng.choice(selectors).source.low
            out.append(Flow(TCP, src, rng.randrange(1 << 32), rng.randrange(65536), 443))
    return out


def measure(cmap: CryptoMapSet, lookups: int, seed: int) -> dict[str, float]:
    started = time.perf_counter()
    classifier = Classifier.compile(cmap)
    compile_s = time.perf_counter() - started
    sample = flows(cmap, lookups, seed)
    classify = classifier.classify
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for flow in sample:
            classify(flow)
        best = min(best, time.perf_counter() - started)
    hits = sum(isinstance(classify(f), Protect) for f in sample) / len(sample)
    reference_sample = sample[: max(20, min(lookups, 2_000_000 // _aces(cmap)))]
    started = time.perf_counter()
    for flow in reference_sample:
        evaluate_outbound(cmap, flow)
    reference_s = time.perf_counter() - started
    return {
        "compile_s": compile_s,
        "per_lookup_s": best / len(sample),
        "rate": len(sample) / best,
        "reference_rate": len(reference_sample) / reference_s,
        "hits": hits,
    }


def _aces(cmap: CryptoMapSet) -> int:
    return sum(len(e.acl.rules) for e in cmap.entries if e.acl)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{'ACEs':>8} {'layout':<10} {'entries':>7} {'compile':>9} {'lookups/s':>11} "
          f"{'us/lookup':>9} {'hits':>5} {'reference/s':>12}")  # fmt: skip
    for split in (True, False):
        results = {}
        for aces in SIZES:
            cmap = crypto_map_set(aces, split=split, seed=args.seed)
            r = results[aces] = measure(cmap, args.lookups, args.seed)
            layout = "split" if split else "one ACL"
            print(
                f"{aces:>8,} {layout:<10} {len(cmap.entries):>7,} {r['compile_s']:>8.2f}s "
                f"{r['rate']:>11,.0f} {r['per_lookup_s'] * 1e6:>9.2f} {r['hits']:>5.0%} "
                f"{r['reference_rate']:>12,.0f}"
            )
        ratio = results[SIZES[-1]]["per_lookup_s"] / results[SIZES[0]]["per_lookup_s"]
        print(f"per-lookup cost {SIZES[-1]:,} / {SIZES[0]} ACEs: {ratio:.2f}x (aim <= 3x)\n")


if __name__ == "__main__":
    main()
