"""Benchmark: how many IKEv2 tunnels one ``tunnelgate run`` responder holds (issue 8: 20,000).

A pair of network namespaces (initiator 192.0.2.1, responder 192.0.2.2); ``tunnelgate bench ike
--workers W`` opens ``--tunnels`` IKE SAs, each with the child SA of its IKE_AUTH, in batches of
``--batch``; after each batch it reports the set-up rate of that batch, the responder's resident
memory per tunnel (VmRSS from /proc against the idle daemon) and how long ``show crypto ikev2 sa``
and ``show crypto ipsec sa`` take on the control socket, ``--json`` then text (goal: 1 s each).

``--dpd``: the responder runs ``isakmp keepalive threshold 10 retry 2`` and every batch is a
holding generator (``--hold``, answering the liveness checks, with its own every 10 s); after the
last batch the tunnels are watched for ``--observe`` seconds: all still up, the responder's
liveness checks counted, its CPU % while idle with DPD. ``--recovery`` (implies ``--dpd``; the
generators run with ``--reconnect``): the responder is killed (SIGKILL, a crash: no Deletes)
and started again with the same configuration; reported are the time until every tunnel is
back, from the kill and from the first loss an initiator noticed, per-tunnel recovery
percentiles, COOKIE challenges (answered by initiators; the responder's own ``cookie-demanded``
when ``show tunnelgate counters`` carries it) and refusals (must be 0).

Run as root, by hand: ``.venv/bin/python benchmarks/ike_scale.py [--tunnels 20000]
[--batch 2000] [--workers 2] [--dpd] [--recovery]``. Every wait is bounded; namespaces and the
processes started here are ended (by pid) when it finishes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.test_bench_ike import INITIATOR, PSK, RESPONDER, responder_config
from tests.e2e.test_ike_recovery import HeldLoad, dpd_responder_config, start_held_load
from tests.e2e.test_ike_scale import _count_ike_sas, rss_kib
from tests.interop.harness import HarnessError, Namespace, Netns, TunnelgateDaemon, wait_until

from tunnelgate.daemon.control import ControlError

HOLD_S = 7200  # the generators hold until told to stop (SIGTERM), at most this long
SETUP_TIMEOUT_S = 1800  # per batch
RECOVERY_TIMEOUT_S = 900


def timed_show(daemon: TunnelgateDaemon, line: str, *, as_json: bool = True) -> str:
    """How long ``line`` takes on the control socket, in ms (or why it failed)."""
    asked = time.monotonic()
    try:
        daemon.show(line, as_json=as_json)
    except (ControlError, HarnessError) as exc:
        return f"failed after {time.monotonic() - asked:.0f} s: {exc}"[:60]
    return f"{(time.monotonic() - asked) * 1000:.0f}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its waited-for children), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:13])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its direct children (the generator's workers)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            try:
                total += cpu_seconds(int(child))
            except (OSError, ValueError):
                continue
    return total


def ike_sa_count(daemon: TunnelgateDaemon) -> int | str:
    try:
        return _count_ike_sas(json.loads(daemon.show("show crypto ikev2 sa", as_json=True)))
    except (ControlError, HarnessError, ValueError, AssertionError) as exc:
        return f"failed: {exc}"[:60]


def cookie_demanded(daemon: TunnelgateDaemon) -> str:
    """The responder's ``cookie-demanded`` drop counter, if ``show tunnelgate counters`` has it."""
    try:
        data = json.loads(daemon.show("show tunnelgate counters", as_json=True))
    except (ControlError, HarnessError, ValueError) as exc:
        return f"n/a ({exc})"[:60]
    drops = data.get("ike", {}) if isinstance(data, dict) else {}
    value = drops.get("ikev2 cookie-demanded")
    return "n/a (not in show tunnelgate counters)" if value is None else str(value)


def total(loads: list[HeldLoad], key: str) -> int:
    return sum(load.value(key) for load in loads)


def alive(loads: list[HeldLoad]) -> None:
    for load in loads:
        if load.proc.poll() is not None:
            raise HarnessError(f"a generator exited ({load.proc.returncode}): {load.stderr[-5:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunnels", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--proposal", default="aes256-sha256-ecp256")
    parser.add_argument("--dpd", action="store_true", help="DPD on, tunnels held (see above)")
    parser.add_argument("--recovery", action="store_true", help="kill and restart the responder")
    parser.add_argument("--observe", type=float, default=30.0, help="seconds idle with DPD")
    parser.add_argument(
        "--cookie-threshold", type=int, default=None, help="the responder's (default: 100)"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    args.dpd = args.dpd or args.recovery
    group = {"ecp256": 19, "modp2048": 14, "ecp384": 20}[args.proposal.rsplit("-", 1)[1]]
    config = dpd_responder_config() if args.dpd else responder_config(group=group)
    if args.dpd and group != 19:
        config = config.replace(" group 19\n", f" group {group}\n")
    daemon_args: tuple[str, ...] = ()
    if args.cookie_threshold is not None:
        daemon_args = ("--ikev2-cookie-threshold", str(args.cookie_threshold))
    with Netns() as netns:
        ini, rsp = netns.add("ini"), netns.add("rsp")
        netns.veth(ini, f"{INITIATOR}/24", rsp, f"{RESPONDER}/24")
        daemon = TunnelgateDaemon(rsp, config, args=daemon_args).start(timeout=30)
        pid = daemon.proc.pid
        idle = rss_kib(pid)
        print(
            f"responder pid {pid}, idle RSS {idle} KiB; {args.workers} generator processes"
            + (" per batch, DPD on (threshold 10 retry 2), tunnels held" if args.dpd else "")
        )
        print(
            f"{'tunnels':>8}{'batch/s':>9}{'fail':>6}{'RSS KiB':>10}{'KiB/tun':>9}"
            f"{'show ike ms':>13}{'show ipsec ms':>15}{'ike text ms':>13}{'ipsec text ms':>15}",
            flush=True,
        )
        loads: list[HeldLoad] = []
        held = 0
        while held < args.tunnels:
            n = min(args.batch, args.tunnels - held)
            common = ["--count", str(n), "--parallel", str(args.parallel)]
            common += ["--workers", str(args.workers), "--proposal", args.proposal]
            if args.dpd:
                extra = ["--hold", str(HOLD_S), "--dpd", "10"]
                extra += ["--reconnect"] if args.recovery else []
                begun = time.monotonic()
                load = start_held_load(
                    ini,
                    n,
                    *extra,
                    parallel=args.parallel,
                    workers=args.workers,
                    proposal=args.proposal,
                )
                loads.append(load)
                wait_until(load.set_up, timeout=SETUP_TIMEOUT_S, what="a batch of set-ups")
                alive(loads)
                result: dict[str, Any] = dict(load.progress)
                result["rate_per_s"] = round(load.value("ok") / (time.monotonic() - begun), 1)
                result["failures"] = "see the generator's result at the end"
            else:
                argv = [sys.executable, "-m", "tunnelgate", "bench", "ike", "--peer", RESPONDER]
                argv += ["--local", INITIATOR, *common, "--psk", PSK, "--json"]
                done = ini.run(*argv, timeout=3600, check=False)
                result = json.loads(done.stdout.strip().splitlines()[0])
            held += int(str(result["ok"]))
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
            if int(str(result["ok"])) == 0:
                print("a batch set up nothing: stopping", file=sys.stderr)
                break
        if not args.dpd:
            return 0
        observe_dpd(daemon, loads, held, args.observe)
        code = 0
        if args.recovery:
            daemon, code = recover(rsp, daemon, config, daemon_args, loads, held)
        results = finish(loads)
        report(results, recovery=args.recovery)
        if args.recovery and (
            sum(int(str(r.get("refused", 0))) for r in results)
            or sum(int(str(r.get("reconnecting", 0))) for r in results)
        ):
            code = 1
        daemon.stop()
        return code


def observe_dpd(daemon: TunnelgateDaemon, loads: list[HeldLoad], held: int, seconds: float) -> None:
    """Idle with DPD for ``seconds``: the responder's CPU, its liveness checks, all still up."""
    pid = daemon.proc.pid
    requests = total(loads, "peer_requests")
    cpu, gen_cpu = cpu_seconds(pid), sum(tree_cpu_seconds(load.proc.pid) for load in loads)
    begun = time.monotonic()
    deadline = begun + seconds
    while time.monotonic() < deadline:
        alive(loads)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    elapsed = time.monotonic() - begun
    cpu_pct = (cpu_seconds(pid) - cpu) / elapsed * 100
    gen_pct = (sum(tree_cpu_seconds(load.proc.pid) for load in loads) - gen_cpu) / elapsed * 100
    checks = total(loads, "peer_requests") - requests
    count = ike_sa_count(daemon)
    print(
        f"idle with DPD for {elapsed:.0f} s: responder CPU {cpu_pct:.1f} %, generators "
        f"{gen_pct:.1f} %; {checks} requests from the responder answered "
        f"({checks / elapsed:.0f}/s; DPD every 10 s per tunnel: {held / 10:.0f}/s expected), "
        f"held {total(loads, 'held')}/{held}, lost {total(loads, 'lost')}, "
        f"responder IKE SAs {count}, RSS {rss_kib(pid)} KiB",
        flush=True,
    )


def recover(
    rsp: Namespace,
    daemon: TunnelgateDaemon,
    config: str,
    daemon_args: tuple[str, ...],
    loads: list[HeldLoad],
    held: int,
) -> tuple[TunnelgateDaemon, int]:
    """SIGKILL the responder, start it again, wait until every held tunnel is back."""
    os.kill(daemon.proc.pid, signal.SIGKILL)  # a crash: no Deletes
    killed = time.monotonic()
    daemon.proc.wait(timeout=30)
    daemon.stop()
    daemon = TunnelgateDaemon(rsp, config, args=daemon_args).start(timeout=60)
    restarted = time.monotonic()
    print(f"responder killed and started again in {restarted - killed:.1f} s", flush=True)
    last_print = 0.0

    def back() -> bool:
        nonlocal last_print
        alive(loads)
        lost, recovered = total(loads, "lost"), total(loads, "recovered")
        now = time.monotonic()
        if now - last_print >= 10:
            last_print = now
            print(
                f"  +{now - killed:5.0f} s: lost {lost}, re-established {recovered}, "
                f"reconnecting {total(loads, 'reconnecting')}, refused {total(loads, 'refused')}",
                flush=True,
            )
        return lost >= held and recovered == lost and total(loads, "held") == held

    code = 0
    try:
        wait_until(back, timeout=RECOVERY_TIMEOUT_S, interval=0.2, what="every tunnel back")
        print(f"all {held} tunnels back {time.monotonic() - killed:.1f} s after the kill")
    except TimeoutError as exc:
        print(f"{exc}: lost {total(loads, 'lost')}, back {total(loads, 'recovered')}")
        code = 1
    print(
        f"responder IKE SAs {ike_sa_count(daemon)}; its cookie-demanded: {cookie_demanded(daemon)}",
        flush=True,
    )
    return daemon, code


def finish(loads: list[HeldLoad]) -> list[dict[str, Any]]:
    """End every hold (SIGTERM, by pid) and collect the results."""
    for load in loads:
        if load.proc.poll() is None:
            os.kill(load.proc.pid, signal.SIGTERM)
    results = []
    for load in loads:
        try:
            out, _ = load.proc.communicate(timeout=120)
            results.append(dict(json.loads(out.decode())))
        except (subprocess.TimeoutExpired, ValueError) as exc:
            print(f"no result from a generator: {exc}", file=sys.stderr)
    return results


def report(results: list[dict[str, Any]], *, recovery: bool) -> None:
    def s(key: str) -> int:
        return sum(int(str(r.get(key) or 0)) for r in results)

    failures: dict[str, int] = {}
    for r in results:
        for reason, n in dict(r.get("failures") or {}).items():
            failures[reason] = failures.get(reason, 0) + int(n)
    print(
        f"generators: {s('ok')} set up, {s('failed')} failed {failures or ''}, "
        f"{s('held')} held at the end, {s('lost')} lost"
    )
    if not recovery:
        return
    firsts = [
        float(str(r["first_loss_monotonic"])) for r in results if r.get("first_loss_monotonic")
    ]
    lasts = [
        float(str(r["last_recovery_monotonic"]))
        for r in results
        if r.get("last_recovery_monotonic")
    ]
    span = f"{max(lasts) - min(firsts):.1f} s" if firsts and lasts else "n/a"
    worst = max((float(str(r.get("recovery_ms_p95") or 0)) for r in results), default=0.0)
    slowest = max((float(str(r.get("recovery_ms_max") or 0)) for r in results), default=0.0)
    print(
        f"recovery: {s('recovered')} re-established, {s('refused')} refused, "
        f"{s('reconnecting')} still reconnecting ({s('stalled')} with no engine timer); "
        f"first loss to last re-establishment {span}; "
        f"per tunnel (loss -> up) p95 of the worst batch {worst:.0f} ms, max {slowest:.0f} ms; "
        f"{s('reconnect_attempts')} attempts, {s('recovery_cookie_challenged')} answered a COOKIE"
    )


if __name__ == "__main__":
    sys.exit(main())
