"""``tunnelgate bench ike``: an IKE load generator on tunnelgate's own sans-IO engines.

Each simulated initiator is one engine (``Ikev2Engine`` or ``Ikev1Engine``) on its own
non-blocking UDP socket bound to a local address, port 0 (so every initiator has its own
source port; with several ``--local`` addresses they take turns). The engines run on a
policy compiled from an ASA configuration written from the options (strongSwan proposal
notation mapped by ``proposal_notation``). One ``selectors`` loop drives them all, keeping
``--parallel`` set-ups in flight until ``--count`` were started.

What one set-up is: IKEv2 without ``--child``: IKE_SA_INIT + IKE_AUTH (which carries the
first child SA, RFC 7296 §1.2); with ``--child`` also a CREATE_CHILD_SA for another child
(and the IKE_AUTH child must have been accepted). IKEv1: main mode; with ``--child`` also
quick mode. Latency runs from the first datagram to the last answer. A finished initiator
sends nothing more and closes its socket (the responder keeps its SAs until they expire).

Initiators send no INITIAL_CONTACT (IKEv2, nor IKEv1's RFC 2407 §4.6.3.3 notify): all share
the peer, and a responder honouring it would delete the other simulated initiators' SAs (a real
initiator with several SAs sends it once, before its first). A dormant placeholder SA in each
engine stands for the others (for IKEv1 an established-looking ISAKMP SA without timers: the v1
engine sends INITIAL-CONTACT only when no other SA with the peer is established).

Authentication: ``--psk KEY``, or certificates with ``--cert FILE --key FILE --ca FILE`` (PEM):
a trustpoint holding our certificate and key, trusting the CA; IKEv2 tunnel groups use
``ikev2 local-authentication certificate`` / ``remote-authentication certificate`` and IKEv1
policies ``authentication rsa-sig`` (RSA or, with an EC key, RFC 4754 ECDSA).

``--workers W`` forks W processes, each running its share of ``--count`` with its share of
``--parallel`` in flight (one core each); the parent merges their results: counts, failures,
every latency (so percentiles are over all set-ups) and the wall-clock time of the slowest.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import pickle
import selectors
import socket
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from tunnelgate.bench.proposal_notation import EspProposal, IkeProposal, esp_proposal, ike_proposal
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.esp.udp_encap import NON_ESP_MARKER
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v1.state import MainModeState, Phase1Sa
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import (
    ChildSaEstablished,
    ChildSaFailed,
    IkeSaEstablished,
    IkeSaFailed,
    PeerUnreachable,
)
from tunnelgate.ike.v2.state import IkeSa
from tunnelgate.pki.certificates import (
    CertificateError,
    key_matches,
    load_certificates,
    load_private_key,
)
from tunnelgate.pki.credentials import (
    NO_CREDENTIALS,
    Credentials,
    LocalCredential,
    TrustpointTrust,
)
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.gateway import GatewayPolicy

Address = tuple[str, int]
INTERFACE = "outside"
NAT_T_PORT = 4500


class Engine(Protocol):
    """The sans-IO surface both IKE engines share."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...
    def next_event(self) -> Any: ...


@dataclass(frozen=True)
class BenchOptions:
    """The command line of ``tunnelgate bench ike``."""

    peer: str
    count: int
    parallel: int
    version: int
    proposal: str
    psk: str | None = None
    local: tuple[str, ...] = ()
    esp_proposal: str = "aes256gcm16"
    child: bool = False
    port: int = 500
    timeout_s: float = 10.0
    retransmit_s: float = 1.0
    local_ts: str = "10.1.0.0/24"
    remote_ts: str = "10.2.0.0/24"
    workers: int = 1
    # certificate authentication instead of the pre-shared key: PEM files
    cert: str | None = None  # our certificate (chain), identity first
    key: str | None = None  # its private key
    ca: str | None = None  # the CA certificate(s) that issued the responder's


TRUSTPOINT = "BENCH-TP"


@dataclass
class BenchResult:
    """Outcome of a run: successes, failures by reason, latencies (seconds) and duration."""

    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def rate_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float | None:
        """Nearest-rank percentile of the successful set-ups' latency, in milliseconds."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000

    def as_json(self) -> dict[str, object]:
        def ms(q: float) -> float | None:
            value = self.percentile_ms(q)
            return None if value is None else round(value, 3)

        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else None
        return {
            "ok": self.ok,
            "failed": self.failed,
            "failures": dict(sorted(self.failures.items())),
            "seconds": round(self.seconds, 4),
            "rate_per_s": round(self.rate_per_s, 2),
            "latency_ms_p50": ms(50),
            "latency_ms_p95": ms(95),
            "latency_ms_p99": ms(99),
            "latency_ms_mean": None if mean is None else round(mean, 3),
        }


# --------------------------------------------------------------------------- configuration


def _cidr(text: str) -> str:
    """``10.1.0.0/24`` -> ``10.1.0.0 255.255.255.0`` (ASA address and mask)."""
    net = ipaddress.IPv4Network(text, strict=False)
    return f"{net.network_address} {net.netmask}"


def initiator_config(options: BenchOptions, local: str, ike: IkeProposal, esp: EspProposal) -> str:
    """The ASA configuration of one simulated initiator on ``local``."""
    peer, psk = options.peer, options.psk
    lines = [
        "hostname bench",
        "interface bench0",
        f" nameif {INTERFACE}",
        f" ip address {local} 255.255.255.255",
        f"access-list BENCH extended permit ip {_cidr(options.local_ts)} "
        f"{_cidr(options.remote_ts)}",
        "crypto map BENCH 10 match address BENCH",
        f"crypto map BENCH 10 set peer {peer}",
    ]
    if esp.pfs_group is not None:
        lines.append(f"crypto map BENCH 10 set pfs group{esp.pfs_group}")
    lines.append(f"crypto map BENCH interface {INTERFACE}")
    certificates = options.cert is not None
    if certificates:
        lines += [f"crypto ca trustpoint {TRUSTPOINT}", " enrollment terminal"]
    lines.append(f"tunnel-group {peer} type ipsec-l2l")
    lines.append(f"tunnel-group {peer} ipsec-attributes")
    if options.version == 2 and certificates:
        lines += [
            f" ikev2 local-authentication certificate {TRUSTPOINT}",
            " ikev2 remote-authentication certificate",
        ]
    elif options.version == 2:
        lines += [
            f" ikev2 local-authentication pre-shared-key {psk}",
            f" ikev2 remote-authentication pre-shared-key {psk}",
        ]
    elif certificates:
        lines.append(f" ikev1 trust-point {TRUSTPOINT}")
    else:
        lines.append(f" ikev1 pre-shared-key {psk}")
    lines.append(" isakmp keepalive disable")
    text = "\n".join(lines) + "\n"
    if options.version == 2:
        text += esp.ikev2_proposal("BENCH")
        text += "crypto map BENCH 10 set ikev2 ipsec-proposal BENCH\n"
        text += ike.ikev2_policy() + f"crypto ikev2 enable {INTERFACE}\n"
    else:
        text += esp.ikev1_transform_set("BENCH")
        text += "crypto map BENCH 10 set ikev1 transform-set BENCH\n"
        authentication = "rsa-sig" if certificates else "pre-share"
        text += ike.ikev1_policies(authentication=authentication)
        text += f"crypto ikev1 enable {INTERFACE}\n"
    return text


def bench_credentials(options: BenchOptions) -> Credentials:
    """The initiators' certificate, key and trusted CAs from ``--cert/--key/--ca``."""
    if options.cert is None:
        return NO_CREDENTIALS
    if options.key is None or options.ca is None:
        raise ValueError("--cert needs --key and --ca")
    try:
        chain = load_certificates(Path(options.cert).read_bytes())
        private_key = load_private_key(Path(options.key).read_bytes())
        cas = load_certificates(Path(options.ca).read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except CertificateError as exc:
        raise ValueError(str(exc)) from None
    if not key_matches(chain[0], private_key):
        raise ValueError(f"{options.key} is not the key of the certificate in {options.cert}")
    return Credentials(
        local={TRUSTPOINT: LocalCredential(TRUSTPOINT, private_key, tuple(chain))},
        trust={TRUSTPOINT: TrustpointTrust(TRUSTPOINT, tuple(cas))},
    )


def compile_initiator(options: BenchOptions, local: str) -> tuple[GatewayPolicy, MapEntry, Rule]:
    """The initiator's compiled policy with its crypto map entry and ACL rule."""
    if options.version not in (1, 2):
        raise ValueError(f"IKE version {options.version}: use 1 or 2")
    ike, esp = ike_proposal(options.proposal), esp_proposal(options.esp_proposal)
    text = initiator_config(options, local, ike, esp)
    result = load_config(text, source="bench-initiator.cfg")
    if result.config is None:
        problems = "; ".join(d.render() for d in result.errors)
        raise ValueError(f"the initiator configuration was refused: {problems}")
    if (options.psk is None) == (options.cert is None):
        raise ValueError("authenticate with either --psk or --cert/--key/--ca")
    policy = replace(compile_config(result.config), credentials=bench_credentials(options))
    entry = policy.crypto_maps[INTERFACE].entries[0]
    if entry.acl is None or not entry.acl.permits:
        raise ValueError("the initiator's crypto map has no traffic")
    return policy, entry, entry.acl.permits[0]


def local_address_towards(peer: str, port: int = 500) -> str:
    """The source address the kernel picks for ``peer`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((peer, port))
        return str(probe.getsockname()[0])


# --------------------------------------------------------------------------- the initiators


@dataclass
class _Initiator:
    """One simulated initiator: a socket, an engine and where its set-up stands."""

    sock: socket.socket
    engine: Engine
    entry: MapEntry
    rule: Rule
    started: float
    deadline: float
    destination: Address = ("", 0)  # where the socket is connected
    stage: str = "ike"  # ike | first-child | child | done
    ike_sa: IkeSa | None = None
    failure: str | None = None


class IkeLoad:
    """Runs ``options.count`` set-ups, ``options.parallel`` at a time, in one event loop."""

    def __init__(self, options: BenchOptions) -> None:
        if options.count < 1 or options.parallel < 1:
            raise ValueError("--count and --parallel must be at least 1")
        self.options = options
        locals_ = options.local or (local_address_towards(options.peer, options.port),)
        self.targets = [(local, *compile_initiator(options, local)) for local in locals_]
        self.selector = selectors.DefaultSelector()
        self.result = BenchResult()
        self._started = 0

    # -- one initiator ----------------------------------------------------------------------

    def _start_one(self, now: float) -> _Initiator | None:
        local, policy, entry, rule = self.targets[self._started % len(self.targets)]
        self._started += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((local, 0))
            destination = (self.options.peer, self.options.port)
            sock.connect(destination)  # connected: ICMP errors reach us
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            self.result.failures[f"socket: {errno.errorcode.get(exc.errno or 0, exc)}"] += 1
            return None
        port = sock.getsockname()[1]
        tries = max(0, int(self.options.timeout_s / max(self.options.retransmit_s, 0.01)))
        engine: Engine
        initiator: _Initiator
        if self.options.version == 2:
            v2 = Ikev2Engine(
                policy,
                INTERFACE,
                os.urandom,
                port=port,
                retransmit_timeout_s=self.options.retransmit_s,
                retransmit_tries=min(tries, 5),
            )
            _suppress_initial_contact(v2, self.options.peer, self.options.port)
            v2.utc_offset_s = time.time() - time.monotonic()  # certificate validity dates
            engine = v2
            initiator = _Initiator(sock, engine, entry, rule, now, now + self.options.timeout_s)
            initiator.ike_sa = v2.initiate(entry, rule, now, peer_port=self.options.port)
        else:
            v1 = Ikev1Engine(
                policy,
                INTERFACE,
                os.urandom,
                port=port,
                retransmit_timeout_s=self.options.retransmit_s,
                retransmit_tries=min(tries, 5),
            )
            _suppress_initial_contact_v1(v1, self.options.peer, self.options.port)
            v1.utc_offset_s = time.time() - time.monotonic()
            engine = v1
            initiator = _Initiator(sock, engine, entry, rule, now, now + self.options.timeout_s)
            v1.initiate(entry, rule, now, peer_port=self.options.port)
        initiator.destination = destination
        self.selector.register(sock, selectors.EVENT_READ, initiator)
        self._flush(initiator, now)
        return initiator

    def _flush(self, initiator: _Initiator, now: float) -> None:
        """Act on the engine's events, then send what it wants sent (unless it is done)."""
        self._events(initiator, now)
        out = initiator.engine.datagrams_to_send(now)
        if initiator.stage == "done":
            return
        for data, addr in out:
            try:
                if addr != initiator.destination:  # e.g. on to UDP 4500 (NAT-T, §2.23)
                    initiator.sock.connect(addr)
                    initiator.destination = addr
                initiator.sock.send(NON_ESP_MARKER + data if addr[1] == NAT_T_PORT else data)
            except BlockingIOError:
                pass  # as if lost: the engine retransmits
            except OSError as exc:
                self._finish(initiator, now, _socket_reason(exc))
                return

    def _events(self, initiator: _Initiator, now: float) -> None:
        version, child = self.options.version, self.options.child
        while (event := initiator.engine.next_event()) is not None:
            if initiator.stage == "done":
                continue
            if isinstance(event, IkeSaEstablished | Ikev1SaEstablished):
                if not child:
                    self._finish(initiator, now, None)
                else:
                    initiator.stage = "first-child" if version == 2 else "child"
            elif isinstance(event, ChildSaEstablished):
                if initiator.stage == "first-child":
                    initiator.stage = "child"
                    assert isinstance(initiator.engine, Ikev2Engine)
                    assert initiator.ike_sa is not None
                    initiator.engine.create_child(
                        initiator.ike_sa, initiator.entry, initiator.rule, now
                    )
                elif initiator.stage == "child":
                    self._finish(initiator, now, None)
            elif isinstance(event, IkeSaFailed | Ikev1SaFailed):
                self._finish(initiator, now, f"ike: {event.notify or event.reason}")
            elif isinstance(event, ChildSaFailed):
                if child:
                    self._finish(initiator, now, f"child: {event.notify or event.reason}")
            elif isinstance(event, PeerUnreachable):
                self._finish(initiator, now, "timeout")

    def _finish(self, initiator: _Initiator, now: float, failure: str | None) -> None:
        if initiator.stage == "done":
            return
        initiator.stage = "done"
        initiator.failure = failure
        if failure is None:
            self.result.ok += 1
            self.result.latencies.append(now - initiator.started)
        else:
            self.result.failures[failure] += 1
        self.selector.unregister(initiator.sock)
        initiator.sock.close()

    def _receive(self, initiator: _Initiator, now: float) -> None:
        for _ in range(16):
            try:
                data, addr = initiator.sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError as exc:
                self._finish(initiator, now, _socket_reason(exc))
                return
            if addr[1] == NAT_T_PORT:  # RFC 3948: IKE behind the non-ESP marker, else ESP
                if not data.startswith(NON_ESP_MARKER):
                    continue
                data = data[len(NON_ESP_MARKER) :]
            initiator.engine.receive_datagram(data, (str(addr[0]), int(addr[1])), now)
        self._flush(initiator, now)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> BenchResult:
        """Run every set-up; returns the result (also in ``self.result``)."""
        clock = time.monotonic
        begin = clock()
        active: list[_Initiator] = []
        try:
            while True:
                now = clock()
                active = [i for i in active if i.stage != "done"]
                while len(active) < self.options.parallel and self._started < self.options.count:
                    started = self._start_one(now)
                    if started is not None and started.stage != "done":
                        active.append(started)
                if not active:
                    break
                wake = min(i.deadline for i in active)
                for initiator in active:
                    timer = initiator.engine.get_timer()
                    if timer is not None:
                        wake = min(wake, timer)
                for key, _ in self.selector.select(max(0.0, wake - clock())):
                    self._receive(key.data, clock())
                now = clock()
                for initiator in active:
                    if initiator.stage == "done":
                        continue
                    if now >= initiator.deadline:
                        self._finish(initiator, now, "timeout")
                        continue
                    timer = initiator.engine.get_timer()
                    if timer is not None and timer <= now:
                        initiator.engine.handle_timer(now)
                        self._flush(initiator, now)
        finally:
            for initiator in active:
                if initiator.stage != "done":
                    self._finish(initiator, clock(), "interrupted")
            self.selector.close()
        self.result.seconds = clock() - begin
        return self.result


def _socket_reason(exc: OSError) -> str:
    if exc.errno == errno.ECONNREFUSED:
        return "port-unreachable"
    return f"socket: {errno.errorcode.get(exc.errno or 0, str(exc))}"


def _suppress_initial_contact(engine: Ikev2Engine, peer: str, port: int) -> None:
    """A dormant SA with the peer, so IKE_AUTH carries no INITIAL_CONTACT (module docstring).

    It has no timers and an SPI no datagram can name (ours are random, never all-zero).
    """
    engine.sas[bytes(8)] = IkeSa(True, (peer, port), bytes(8), state="failed")


def _suppress_initial_contact_v1(engine: Ikev1Engine, peer: str, port: int) -> None:
    """The IKEv1 counterpart: an ISAKMP SA that looks established (MAIN_I4) and has no timers,
    with all-zero cookies no datagram names (the v1 engine's own cookies are random)."""
    dormant = Phase1Sa(True, (peer, port), bytes(8), state=MainModeState.MAIN_I4)
    engine.sas[dormant.key] = dormant


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` shares differing by at most one (earlier shares larger)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def merge_results(results: list[BenchResult]) -> BenchResult:
    """One result for parallel workers: sums, all latencies, the longest duration."""
    merged = BenchResult()
    for r in results:
        merged.ok += r.ok
        merged.failures.update(r.failures)
        merged.latencies += r.latencies
        merged.seconds = max(merged.seconds, r.seconds)
    return merged


def _run_workers(options: BenchOptions) -> BenchResult:
    """Fork ``options.workers`` generators; each sends its pickled result back on a pipe."""
    workers = min(options.workers, options.count)
    counts, parallels = split(options.count, workers), split(options.parallel, workers)
    for local in options.local or ():  # fail early, in the parent, on a bad configuration
        compile_initiator(options, local)
    children: list[tuple[int, int]] = []
    for count, parallel in zip(counts, parallels, strict=True):
        share = replace(options, count=count, parallel=max(1, parallel), workers=1)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            code = 0
            try:
                payload: object = IkeLoad(share).run()
            except BaseException as exc:  # reported by the parent
                payload, code = f"{type(exc).__name__}: {exc}", 1
            with os.fdopen(write_fd, "wb") as out:
                pickle.dump(payload, out)
            os._exit(code)
        os.close(write_fd)
        children.append((pid, read_fd))
    results: list[BenchResult] = []
    errors: list[str] = []
    for pid, read_fd in children:
        with os.fdopen(read_fd, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        try:
            payload = pickle.loads(data) if data else "worker died without a result"
        except (pickle.UnpicklingError, EOFError) as exc:
            payload = f"unreadable worker result: {exc}"
        if isinstance(payload, BenchResult):
            results.append(payload)
        else:
            errors.append(str(payload))
    if errors and not results:
        raise ValueError("; ".join(errors))
    merged = merge_results(results)
    for error in errors:
        merged.failures[f"worker: {error}"] += 1
    return merged


def run_bench(options: BenchOptions) -> BenchResult:
    """Run the load described by ``options`` (in ``options.workers`` processes)."""
    if options.workers < 1:
        raise ValueError("--workers must be at least 1")
    if options.workers == 1:
        return IkeLoad(options).run()
    return _run_workers(options)


# --------------------------------------------------------------------------- command line


def format_result(options: BenchOptions, result: BenchResult) -> str:
    """The human summary of a run."""
    what = "IKE+child" if options.child else "IKE"
    lines = [
        f"IKEv{options.version} {what} set-ups to {options.peer}: {options.proposal}"
        + (f" / ESP {options.esp_proposal}" if options.child or options.version == 2 else ""),
        f"  {result.ok} ok, {result.failed} failed in {result.seconds:.3f} s "
        f"({options.parallel} in flight"
        + (f", {options.workers} workers" if options.workers > 1 else "")
        + f"): {result.rate_per_s:.1f} set-ups/s",
    ]
    if result.latencies:
        p50, p95, p99 = (result.percentile_ms(q) for q in (50, 95, 99))
        lines.append(f"  latency ms: p50 {p50:.2f}  p95 {p95:.2f}  p99 {p99:.2f}")
    for reason, n in sorted(result.failures.items()):
        lines.append(f"  failed: {n} x {reason}")
    return "\n".join(lines)


def add_parser(sub: Any) -> None:
    """``tunnelgate bench ike``."""
    bench = sub.add_parser("bench", help="load generators")
    kinds = bench.add_subparsers(dest="bench_command", required=True)
    ike = kinds.add_parser(
        "ike",
        help="open many IKE SAs against a responder and report the set-up rate",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    ike.add_argument("--peer", required=True, help="the responder's address")
    ike.add_argument(
        "--local",
        action="append",
        default=[],
        help="local address to bind (repeat for several; default: the route's source)",
    )
    ike.add_argument("--count", type=int, required=True, help="IKE SAs to open")
    ike.add_argument("--parallel", type=int, default=1, help="set-ups in flight at once")
    ike.add_argument("--version", type=int, choices=(1, 2), default=2, help="IKE version")
    ike.add_argument(
        "--proposal", default="aes256-sha256-modp2048", help="IKE proposal (strongSwan notation)"
    )
    ike.add_argument(
        "--esp-proposal", default="aes256gcm16", help="ESP proposal (strongSwan notation)"
    )
    ike.add_argument(
        "--child",
        action="store_true",
        help="also a child SA: IKEv2 CREATE_CHILD_SA, IKEv1 quick mode",
    )
    ike.add_argument("--psk", help="the pre-shared key (or --cert/--key/--ca)")
    ike.add_argument("--cert", help="certificate authentication: our certificate (PEM chain)")
    ike.add_argument("--key", help="the private key of --cert (PEM)")
    ike.add_argument("--ca", help="the CA certificate(s) that issued the responder's (PEM)")
    ike.add_argument("--port", type=int, default=500, help="the responder's IKE port")
    ike.add_argument("--timeout", type=float, default=10.0, help="seconds per set-up at most")
    ike.add_argument("--local-ts", default="10.1.0.0/24", help="our traffic selector")
    ike.add_argument("--remote-ts", default="10.2.0.0/24", help="the peer's traffic selector")
    ike.add_argument(
        "--workers", type=int, default=1, help="generator processes (count and parallel split)"
    )
    ike.add_argument("--json", action="store_true", help="print one JSON object")


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(
        peer=args.peer,
        count=args.count,
        parallel=args.parallel,
        version=args.version,
        proposal=args.proposal,
        psk=args.psk,
        local=tuple(args.local),
        esp_proposal=args.esp_proposal,
        child=args.child,
        port=args.port,
        timeout_s=args.timeout,
        local_ts=args.local_ts,
        remote_ts=args.remote_ts,
        workers=args.workers,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``tunnelgate bench ike``: 0 when every set-up succeeded, 1 otherwise."""
    options = options_from_args(args)
    try:
        result = run_bench(options)
    except ValueError as exc:
        print(f"tunnelgate bench ike: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        print(format_result(options, result))
    return 0 if result.failed == 0 else 1
