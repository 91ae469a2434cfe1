"""Benchmark: the memory one held tunnel costs the responder, in process (issue 8: ≤ 8 KiB).

A responder ``Gateway`` (the configuration ``benchmarks/ike_scale.py`` gives ``tunnelgate run``:
ecp256 IKE SA, aes-gcm-256 child SA from IKE_AUTH, PSK) is driven by initiator engines built as
``tunnelgate bench ike`` builds them, ``--parallel`` set-ups in flight, datagrams handed over
in memory; each initiator is dropped once its tunnel is up, so what stays is the responder's.

Two measurements, each in a fresh process (tracemalloc's own bookkeeping would distort RSS):

* ``--mode rss``: VmRSS after building ``--tunnels`` tunnels minus VmRSS after a warm-up of
  ``--warmup`` tunnels (both after ``gc.collect()``), per tunnel. This includes what Python's
  allocator does not see: OpenSSL cipher contexts behind pyca objects.
* ``--mode trace``: tracemalloc snapshots before and after the tunnels, the difference grouped
  by file:line (top ``--top``), plus a ``sys.getsizeof`` walk of one tunnel's objects (the
  IkeSa, its Child, the gateway's InstalledSa with its ChildSa), per type.

Run: ``.venv/bin/python benchmarks/ike_memory.py [--tunnels 4000] [--mode rss|trace|both]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.test_bench_ike import INITIATOR, PSK, RESPONDER, responder_config

from tunnelgate.bench.ike_load import BenchOptions, _suppress_initial_contact, compile_initiator
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.daemon.operations import execute
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import SendUdp
from tunnelgate.gateway.snapshot import GatewaySnapshot
from tunnelgate.gateway.views import snapshot
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import ChildSaEstablished

GROUPS = {"modp2048": 14, "ecp256": 19}
SHOWS = ("show crypto ikev2 sa", "show crypto ipsec sa")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class _Ops:
    """The ``Operations`` the control socket's show commands read (as ``daemon/live.py``)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def snapshot(self, *, child_sas: bool = True, ike_sas: bool = True) -> GatewaySnapshot:
        return snapshot(self.lab.gateway, self.lab.now, child_sas=child_sas, ike_sas=ike_sas)

    def clear_ipsec(self, peer: str | None, map_name: str | None) -> int:
        raise NotImplementedError

    def clear_ike(self, peer: str | None, version: int | None = None) -> int:
        raise NotImplementedError

    def clear_counters(self) -> None:
        raise NotImplementedError


def answer_shows(lab: Lab) -> int:
    """What ``ike_scale.py`` asks after each batch: both shows, JSON and text; bytes out."""
    ops, out = _Ops(lab), 0
    for line in SHOWS:
        for as_json in (True, False):
            out += len(execute(line, ops, as_json=as_json).output)
    return out


class Lab:
    """One responder gateway and the initiator policy, with a clock and a port counter."""

    def __init__(self, group: str, parallel: int) -> None:
        loaded = load_config(responder_config(INITIATOR, GROUPS[group]), source="rsp.cfg")
        assert loaded.config is not None, [d.render() for d in loaded.errors]
        self.gateway = Gateway(compile_config(loaded.config), os.urandom)
        options = BenchOptions(
            peer=RESPONDER,
            count=1,
            parallel=parallel,
            version=2,
            proposal=f"aes256-sha256-{group}",
            psk=PSK,
            local=(INITIATOR,),
        )
        self.policy, self.entry, self.rule = compile_initiator(options, INITIATOR)
        self.parallel = parallel
        self.now = 1000.0
        self.port = 10000
        self.lines = 0

    def build(self, count: int) -> None:
        """``count`` more tunnels held by the responder (initiators dropped when up)."""
        gateway, now = self.gateway, self.now
        active: dict[int, Ikev2Engine] = {}
        queue: list[tuple[bytes, int]] = []
        started = done = 0
        while done < count:
            while len(active) < self.parallel and started < count:
                self.port += 1
                engine = Ikev2Engine(self.policy, "outside", os.urandom, port=self.port)
                _suppress_initial_contact(engine, RESPONDER, 500)
                engine.initiate(self.entry, self.rule, now, peer_port=500)
                active[self.port] = engine
                started += 1
                queue.extend((d, self.port) for d, _ in engine.datagrams_to_send(now))
            batch, queue = queue, []
            if not batch:
                raise RuntimeError(f"stalled with {len(active)} set-ups in flight")
            for data, port in batch:
                gateway.receive_udp((RESPONDER, 500), (INITIATOR, port), data, now)
                replies = [o for o in gateway.outputs() if type(o) is SendUdp]
                while gateway.next_event() is not None:
                    pass
                gateway.get_timer()
                for out in replies:
                    engine = active[out.remote[1]]
                    engine.receive_datagram(out.data, (RESPONDER, 500), now)
                    up = False
                    while (event := engine.next_event()) is not None:
                        up = up or isinstance(event, ChildSaEstablished)
                    if up:
                        del active[out.remote[1]]
                        done += 1
                        continue
                    queue.extend((d, out.remote[1]) for d, _ in engine.datagrams_to_send(now))
            now += 0.001
        self.now = now


def deep_sizes(root: object, shared: set[int]) -> Counter[str]:
    """Bytes by type of everything reachable from ``root`` that is not in ``shared`` (ids of
    objects every tunnel shares: the policy, the algorithms, interned strings...)."""
    sizes: Counter[str] = Counter()
    seen: set[int] = set(shared)
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        sizes[type(obj).__name__] += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return sizes


def shared_ids(lab: Lab) -> set[int]:
    """Objects reachable from the policy and from module-level state: not per tunnel."""
    ids: set[int] = set()
    stack: list[Any] = [lab.gateway.policy, lab.policy, sys.modules]
    while stack:
        obj = stack.pop()
        if id(obj) in ids:
            continue
        ids.add(id(obj))
        stack.extend(gc.get_referents(obj))
    return ids


def walk_one(lab: Lab) -> None:
    """A ``sys.getsizeof`` walk of one tunnel's objects (those no other tunnel shares)."""
    gateway = lab.gateway
    engine = gateway.engines["outside"]
    sa = next(s for s in engine.sas.values() if s.state == "established")
    spi_in = int.from_bytes(next(iter(sa.children)), "big")
    installed = gateway.installed[spi_in]
    # shared: reachable from the policy, the modules, and every other tunnel's objects
    shared = shared_ids(lab)
    other = next(s for s in engine.sas.values() if s is not sa and s.state == "established")
    other_installed = gateway.installed[int.from_bytes(next(iter(other.children)), "big")]
    # what is reachable from another tunnel too is shared (interned strings, policy values)
    for root in (other, other_installed):
        stack: list[Any] = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in shared or isinstance(obj, type):
                continue
            shared.add(id(obj))
            stack.extend(gc.get_referents(obj))
    total = 0
    for name, root in (("IkeSa", sa), ("InstalledSa", installed)):
        sizes = deep_sizes(root, shared)
        part = sum(sizes.values())
        total += part
        print(f"  {name}: {part} B (not shared with another tunnel), by type:")
        for kind, size in sizes.most_common(14):
            print(f"    {size:7d}  {kind}")
        shared |= {id(o) for o in _reachable(root, shared)}
    print(f"  one tunnel's own objects (getsizeof walk): {total} B = {total / 1024:.2f} KiB")


def _reachable(root: object, stop: set[int]) -> list[object]:
    out: list[object] = []
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or id(obj) in stop or isinstance(obj, type):
            continue
        seen.add(id(obj))
        out.append(obj)
        stack.extend(gc.get_referents(obj))
    return out


def run_rss(args: argparse.Namespace) -> float:
    lab = Lab(args.group, args.parallel)
    lab.build(args.warmup)
    gc.collect()
    before = rss_kib()
    lab.build(args.tunnels)
    gc.collect()
    after = rss_kib()
    per: float = (after - before) / args.tunnels
    held = len(lab.gateway.installed)
    print(f"rss: {args.tunnels} tunnels (+{args.warmup} warm-up, {held} held): ")
    print(f"  VmRSS {before} -> {after} KiB: {per:.2f} KiB per tunnel")
    if args.show:
        size = answer_shows(lab)
        gc.collect()
        shown = rss_kib()
        print(
            f"  after answering {', '.join(SHOWS)} (JSON and text, {size // 1024} KiB): "
            f"VmRSS {shown} KiB: {(shown - before) / args.tunnels:.2f} KiB per tunnel"
        )
    return per


def run_trace(args: argparse.Namespace) -> float:
    lab = Lab(args.group, args.parallel)
    lab.build(args.warmup)
    gc.collect()
    tracemalloc.start(1)
    first = tracemalloc.take_snapshot()
    lab.build(args.tunnels)
    gc.collect()
    second = tracemalloc.take_snapshot()
    tracemalloc.stop()
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = second.filter_traces(filters).compare_to(first.filter_traces(filters), "lineno")
    grown = sum(d.size_diff for d in diff)
    per: float = grown / args.tunnels / 1024
    print(f"trace: {args.tunnels} tunnels: {grown / 1024:.0f} KiB traced, {per:.2f} KiB per tunnel")
    print(f"  top {args.top} lines (bytes per tunnel, blocks per tunnel):")
    root = str(Path(__file__).resolve().parents[1])
    for d in diff[: args.top]:
        frame = d.traceback[0]
        where = frame.filename.replace(root + "/", "")
        print(
            f"    {d.size_diff / args.tunnels:8.1f} B {d.count_diff / args.tunnels:6.2f}  "
            f"{where}:{frame.lineno}"
        )
    walk_one(lab)
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunnels", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--group", choices=sorted(GROUPS), default="ecp256")
    parser.add_argument("--mode", choices=("rss", "trace", "both"), default="both")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--show", action="store_true", help="rss: then answer the shows ike_scale.py asks"
    )
    args = parser.parse_args()
    if args.mode == "both":  # each measurement in a process of its own
        for mode in ("rss", "trace"):
            argv = [sys.executable, __file__, *sys.argv[1:], "--mode", mode]
            subprocess.run(argv, check=True)
        return
    (run_rss if args.mode == "rss" else run_trace)(args)


if __name__ == "__main__":
    main()
