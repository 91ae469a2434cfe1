"""Benchmark: the CPU cost of one IKEv2 set-up on the *responder* side, in process.

One long-lived responder ``Ikev2Engine`` (compiled from the same configuration as
``benchmarks/ike_setup_rate.py`` uses for ``tunnelgate run``) is driven by initiator engines
built as ``tunnelgate bench ike`` builds them (``compile_initiator``), ``--parallel`` set-ups in
flight, datagrams handed over in memory (no sockets, no namespaces). Only the responder's work
is timed, with ``time.process_time()`` around its ``receive_datagram``, ``datagrams_to_send``,
``next_event`` draining and ``get_timer`` (what the daemon calls per IKE datagram), so the
number is robust to a busy machine: CPU microseconds per set-up (IKE_SA_INIT + IKE_AUTH, and
with ``--child`` also a CREATE_CHILD_SA).

With ``--gateway`` the responder is the daemon's sans-IO composition instead: a ``Gateway``
fed with ``receive_udp`` as ``PacketIo`` does, whose outputs are taken and whose events are
formatted as the daemon's JSON log lines (not written), and ``get_timer`` asked after each
datagram: the engine plus what the daemon adds around it short of sockets, asyncio and the
syslog sink.

Run: ``.venv/bin/python benchmarks/ike_responder_cpu.py [--count N] [--parallel P]
[--group ecp256|modp2048|curve25519 ...] [--child] [--gateway] [--profile FILE]``
(``--profile`` keeps a cProfile of the responder calls only, for the last case).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tunnelgate.bench.ike_load import BenchOptions, _suppress_initial_contact, compile_initiator
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.daemon.events_log import event_line
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import SendUdp
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import ChildSaEstablished, IkeSaEstablished

INITIATOR, RESPONDER, PSK = "192.0.2.1", "192.0.2.2", "bench-secret-1"
GROUPS = {"modp2048": 14, "ecp256": 19, "curve25519": 31}


def responder_config(group: int) -> str:
    """The responder configuration of ``ike_setup_rate.py`` (kept in step with it)."""
    from ike_setup_rate import tunnelgate_config

    return tunnelgate_config(group)


class GatewayResponder:
    """The engine surface over a ``Gateway``, doing per datagram what ``PacketIo`` does."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.engine = gateway.engines["outside"]
        self.sas = self.engine.sas
        self.drops = self.engine.drops
        self._out: list[tuple[bytes, tuple[str, int]]] = []
        self.lines = 0

    def receive_datagram(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        gateway = self.gateway
        gateway.receive_udp((RESPONDER, 500), addr, data, now)
        for out in gateway.outputs():
            if type(out) is SendUdp:
                self._out.append((out.data, out.remote))
        while (event := gateway.next_event()) is not None:
            self.lines += len(event_line(event, now))
        gateway.get_timer()

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, tuple[str, int]]]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> None:
        return None

    def get_timer(self) -> None:
        return None


def run(
    group: str,
    count: int,
    parallel: int,
    child: bool,
    profile: cProfile.Profile | None,
    gateway: bool = False,
):
    """CPU seconds of the responder for ``count`` set-ups, and the wall-clock seconds."""
    loaded = load_config(responder_config(GROUPS[group]), source="responder.cfg")
    assert loaded.config is not None, [d.render() for d in loaded.errors]
    policy = compile_config(loaded.config)
    responder: Ikev2Engine | GatewayResponder
    if gateway:
        responder = GatewayResponder(Gateway(policy, os.urandom))
    else:
        responder = Ikev2Engine(policy, "outside", os.urandom)
    options = BenchOptions(
        peer=RESPONDER,
        count=count,
        parallel=parallel,
        version=2,
        proposal=f"aes256-sha256-{group}",
        psk=PSK,
        local=(INITIATOR,),
        child=child,
    )
    policy, entry, rule = compile_initiator(options, INITIATOR)
    now = 1000.0
    cpu = 0.0
    started = done = 0
    port = 10000
    active: dict[int, tuple[Ikev2Engine, list[str]]] = {}  # port -> (engine, [stage])
    to_responder: list[tuple[bytes, tuple[str, int]]] = []
    clock = time.process_time
    wall = time.perf_counter()

    def start() -> None:
        nonlocal started, port
        port += 1
        engine = Ikev2Engine(policy, "outside", os.urandom, port=port)
        _suppress_initial_contact(engine, RESPONDER, 500)
        sa = engine.initiate(entry, rule, now, peer_port=500)
        active[port] = (engine, ["ike", sa])  # type: ignore[list-item]
        started += 1
        to_responder.extend((d, (INITIATOR, port)) for d, _ in engine.datagrams_to_send(now))

    while done < count:
        while len(active) < parallel and started < count:
            start()
        batch, to_responder[:] = list(to_responder), []
        if not batch:
            raise RuntimeError(f"stalled with {len(active)} set-ups in flight")
        for data, addr in batch:
            t0 = clock()
            if profile is not None:
                profile.enable()
            responder.receive_datagram(data, addr, now)
            out = responder.datagrams_to_send(now)
            while responder.next_event() is not None:
                pass
            responder.get_timer()
            if profile is not None:
                profile.disable()
            cpu += clock() - t0
            for reply, (_, peer_port) in out:
                engine, stage = active[peer_port]
                engine.receive_datagram(reply, (RESPONDER, 500), now)
                while (event := engine.next_event()) is not None:
                    if isinstance(event, IkeSaEstablished) and not child:
                        stage[0] = "done"
                    elif isinstance(event, ChildSaEstablished) and child:
                        if stage[0] == "ike":
                            stage[0] = "child"
                            engine.create_child(stage[1], entry, rule, now)  # type: ignore[arg-type]
                        else:
                            stage[0] = "done"
                if stage[0] == "done":
                    del active[peer_port]
                    done += 1
                    continue
                to_responder.extend(
                    (d, (INITIATOR, peer_port)) for d, _ in engine.datagrams_to_send(now)
                )
        now += 0.001
    assert len(responder.sas) >= count, (len(responder.sas), dict(responder.drops))
    return cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--group", action="append", choices=sorted(GROUPS))
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--gateway", action="store_true", help="drive a Gateway, not an engine")
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs per case")
    parser.add_argument("--profile", metavar="FILE")
    args = parser.parse_args()
    groups = args.group or ["ecp256", "modp2048"]
    for group in groups:
        best = None
        for _ in range(args.repeat):
            profile = cProfile.Profile() if args.profile and group == groups[-1] else None
            cpu, _ = run(group, args.count, args.parallel, args.child, profile, args.gateway)
            best = cpu if best is None else min(best, cpu)
            if profile is not None:
                profile.dump_stats(args.profile)
        assert best is not None
        what = ("IKE+child" if args.child else "IKE") + (" gateway" if args.gateway else "")
        print(
            f"{group:10} {what:17} responder CPU {best / args.count * 1e6:8.1f} µs/set-up "
            f"({args.count / best:7.0f} set-ups per CPU-second; best of {args.repeat})"
        )
    if args.profile:
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
