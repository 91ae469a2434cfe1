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
sends nothing more and closes its socket (the responder keeps its SAs until they expire or
its liveness checks go unanswered), unless ``--hold`` keeps it (below).

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

Hold mode (``--hold SECONDS``): a set-up initiator keeps its engine and socket for that long
after the last set-up (SIGTERM/SIGINT end the hold early; the result is printed as usual), so
it answers the responder's liveness checks and rekeys, and retransmits per its timers; its own
liveness checks run every ``--dpd`` seconds (given up after two retransmissions, 7 s). With
``--reconnect``, an SA lost while held (our liveness check went unanswered: ``PeerUnreachable``;
or the responder deleted it: ``IkeSaDeleted``) is set up again at once from the same socket,
retried until it succeeds or is refused; the result adds the recoveries (JSON keys ``held``,
``lost``, ``recovered``, ``refused``, ``recovery_seconds`` from the first loss to the last
re-establishment, ``recovery_ms_p50/p95/p99``, ``cookie_challenged``…; ``seconds`` and
``rate_per_s`` stay those of the first set-ups). A holding generator prints ``HoldProgress``
as JSON lines on stderr when the set-ups are done and then when it changes (at most every
second; workers' progress merged by the parent). The responder cannot tell us it lost an SA
(it drops requests for unknown SPIs without an INVALID_IKE_SPI), so detection takes our liveness
check. Every initiator's next deadline sits in one heap (lazily invalidated), so a pass of the
loop costs what is due, not the number of held initiators; each process needs one descriptor
per initiator: RLIMIT_NOFILE's soft limit is raised to the hard one, and a run that still does
not fit is refused up front.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import heapq
import ipaddress
import json
import os
import pickle
import queue
import resource
import selectors
import signal
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from tunnelgate.bench.proposal_notation import EspProposal, IkeProposal, esp_proposal, ike_proposal
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.esp.udp_encap import NON_ESP_MARKER
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import Ikev1SaDeleted, Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v1.state import MainModeState, Phase1Sa
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import (
    ChildSaEstablished,
    ChildSaFailed,
    IkeSaDeleted,
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

    retransmit_tries: int


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
    # hold mode: keep the set-up SAs this long after the last set-up (None: close at once)
    hold_s: float | None = None
    reconnect: bool = False  # set up again what the responder lost (needs hold_s)
    dpd_s: int | None = None  # our own liveness checks every N s (reconnect: default 10)


TRUSTPOINT = "BENCH-TP"


@dataclass
class BenchResult:
    """Outcome of a run: successes, failures by reason, latencies (seconds) and duration."""

    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0  # the set-up phase (with --hold: until the last first set-up)
    # hold mode (--hold, --reconnect): the SAs kept, lost and set up again
    hold: bool = False
    hold_seconds: float = 0.0
    held: int = 0  # established now (at the end: still up)
    lost: int = 0  # losses of a held SA (liveness check failed, or deleted by the peer)
    recovered: int = 0  # re-established after a loss
    reconnecting: int = 0  # lost and not (yet) re-established
    reconnect_attempts: int = 0  # set-ups started after losses (retries included)
    recovery_failures: Counter[str] = field(default_factory=Counter)  # refused reconnections
    recovery_latencies: list[float] = field(default_factory=list)  # loss -> set up again
    first_loss: float | None = None  # monotonic clock (the same in every worker)
    last_recovery: float | None = None
    cookie_challenged: int = 0  # set-ups the responder made prove their address (COOKIE)
    recovery_cookie_challenged: int = 0  # of which re-establishments
    socket_errors: int = 0  # ignored errors of held/reconnecting sockets (port unreachable)
    peer_requests: int = 0  # IKEv2 requests held SAs received: the responder's DPD, rekeys
    # reconnecting at the end with nothing scheduled in the engine (no timer: it would wait
    # for ever, sending nothing; an engine bug, e.g. issue 8's ignored second COOKIE)
    stalled: int = 0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def refused(self) -> int:
        return sum(self.recovery_failures.values())

    @property
    def recovery_seconds(self) -> float | None:
        """From the first loss to the last re-establishment (None: nothing recovered)."""
        if self.first_loss is None or self.last_recovery is None:
            return None
        return self.last_recovery - self.first_loss

    @property
    def rate_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float, values: list[float] | None = None) -> float | None:
        """Nearest-rank percentile of the successful set-ups' latency (or of ``values``),
        in milliseconds."""
        samples = self.latencies if values is None else values
        if not samples:
            return None
        ordered = sorted(samples)
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000

    def as_json(self) -> dict[str, object]:
        def ms(q: float, values: list[float] | None = None) -> float | None:
            value = self.percentile_ms(q, values)
            return None if value is None else round(value, 3)

        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else None
        hold: dict[str, object] = {}
        if self.hold:
            recovery = self.recovery_seconds
            hold = {
                "hold_seconds": round(self.hold_seconds, 3),
                "held": self.held,
                "lost": self.lost,
                "recovered": self.recovered,
                "reconnecting": self.reconnecting,
                "refused": self.refused,
                "recovery_failures": dict(sorted(self.recovery_failures.items())),
                "reconnect_attempts": self.reconnect_attempts,
                "recovery_seconds": None if recovery is None else round(recovery, 3),
                "recovery_ms_p50": ms(50, self.recovery_latencies),
                "recovery_ms_p95": ms(95, self.recovery_latencies),
                "recovery_ms_p99": ms(99, self.recovery_latencies),
                "recovery_ms_max": ms(100, self.recovery_latencies),
                "cookie_challenged": self.cookie_challenged,
                "recovery_cookie_challenged": self.recovery_cookie_challenged,
                "first_loss_monotonic": self.first_loss,
                "last_recovery_monotonic": self.last_recovery,
                "socket_errors": self.socket_errors,
                "peer_requests": self.peer_requests,
                "stalled": self.stalled,
            }
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
            **hold,
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
    dpd = dpd_interval(options)
    if dpd is not None:  # set on the compiled group: the CLI's floor of 10 s is for operators
        groups = dict(policy.tunnel_groups)
        group = groups[options.peer]
        groups[options.peer] = replace(group, keepalive=(dpd, 2))
        policy = replace(policy, tunnel_groups=groups)
    entry = policy.crypto_maps[INTERFACE].entries[0]
    if entry.acl is None or not entry.acl.permits:
        raise ValueError("the initiator's crypto map has no traffic")
    return policy, entry, entry.acl.permits[0]


def dpd_interval(options: BenchOptions) -> int | None:
    """Our liveness-check interval: ``--dpd``, else 10 s with ``--reconnect`` (how else would
    an initiator learn that the responder lost its SA), else none."""
    if options.dpd_s is not None:
        if options.dpd_s < 1:
            raise ValueError("--dpd must be at least 1 second")
        return options.dpd_s
    return 10 if options.reconnect else None


def local_address_towards(peer: str, port: int = 500) -> str:
    """The source address the kernel picks for ``peer`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((peer, port))
        return str(probe.getsockname()[0])


# --------------------------------------------------------------------------- the initiators

SETTING_UP = ("ike", "first-child", "child")
#: Retransmissions of a held initiator's own requests (its liveness checks) before the peer
#: counts as gone: sent at 0, 1 and 3 s, given up at 7 s (the engine doubles each wait).
HOLD_RETRANSMIT_TRIES = 2
#: How often a holding generator reports its progress (at most; only when something changed).
PROGRESS_INTERVAL_S = 1.0
#: A holding loop wakes at least this often (for a stop signal and progress reports).
HOLD_TICK_S = 0.5
IKE_FLAGS, IKE_RESPONSE_FLAG = 19, 0x20  # the IKEv2 header's flags octet, its R bit


@dataclass(frozen=True)
class HoldProgress:
    """Where a holding generator stands (``--hold``): printed to stderr as JSON lines."""

    setup_done: bool = False
    ok: int = 0
    failed: int = 0
    held: int = 0
    lost: int = 0
    recovered: int = 0
    reconnecting: int = 0
    refused: int = 0
    peer_requests: int = 0

    def as_json(self) -> dict[str, object]:
        return {"event": "bench-hold", **asdict(self)}


def merge_progress(parts: list[HoldProgress]) -> HoldProgress:
    """The workers' progress as one (set-up done when every worker's is)."""
    return HoldProgress(
        setup_done=all(p.setup_done for p in parts),
        **{
            name: sum(getattr(p, name) for p in parts)
            for name in (
                "ok",
                "failed",
                "held",
                "lost",
                "recovered",
                "reconnecting",
                "refused",
                "peer_requests",
            )
        },
    )


@dataclass(eq=False)  # identity: initiators live in sets
class _Initiator:
    """One simulated initiator: a socket, an engine and where its set-up stands."""

    sock: socket.socket
    engine: Engine
    entry: MapEntry
    rule: Rule
    started: float
    deadline: float
    destination: Address = ("", 0)  # where the socket is connected
    stage: str = "ike"  # ike | first-child | child | held | done
    ike_sa: IkeSa | None = None
    failure: str | None = None
    lost_at: float | None = None  # reconnecting since (None: the first set-up, or held)
    armed: float | None = None  # the deadline this initiator has in the loop's heap


class IkeLoad:
    """Runs ``options.count`` set-ups, ``options.parallel`` at a time, in one event loop; with
    ``options.hold_s`` keeps the set-up SAs alive that long after the last set-up (and with
    ``options.reconnect`` sets up again whatever the responder lost). ``progress`` receives a
    ``HoldProgress`` when the set-ups are done and then at most every second (hold mode)."""

    def __init__(
        self, options: BenchOptions, progress: Callable[[HoldProgress], None] | None = None
    ) -> None:
        if options.count < 1 or options.parallel < 1:
            raise ValueError("--count and --parallel must be at least 1")
        if options.reconnect and options.hold_s is None:
            raise ValueError("--reconnect needs --hold")
        self.options = options
        locals_ = options.local or (local_address_towards(options.peer, options.port),)
        self.targets = [(local, *compile_initiator(options, local)) for local in locals_]
        self.selector = selectors.DefaultSelector()
        self.result = BenchResult(hold=options.hold_s is not None)
        self.progress = progress
        self._started = 0
        self._in_flight = 0  # first set-ups under way (--parallel bounds them)
        self._open: set[_Initiator] = set()  # every initiator whose socket is open
        self._heap: list[tuple[float, int, _Initiator]] = []  # (deadline, push serial, who)
        self._pushes = 0
        self._stop = False
        self._last_progress: HoldProgress | None = None
        self._next_progress = 0.0
        tries = max(0, int(options.timeout_s / max(options.retransmit_s, 0.01)))
        self._setup_tries = min(tries, 5)

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
        engine: Engine
        if self.options.version == 2:
            v2 = Ikev2Engine(
                policy,
                INTERFACE,
                os.urandom,
                port=port,
                retransmit_timeout_s=self.options.retransmit_s,
                retransmit_tries=self._setup_tries,
            )
            _suppress_initial_contact(v2, self.options.peer, self.options.port)
            v2.utc_offset_s = time.time() - time.monotonic()  # certificate validity dates
            engine = v2
        else:
            v1 = Ikev1Engine(
                policy,
                INTERFACE,
                os.urandom,
                port=port,
                retransmit_timeout_s=self.options.retransmit_s,
                retransmit_tries=self._setup_tries,
            )
            _suppress_initial_contact_v1(v1, self.options.peer, self.options.port)
            v1.utc_offset_s = time.time() - time.monotonic()
            engine = v1
        initiator = _Initiator(sock, engine, entry, rule, now, now + self.options.timeout_s)
        initiator.destination = destination
        self._in_flight += 1
        self._open.add(initiator)
        self.selector.register(sock, selectors.EVENT_READ, initiator)
        self._initiate(initiator, now)
        self._flush(initiator, now)
        return initiator

    def _initiate(self, initiator: _Initiator, now: float) -> None:
        """Start a set-up on the initiator's engine (its datagrams leave with ``_flush``)."""
        initiator.stage = "ike"
        engine, port = initiator.engine, self.options.port
        if isinstance(engine, Ikev2Engine):
            initiator.ike_sa = engine.initiate(initiator.entry, initiator.rule, now, peer_port=port)
        elif isinstance(engine, Ikev1Engine):
            engine.initiate(initiator.entry, initiator.rule, now, peer_port=port)

    def _tolerant(self, initiator: _Initiator) -> bool:
        """Socket errors (the responder is down: port unreachable) are left to the engine's
        retransmissions and liveness checks, once a tunnel was up."""
        return initiator.stage == "held" or initiator.lost_at is not None

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
                if self._tolerant(initiator):
                    self.result.socket_errors += 1
                    continue
                self._failed(initiator, now, _socket_reason(exc))
                return
        self._arm(initiator)

    def _arm(self, initiator: _Initiator) -> None:
        """Enter the initiator's next deadline (engine timer, or set-up timeout) in the heap;
        entries whose time is no longer the initiator's ``armed`` are stale and skipped."""
        due = initiator.engine.get_timer()
        if initiator.stage in SETTING_UP and initiator.lost_at is None:
            due = initiator.deadline if due is None else min(due, initiator.deadline)
        if due is not None and due != initiator.armed:
            self._pushes += 1
            heapq.heappush(self._heap, (due, self._pushes, initiator))
        initiator.armed = due

    def _events(self, initiator: _Initiator, now: float) -> None:
        version, child = self.options.version, self.options.child
        while (event := initiator.engine.next_event()) is not None:
            if initiator.stage == "done":
                continue
            if initiator.stage == "held":
                if isinstance(event, PeerUnreachable | IkeSaDeleted | Ikev1SaDeleted):
                    self._lost(initiator, now)
                continue
            if isinstance(event, IkeSaEstablished | Ikev1SaEstablished):
                if not child:
                    self._set_up(initiator, now)
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
                    self._set_up(initiator, now)
            elif isinstance(event, IkeSaFailed | Ikev1SaFailed):
                self._failed(initiator, now, f"ike: {event.notify or event.reason}")
            elif isinstance(event, ChildSaFailed):
                if child:
                    self._failed(initiator, now, f"child: {event.notify or event.reason}")
            elif isinstance(event, PeerUnreachable):
                self._failed(initiator, now, "timeout")

    def _set_up(self, initiator: _Initiator, now: float) -> None:
        """A set-up finished: the first (counted in ``ok``) or a reconnection."""
        result = self.result
        if initiator.ike_sa is not None and initiator.ike_sa.cookie:
            result.cookie_challenged += 1
            result.recovery_cookie_challenged += initiator.lost_at is not None
        if initiator.lost_at is None:
            self._in_flight -= 1
            result.ok += 1
            result.latencies.append(now - initiator.started)
            if self.options.hold_s is None:
                self._close(initiator)
                return
        else:
            result.reconnecting -= 1
            result.recovered += 1
            result.recovery_latencies.append(now - initiator.lost_at)
            result.last_recovery = max(result.last_recovery or now, now)
            initiator.lost_at = None
        initiator.stage = "held"
        result.held += 1
        initiator.engine.retransmit_tries = HOLD_RETRANSMIT_TRIES

    def _failed(self, initiator: _Initiator, now: float, failure: str) -> None:
        """A set-up failed: the first (counted in ``failures``) or a reconnection, which
        tries again after a timeout and is refused otherwise (``recovery_failures``)."""
        if initiator.stage == "done":
            return
        if initiator.lost_at is None:
            self._in_flight -= 1
            self.result.failures[failure] += 1
            initiator.failure = failure
            self._close(initiator)
        elif failure == "timeout" or failure.startswith("socket"):
            self.result.reconnect_attempts += 1
            self._initiate(initiator, now)
        else:
            self.result.reconnecting -= 1
            self.result.recovery_failures[failure] += 1
            initiator.failure = failure
            self._close(initiator)

    def _lost(self, initiator: _Initiator, now: float) -> None:
        """A held SA is gone (our liveness check failed, or the peer deleted it)."""
        result = self.result
        result.held -= 1
        result.lost += 1
        result.first_loss = min(result.first_loss or now, now)
        if not self.options.reconnect:
            self._close(initiator)
            return
        initiator.lost_at = now
        result.reconnecting += 1
        result.reconnect_attempts += 1
        initiator.engine.retransmit_tries = self._setup_tries
        self._initiate(initiator, now)

    def _close(self, initiator: _Initiator) -> None:
        initiator.stage = "done"
        if initiator in self._open:
            self._open.discard(initiator)
            self.selector.unregister(initiator.sock)
            initiator.sock.close()

    def _receive(self, initiator: _Initiator, now: float) -> None:
        for _ in range(16):
            try:
                data, addr = initiator.sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError as exc:
                if self._tolerant(initiator):
                    self.result.socket_errors += 1
                    continue
                self._failed(initiator, now, _socket_reason(exc))
                return
            if addr[1] == NAT_T_PORT:  # RFC 3948: IKE behind the non-ESP marker, else ESP
                if not data.startswith(NON_ESP_MARKER):
                    continue
                data = data[len(NON_ESP_MARKER) :]
            held = initiator.stage == "held" and self.options.version == 2
            if held and len(data) > IKE_FLAGS and not data[IKE_FLAGS] & IKE_RESPONSE_FLAG:
                self.result.peer_requests += 1
            initiator.engine.receive_datagram(data, (str(addr[0]), int(addr[1])), now)
        self._flush(initiator, now)

    # -- the loop -----------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        """Set-up timeouts and engine timers that are due (each initiator once per pass)."""
        due: list[_Initiator] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, initiator = heapq.heappop(heap)
            if initiator.armed == when and initiator.stage != "done":
                initiator.armed = None
                due.append(initiator)
        for initiator in due:
            if initiator.stage == "done":
                continue
            if (
                initiator.stage in SETTING_UP
                and initiator.lost_at is None
                and now >= initiator.deadline
            ):
                self._failed(initiator, now, "timeout")
                continue
            timer = initiator.engine.get_timer()
            if timer is not None and timer <= now:
                initiator.engine.handle_timer(now)
            self._flush(initiator, now)

    def _next_wake(self) -> float | None:
        heap = self._heap
        while heap and (heap[0][2].armed != heap[0][0] or heap[0][2].stage == "done"):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _report(self, now: float, *, force: bool = False) -> None:
        if self.progress is None or (not force and now < self._next_progress):
            return
        self._next_progress = now + PROGRESS_INTERVAL_S
        r = self.result
        progress = HoldProgress(
            True,
            r.ok,
            r.failed,
            r.held,
            r.lost,
            r.recovered,
            r.reconnecting,
            r.refused,
            r.peer_requests,
        )
        if force or progress != self._last_progress:
            self._last_progress = progress
            self.progress(progress)

    def _stop_on_signal(self) -> dict[int, Any]:
        def stop(signum: int, frame: object) -> None:
            self._stop = True

        return {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def run(self) -> BenchResult:
        """Run every set-up (and the hold); returns the result (also in ``self.result``)."""
        clock = time.monotonic
        begin = clock()
        options, result = self.options, self.result
        hold = options.hold_s
        previous = self._stop_on_signal() if hold is not None else {}
        setup_done = False
        hold_until = 0.0
        try:
            while not self._stop:
                now = clock()
                while self._in_flight < options.parallel and self._started < options.count:
                    self._start_one(now)
                if not setup_done and self._in_flight == 0 and self._started >= options.count:
                    setup_done = True
                    result.seconds = now - begin
                    hold_until = now + (hold or 0.0)
                    self._report(now, force=True)
                if setup_done:
                    if hold is None or now >= hold_until or not self._open:
                        break
                    self._report(now)
                wake = self._next_wake()
                timeout = 1.0 if wake is None else max(0.0, wake - now)
                if hold is not None:
                    timeout = min(timeout, HOLD_TICK_S)
                for key, _ in self.selector.select(timeout):
                    self._receive(key.data, clock())
                self._expire(clock())
        finally:
            end = clock()
            for initiator in list(self._open):
                if initiator.stage in SETTING_UP and initiator.lost_at is None:
                    result.failures["interrupted"] += 1
                elif initiator.stage in SETTING_UP and initiator.engine.get_timer() is None:
                    result.stalled += 1
                self._close(initiator)
            self.selector.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if not setup_done:
            result.seconds = end - begin
        elif hold is not None:
            result.hold_seconds = end - begin - result.seconds
        return result


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
    """One result for parallel workers: sums, all latencies, the longest duration, and (hold
    mode) the earliest loss and latest recovery (every worker reads the same monotonic
    clock)."""
    merged = BenchResult()
    for r in results:
        merged.ok += r.ok
        merged.failures.update(r.failures)
        merged.latencies += r.latencies
        merged.seconds = max(merged.seconds, r.seconds)
        merged.hold = merged.hold or r.hold
        merged.hold_seconds = max(merged.hold_seconds, r.hold_seconds)
        for name in (
            "held",
            "lost",
            "recovered",
            "reconnecting",
            "reconnect_attempts",
            "cookie_challenged",
            "recovery_cookie_challenged",
            "socket_errors",
            "peer_requests",
            "stalled",
        ):
            setattr(merged, name, getattr(merged, name) + getattr(r, name))
        merged.recovery_failures.update(r.recovery_failures)
        merged.recovery_latencies += r.recovery_latencies
        if r.first_loss is not None:
            merged.first_loss = min(merged.first_loss or r.first_loss, r.first_loss)
        if r.last_recovery is not None:
            merged.last_recovery = max(merged.last_recovery or r.last_recovery, r.last_recovery)
    return merged


def raise_open_files(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; a ValueError when ``needed`` descriptors
    still do not fit (hold mode keeps one socket per initiator open). Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if needed > soft:
        raise ValueError(
            f"{needed} open files needed per generator process, the limit is {soft} "
            "(raise the hard limit, ulimit -Hn, or add --workers)"
        )
    return soft


def print_progress(progress: HoldProgress) -> None:
    """A holding generator's progress: one JSON line on stderr."""
    print(json.dumps(progress.as_json()), file=sys.stderr, flush=True)


def _run_workers(options: BenchOptions) -> BenchResult:
    """Fork ``options.workers`` generators; each sends pickled ``("progress", HoldProgress)``
    messages (hold mode) and then its ``("result", BenchResult)`` back on a pipe. A holding
    parent forwards SIGTERM/SIGINT to its workers (which then end their hold and report)."""
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
            with os.fdopen(write_fd, "wb") as out:

                def send(progress: HoldProgress) -> None:
                    pickle.dump(("progress", progress), out)
                    out.flush()

                try:
                    hold = share.hold_s is not None
                    payload: object = IkeLoad(share, send if hold else None).run()
                except BaseException as exc:  # reported by the parent
                    payload, code = f"{type(exc).__name__}: {exc}", 1
                pickle.dump(("result", payload), out)
            os._exit(code)
        os.close(write_fd)
        children.append((pid, read_fd))
    inbox: queue.Queue[tuple[int, str, object]] = queue.Queue()
    readers = [
        threading.Thread(target=_read_worker, args=(n, fd, inbox), daemon=True)
        for n, (_, fd) in enumerate(children)
    ]
    for reader in readers:
        reader.start()
    previous: dict[int, Any] = {}
    if options.hold_s is not None:

        def forward(signum: int, frame: object) -> None:
            for pid, _ in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    results: list[BenchResult] = []
    errors: list[str] = []
    progress: dict[int, HoldProgress] = {}
    shown: HoldProgress | None = None
    finished = 0
    try:
        while finished < len(children):
            try:
                worker, kind, payload = inbox.get(timeout=HOLD_TICK_S)
            except queue.Empty:
                continue
            if kind == "progress" and isinstance(payload, HoldProgress):
                progress[worker] = payload
                merged = merge_progress(list(progress.values()))
                if len(progress) == len(children) and merged != shown:
                    shown = merged
                    print_progress(merged)
                continue
            finished += 1
            if isinstance(payload, BenchResult):
                results.append(payload)
            else:
                errors.append(str(payload))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for pid, _ in children:
            os.waitpid(pid, 0)
    if errors and not results:
        raise ValueError("; ".join(errors))
    merged_result = merge_results(results)
    for error in errors:
        merged_result.failures[f"worker: {error}"] += 1
    return merged_result


def _read_worker(worker: int, fd: int, inbox: queue.Queue[tuple[int, str, object]]) -> None:
    """Pass a worker's messages on, ending with its result (or why there is none)."""
    with os.fdopen(fd, "rb") as pipe:
        while True:
            try:
                kind, payload = pickle.load(pipe)
            except EOFError:
                inbox.put((worker, "result", "worker died without a result"))
                return
            except (pickle.UnpicklingError, ValueError, TypeError) as exc:
                inbox.put((worker, "result", f"unreadable worker result: {exc}"))
                return
            inbox.put((worker, str(kind), payload))
            if kind == "result":
                return


def run_bench(options: BenchOptions) -> BenchResult:
    """Run the load described by ``options`` (in ``options.workers`` processes)."""
    if options.workers < 1:
        raise ValueError("--workers must be at least 1")
    if options.hold_s is not None:
        if options.hold_s < 0:
            raise ValueError("--hold must not be negative")
        per_process = -(-options.count // max(1, min(options.workers, options.count)))
        raise_open_files(per_process + 64)
    elif options.reconnect:
        raise ValueError("--reconnect needs --hold")
    if options.workers == 1:
        hold = options.hold_s is not None
        return IkeLoad(options, print_progress if hold else None).run()
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
    if result.hold:
        lines.append(
            f"  held {result.hold_seconds:.1f} s: {result.held} up at the end, {result.lost} lost, "
            f"{result.recovered} re-established, {result.reconnecting} still reconnecting, "
            f"{result.refused} refused"
        )
        recovery = result.recovery_seconds
        if recovery is not None:
            p50, p95, p99 = (
                result.percentile_ms(q, result.recovery_latencies) for q in (50, 95, 99)
            )
            lines.append(
                f"  recovery: {recovery:.3f} s from the first loss to the last re-establishment; "
                f"per tunnel ms p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}; "
                f"{result.reconnect_attempts} attempts, "
                f"{result.cookie_challenged} COOKIE challenges"
            )
        for reason, n in sorted(result.recovery_failures.items()):
            lines.append(f"  refused: {n} x {reason}")
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
    ike.add_argument(
        "--hold",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep every set-up SA alive (answering liveness checks, rekeys) this long after "
        "the last set-up; SIGTERM/SIGINT end the hold early. Progress: JSON lines on stderr",
    )
    ike.add_argument(
        "--reconnect",
        action="store_true",
        help="with --hold: set up again at once when a held SA is lost, and report recoveries",
    )
    ike.add_argument(
        "--dpd",
        type=int,
        default=None,
        metavar="SECONDS",
        help="our own liveness checks every SECONDS on held SAs (default with --reconnect: 10)",
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
        hold_s=args.hold,
        reconnect=args.reconnect,
        dpd_s=args.dpd,
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
