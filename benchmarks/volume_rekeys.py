"""Stress, by hand: a TCP transfer through the lab while volume lifetimes rekey the child SA
every few tens of milliseconds, then what each gateway dropped.

Run as root: ``.venv/bin/python benchmarks/volume_rekeys.py [--kilobytes 16384] [--mib 64]
[--nat] [--no-fast-path]``. Both gateways get ``crypto map LAB-MAP 10 set security-association
lifetime kilobytes N`` through their CLI; host-a sends ``--mib`` MiB to host-b (SHA-256 checked)
and the script prints the rekeys seen and ``show tunnelgate counters`` drops of both gateways
(make-before-break: only ``too-big-df``, path MTU discovery, is expected; D110, D111, D116).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.test_lab_cli import cli
from tests.e2e.test_lab_tunnel import events, ping, show, tcp_transfer, up

from tunnelgate.lab import Lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kilobytes", type=int, default=16384, help="the volume lifetime")
    parser.add_argument("--mib", type=int, default=64, help="MiB to send host-a -> host-b")
    parser.add_argument("--nat", action="store_true", help="gw-b behind the NAT (ESP in UDP)")
    parser.add_argument("--no-fast-path", action="store_true", help="the Python data path only")
    args = parser.parse_args(argv)
    labs: list[Lab] = []
    try:
        extra = ("--no-fast-path",) if args.no_fast_path else ()
        lab = up(labs, Path(tempfile.mkdtemp(prefix="tg-volrekey-")), nat=args.nat, args=extra)
        for gw in ("gw-a", "gw-b"):
            lifetime = f"security-association lifetime kilobytes {args.kilobytes}"
            line = f"crypto map LAB-MAP 10 set {lifetime}"
            done = cli(lab, gw, "configure terminal", line, "end")
            if done.returncode != 0:
                print(f"{gw}: {done.stdout}{done.stderr}", file=sys.stderr)
                return 1
        print("ping before:", ping(lab, "host-a", "10.2.0.10", 2))
        sent, received = tcp_transfer(lab, args.mib * 1024 * 1024)
        print("sent    ", sent)
        print("received", received, "(equal)" if sent == received else "(DIFFERENT)")
        both = events(lab, "gw-a") + events(lab, "gw-b")
        rekeys = [e for e in both if e["event"] == "ChildSaInstalled" and e["rekey_of"]]
        print("child SAs installed by rekeys (both gateways):", len(rekeys))
        failed = sent != received
        for gw in ("gw-a", "gw-b"):
            counters = json.loads(show(lab, gw, "show tunnelgate counters"))
            print(f"{gw} drops: {counters['drops']}  counters: {counters['counters']}")
            failed |= not set(counters["drops"]) <= {"too-big-df"}
        return 1 if failed else 0
    finally:
        for made in labs:
            made.down()


if __name__ == "__main__":
    sys.exit(main())
