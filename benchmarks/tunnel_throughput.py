"""Benchmark: TCP throughput through a whole tunnel, tunnelgate against strongSwan, in one run.

Run by hand, as root: ``.venv/bin/python benchmarks/tunnel_throughput.py [--seconds 5]
[--algorithms gcm,cbc[,3des]] [--repeat 1]`` (about 10 s per algorithm and repeat).

For each ESP algorithm two tunnels are measured in the same namespace topology (namespaces
``a`` and ``b`` linked by a veth, 192.0.2.1/24 <-> 192.0.2.2/24, inside addresses 10.1.0.1 and
10.2.0.1 on their loopbacks, 10.1.0.0/24 <-> 10.2.0.0/24 tunnelled):

1. the anchor: charon <-> charon (strongSwan, IKEv2 PSK) with ``kernel-libipsec``, i.e. ESP in
   user space over a TUN device, ESP-in-UDP 4500;
2. tunnelgate <-> tunnelgate: two ``tunnelgate.net.esp_runner`` processes with mirrored
   **static keys** (no IKE), ESP-in-UDP 4500 over a TUN device.

iperf3 (TCP) runs its server in ``b`` (bound to 10.2.0.1) and its client in ``a`` (bound to
10.1.0.1); the figure is ``end.sum_received.bits_per_second``. Absolute figures drift on shared
machines: read the ratio tunnelgate/charon, taken in the same run. Namespaces carry a per-run
unique prefix and are deleted at the end; every process started here is ended by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.interop.harness import (  # noqa: E402
    Charon,
    HarnessError,
    Namespace,
    Netns,
    charon_installed,
    end_process,
    psk_gateway_conf,
    wait_until,
)

GW_A, GW_B = "192.0.2.1", "192.0.2.2"
INSIDE_A, INSIDE_B = "10.1.0.1", "10.2.0.1"
NET_A, NET_B = "10.1.0.0/24", "10.2.0.0/24"
TUN = "tg0"
TUN_MTU = "1400"
IPERF_PORT = "5201"
SPI_A_TO_B, SPI_B_TO_A = 0x1001, 0x1002


@dataclass(frozen=True)
class Algorithm:
    name: str
    #: charon's ESP proposal
    charon: str
    #: tunnelgate's esp_runner keywords and key lengths (bytes)
    encryption: str
    integrity: str
    key_len: int
    integrity_key_len: int


ALGORITHMS = {
    "gcm": Algorithm("aes256gcm16", "aes256gcm16", "aes-gcm-256", "null", 36, 0),
    "cbc": Algorithm("aes256-sha256", "aes256-sha256", "aes-256", "sha-256", 32, 32),
    "3des": Algorithm("3des-sha1", "3des-sha1", "3des", "sha-1", 24, 20),
}


class BenchError(RuntimeError):
    """One measurement could not be made (the message says why)."""


# ---------------------------------------------------------------------------------------------
# Topology and iperf3


@contextmanager
def topology() -> Iterator[tuple[Netns, Namespace, Namespace]]:
    with Netns() as netns:
        a, b = netns.add("a"), netns.add("b")
        netns.veth(a, f"{GW_A}/24", b, f"{GW_B}/24")
        a.add_address(f"{INSIDE_A}/32")
        b.add_address(f"{INSIDE_B}/32")
        yield netns, a, b


def ping_through(a: Namespace, timeout: float = 10.0) -> None:
    """Wait until one ping 10.1.0.1 -> 10.2.0.1 goes through the tunnel."""

    def ok() -> bool:
        result = a.run(
            *("ping", "-c", "1", "-W", "1", "-I", INSIDE_A, INSIDE_B), timeout=5, check=False
        )
        return result.returncode == 0

    try:
        wait_until(ok, timeout=timeout, interval=0.2, what="ping through the tunnel")
    except TimeoutError as exc:
        raise BenchError(str(exc)) from exc


def iperf3(a: Namespace, b: Namespace, seconds: int) -> tuple[float, int]:
    """TCP throughput 10.1.0.1 (a, client) -> 10.2.0.1 (b, server): (Mbit/s, bytes received)."""
    server = b.popen(
        *("iperf3", "-s", "-1", "-B", INSIDE_B, "-p", IPERF_PORT),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            if server.poll() is not None:
                raise BenchError(f"iperf3 server exited with {server.returncode}")
            out = b.run("ss", "-Hltn", f"sport = :{IPERF_PORT}", timeout=5, check=False)
            return bool(out.stdout.strip())

        wait_until(listening, timeout=10.0, what="iperf3 server")
        client = a.run(
            *("iperf3", "-c", INSIDE_B, "-B", INSIDE_A, "-p", IPERF_PORT),
            *("-t", str(seconds), "-J"),
            timeout=seconds + 30,
            check=False,
        )
    finally:
        end_process(server)
        if server in b.processes:
            b.processes.remove(server)
    try:
        report = json.loads(client.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"iperf3 gave no JSON: {client.stdout[-500:]} {client.stderr}") from exc
    if "error" in report:
        raise BenchError(f"iperf3: {report['error']}")
    received = report["end"]["sum_received"]
    return float(received["bits_per_second"]) / 1e6, int(received["bytes"])


# ---------------------------------------------------------------------------------------------
# The two tunnels


def measure_charon(alg: Algorithm, seconds: int) -> float:
    """charon <-> charon, kernel-libipsec, IKEv2 PSK."""
    with topology() as (_, a, b):
        confs = (
            (a, GW_A, GW_B, NET_A, NET_B),
            (b, GW_B, GW_A, NET_B, NET_A),
        )
        charons = []
        for ns, local, remote, local_ts, remote_ts in confs:
            conf = psk_gateway_conf(
                local_addr=local,
                remote_addr=remote,
                local_ts=local_ts,
                remote_ts=remote_ts,
                esp_proposals=alg.charon,
            )
            charons.append(Charon(ns, conf, name=f"charon-{ns.name[-1]}").start())
        charon_a, charon_b = charons
        charon_a.initiate("gw", timeout=20)
        charon_a.wait_established("gw", "gw", timeout=20)
        charon_b.wait_established("gw", "gw", timeout=20)
        ping_through(a)
        mbits, payload = iperf3(a, b, seconds)
        # Sanity: the data really crossed the ESP SA (inner bytes counted by charon b).
        sa = charon_b.ike_sa("gw")
        child = sa.child("gw") if sa is not None else None
        esp_in = int(str(child.raw.get("bytes-in", "0"))) if child is not None else 0
        mtu = a.run("cat", "/sys/class/net/ipsec0/mtu", check=False).stdout.strip() or "?"
        print(
            f"  {alg.name}: charon b CHILD_SA bytes-in {esp_in} for {payload} iperf3 payload "
            f"bytes (ipsec0 mtu {mtu})",
            flush=True,
        )
        if esp_in < payload:
            raise BenchError(f"only {esp_in} bytes went through ESP for {payload} received")
        return mbits


def _start_runner(
    ns: Namespace,
    alg: Algorithm,
    local: str,
    peer: str,
    spis: tuple[int, int],
    keys: tuple[bytes, bytes, bytes, bytes],
    stderr_file: Path,
) -> subprocess.Popen[bytes]:
    out_key, in_key, out_ikey, in_ikey = keys
    argv = [sys.executable, "-m", "tunnelgate.net.esp_runner", "--tun", TUN]
    argv += ["--local", local, "--peer", peer]
    argv += ["--out-spi", hex(spis[0]), "--in-spi", hex(spis[1])]
    argv += ["--out-key", out_key.hex(), "--in-key", in_key.hex()]
    argv += ["--encryption", alg.encryption, "--integrity", alg.integrity]
    if alg.integrity_key_len:
        argv += ["--out-integrity-key", out_ikey.hex(), "--in-integrity-key", in_ikey.hex()]
    with stderr_file.open("wb") as err:
        return ns.popen(*argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)


def measure_tunnelgate(alg: Algorithm, seconds: int) -> tuple[float, list[dict[str, object]]]:
    """tunnelgate <-> tunnelgate, esp_runner with static keys (no IKE)."""
    key_ab, key_ba = secrets.token_bytes(alg.key_len), secrets.token_bytes(alg.key_len)
    ikey_ab = secrets.token_bytes(alg.integrity_key_len)
    ikey_ba = secrets.token_bytes(alg.integrity_key_len)
    workdir = Path(tempfile.mkdtemp(prefix=f"tg-bench-{os.getpid()}-"))
    try:
        with topology() as (_, a, b):
            sides = (
                (a, GW_A, GW_B, (SPI_A_TO_B, SPI_B_TO_A), (key_ab, key_ba, ikey_ab, ikey_ba)),
                (b, GW_B, GW_A, (SPI_B_TO_A, SPI_A_TO_B), (key_ba, key_ab, ikey_ba, ikey_ab)),
            )
            runners = []
            for ns, local, peer, spis, keys in sides:
                err = workdir / f"runner-{ns.name[-1]}.err"
                runners.append((ns, _start_runner(ns, alg, local, peer, spis, keys, err), err))
            for ns, proc, err in runners:

                def tun_up(
                    ns: Namespace = ns, proc: subprocess.Popen[bytes] = proc, err: Path = err
                ) -> bool:
                    if proc.poll() is not None:
                        raise BenchError(f"esp_runner exited {proc.returncode}: {err.read_text()}")
                    return ns.run("ip", "link", "show", TUN, check=False, timeout=5).returncode == 0

                wait_until(tun_up, timeout=10.0, what=f"{TUN} in {ns.name}")
                ns.ip("link", "set", TUN, "mtu", TUN_MTU, "up")
                local, remote = (INSIDE_A, NET_B) if ns is a else (INSIDE_B, NET_A)
                ns.ip("route", "add", remote, "dev", TUN, "src", local)
            ping_through(a)
            mbits, payload = iperf3(a, b, seconds)
            reports: list[dict[str, object]] = []
            for ns, proc, _ in runners:
                end_process(proc)
                ns.processes.remove(proc)
                out = proc.stdout.read().decode() if proc.stdout else ""
                reports.append(json.loads(out.splitlines()[-1]) if out.strip() else {})
            unprotected = reports[1].get("unprotected", 0)
            print(
                f"  {alg.name}: tunnelgate b unprotected {unprotected} ESP packets for "
                f"{payload} iperf3 payload bytes",
                flush=True,
            )
            return mbits, reports
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


def preflight() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices)"
    if not Path("/dev/net/tun").exists():
        return "/dev/net/tun is not available"
    for tool in ("ip", "ping", "ss", "iperf3"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (iperf3: apt-get install iperf3)"
    return None


def _fmt(value: float | None) -> str:
    return "failed" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=5, help="iperf3 duration (default 5)")
    parser.add_argument(
        "--algorithms",
        default="gcm,cbc",
        help=f"comma-separated, of {', '.join(ALGORITHMS)} (default gcm,cbc)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per tunnel and algorithm, alternating charon/tunnelgate; median (default 1)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.seconds < 1:
        parser.error("--seconds and --repeat must be at least 1")
    names = [n.strip() for n in args.algorithms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown or not names:
        parser.error(f"unknown algorithm(s) {unknown}; choose from {', '.join(ALGORITHMS)}")
    problem = preflight()
    if problem is not None:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    charon_problem = None if charon_installed() else "strongSwan charon/swanctl not installed"

    cpus = os.cpu_count()
    print(
        f"CPU: {cpus} cores; both gateways and the iperf3 client and server share them "
        "(each gateway is one userspace process; figures are CPU-bound, not link-bound)."
    )
    print(
        "charon: strongSwan charon <-> charon, IKEv2 PSK, kernel-libipsec (userspace ESP over "
        "TUN, ESP-in-UDP 4500)."
    )
    print(
        "tunnelgate: esp_runner <-> esp_runner with STATIC keys (no IKE), userspace ESP over "
        f"TUN (mtu {TUN_MTU}), ESP-in-UDP 4500."
    )
    print(
        f"iperf3 TCP, {args.seconds} s per run, {args.repeat} run(s) (median), "
        "10.1.0.1 -> 10.2.0.1, receiver's figure.\n"
    )

    started = time.monotonic()
    rows: list[tuple[str, float | None, float | None]] = []
    failures: list[str] = []
    for name in names:
        alg = ALGORITHMS[name]
        anchors: list[float] = []
        ours_runs: list[float] = []
        if charon_problem is not None:
            failures.append(f"{alg.name} charon (anchor) not measured: {charon_problem}")
        for _ in range(args.repeat):
            if charon_problem is None:
                try:
                    anchors.append(measure_charon(alg, args.seconds))
                except (BenchError, HarnessError, TimeoutError) as exc:
                    failures.append(f"{alg.name} charon (anchor) failed: {exc}")
            try:
                mbits, reports = measure_tunnelgate(alg, args.seconds)
                ours_runs.append(mbits)
                drops = [r.get("drops") for r in reports]
                print(f"  {alg.name}: tunnelgate runner drops a/b: {drops}", flush=True)
            except (BenchError, HarnessError, TimeoutError) as exc:
                failures.append(f"{alg.name} tunnelgate failed: {exc}")
        anchor = statistics.median(anchors) if anchors else None
        ours = statistics.median(ours_runs) if ours_runs else None
        if args.repeat > 1:
            print(
                f"  {alg.name}: runs charon {[round(x, 1) for x in anchors]}, "
                f"tunnelgate {[round(x, 1) for x in ours_runs]}",
                flush=True,
            )
        print(f"  {alg.name}: charon {_fmt(anchor)}, tunnelgate {_fmt(ours)} Mbit/s", flush=True)
        rows.append((alg.name, anchor, ours))

    print()
    header = f"{'algorithm':<15} {'charon Mbit/s':>14} {'tunnelgate Mbit/s':>18} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for alg_name, anchor, ours in rows:
        ratio = f"{ours / anchor:.3f}" if anchor and ours is not None else "n/a"
        print(f"{alg_name:<15} {_fmt(anchor):>14} {_fmt(ours):>18} {ratio:>7}")
    print(f"\ntotal time {time.monotonic() - started:.1f} s")
    for failure in failures:
        print(f"\n{failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
