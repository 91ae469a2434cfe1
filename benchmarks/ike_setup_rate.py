"""Benchmark: IKE set-up rate of ``tunnelgate run`` against strongSwan's charon as responder.

For each case (modp2048 and ecp256, IKE only and IKE+child) and each responder, a fresh pair of
network namespaces joined by a veth (initiator 192.0.2.1, responder 192.0.2.2); the responder
is ``python -m tunnelgate run`` or a charon isolated as ``tests/interop/harness.py`` does; the
initiator is ``tunnelgate bench ike`` (same proposal, ``--parallel 4`` by default, split over
``--workers`` generator processes, so the generator is not the bottleneck). Prints set-ups/s,
latency percentiles, CPU seconds of both sides, and tunnelgate/charon ratios.

Run as root: ``.venv/bin/python benchmarks/ike_setup_rate.py [--count N] [--workers W]
[--parallel P] [--case NAME ...] [--profile FILE]``
(``--case`` runs only the named cases, e.g. ``ecp256`` or ``ecp256+child``; ``--profile`` keeps a
cProfile of the tunnelgate responder for the first case run). For the responder's CPU per
set-up without namespaces or a busy machine's noise, see ``benchmarks/ike_responder_cpu.py``.
charon logs at level 0 and is told ``unique = never`` (SAs with the same identities are all kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.interop.harness import (
    Charon,
    CharonSettings,
    Namespace,
    Netns,
    TunnelgateDaemon,
    charon_installed,
)

INITIATOR, RESPONDER = "192.0.2.1", "192.0.2.2"
PSK = "bench-secret-1"
ESP = "aes256gcm16"
CASES = (
    ("aes256-sha256-modp2048", 14, False),
    ("aes256-sha256-modp2048", 14, True),
    ("aes256-sha256-ecp256", 19, False),
    ("aes256-sha256-ecp256", 19, True),
)


#: Every initiator comes from one address: lift charon's per-address half-open limits
#: (defaults 3 before COOKIE and 5 before blocking), as for many distinct peers.
CHARON_EXTRA = "cookie_threshold_ip = 100000\nblock_threshold = 100000\n"


def tunnelgate_config(group: int) -> str:
    return f"""\
hostname responder
interface eth0
 nameif outside
 security-level 0
 ip address {RESPONDER} 255.255.255.0
access-list BENCH extended permit ip 10.2.0.0 255.255.255.0 10.1.0.0 255.255.255.0
crypto ipsec ikev2 ipsec-proposal BENCH
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map BENCH 10 match address BENCH
crypto map BENCH 10 set peer {INITIATOR}
crypto map BENCH 10 set ikev2 ipsec-proposal BENCH
crypto map BENCH interface outside
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group {group}
 prf sha256
crypto ikev2 enable outside
tunnel-group {INITIATOR} type ipsec-l2l
tunnel-group {INITIATOR} ipsec-attributes
 ikev2 remote-authentication pre-shared-key {PSK}
 ikev2 local-authentication pre-shared-key {PSK}
 isakmp keepalive disable
"""


def charon_config(proposal: str) -> str:
    return textwrap.dedent(
        f"""\
        connections {{
            bench {{
                version = 2
                local_addrs = {RESPONDER}
                remote_addrs = {INITIATOR}
                proposals = {proposal}
                unique = never
                local {{
                    auth = psk
                    id = {RESPONDER}
                }}
                remote {{
                    auth = psk
                    id = {INITIATOR}
                }}
                children {{
                    bench {{
                        local_ts = 10.2.0.0/24
                        remote_ts = 10.1.0.0/24
                        esp_proposals = {ESP}
                    }}
                }}
            }}
        }}
        secrets {{
            ike-bench {{
                id-local = {RESPONDER}
                id-remote = {INITIATOR}
                secret = "{PSK}"
            }}
        }}
        """
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its waited-for children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Measurement:
    result: dict[str, object]
    initiator_cpu: float
    responder_cpu: float


PROFILE_PRELUDE = """
import atexit, cProfile, signal, sys
_profile = cProfile.Profile()
_profile.enable()
def _dump(*_):
    _profile.disable()
    _profile.dump_stats({path!r})
atexit.register(_dump)
"""


@dataclass(frozen=True)
class Load:
    count: int
    parallel: int
    workers: int


def measure(
    responder: str, proposal: str, group: int, child: bool, load: Load, profile: Path | None
) -> Measurement:
    with Netns() as netns:
        ini, rsp = netns.add("ini"), netns.add("rsp")
        netns.veth(ini, f"{INITIATOR}/24", rsp, f"{RESPONDER}/24")
        rsp.add_address("10.2.0.1/32")  # libipsec: a local address inside the local selector
        pid: int
        if responder == "tunnelgate":
            prelude = PROFILE_PRELUDE.format(path=str(profile)) if profile else None
            daemon = TunnelgateDaemon(rsp, tunnelgate_config(group), python_prelude=prelude)
            daemon.start()
            pid = daemon.proc.pid
        else:
            settings = CharonSettings(log_default=0, log_levels={}, extra=CHARON_EXTRA)
            charon = Charon(rsp, charon_config(proposal), settings=settings).start()
            pid = charon.pid
        before = cpu_seconds(pid)
        result, initiator_cpu = bench(ini, proposal, child, load)
        return Measurement(result, initiator_cpu, cpu_seconds(pid) - before)


def bench(ns: Namespace, proposal: str, child: bool, load: Load) -> tuple[dict[str, object], float]:
    """``tunnelgate bench ike`` in ``ns``: its JSON result and its CPU seconds."""
    code = textwrap.dedent(
        """
        import json, resource, sys
        from tunnelgate.__main__ import main
        code = main(sys.argv[1:])
        own = resource.getrusage(resource.RUSAGE_SELF)
        workers = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
        print(json.dumps({"cpu": cpu}))
        """
    )
    argv = [sys.executable, "-c", code, "bench", "ike", "--peer", RESPONDER, "--local", INITIATOR]
    argv += ["--count", str(load.count), "--parallel", str(load.parallel), "--version", "2"]
    argv += ["--workers", str(load.workers)]
    argv += ["--proposal", proposal, "--esp-proposal", ESP, "--psk", PSK, "--json"]
    if child:
        argv.append("--child")
    out = ns.run(*argv, timeout=300, check=False)
    lines = out.stdout.strip().splitlines()
    if len(lines) < 2:
        raise RuntimeError(f"bench failed: {out.stdout}\n{out.stderr}")
    return json.loads(lines[0]), float(json.loads(lines[1])["cpu"])


def _case_name(proposal: str, child: bool) -> str:
    return proposal.rsplit("-", 1)[1] + ("+child" if child else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="set-ups per case")
    parser.add_argument("--parallel", type=int, default=4, help="set-ups in flight")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--profile", type=Path, help="cProfile output of the tunnelgate responder")
    parser.add_argument(
        "--case",
        action="append",
        help="run only this case (repeatable): modp2048, modp2048+child, ecp256, ecp256+child",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    responders = ["tunnelgate", *(["charon"] if charon_installed() else [])]
    if len(responders) == 1:
        print("charon is not installed: tunnelgate only", file=sys.stderr)
    print(
        f"IKEv2 set-ups, {args.count} per case, {args.parallel} in flight "
        f"({args.workers} generator processes), ESP {ESP}; "
        f"cores: {os.cpu_count()}; CPU s = responder / initiator"
    )
    header = f"{'case':<36}{'responder':<12}{'ok':>5}{'fail':>5}{'/s':>9}"
    print(header + f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'CPU s':>14}")
    ratios: list[str] = []
    cases = [c for c in CASES if not args.case or _case_name(c[0], c[2]) in args.case]
    for n, (proposal, group, child) in enumerate(cases):
        case = f"{proposal}{' +child' if child else ''}"
        rates: dict[str, float] = {}
        for responder in responders:
            profile = args.profile if (responder == "tunnelgate" and n == 0) else None
            load = Load(args.count, args.parallel, args.workers)
            m = measure(responder, proposal, group, child, load, profile)
            r = m.result
            rates[responder] = float(str(r["rate_per_s"]))
            print(
                f"{case:<36}{responder:<12}{r['ok']!s:>5}{r['failed']!s:>5}"
                f"{r['rate_per_s']!s:>9}{r['latency_ms_p50']!s:>9}{r['latency_ms_p95']!s:>9}"
                f"{r['latency_ms_p99']!s:>9}{f'{m.responder_cpu:.2f} / {m.initiator_cpu:.2f}':>14}",
                flush=True,
            )
            if r["failed"]:
                print(f"    failures: {r['failures']}")
        if "charon" in rates and rates["charon"] > 0:
            ratios.append(
                f"{case:<36}tunnelgate/charon = {rates['tunnelgate'] / rates['charon']:.2f}"
            )
    if ratios:
        print("\nset-up rate ratios (same run):")
        print("\n".join(ratios))
    if args.profile:
        print(f"\ntunnelgate responder profile (first case): {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
