"""Benchmark: the real gateway daemon (``tunnelgate run``) against strongSwan charon, in one run.

Run by hand, as root: ``.venv/bin/python benchmarks/gateway_throughput.py [--seconds 5]
[--repeat 1] [--nat] [--udp-rate 200M] [--algorithms gcm,cbc,3des] [--baseline OLD_SRC]
[--candidate NEW_SRC] [--ipv6]``.

Both tunnels are measured in the lab's topology (``tunnelgate.lab``)::

    host-a 10.1.0.10 — gw-a 192.0.2.1 — inet — (NAT →) gw-b 198.51.100.2 — host-b 10.2.0.10

1. tunnelgate: ``Lab.up`` with its two ``tunnelgate run`` daemons (IKEv2 PSK, the configs of
   ``examples/lab`` with the ESP proposal of each algorithm written into temporary copies);
   native ESP (IP protocol 50), or ESP-in-UDP 4500 with ``--nat``;
2. charon: the same topology without gateways (``gateways=False``), one strongSwan charon per
   gateway namespace (kernel-libipsec: userspace ESP over TUN, always ESP-in-UDP 4500), each
   isolated in its own mount namespace by ``tests/interop/harness.py``, with the matching ESP
   proposal. charon is always measured in the direct topology (libipsec encapsulates in UDP
   anyway).

``--algorithms`` (default ``gcm``), each measured on both tunnels and printed as its own table:

| name   | tunnelgate ``ipsec-proposal``                   | charon ``esp_proposals`` |
|--------|-------------------------------------------------|--------------------------|
| gcm    | ``encryption aes-gcm-256``, ``integrity null``  | ``aes256gcm16``          |
| cbc    | ``encryption aes-256``, ``integrity sha-256``   | ``aes256-sha256``        |
| 3des   | ``encryption 3des``, ``integrity sha-1``        | ``3des-sha1``            |

From host-a to host-b: iperf3 TCP (Mbit/s, receiver's figure), iperf3 UDP with 100-byte
payloads at ``--udp-rate`` (packets/s received and loss), and ping RTT at light load (avg and
p99 of 200 pings, 10 ms apart). ``--ipv6`` adds two tunnelgate columns: IPv6 between the sites
through the IPv4 tunnel (host-a 2001:db8:1::10 -> host-b 2001:db8:2::10, D113), and the sites'
IPv4 through a tunnel over an IPv6 internet (``examples/lab-ipv6``, D114). Figures drift on
shared machines: read the ratios, taken in the same run. Lab prefixes are unique per run; labs
are torn down in ``finally``; every process started here is ended by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.interop.harness import (  # noqa: E402
    Charon,
    HarnessError,
    Namespace,
    charon_installed,
    end_process,
    psk_gateway_conf,
    wait_until,
)

from tunnelgate.lab import Lab  # noqa: E402
from tunnelgate.lab.netns import LabError, ns_argv  # noqa: E402
from tunnelgate.lab.topology import GW_A_PUBLIC, GW_B_PUBLIC  # noqa: E402

HOST_A_IP, HOST_B_IP = "10.1.0.10", "10.2.0.10"
Hosts = tuple[str, str]  # host-a's and host-b's addresses the traffic uses
V4_HOSTS: Hosts = (HOST_A_IP, HOST_B_IP)
V6_HOSTS: Hosts = ("2001:db8:1::10", "2001:db8:2::10")
NET_A, NET_B = "10.1.0.0/24", "10.2.0.0/24"
IPERF_PORT = "5201"
PINGS, PING_INTERVAL = 200, 0.01
_RTT = re.compile(r"time=([0-9.]+) ms")


class BenchError(RuntimeError):
    """One measurement could not be made (the message says why)."""


@dataclass(frozen=True)
class Algorithm:
    """One ESP algorithm measured on both tunnels."""

    name: str
    encryption: str  # ``protocol esp encryption`` of the lab's ipsec-proposal
    integrity: str  # ``protocol esp integrity``
    charon: str  # swanctl esp_proposals
    title: str


ALGORITHMS = {
    a.name: a
    for a in (
        Algorithm("gcm", "aes-gcm-256", "null", "aes256gcm16", "AES-GCM-256"),
        Algorithm("cbc", "aes-256", "sha-256", "aes256-sha256", "AES-CBC-256 + HMAC-SHA-256-128"),
        Algorithm("3des", "3des", "sha-1", "3des-sha1", "3DES-CBC + HMAC-SHA-1-96"),
    )
}
_LAB_CONFIGS = ("gw-a.cfg", "gw-b.cfg", "gw-b-nat.cfg")
_ESP_LINE = re.compile(r"^ protocol esp (encryption|integrity) .*$", re.MULTILINE)


def write_configs(algorithm: Algorithm, directory: Path, lab: str = "lab") -> Path:
    """Copies of ``examples/LAB``'s gateway configs with ``algorithm``'s ESP proposal."""
    directory.mkdir(parents=True, exist_ok=True)
    source = REPO / "examples" / lab
    values = {"encryption": algorithm.encryption, "integrity": algorithm.integrity}
    for name in _LAB_CONFIGS:
        if not source.joinpath(name).exists():
            continue  # examples/lab-ipv6 has no NAT variant
        text = source.joinpath(name).read_text()
        text, count = _ESP_LINE.subn(
            lambda m: f" protocol esp {m.group(1)} {values[m.group(1)]}", text
        )
        if count != 2:
            raise BenchError(f"{source / name}: expected one ESP encryption and integrity line")
        directory.joinpath(name).write_text(text)
    return directory


@dataclass
class Figures:
    tcp_mbits: float | None = None
    udp_pps: float | None = None
    udp_loss: float | None = None  # percent
    rtt_avg: float | None = None  # ms
    rtt_p99: float | None = None


# ---------------------------------------------------------------------------------------------
# Traffic


def _wait_ping(lab: Lab, timeout: float = 30.0, hosts: Hosts = V4_HOSTS) -> None:
    def ok() -> bool:
        out = lab.exec("host-a", ["ping", "-c", "1", "-W", "1", hosts[1]], timeout=5)
        return out.returncode == 0

    try:
        wait_until(ok, timeout=timeout, interval=0.2, what="ping host-a -> host-b")
    except TimeoutError as exc:
        raise BenchError(str(exc)) from exc


def _iperf(lab: Lab, extra: list[str], seconds: int, hosts: Hosts = V4_HOSTS) -> dict[str, object]:
    server = subprocess.Popen(
        ns_argv(lab.namespace("host-b"), ["iperf3", "-s", "-1", "-B", hosts[1], "-p", IPERF_PORT]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            if server.poll() is not None:
                raise BenchError(f"iperf3 server exited with {server.returncode}")
            out = lab.exec("host-b", ["ss", "-Hltn", f"sport = :{IPERF_PORT}"], timeout=5)
            return bool(out.stdout.strip())

        wait_until(listening, timeout=10.0, what="iperf3 server")
        argv = ["iperf3", "-c", hosts[1], "-B", hosts[0], "-p", IPERF_PORT]
        client = lab.exec("host-a", [*argv, "-t", str(seconds), "-J", *extra], timeout=seconds + 30)
    finally:
        end_process(server)
    try:
        report: dict[str, object] = json.loads(client.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"iperf3 gave no JSON: {client.stdout[-300:]} {client.stderr}") from exc
    if "error" in report:
        raise BenchError(f"iperf3: {report['error']}")
    return report


def tcp(lab: Lab, seconds: int, hosts: Hosts = V4_HOSTS) -> float:
    end = _iperf(lab, [], seconds, hosts)["end"]
    assert isinstance(end, dict)
    return float(end["sum_received"]["bits_per_second"]) / 1e6


def udp(lab: Lab, seconds: int, rate: str, hosts: Hosts = V4_HOSTS) -> tuple[float, float]:
    """(packets/s received, loss %) of 100-byte UDP datagrams sent at ``rate``."""
    end = _iperf(lab, ["-u", "-l", "100", "-b", rate], seconds, hosts)["end"]
    assert isinstance(end, dict)
    total = end.get("sum_received") or end["sum"]
    sent, lost = int(total["packets"]), int(total["lost_packets"])
    elapsed = float(total.get("seconds") or seconds)
    return (sent - lost) / elapsed, float(total["lost_percent"])


def rtt(lab: Lab, hosts: Hosts = V4_HOSTS) -> tuple[float, float]:
    """(avg, p99) ping RTT in ms at light load."""
    out = lab.exec(
        "host-a",
        ["ping", "-n", "-c", str(PINGS), "-i", str(PING_INTERVAL), hosts[1]],
        timeout=PINGS * PING_INTERVAL + 30,
    ).stdout
    times = sorted(float(m) for m in _RTT.findall(out))
    if not times:
        raise BenchError(f"no ping replies: {out[-300:]}")
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.fmean(times), p99


def measure(lab: Lab, seconds: int, rate: str, label: str, hosts: Hosts = V4_HOSTS) -> Figures:
    figures = Figures()
    steps: tuple[tuple[str, Callable[[], None]], ...] = (
        ("tcp", lambda: setattr(figures, "tcp_mbits", tcp(lab, seconds, hosts))),
        ("udp", lambda: _set_udp(figures, udp(lab, seconds, rate, hosts))),
        ("rtt", lambda: _set_rtt(figures, rtt(lab, hosts))),
    )
    for what, step in steps:
        try:
            step()
        except (BenchError, TimeoutError, KeyError, subprocess.TimeoutExpired) as exc:
            print(f"  {label}: {what} failed: {exc}", flush=True)
    return figures


def _set_udp(f: Figures, value: tuple[float, float]) -> None:
    f.udp_pps, f.udp_loss = value


def _set_rtt(f: Figures, value: tuple[float, float]) -> None:
    f.rtt_avg, f.rtt_p99 = value


# ---------------------------------------------------------------------------------------------
# The two tunnels


def _prefix() -> str:
    return "tgb" + secrets.token_hex(4)


def measure_tunnelgate(
    workdir: Path,
    nat: bool,
    seconds: int,
    rate: str,
    source: Path | None = None,
    algorithm: Algorithm = ALGORITHMS["gcm"],
    hosts: Hosts = V4_HOSTS,
    lab_configs: str = "lab",
) -> Figures:
    """``source``: run the daemons from that ``src`` directory instead (``--baseline``);
    ``hosts``: the sites' addresses the traffic uses; ``lab_configs``: ``examples/…``."""
    prefix = _prefix()
    lab: Lab | None = None
    saved = os.environ.get("PYTHONPATH")
    if source is not None:  # the daemons inherit it; this process keeps its own modules
        os.environ["PYTHONPATH"] = str(source)
    try:
        configs = write_configs(
            algorithm, workdir / f"configs-{algorithm.name}-{lab_configs}", lab_configs
        )
        lab = Lab.up(prefix, nat=nat, state_dir=workdir / prefix, config_dir=configs)
        _wait_ping(lab, hosts=hosts)
        return measure(lab, seconds, rate, "tunnelgate", hosts)
    finally:
        if lab is not None:
            for gw in ("gw-a", "gw-b"):
                log = lab.log(gw)
                if log.exists():
                    tail = log.read_text(errors="replace").splitlines()[-3:]
                    errors = [line for line in tail if "error" in line.lower()]
                    if errors:
                        print(f"  {gw}: {errors}", flush=True)
            lab.down()
        if source is not None:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved


def measure_charon(
    workdir: Path, seconds: int, rate: str, algorithm: Algorithm = ALGORITHMS["gcm"]
) -> Figures:
    prefix = _prefix()
    lab: Lab | None = None
    namespaces: list[Namespace] = []
    try:
        lab = Lab.up(prefix, nat=False, state_dir=workdir / prefix, gateways=False)
        sides = (
            ("gw-a", GW_A_PUBLIC, GW_B_PUBLIC, NET_A, NET_B),
            ("gw-b", GW_B_PUBLIC, GW_A_PUBLIC, NET_B, NET_A),
        )
        charons: list[Charon] = []
        for node, local, remote, local_ts, remote_ts in sides:
            ns = Namespace(lab.namespace(node))
            namespaces.append(ns)
            conf = psk_gateway_conf(
                local_addr=local,
                remote_addr=remote,
                local_ts=local_ts,
                remote_ts=remote_ts,
                esp_proposals=algorithm.charon,
            )
            charons.append(Charon(ns, conf, name=f"charon-{node}").start())
        charons[0].initiate("gw", timeout=20)
        for charon in charons:
            charon.wait_established("gw", "gw", timeout=20)
        _wait_ping(lab)
        return measure(lab, seconds, rate, "charon")
    finally:
        for ns in namespaces:
            ns.stop_processes()
        if lab is not None:
            lab.down()


# ---------------------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "failed" if value is None else f"{value:.{digits}f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}" if ours is not None and theirs else "n/a"


def preflight() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices)"
    for tool in ("ip", "ping", "ss", "iperf3", "nft"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed"
    if not charon_installed():
        return "strongSwan charon/swanctl not installed"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=5, help="per iperf3 run (default 5)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tunnel; median")
    parser.add_argument("--nat", action="store_true", help="gw-b behind the NAT (ESP-in-UDP)")
    parser.add_argument("--udp-rate", default="200M", help="iperf3 -b for the UDP test")
    parser.add_argument(
        "--algorithms",
        default="gcm",
        help=f"comma-separated, of {','.join(ALGORITHMS)} (default gcm); one table each",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also measure daemons run from this copy of src/ (before/after in one run)",
    )
    parser.add_argument(
        "--candidate",
        type=Path,
        metavar="SRC",
        help="run the measured daemons from this copy of src/ instead of the tree's",
    )
    parser.add_argument(
        "--ipv6",
        action="store_true",
        help="also: IPv6 between the sites, and the sites' IPv4 over an IPv6 internet",
    )
    args = parser.parse_args(argv)
    if args.ipv6 and args.nat:
        parser.error("--ipv6 measures the direct topology (examples/lab-ipv6 has no NAT)")
    if args.repeat < 1 or args.seconds < 1:
        parser.error("--seconds and --repeat must be at least 1")
    names = [n.strip() for n in args.algorithms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALGORITHMS]
    if not names or unknown:
        parser.error(f"--algorithms: unknown {unknown}; choose from {', '.join(ALGORITHMS)}")
    algorithms = [ALGORITHMS[n] for n in dict.fromkeys(names)]
    problem = preflight()
    if problem is not None:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    path = "ESP-in-UDP 4500 behind the NAT" if args.nat else "native ESP (IP protocol 50)"
    print(f"CPU: {os.cpu_count()} cores shared by both gateways, iperf3 client and server.")
    print(f"tunnelgate: two `tunnelgate run` daemons, {path}.")
    print("charon: strongSwan kernel-libipsec, ESP-in-UDP 4500, direct topology.")
    print(f"algorithms: {', '.join(f'{a.name} ({a.title})' for a in algorithms)}.")
    print(
        f"{args.seconds} s per iperf3 run, {args.repeat} run(s) each (median), host-a -> host-b; "
        f"UDP 100-byte payloads at {args.udp_rate}; {PINGS} pings at {PING_INTERVAL * 1000:g} ms.\n"
    )
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"tg-gwbench-{os.getpid()}-"))
    runs: dict[tuple[str, str], list[Figures]] = {}
    candidate = args.candidate.resolve() if args.candidate is not None else None
    baseline = args.baseline.resolve() if args.baseline is not None else None

    def plan(algorithm: Algorithm) -> dict[str, Callable[[], Figures]]:
        measures: dict[str, Callable[[], Figures]] = {
            "charon": lambda: measure_charon(workdir, args.seconds, args.udp_rate, algorithm),
            "tunnelgate": lambda: measure_tunnelgate(
                workdir, args.nat, args.seconds, args.udp_rate, candidate, algorithm
            ),
        }
        if baseline is not None:
            measures["baseline"] = lambda: measure_tunnelgate(
                workdir, args.nat, args.seconds, args.udp_rate, baseline, algorithm
            )
        if args.ipv6:
            measures["v6 inside"] = lambda: measure_tunnelgate(
                workdir, False, args.seconds, args.udp_rate, candidate, algorithm, V6_HOSTS
            )
            measures["over v6"] = lambda: measure_tunnelgate(
                workdir,
                False,
                args.seconds,
                args.udp_rate,
                candidate,
                algorithm,
                V4_HOSTS,
                "lab-ipv6",
            )
        return measures

    failed = False
    try:
        for _ in range(args.repeat):
            for algorithm in algorithms:
                for name, run in plan(algorithm).items():
                    try:
                        figures = run()
                    except (BenchError, HarnessError, LabError, TimeoutError) as exc:
                        print(f"  {algorithm.name} {name} failed: {exc}", flush=True)
                        failed = True
                        continue
                    print(f"  {algorithm.name} {name}: {figures}", flush=True)
                    runs.setdefault((algorithm.name, name), []).append(figures)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for algorithm in algorithms:
        print_table(algorithm, runs, baseline is not None, args.ipv6)
    print(f"\ntotal time {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


def print_table(
    algorithm: Algorithm, runs: dict[tuple[str, str], list[Figures]], base: bool, v6: bool = False
) -> None:
    def med(name: str, attr: str) -> float | None:
        return _median([getattr(f, attr) for f in runs.get((algorithm.name, name), [])])

    rows = (
        ("TCP Mbit/s", "tcp_mbits", 1, False),
        ("UDP 100 B pkt/s", "udp_pps", 0, False),
        ("UDP loss %", "udp_loss", 1, True),
        ("RTT avg ms", "rtt_avg", 3, True),
        ("RTT p99 ms", "rtt_p99", 3, True),
    )
    print(f"\n{algorithm.name}: tunnelgate {algorithm.title}, charon {algorithm.charon}")
    header = f"{'figure':<17} {'charon':>10} {'tunnelgate':>11} {'tg/charon':>10}"
    if base:
        header += f" {'baseline':>10} {'base/charon':>11} {'tg/base':>8}"
    if v6:
        header += f" {'v6 inside':>10} {'/charon':>8} {'over v6':>10} {'/charon':>8}"
    print(header)
    print("-" * len(header))
    for title, attr, digits, lower_better in rows:
        theirs, ours = med("charon", attr), med("tunnelgate", attr)
        line = f"{title:<17} {_fmt(theirs, digits):>10} {_fmt(ours, digits):>11}"
        line += f" {_ratio(ours, theirs):>10}"
        if base:
            before = med("baseline", attr)
            line += f" {_fmt(before, digits):>10} {_ratio(before, theirs):>11}"
            line += f" {_ratio(ours, before):>8}"
        if v6:
            for name in ("v6 inside", "over v6"):
                value = med(name, attr)
                line += f" {_fmt(value, digits):>10} {_ratio(value, theirs):>8}"
        print(line + (" (lower is better)" if lower_better else ""))


if __name__ == "__main__":
    sys.exit(main())
