"""Benchmark: load a generated 100,000-line ASA configuration (target ≤ 2 s).

Run by hand: ``.venv/bin/python benchmarks/config_load.py [--lines N] [--repeat R]``.
The configuration mixes what large real estates have: long crypto ACLs, many crypto map
entries with peers and transform sets, tunnel groups and IKE policies.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tunnelgate.config.loader import load_config


def generate(lines: int) -> str:
    """A valid configuration of about ``lines`` command lines."""
    out = [
        "hostname hub",
        "interface GigabitEthernet0/0",
        " nameif outside",
        " security-level 0",
        " ip address 203.0.113.1 255.255.255.0",
        "crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac",
        "crypto ipsec ikev2 ipsec-proposal P",
        " protocol esp encryption aes-256",
        " protocol esp integrity sha-256",
        "crypto ikev1 policy 10",
        " encryption aes-256",
        "crypto ikev2 policy 10",
        " encryption aes-256",
        "crypto ikev1 enable outside",
        "crypto ikev2 enable outside",
    ]
    site = 0
    while len(out) < lines:
        site += 1
        a, b = divmod(site, 250)
        acl = f"SITE{site}_CRYPTO"
        peer = f"198.51.{a % 256}.{b + 1}"
        for n in range(8):
            out.append(
                f"access-list {acl} extended permit ip 10.{a % 256}.{b}.0 255.255.255.0 "
                f"172.16.{n}.0 255.255.255.0"
            )
        out.append(f"access-list {acl} extended permit tcp host 10.0.0.{b + 1} any eq https")
        out.extend(
            [
                f"crypto map OUTSIDE {site} match address {acl}",
                f"crypto map OUTSIDE {site} set peer {peer}",
                f"crypto map OUTSIDE {site} set ikev1 transform-set TS",
                f"crypto map OUTSIDE {site} set ikev2 ipsec-proposal P",
                f"tunnel-group {peer} type ipsec-l2l",
                f"tunnel-group {peer} ipsec-attributes",
                f" ikev1 pre-shared-key key{site}",
            ]
        )
    out.append("crypto map OUTSIDE interface outside")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = generate(args.lines)
    count = text.count("\n")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = load_config(text, source="generated.cfg")
        times.append(time.perf_counter() - start)
        if result.config is None:
            for diag in result.errors[:5]:
                print(diag.render())
            raise SystemExit("the generated configuration was refused")
    median = statistics.median(times)
    print(
        f"{count} lines: median {median:.3f} s over {args.repeat} runs "
        f"(min {min(times):.3f} s, {median / count * 1e6:.1f} µs/line); target ≤ 2 s"
    )


if __name__ == "__main__":
    main()
