"""The gateway without I/O: policy, the IKEv2 engines and the ESP data path composed.

One ``Gateway`` owns one compiled configuration. Its I/O shell feeds it what arrives
(``receive_tun``, ``receive_udp``, ``receive_esp``) and time (``handle_timer``), and carries
out the ``outputs()`` (``SendUdp``, ``SendIpv4``, ``WriteTun``, route changes); ``next_event()``
reports what happened (IKE events and the gateway's own). IKE and ESP never meet except
here, through values: a ``ChildSaEstablished`` becomes an installed ``ChildSa`` in the SAD.

A packet from the protected side (read from the tunnel device):

| what it finds                                   | result                                  |
|-------------------------------------------------|-----------------------------------------|
| not IPv4                                        | dropped ``bad-inner-packet``            |
| egress interface without a crypto map           | dropped ``no-crypto-map`` (D71)         |
| ``Bypass`` (no permit ACE)                       | dropped ``bypass-not-routed`` (D71)     |
| ``Drop`` (incomplete map…)                       | dropped under the SPD's reason          |
| ``Protect`` and a live SA whose selector matches | ESP to the SA's peer (UDP 4500 if NAT)  |
| ``Protect`` and no SA                            | ACQUIRE: queued, IKE asked; never clear |

ESP from a peer: SAD lookup by SPI and source, then the child SA (replay, ICV, decrypt),
then the inner packet must match the SA's selectors (mirror), else ``invalid-selectors``.

Rekeys are make-before-break: the new SA is installed after the old one (``Sad.replace``),
takes over outbound traffic at once, and the old one keeps decrypting until IKE deletes it.
"""

from __future__ import annotations

import sys
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from tunnelgate.esp import fast, ipv6
from tunnelgate.esp.child_sa import ChildSa, Dropped, Protected, Unprotected
from tunnelgate.esp.icmp import ERROR_TYPES, frag_needed, parse_error
from tunnelgate.esp.ipv4 import (
    FLAG_DF,
    Ipv4Error,
    checksum,
    fragment,
    outer_ipv4_packed,
    packed_address,
)
from tunnelgate.esp.ipv6 import packet_too_big
from tunnelgate.esp.packet import EspKeys, EspTransform, RandomSource
from tunnelgate.esp.sa import Lifetime, LifetimeEvent, RekeyNeeded, SaExpired
from tunnelgate.esp.sad import InboundDropped, Sad, SadEntry
from tunnelgate.esp.udp_encap import (
    MAX_RESERVED_SPI,
    NAT_KEEPALIVE,
    NON_ESP_MARKER,
    Esp,
    Ike,
    Keepalive,
    classify,
)
from tunnelgate.gateway.flow import NotIpv4, flow_key, flow_of
from tunnelgate.gateway.outputs import (
    Address,
    ChildSaInstalled,
    ChildSaRemoved,
    GatewayEvent,
    NegotiationAbandoned,
    NegotiationStarted,
    Output,
    PeerFailedOver,
    RouteAdded,
    RouteRemoved,
    SendIpv4,
    SendIpv6,
    SendUdp,
    WriteTun,
)
from tunnelgate.gateway.path import (
    INTERFACE_MTU,
    MIN_PATH_MTU,
    max_inner,
    outer_df,
    path_too_big,
)
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import Ikev1Event, Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v1.state import Phase1Sa
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import (
    AnyEvent,
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaFailed,
    IkeSaEstablished,
    IkeSaFailed,
    PeerUnreachable,
)
from tunnelgate.ike.v2.keymat import ChildKeys
from tunnelgate.ike.v2.state import IkeSa
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.acquire import Acquire, AcquireKey, AcquireTable
from tunnelgate.policy.address import (
    address_text,
    ipv4_int,
    ipv4_text,
    range_to_prefixes,
)
from tunnelgate.policy.crypto_map import MapEntry, Tfc
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.selector import ALL_PORTS, ICMP, PORT_PROTOCOLS, UDP, Flow, Range, Selector
from tunnelgate.policy.spd import Bypass, Classifier, Drop, Protect, check_inbound_decrypted

IPV4_IN_ESP = 4  # next header of a tunnel-mode IPv4 packet
IPV6_IN_ESP = 41  # ... and of an IPv6 one (D113)
NO_NEXT_HEADER = 59  # a TFC dummy packet (RFC 4303 §2.6)
IKE_VERSION_OCTET = 17  # offset of the version in the IKE/ISAKMP header
NAT_T_PORT = 4500
NAT_KEEPALIVE_S = 20.0
REKEY_RETRY_S = 1.0
# an IKEv2 SA deleted after its rekey keeps decrypting this long (D110): the peer's packets
# sent on it before it switched may still wait in our socket buffers behind the Delete
DRAIN_S = 1.0
SWITCH_S = 2.0  # a rekey responder switches to the new SA at the latest this long after
DELETE_RETRY_S = 0.5
V1_RETIRE_S = 10.0  # an IKEv1 SA replaced by a new quick mode keeps decrypting this long
V1_INITIATOR_HOLD_S = 0.3  # after QM3, until the responder has installed its SA (D87)
MAX_HELD = 16
ESP_PROTOCOL = 50
RAW_PROTOCOL = 255  # how the kernel routes what our IP_HDRINCL raw sockets send (D92)
TRANSPORT_TTL = 64  # of the IPv4 header rebuilt for a transport-mode packet (D93)
FLOW_CACHE_MAX = 4096  # flows remembered by the outbound fast path (cleared when full)
DF_MODES = {"copy-df": 0, "set-df": 1, "clear-df": 2}  # ``set df-bit`` for the C fast path

SaKey = tuple[str, str, Selector]  # (nameif, crypto map entry label, child selector)
_NO_BASE: Mapping[str, tuple[int, int, dict[str, int]]] = MappingProxyType({})


@dataclass(slots=True)
class InstalledSa:
    """A child SA pair on the data path and what ``show`` needs to know about it."""

    sa: ChildSa
    interface: str
    entry: MapEntry
    selector: Selector
    local: str
    peer: Address
    udp_encapsulation: bool
    established: ChildSaEstablished = field(repr=False)
    installed_at: float
    conn_id: int
    rekey_asked: bool = False
    rekey_retry_at: float | None = None
    path_mtu: int = INTERFACE_MTU
    pmtu_reset_at: float | None = None  # pmtu-aging: when a lowered path MTU is restored
    tfc_at: float | None = None  # next burst of TFC dummy packets
    # pmtus-sent, tfc-sent, … (``count``; None until the first, as most SAs never count any)
    counted: Counter[str] | None = None
    ike_version: int = 2
    retire_at: float | None = None  # IKEv1: a replaced SA is deleted this long after
    switch_at: float | None = None  # IKEv2 rekey responder: send on the successor from (D116)
    hold_until: float | None = None  # IKEv1 initiator: send nothing before the peer installs
    transport: bool = False  # ESP transport mode: the packets are ours and the peer's (D91)
    # IKEv2: deleted after a rekey at ``drain_until[0]`` with reason ``drain_until[1]``; until
    # then its inbound half still decrypts what was in flight (D110)
    drain_until: tuple[float, str] | None = None
    # what ``clear crypto ipsec sa counters`` zeroed: (packets, bytes, errors) per direction
    # at that moment; ``show`` subtracts it (lifetimes keep counting everything). Shared and
    # empty until the first ``clear``, which gives the SA a dict of its own.
    counters_base: Mapping[str, tuple[int, int, dict[str, int]]] = field(
        default_factory=lambda: _NO_BASE
    )
    held: list[bytes] | None = None  # IKEv1 initiator hold: packets waiting (None: none)
    # the C fast path's view of each direction (``Gateway.fast_path``; None until a flow of
    # this SA was cached, and for SAs it does not implement)
    fast_out: fast.Sa | None = None
    fast_in: fast.Sa | None = None
    # (nameif, entry label, selector): one tuple per SA, which the SAD's policy and selector
    # keys share, with the label string interned (``MapEntry.label`` formats one per call)
    key: SaKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = (self.interface, sys.intern(self.entry.label), self.selector)

    @property
    def stats(self) -> Counter[str]:
        """The SA's own counters (a new empty ``Counter`` when it has counted nothing)."""
        return self.counted if self.counted is not None else Counter()

    def count(self, name: str, n: int = 1) -> None:
        counted = self.counted
        if counted is None:
            counted = self.counted = Counter()
        counted[name] += n

    @property
    def spi_in(self) -> int:
        return self.sa.inbound.spi

    @property
    def outer_ipv6(self) -> bool:
        """Whether the tunnel between the gateways runs over IPv6 (D114)."""
        return ":" in self.peer[0]

    @property
    def inner_limit(self) -> int:
        """The largest inner packet sent in one ESP packet on the current path MTU."""
        return max_inner(
            self.sa.outbound, self.path_mtu, self.udp_encapsulation, ipv6=":" in self.peer[0]
        )


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One policy-routing rule for traffic this host originates (``iif lo``) to ``destination``
    (D91): into the tunnel table (its default route is the TUN) when ``tunnel``, else kept in
    the main table (the gateway's own IKE and ESP, listed first). ``protocol`` 0 is any;
    ``source_ports``/``destination_ports`` are ``(low, high)`` or None for any."""

    destination: str  # A.B.C.D/N
    protocol: int = 0
    source_ports: tuple[int, int] | None = None
    destination_ports: tuple[int, int] | None = None
    tunnel: bool = True
    source: str = ""  # captures: our address, the source hint of the TUN route (D92)


def is_transport_entry(entry: MapEntry) -> bool:
    """An entry that negotiates (or may negotiate) ESP transport mode."""
    return entry.ikev2_mode != "tunnel" or any(t.mode == "transport" for t in entry.transform_sets)


def _single_host(addresses: Range, address: str) -> bool:
    value = ipv4_int(address)
    return addresses.low == addresses.high == value


def _ports(ports: Range) -> tuple[int, int] | None:
    return None if ports == ALL_PORTS else (ports.low, ports.high)


@dataclass(slots=True)
class _Want:
    """Traffic of an ACQUIRE key waits for an SA on ``interface``."""

    interface: str
    asked: bool = False
    peer: str = ""  # the peer asked, once asked


def _link_scope(destination: bytes) -> bool:
    """An IPv6 destination of interface- or link-local scope (RFC 4291 §2.5.6, §2.7): never
    tunnel traffic."""
    if len(destination) != 16:
        return False
    if destination[0] == 0xFF:
        return destination[1] & 0x0F <= 2
    return destination[0] == 0xFE and destination[1] & 0xC0 == 0x80


def prefixes(addresses: Range) -> list[str]:
    """``A.B.C.D/N`` (or IPv6 ``X::/N``) prefixes that exactly cover ``addresses``."""
    return [
        f"{address_text(n)}/{length}"
        for n, length in range_to_prefixes(addresses.low, addresses.high)
    ]


def esp_sa(
    event: ChildSaEstablished, now: float, random: RandomSource, *, ike_version: int = 2
) -> ChildSa:
    """The ESP SA pair of an established child: we send with the peer's SPI, receive on
    ours. Time-based lifetimes stay with IKE (it rekeys and deletes); the data path counts
    the kilobytes."""
    keys = event.keys  # initiator->responder first
    i_to_r, r_to_i = EspKeys(keys.encr_i, keys.integ_i), EspKeys(keys.encr_r, keys.integ_r)
    out_keys, in_keys = (i_to_r, r_to_i) if event.initiator else (r_to_i, i_to_r)
    spi_out, spi_in = int.from_bytes(event.spi_out, "big"), int.from_bytes(event.spi_in, "big")
    outbound = EspTransform.from_keywords(spi_out, event.encryption, event.integrity, out_keys)
    inbound = EspTransform.from_keywords(spi_in, event.encryption, event.integrity, in_keys)
    # IKEv2 keeps the time lifetime (its engine rekeys and deletes); for IKEv1 SAs the data
    # path keeps both (D85)
    seconds = event.lifetime_seconds if ike_version == 1 else None
    lifetime = _lifetime_of(seconds, event.lifetime_kilobytes)
    return ChildSa(outbound, inbound, lifetime, now, random)


_LIFETIMES: dict[tuple[int | None, int | None], Lifetime] = {}
_NO_CHILD_KEYS = ChildKeys(b"", b"", b"", b"")


def _lifetime_of(seconds: int | None, kilobytes: int | None) -> Lifetime:
    """One (frozen) ``Lifetime`` per distinct pair of values, shared by the SAs using it."""
    found = _LIFETIMES.get((seconds, kilobytes))
    if found is None:
        found = Lifetime(seconds=seconds, kilobytes=kilobytes)
        if len(_LIFETIMES) < 1024:  # the values come from the configuration: few of them
            _LIFETIMES[(seconds, kilobytes)] = found
    return found


def _as_installed(event: ChildSaEstablished, label: str) -> ChildSaEstablished:
    """What ``InstalledSa.established`` keeps of the event: everything but the keys (the
    ESP transforms hold their own), with the entry's label shared with the SA's key."""
    return replace(event, keys=_NO_CHILD_KEYS, map_label=label)


class Gateway:
    """One gateway's control and data plane without I/O (see the module docstring)."""

    def __init__(
        self,
        policy: GatewayPolicy,
        random: RandomSource,
        *,
        acquire_timeout_s: float = 30.0,
        nat_keepalive_s: float | None = None,
        utc_offset_s: float | None = None,
    ) -> None:
        self.policy = policy
        self.random = random
        # UTC epoch seconds = ``now`` + this (certificate validity dates); None: unknown, so
        # every certificate is refused. The daemon sets it from its clocks (set_wall_clock).
        self.utc_offset_s = utc_offset_s
        self.nat_keepalive_s = nat_keepalive_s or float(policy.nat_keepalive_seconds)
        self.engines: dict[str, Ikev2Engine] = {}
        self.engines_v1: dict[str, Ikev1Engine] = {}
        self.classifiers: dict[str, Classifier] = {}
        self.local_addresses: dict[str, str] = {}  # nameif -> its address
        self.local_addresses6: dict[str, str] = {}  # nameif -> its IPv6 address, if any
        for nameif, cmap in policy.crypto_maps.items():
            iface = policy.interfaces.get(nameif)
            if iface is None or iface.address is None:
                continue
            self.classifiers[nameif] = Classifier.compile(cmap)
            self.local_addresses[nameif] = ipv4_text(iface.address)
            address6 = iface.address6
            if address6 is not None:
                self.local_addresses6[nameif] = address_text(address6)
            if nameif in policy.ikev2_enabled:
                self.engines[nameif] = Ikev2Engine(policy, nameif, random)
            if nameif in policy.ikev1_enabled:
                self.engines_v1[nameif] = Ikev1Engine(policy, nameif, random)
        self.set_wall_clock(utc_offset_s)
        self._nameif_of: dict[str, str] = {}
        self.rebuild_address_index()
        self.sad: Sad[ChildSa] = Sad()
        self.installed: dict[int, InstalledSa] = {}  # by inbound SPI
        self._selectors: dict[tuple[str, str], list[Selector]] = {}
        self.acquire = AcquireTable(timeout_s=acquire_timeout_s)
        self._wanted: dict[AcquireKey, _Want] = {}
        self._routes: Counter[str] = Counter()  # RRI prefixes -> SAs needing them
        self._ike_port: dict[Address, int] = {}  # peer -> our port its IKE last came to
        self._ike_established_at: dict[bytes, float] = {}
        self._keepalive_at: dict[tuple[str, Address], float] = {}
        self._outputs: list[Output] = []
        self._events: deque[AnyEvent | Ikev1Event | GatewayEvent] = deque()
        self.drops: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self._conn_ids = 0
        self._ident = 0  # outer IPv4 identification of native ESP packets
        self._active_peer: dict[str, int] = {}  # map entry label -> index into its peers
        self._deletes: list[tuple[str, bytes, int]] = []  # (nameif, SPI, IKE version) to delete
        self._deletes_at = 0.0  # when to try those again
        self._timed: set[int] = set()  # inbound SPIs of SAs with timers of their own
        # outbound fast path: flow key -> the SA that protects it, valid for one SAD
        # generation and one policy (see receive_tun)
        self._flow_cache: dict[bytes, InstalledSa] = {}
        self._flow_generation = -1
        self._flow_policy: GatewayPolicy | None = None
        # inbound fast path, valid for one SAD generation and one policy (see _inbound_esp):
        # inbound SPI -> (the outer source it was accepted from, its SA); flow key -> the SA
        # whose selectors (and the inbound access-group) passed that flow
        self._spi_cache: dict[int, tuple[str, InstalledSa]] = {}
        self._passed: dict[bytes, InstalledSa] = {}
        self._in_generation = -1
        self._in_policy: GatewayPolicy | None = None
        # the daemon's C fast path (esp/fast.py) handles the packets these caches decide:
        # set by the I/O shell when it runs one; SAs are shared with it as flows are cached
        self.fast_path = False

    # ------------------------------------------------------------------ surface

    def fast_flows(self) -> dict[bytes, InstalledSa]:
        """The outbound flow cache (flow key -> SA), emptied first when an SA or the policy
        changed since it was filled: what the C fast path reads (``receive_tun``)."""
        if self._flow_generation != self.sad.generation or self._flow_policy is not self.policy:
            self._flow_cache.clear()
            self._flow_generation, self._flow_policy = self.sad.generation, self.policy
        return self._flow_cache

    def fast_inbound(self) -> tuple[dict[int, tuple[str, InstalledSa]], dict[bytes, InstalledSa]]:
        """The inbound SPI cache and passed flows, emptied first when stale (``_inbound_esp``)."""
        if self._in_generation != self.sad.generation or self._in_policy is not self.policy:
            self._spi_cache.clear()
            self._passed.clear()
            self._in_generation, self._in_policy = self.sad.generation, self.policy
        return self._spi_cache, self._passed

    def _fast_share(self, installed: InstalledSa) -> None:
        """Tell the C fast path what it needs of ``installed`` beyond its SA state: whether
        it may take its packets at all (not while held, not transport mode), the addresses,
        UDP encapsulation, DF policy and the largest inner packet that needs no
        fragmentation. Called when it is attached and whenever one of them changes."""
        out, inbound = installed.fast_out, installed.fast_in
        if out is None and inbound is None:
            return
        v6 = installed.outer_ipv6  # the C path sends over IPv4 only: IPv6 peers stay in Python
        enabled = int(installed.hold_until is None and not installed.transport and not v6)
        peer = 0 if v6 else fast.packed_int(packed_address(installed.peer[0]))
        udp = int(installed.udp_encapsulation)
        for sa in (out, inbound):
            if sa is not None:
                sa.enabled, sa.udp, sa.peer, sa.peer_port = enabled, udp, peer, installed.peer[1]
        if out is not None:
            out.local = 0 if v6 else fast.packed_int(packed_address(installed.local))
            out.df_mode = DF_MODES.get(installed.entry.df_bit, 0)
            out.max_inner = max(
                0,
                installed.inner_limit,
            )

    def outputs(self) -> list[Output]:
        out, self._outputs = self._outputs, []
        return out

    def next_event(self) -> AnyEvent | Ikev1Event | GatewayEvent | None:
        return self._events.popleft() if self._events else None

    def static_routes(self) -> list[str]:
        """Prefixes to route into the tunnel device at start: every destination of a permit
        ACE of a static crypto map entry on an interface with an address (static RRI).
        Host-originated ACEs of transport-mode entries are policy rules instead
        (``transport_rules``): a route to the peer would swallow IKE and ESP (D91)."""
        out: list[str] = []
        for nameif in self.classifiers:
            for entry in self.policy.crypto_maps[nameif].entries:
                if entry.acl is None or entry.is_dynamic or entry.incomplete is not None:
                    continue
                for rule in entry.acl.permits:
                    for selector in rule.selectors:
                        if self._host_originated(nameif, entry, selector):
                            continue
                        out += [p for p in prefixes(selector.destination) if p not in out]
        return out

    def _host_originated(self, nameif: str, entry: MapEntry, selector: Selector) -> bool:
        """A selector of a transport-mode entry whose source is this interface's address."""
        return is_transport_entry(entry) and _single_host(
            selector.source, self.local_addresses[nameif]
        )

    def transport_rules(self) -> list[PolicyRule]:
        """Policy rules that capture the host's own traffic of transport-mode ACEs (static
        entries; D91): per selector, first the exceptions that keep the gateway's own IKE
        (UDP from port 500/4500) and ESP (protocol 50, and 255: raw IP_HDRINCL sockets) to a
        peer in the main table when the selector could match them, then the capture itself.
        Exceptions come first in the list (the I/O shell gives them the higher priority)."""
        keep: list[PolicyRule] = []
        capture: list[PolicyRule] = []
        for nameif in self.classifiers:
            for entry in self.policy.crypto_maps[nameif].entries:
                if entry.acl is None or entry.is_dynamic or entry.incomplete is not None:
                    continue
                for rule in entry.acl.permits:
                    for selector in rule.selectors:
                        if not self._host_originated(nameif, entry, selector):
                            continue
                        proto = selector.protocol
                        ports = proto in PORT_PROTOCOLS
                        sports = _ports(selector.source_ports) if ports else None
                        dports = _ports(selector.destination_ports) if ports else None
                        for peer in entry.peers:
                            if ipv4_int(peer) not in selector.destination:
                                continue
                            host = f"{peer}/32"
                            if proto in (0, ESP_PROTOCOL):
                                keep.append(PolicyRule(host, ESP_PROTOCOL, tunnel=False))
                            if proto == 0:
                                keep.append(PolicyRule(host, RAW_PROTOCOL, tunnel=False))
                            for port in (500, NAT_T_PORT):
                                if proto == 0 or (proto == UDP and port in selector.source_ports):
                                    keep.append(PolicyRule(host, UDP, (port, port), tunnel=False))
                        for prefix in prefixes(selector.destination):
                            local = self.local_addresses[nameif]
                            capture.append(PolicyRule(prefix, proto, sports, dports, source=local))
        out: list[PolicyRule] = []
        for wanted in keep + capture:
            if wanted not in out:
                out.append(wanted)
        return out

    def ike_interfaces(self) -> list[str]:
        """Interfaces that run IKE (v1, v2 or both): they need UDP 500/4500 and raw ESP."""
        return sorted(set(self.engines) | set(self.engines_v1))

    def _all_engines(self) -> list[tuple[str, Ikev1Engine | Ikev2Engine]]:
        return [*self.engines.items(), *self.engines_v1.items()]

    def _timed_sas(self) -> list[InstalledSa]:
        """The SAs with a timer of their own (a retry, PMTU aging, TFC, IKEv1 lifetimes):
        only these are visited per loop pass, not every installed SA (20,000 tunnels)."""
        out = []
        for spi in list(self._timed):
            i = self.installed.get(spi)
            if i is None or (
                i.ike_version == 2
                and i.rekey_retry_at is None
                and i.pmtu_reset_at is None
                and i.tfc_at is None
                and i.drain_until is None
                and i.switch_at is None
            ):
                self._timed.discard(spi)
            else:
                out.append(i)
        return out

    def _mark_timed(self, installed: InstalledSa) -> None:
        self._timed.add(installed.spi_in)

    def get_timer(self) -> float | None:
        timers = [t for _, e in self._all_engines() if (t := e.get_timer()) is not None]
        deadline = self.acquire.next_deadline()
        if deadline is not None:
            timers.append(deadline)
        timers += self._keepalive_at.values()
        if self._deletes:
            timers.append(self._deletes_at)
        for i in self._timed_sas():
            due = [i.rekey_retry_at, i.pmtu_reset_at, i.tfc_at, i.switch_at]
            if i.drain_until is not None:
                due.append(i.drain_until[0])
            if i.ike_version == 1:  # IKEv1 SAs: time lifetimes on the data path
                due += [i.sa.outbound_state.next_deadline(), i.retire_at, i.hold_until]
            timers += [t for t in due if t is not None]
        return min(timers, default=None)

    def handle_timer(self, now: float) -> None:
        for nameif, engine in self._all_engines():
            engine.handle_timer(now)
            self._after_ike(nameif, now)
        if self._deletes:
            self._send_deletes(now)
        for drop in self.acquire.expire(now):
            self.drops[drop.reason] += 1
        self._forget_abandoned("no SA established in time")
        for (nameif, peer), due in list(self._keepalive_at.items()):
            if due <= now:
                local = (self.local_for(nameif, peer[0]), NAT_T_PORT)
                self._outputs.append(SendUdp(local, peer, NAT_KEEPALIVE))
                self._keepalive_at[(nameif, peer)] = now + self.nat_keepalive_s
        for installed in self._timed_sas():
            if installed.spi_in not in self.installed:
                continue  # removed by an earlier one in this pass
            if installed.drain_until is not None:
                if installed.drain_until[0] <= now:
                    self._uninstall(installed.spi_in, installed.drain_until[1])
                continue  # draining: deleted with IKE already, nothing else to do
            if installed.switch_at is not None and installed.switch_at <= now:
                installed.switch_at = None  # no Delete from the initiator: switch anyway
                self.sad.retire(installed.spi_in)
            if installed.rekey_retry_at is not None and installed.rekey_retry_at <= now:
                installed.rekey_retry_at = None
                self._rekey(installed, now)
            if installed.pmtu_reset_at is not None and installed.pmtu_reset_at <= now:
                installed.pmtu_reset_at = None
                installed.path_mtu = INTERFACE_MTU
                self._fast_share(installed)
            if installed.tfc_at is not None and installed.tfc_at <= now:
                self._send_tfc(installed, now)
            if installed.ike_version == 1 and installed.spi_in in self.installed:
                if installed.hold_until is not None and installed.hold_until <= now:
                    self._end_hold(installed, now)
                if installed.retire_at is not None and installed.retire_at <= now:
                    self.tear_down(installed.spi_in, "replaced by a new quick mode", now)
                    continue
                self._lifetime(installed, installed.sa.tick(now), now)
        self._drive(now)

    # ------------------------------------------------------------------ inputs

    def receive_udp(self, local: Address, remote: Address, data: bytes, now: float) -> None:
        """A datagram to one of our IKE ports (500, or 4500: IKE, ESP or a keepalive)."""
        nameif = self._nameif_of.get(local[0])
        if nameif is None or nameif not in self.ike_interfaces():
            self.drops["no-ike-on-address"] += 1
            return
        if local[1] == NAT_T_PORT:
            if len(data) >= 8 and int.from_bytes(data[:4], "big") > MAX_RESERVED_SPI:
                self._inbound_esp(data, remote, True, now)  # ESP: what ``classify`` says
                return
            kind = classify(data)
            if isinstance(kind, Esp):
                self._inbound_esp(kind.packet, remote, True, now)
                return
            if isinstance(kind, Keepalive):
                self.counters["nat-keepalives-received"] += 1
                return
            if not isinstance(kind, Ike):
                self.drops[f"udp-4500-{kind.reason}"] += 1
                return
            data = kind.message
        self._ike_port[remote] = local[1]
        # the ISAKMP header's version octet: 0x10 IKEv1, 0x20 IKEv2 (RFC 2408 §3.1, 7296 §3.1)
        engine: Ikev1Engine | Ikev2Engine | None
        if len(data) > IKE_VERSION_OCTET and data[IKE_VERSION_OCTET] >> 4 == 1:
            engine = self.engines_v1.get(nameif)
        else:
            engine = self.engines.get(nameif)
        if engine is None:
            self.drops["ike-version-not-enabled"] += 1
            return
        engine.receive_datagram(data, remote, now, local=local)
        self._after_ike(nameif, now)

    def receive_esp(self, local: str, remote: str, data: bytes, now: float) -> None:
        """An ESP packet (SPI onwards) that arrived as IP protocol 50."""
        self._inbound_esp(data, (remote, 0), False, now)

    def receive_icmp(self, local: str, packet: bytes, now: float) -> None:
        """An ICMP packet to one of our addresses: "fragmentation needed" about our ESP
        lowers that SA's path MTU (restored after ``pmtu-aging``, if set)."""
        too_big = path_too_big(packet)
        if too_big is None:
            return
        for installed in self.installed.values():
            if installed.sa.outbound.spi != too_big.spi:
                continue
            installed.count("pmtus-received")
            mtu = too_big.mtu or installed.path_mtu - 1
            mtu = max(MIN_PATH_MTU, mtu)
            if mtu < installed.path_mtu:
                installed.path_mtu = mtu
                self._fast_share(installed)
                aging = self.policy.pmtu_aging_minutes
                installed.pmtu_reset_at = now + aging * 60 if aging else None
                self._mark_timed(installed)
            return

    def receive_tun(self, packet: bytes, now: float) -> None:
        """A packet from the protected side, routed to the tunnel device.

        Fast path: a flow whose route, SPD decision, selector and SA were found before is
        protected by the same SA again, as long as no SA was installed, replaced or removed
        since (the SAD's generation) and the policy is the same object. Only a found SA is
        remembered: drops and ACQUIREs always take the full path."""
        fast_key = flow_key(packet)
        if fast_key is not None:
            if self._flow_generation != self.sad.generation or self._flow_policy is not self.policy:
                self.fast_flows()
            cached = self._flow_cache.get(fast_key)
            if cached is not None:
                self._protect(cached, packet, now)
                return
        if packet[:1] and packet[0] >> 4 == 6 and _link_scope(packet[24:40]):
            self.counters["ipv6-link-scope-ignored"] += 1  # the kernel's own MLD/ND (D113)
            return
        try:
            flow = flow_of(packet)
        except NotIpv4:
            self.drops["bad-inner-packet"] += 1
            return
        route = self.policy.egress_interface(flow.destination)  # IPv6: D113
        classifier = self.classifiers.get(route[0]) if route is not None else None
        if route is None or classifier is None:
            self.drops["no-crypto-map"] += 1
            return
        nameif, decision = route[0], classifier.classify(flow)
        if isinstance(decision, Drop):
            self.drops[decision.reason] += 1
            return
        if isinstance(decision, Bypass):
            # no static entry protects it; an SA negotiated through a dynamic-map entry may
            # (its negotiated selectors are the entry's ACL, "Create Dynamic Crypto Maps")
            installed = self._dynamic_sa(nameif, flow)
            if installed is None:
                self.drops["bypass-not-routed"] += 1
                return
        else:
            installed = self._sa_for(nameif, decision.entry.label, flow)
        if installed is not None:
            if fast_key is not None and self._flow_generation == self.sad.generation:
                if len(self._flow_cache) >= FLOW_CACHE_MAX:
                    self._flow_cache.clear()
                self._flow_cache[fast_key] = installed
                if self.fast_path and installed.fast_out is None:
                    installed.fast_out = installed.sa.attach_fast(outbound=True)
                    self._fast_share(installed)
            self._protect(installed, packet, now)
            return
        assert isinstance(decision, Protect)
        key = AcquireKey.of(decision, flow)
        for event in self.acquire.on_protect_without_sa(key, packet, now):
            if isinstance(event, Acquire):
                self._wanted[key] = _Want(nameif)
            else:
                self.drops[event.reason] += 1
        self._drive(now, flow.describe())

    def _sa_for(self, nameif: str, label: str, flow: Flow) -> InstalledSa | None:
        """The live SA of entry ``label`` whose negotiated selector covers ``flow``."""
        for selector in self._selectors.get((nameif, label), ()):
            if selector.matches(flow):
                entry = self.sad.lookup_outbound((nameif, label, selector))
                if entry is not None:
                    return self.installed[entry.inbound_spi]
        return None

    def _dynamic_sa(self, nameif: str, flow: Flow) -> InstalledSa | None:
        """An SA of a dynamic-map entry of ``nameif``'s crypto map set that carries ``flow``."""
        for entry in self.policy.crypto_maps[nameif].entries:
            if entry.is_dynamic and (nameif, entry.label) in self._selectors:
                installed = self._sa_for(nameif, entry.label, flow)
                if installed is not None:
                    return installed
        return None

    # ------------------------------------------------------------------ data path

    def _protect(self, installed: InstalledSa, packet: bytes, now: float) -> None:
        """Fragmentation policy and DF (``crypto ipsec fragmentation``, ``set df-bit``), then
        encrypt and send. A packet too big for the path with DF kept gets an ICMP
        "fragmentation needed" back (``#PMTUs sent``); nothing is silently lost."""
        if installed.hold_until is not None:
            if now < installed.hold_until:
                held = installed.held
                if held is None:
                    held = installed.held = []
                if len(held) < MAX_HELD:
                    held.append(packet)
                else:
                    self.drops["held-queue-full"] += 1
                return
            self._end_hold(installed, now)
        if installed.transport:
            self._protect_transport(installed, packet, now)
            return
        limit = installed.inner_limit
        if packet[0] >> 4 == 6:  # IPv6: never fragmented on the way (RFC 8200 §5)
            if len(packet) <= limit:
                self._seal(installed, packet, IPV6_IN_ESP, now)
            else:
                self._too_big_v6(installed, packet, limit)
            return
        if len(packet) <= limit:
            self._seal(installed, packet, IPV4_IN_ESP, now)
            return
        inner_df = bool(packet[6] & 0x40)
        policy = installed.entry.df_bit
        if self.policy.fragmentation_for(installed.interface) == "after-encryption":
            if outer_df(policy, inner_df):
                self._too_big(installed, packet, limit)
            else:
                self._seal(installed, packet, IPV4_IN_ESP, now)  # the outer packet fragments
            return
        if inner_df and policy != "clear-df":
            self._too_big(installed, packet, limit)
            return
        try:
            pieces = fragment(_clear_df(packet) if inner_df else packet, limit)
        except Ipv4Error:
            installed.count("pre-frag-failures")
            self.drops["pre-frag-failed"] += 1
            return
        installed.count("pre-frag-successes")
        installed.count("fragments-created", len(pieces))
        for piece in pieces:
            self._seal(installed, piece, IPV4_IN_ESP, now)

    def _protect_transport(self, installed: InstalledSa, packet: bytes, now: float) -> None:
        """Transport mode (D91): the packet is the host's own to the peer; its payload is
        protected with next header = its protocol, under an outer header with the same
        addresses (built by ``_seal``), DF and TOS from the packet. Fragments are dropped and
        counted (D94); a payload too big for the path with DF kept gets "fragmentation
        needed" back to the host."""
        flags = int.from_bytes(packet[6:8], "big")
        if flags & 0x3FFF:  # MF or a fragment offset
            self.drops["transport-fragment"] += 1
            return
        ihl = (packet[0] & 0x0F) * 4
        payload = packet[ihl : int.from_bytes(packet[2:4], "big")]
        inner_df = bool(flags & FLAG_DF)
        limit = installed.inner_limit
        if len(payload) > limit and outer_df(installed.entry.df_bit, inner_df):
            self._too_big(installed, packet, limit + ihl)
            return
        self._seal(installed, payload, packet[9], now, (inner_df, packet[1]))

    def _too_big(self, installed: InstalledSa, packet: bytes, mtu: int) -> None:
        """Tell the sender to use smaller packets (RFC 1191), from our address on its side."""
        self.drops["too-big-df"] += 1
        if packet[9] == ICMP and len(packet) > 20 and packet[(packet[0] & 0x0F) * 4] in ERROR_TYPES:
            return  # never an ICMP error about an ICMP error (RFC 1122 §3.2.2)
        source = int.from_bytes(packet[12:16], "big")
        route = self.policy.egress_interface(source)
        local = self.local_addresses.get(route[0]) if route else None
        if local is None and route is not None:
            iface = self.policy.interfaces.get(route[0])
            local = ipv4_text(iface.address) if iface and iface.address is not None else None
        installed.count("pmtus-sent")
        source_text = ipv4_text(source)
        # from the gateway's own stack: written into the TUN, the kernel would drop a packet
        # with one of its own addresses as source
        icmp = frag_needed(packet, mtu, local or installed.local)
        self._outputs.append(SendIpv4(local or installed.local, source_text, icmp))

    def _too_big_v6(self, installed: InstalledSa, packet: bytes, mtu: int) -> None:
        """An IPv6 packet too big for the tunnel: ICMPv6 Packet Too Big back to its sender
        (RFC 4443 §3.2, RFC 8201), written into the TUN from the packet's destination, the
        gateway having no IPv6 address of its own (D113); none about an ICMPv6 error."""
        self.drops["too-big-ipv6"] += 1
        try:
            answer = packet_too_big(packet, max(mtu, ipv6.MIN_MTU), packet[24:40])
        except ValueError:
            return
        if answer is not None:
            installed.count("pmtus-sent")
            self._outputs.append(WriteTun(answer))

    def _seal(
        self,
        installed: InstalledSa,
        inner: bytes,
        next_header: int,
        now: float,
        transport: tuple[bool, int] | None = None,
    ) -> None:
        """Encrypt one packet on the SA and send it: UDP 4500 behind NAT, else native ESP with
        the outer header built here (DF and TOS per RFC 4301 §5.1.2.1 and ``set df-bit``).
        ``transport``: the transport-mode payload's (DF, TOS) from the host's packet."""
        result = installed.sa.protect_packet(inner, next_header, now, self.random)
        events: tuple[LifetimeEvent, ...] = ()
        if type(result) is bytes:  # the common case: no lifetime event
            esp = result
        elif isinstance(result, Dropped):
            self.drops[result.reason] += 1
            self._lifetime(installed, result.events, now)
            return
        else:
            assert isinstance(result, Protected)
            esp, events = result.esp, result.events
        if transport is None:
            tunnelled = next_header == IPV4_IN_ESP
            if next_header == IPV6_IN_ESP:  # IPv6 is never fragmented on the way: as DF set
                df = outer_df(installed.entry.df_bit, True)
            else:
                df = outer_df(installed.entry.df_bit, tunnelled and bool(inner[6] & 0x40))
        else:
            tunnelled = False
            df = outer_df(installed.entry.df_bit, transport[0])
        peer = installed.peer
        if installed.udp_encapsulation:
            local = (installed.local, NAT_T_PORT)
            self._outputs.append(SendUdp(local, peer, esp, df))
        elif installed.outer_ipv6:  # the host builds the header; it fragments, not routers
            self._outputs.append(SendIpv6(installed.local, peer[0], esp))
        else:
            self._ident = (self._ident + 1) & 0xFFFF
            if transport is not None:
                tos = transport[1]
            elif tunnelled:
                tos = inner[1]
            elif next_header == IPV6_IN_ESP:  # the traffic class (RFC 4301 §5.1.2.1)
                tos = (inner[0] & 0x0F) << 4 | inner[1] >> 4
            else:
                tos = 0
            outer = outer_ipv4_packed(
                packed_address(installed.local),
                packed_address(peer[0]),
                esp,
                df=df,
                tos=tos,
                ident=self._ident,
            )
            pieces = [outer]
            if len(outer) > installed.path_mtu and not df:
                pieces = fragment(outer, installed.path_mtu)
                installed.count("fragments-created", len(pieces))
            for piece in pieces:
                self._outputs.append(SendIpv4(installed.local, peer[0], piece))
        if events:
            self._lifetime(installed, events, now)

    def _send_tfc(self, installed: InstalledSa, now: float) -> None:
        """A burst of dummy packets (next header 59) per ``set tfc-packets``."""
        tfc = installed.entry.tfc
        assert tfc is not None
        burst = tfc.burst or self._uniform(1, 16)
        for _ in range(burst):
            size = tfc.payload_size or self._uniform(64, 1024)
            self._seal(installed, self.random(size), NO_NEXT_HEADER, now)
        installed.count("tfc-sent", burst)
        installed.tfc_at = now + self._tfc_interval(tfc)
        self._mark_timed(installed)

    def _tfc_interval(self, tfc: Tfc) -> float:
        return float(tfc.timeout_s or self._uniform(10, 60))

    def _uniform(self, low: int, high: int) -> int:
        return low + int.from_bytes(self.random(2), "big") % (high - low + 1)

    def _inbound_esp(self, esp: bytes, source: Address, udp: bool, now: float) -> None:
        """SAD lookup, unprotect, then the decrypted packet's checks (``_inbound_refusal``).

        Fast path: an SPI accepted from the same outer source, and a flow that passed the
        checks on the same SA, are accepted again without the lookup or the checks while
        the SAD's generation and the policy object stay the same. Only accepted SAs and
        passing flows are remembered (never ICMP errors: their check reads the quoted
        packet); refusals always take the full path."""
        if len(esp) < 8:
            self.drops["short-packet"] += 1
            return
        if self._in_generation != self.sad.generation or self._in_policy is not self.policy:
            self.fast_inbound()
        spi = int.from_bytes(esp[:4], "big")
        known = self._spi_cache.get(spi)
        if known is not None and known[0] == source[0]:
            installed = known[1]
        else:
            lookup = self.sad.lookup_inbound(spi, source[0])
            if isinstance(lookup, InboundDropped):
                self.drops[lookup.reason] += 1
                if lookup.entry is not None:
                    lookup.entry.inbound.inbound_state.record_error(lookup.reason)
                return
            installed = self.installed[spi]
            if self._in_generation == self.sad.generation:
                self._spi_cache[spi] = (source[0], installed)
        result = installed.sa.unprotect_packet(esp, now)
        if installed.hold_until is not None and not isinstance(result, Dropped):
            self._end_hold(installed, now)  # the peer sends on it: it has installed its side
        if installed.transport:
            self._inbound_transport(installed, result, source, udp, now)
            return
        if type(result) is bytes:  # an IPv4 packet that caused no lifetime event
            inner = result
            if udp and installed.udp_encapsulation and source != installed.peer:
                installed.peer = source  # the peer's NAT mapping moved (RFC 3948 §3.1)
                self._fast_share(installed)
        elif isinstance(result, Dropped):
            self.drops[result.reason] += 1
            self._lifetime(installed, result.events, now)
            return
        else:
            assert isinstance(result, Unprotected)
            if udp and installed.udp_encapsulation and source != installed.peer:
                installed.peer = source
                self._fast_share(installed)
            if result.events:
                self._lifetime(installed, result.events, now)
            if result.dummy:
                installed.count("tfc-received")
                return
            if result.next_header not in (IPV4_IN_ESP, IPV6_IN_ESP):
                self.drops["unsupported-next-header"] += 1
                return
            inner = result.inner
        self.receive_inner(installed, inner)

    def receive_inner(self, installed: InstalledSa, inner: bytes) -> None:
        """A packet decrypted on ``installed`` (here, or by the C fast path, which hands over
        those whose flow was not passed yet): the inbound checks, then the TUN."""
        key = flow_key(inner)
        if key is not None and self._passed.get(key) is installed:
            self._outputs.append(WriteTun(inner))
            return
        try:
            flow = flow_of(inner)
        except NotIpv4:
            self.drops["bad-inner-packet"] += 1
            return
        reason = self._inbound_refusal(installed, flow, inner)
        if reason is not None:
            installed.sa.inbound_state.record_error(reason)
            self.drops[reason] += 1
            return
        if key is not None and not (flow.protocol == ICMP and flow.icmp_type in ERROR_TYPES):
            if len(self._passed) >= FLOW_CACHE_MAX:
                self._passed.clear()
            self._passed[key] = installed
            if self.fast_path and installed.fast_in is None:
                installed.fast_in = installed.sa.attach_fast(outbound=False)
                self._fast_share(installed)
        self._outputs.append(WriteTun(inner))

    def _inbound_transport(
        self,
        installed: InstalledSa,
        result: bytes | Unprotected | Dropped,
        source: Address,
        udp: bool,
        now: float,
    ) -> None:
        """A transport-mode packet (D93): the IPv4 header is rebuilt (source the peer,
        destination our address, protocol the next header, TTL 64), checked like a tunnelled
        inner packet, and written to the TUN for the kernel to deliver locally."""
        if isinstance(result, Dropped):
            self.drops[result.reason] += 1
            self._lifetime(installed, result.events, now)
            return
        if udp and installed.udp_encapsulation and source != installed.peer:
            installed.peer = source  # the peer's NAT mapping moved (RFC 3948 §3.1)
            self._fast_share(installed)
        if isinstance(result, Unprotected):
            if result.events:
                self._lifetime(installed, result.events, now)
            if result.dummy:
                installed.count("tfc-received")
                return
            payload, next_header = result.inner, result.next_header
        else:
            payload, next_header = result, IPV4_IN_ESP  # IP-in-IP carried in transport mode
        selector = installed.selector
        try:
            inner = outer_ipv4_packed(
                selector.destination.low.to_bytes(4, "big"),
                selector.source.low.to_bytes(4, "big"),
                payload,
                ttl=TRANSPORT_TTL,
                protocol=next_header,
            )
            flow = flow_of(inner)
        except (NotIpv4, Ipv4Error, ValueError):
            self.drops["bad-inner-packet"] += 1
            return
        reason = self._inbound_refusal(installed, flow, inner)
        if reason is not None:
            installed.sa.inbound_state.record_error(reason)
            self.drops[reason] += 1
            return
        self._outputs.append(WriteTun(inner))

    def _inbound_refusal(self, installed: InstalledSa, flow: Flow, inner: bytes) -> str | None:
        """Why a decrypted packet may not pass, or None: the SA's selectors (an ICMP error
        whose quoted packet belongs to the SA passes with ``set validate-icmp-errors``), then,
        with ``no sysopt connection permit-vpn``, the interface's inbound access-group."""
        if (
            installed.entry.validate_icmp_errors
            and flow.protocol == ICMP
            and flow.icmp_type in ERROR_TYPES
        ):
            error = parse_error(inner)
            try:
                quoted = flow_of(error.quoted) if error is not None else None
            except NotIpv4:
                quoted = None
            if quoted is None or not installed.selector.matches(quoted):
                installed.count("invalid-icmp-errors")
                return "invalid-icmp-error"
            installed.count("valid-icmp-errors")
        elif check_inbound_decrypted((installed.selector,), flow) is not None:
            return "invalid-selectors"
        if not self.policy.permit_vpn:
            acl = self.policy.access_groups_in.get(installed.interface)
            if acl is not None:
                rule = acl.first_match(flow)
                if rule is None or not rule.is_permit:
                    return "acl-denied"
        return None

    def _lifetime(
        self, installed: InstalledSa, events: tuple[LifetimeEvent, ...], now: float
    ) -> None:
        for event in events:
            if isinstance(event, RekeyNeeded):
                self._rekey(installed, now)
            elif isinstance(event, SaExpired):
                self._expire(installed, now)

    def _rekey(self, installed: InstalledSa, now: float) -> None:
        """The data path's soft limit (kilobytes, sequence numbers): ask IKE for a rekey."""
        if installed.rekey_asked:
            return
        spi_in = installed.established.spi_in
        try:
            if installed.ike_version == 1:
                self._rekey_v1(installed, now)
            else:
                self.engines[installed.interface].rekey_child(spi_in, now)
        except (KeyError, ValueError):  # busy with another exchange, or going away
            installed.rekey_retry_at = now + REKEY_RETRY_S
            self._mark_timed(installed)
            return
        installed.rekey_asked = True
        self._after_ike(installed.interface, now)

    def _rekey_v1(self, installed: InstalledSa, now: float) -> None:
        """IKEv1 has no rekey exchange: a new quick mode for the same ACE; the new SA takes
        over when it is installed (``_install``), the old one is deleted at its hard limit."""
        engine = self.engines_v1[installed.interface]
        phase1 = _phase1_to(engine, installed.peer[0])
        entry = installed.entry
        rule = next(
            (r for r in (entry.acl.permits if entry.acl else ()) if sel_covers(r, installed)),
            None,
        )
        if phase1 is None or rule is None:
            raise KeyError("no ISAKMP SA or ACE to rekey with")
        engine.create_child(phase1, entry, rule, now)

    def _expire(self, installed: InstalledSa, now: float) -> None:
        """The hard limit: the SA carries nothing more; IKE deletes it."""
        spi_in = installed.established.spi_in
        self._uninstall(int.from_bytes(spi_in, "big"), "lifetime expired")
        if installed.drain_until is not None:
            return  # IKE deleted it already
        self._deletes.append((installed.interface, spi_in, installed.ike_version))
        self._send_deletes(now)

    # ------------------------------------------------------------------ IKE

    def _after_ike(self, nameif: str, now: float) -> None:
        for version, engine in ((2, self.engines.get(nameif)), (1, self.engines_v1.get(nameif))):
            if engine is None:
                continue
            for data, peer, local in engine.datagrams_to_send_from(now):  # IPv4 or IPv6 (D115)
                if self._ike_port.get(peer) == NAT_T_PORT or peer[1] == NAT_T_PORT:
                    framed = NON_ESP_MARKER + data
                    self._outputs.append(SendUdp((local[0], NAT_T_PORT), peer, framed))
                else:
                    self._outputs.append(SendUdp((local[0], local[1]), peer, data))
            while (event := engine.next_event()) is not None:
                self._events.append(event)
                self._on_ike_event(nameif, event, now, version)

    def _on_ike_event(
        self, nameif: str, event: AnyEvent | Ikev1Event, now: float, version: int = 2
    ) -> None:
        if isinstance(event, IkeSaEstablished):
            self._ike_established_at[event.spi_i + event.spi_r] = now
            self.counters["ike-sas-established"] += 1
        elif isinstance(event, Ikev1SaEstablished):
            self._ike_established_at[event.cookie_i + event.cookie_r] = now
            self.counters["ikev1-sas-established"] += 1
        elif isinstance(event, Ikev1SaFailed):
            self.counters["negotiations-failed"] += 1
            self._fail_wanted(event.peer[0], type(event).__name__, failover=True)
        elif isinstance(event, ChildSaEstablished):
            self._install(nameif, event, now, version)
        elif isinstance(event, ChildSaDeleted):
            spi_in = int.from_bytes(event.spi_in, "big")
            installed = self.installed.get(spi_in)
            sad = self.sad
            if (
                installed is not None
                and version == 2
                and (
                    sad.is_retiring(spi_in)
                    or sad.is_rekey_sibling(spi_in)
                    or sad.has_successor(spi_in)
                )
            ):
                # replaced by a rekey, or the redundant one of two (a collision): nothing is
                # sent on it any more, but what the peer sent before it switched may still be
                # queued behind the Delete (D110)
                sad.retire(spi_in)  # a successor not switched to yet sends from now (D116)
                installed.switch_at = None
                installed.drain_until = (now + DRAIN_S, event.reason)
                installed.rekey_asked = True
                self._mark_timed(installed)
            else:
                self._uninstall(spi_in, event.reason)
        elif (
            isinstance(event, ChildSaFailed) and event.rekey and event.notify == "TEMPORARY_FAILURE"
        ):
            # the peer is closing the SA we asked to rekey: its own rekey of it finished
            # first and replaced it (D109); not a failed negotiation
            self.counters["rekeys-deferred"] += 1
        elif isinstance(event, IkeSaFailed | ChildSaFailed | PeerUnreachable):
            self.counters["negotiations-failed"] += 1
            dead = not isinstance(event, ChildSaFailed)  # the peer itself failed: fail over
            self._fail_wanted(event.peer[0], type(event).__name__, failover=dead)

    def _entry(self, nameif: str, label: str) -> MapEntry | None:
        cmap = self.policy.crypto_maps.get(nameif)
        return next((e for e in cmap.entries if e.label == label), None) if cmap else None

    def _install(
        self, nameif: str, event: ChildSaEstablished, now: float, version: int = 2
    ) -> None:
        entry = self._entry(nameif, event.map_label)
        transport = event.mode == "transport"
        try:
            if entry is None or event.mode not in ("tunnel", "transport"):
                raise ValueError(f"{event.mode} mode is not carried by the data path")
            if transport and not (
                _single_host(event.selector.source, self.local_addresses[nameif])
                and _single_host(event.selector.destination, event.peer[0])
            ):
                raise ValueError(
                    "transport mode needs selectors of single hosts: our address and the peer's"
                )
            sa = esp_sa(event, now, self.random, ike_version=version)
        except ValueError as exc:  # negotiated, but not something ESP here can carry
            self.drops["child-sa-not-installable"] += 1
            self._events.append(NegotiationAbandoned(event.map_label, event.peer[0], str(exc), 0))
            self._deletes.append((nameif, event.spi_in, version))  # tell the peer at once
            self._send_deletes(now)
            return
        assert entry is not None
        self._conn_ids += 1
        udp = event.udp_encapsulation
        peer = (event.peer[0], event.peer[1] if udp else 0)
        installed = InstalledSa(
            sa,
            nameif,
            entry,
            event.selector,
            event.local_address[0] or self.local_for(nameif, peer[0]),  # where its IKE SA is
            peer,
            udp,
            event,
            now,
            self._conn_ids,
            ike_version=version,
            transport=transport,
        )
        installed.established = _as_installed(event, installed.key[1])
        spi_in, spi_out = installed.sa.inbound.spi, installed.sa.outbound.spi
        sad_entry = SadEntry(
            spi_in, spi_out, peer[0], installed.key, installed.key, installed.sa, installed.sa
        )
        old = int.from_bytes(event.rekeyed_spi, "big") if event.rekeyed_spi else None
        if old is None and version == 1:
            # IKEv1 has no rekey exchange: a new quick mode for traffic an SA already carries
            # (either side's _rekey_v1) succeeds the newest such SA, make-before-break (D85)
            same = [i for i in self.installed.values() if i.key == installed.key]
            old = max(same, key=lambda i: i.conn_id).spi_in if same else None
            if old is not None:
                self.installed[old].retire_at = now + V1_RETIRE_S
        if old is not None and old in self.installed and self.installed[old].key == installed.key:
            # the responder of an IKEv2 rekey sends on the old SA until the initiator, which
            # installs the new one only when our answer arrives, deletes it (D116)
            defer = version == 2 and not event.initiator
            self.sad.replace(old, sad_entry, switch=not defer)
            if defer:
                replaced = self.installed[old]
                replaced.switch_at = now + SWITCH_S
                replaced.rekey_asked = True  # it has its successor: never rekeyed again
                self._mark_timed(replaced)
        else:
            self.sad.install(sad_entry)
        self.installed[spi_in] = installed
        selectors = self._selectors.setdefault((nameif, entry.label), [])
        if event.selector not in selectors:
            selectors.append(event.selector)
        if (entry.is_dynamic or entry.reverse_route is not None) and not transport:
            for prefix in prefixes(event.selector.destination):
                self._routes[prefix] += 1
                if self._routes[prefix] == 1:
                    self._outputs.append(RouteAdded(prefix))
        if udp:
            self._keepalive_at.setdefault((nameif, peer), now + self.nat_keepalive_s)
        if entry.tfc is not None and event.peer_accepts_tfc_padding:
            installed.tfc_at = now + self._tfc_interval(entry.tfc)
        if version == 1 or installed.tfc_at is not None:
            self._mark_timed(installed)
        self._events.append(
            ChildSaInstalled(
                nameif, entry.label, peer, spi_in, spi_out, event.selector.describe(), udp, old
            )
        )
        if version == 1 and event.initiator and old is None:
            installed.hold_until = now + V1_INITIATOR_HOLD_S  # the QM3 race (D87)
            self._fast_share(installed)
        else:
            self._release(nameif, entry.label, now)

    def _uninstall(self, spi_in: int, reason: str) -> None:
        installed = self.installed.pop(spi_in, None)
        if installed is None:
            return
        self.counters["child-sas-deleted"] += 1
        if installed.held:  # held for the IKEv1 QM3 race and never sent: dropped, counted
            self.drops["held-on-removal"] += len(installed.held)
        self.sad.remove(spi_in)
        key = installed.key
        if not any(i.key == key for i in self.installed.values()):
            selectors = self._selectors.get(key[:2], [])
            if installed.selector in selectors:
                selectors.remove(installed.selector)
        entry = installed.entry
        if (entry.is_dynamic or entry.reverse_route is not None) and not installed.transport:
            for prefix in prefixes(installed.selector.destination):
                self._routes[prefix] -= 1
                if self._routes[prefix] <= 0:
                    del self._routes[prefix]
                    self._outputs.append(RouteRemoved(prefix))
        peer_key = (installed.interface, installed.peer)
        if not any((i.interface, i.peer) == peer_key for i in self.installed.values()):
            self._keepalive_at.pop(peer_key, None)
        self._events.append(
            ChildSaRemoved(installed.interface, spi_in, installed.sa.outbound.spi, reason)
        )

    def _end_hold(self, installed: InstalledSa, now: float) -> None:
        """The peer has installed its side (its first packet came, or the hold expired):
        send what waited, oldest first."""
        installed.hold_until = None
        self._fast_share(installed)
        held, installed.held = installed.held or [], None
        self._release(installed.interface, installed.entry.label, now)
        for packet in held:
            self._protect(installed, packet, now)

    def _release(self, nameif: str, label: str, now: float) -> None:
        """An SA came up for ``label``: send what waited for it (or ask again for the rest)."""
        for key in list(self.acquire.pending()):
            want = self._wanted.get(key)
            if want is None or want.interface != nameif or key.protect.entry.label != label:
                continue
            del self._wanted[key]
            for packet in self.acquire.sa_ready(key, now):
                self.receive_tun(packet, now)

    def _failover(self, peer: str) -> None:
        """Entries whose active peer is ``peer`` move on to their next peer."""
        for cmap in self.policy.crypto_maps.values():
            for entry in cmap.entries:
                if len(entry.peers) > 1 and self.active_peer(entry) == peer:
                    self._active_peer[entry.label] = self._active_peer.get(entry.label, 0) + 1
                    self._events.append(PeerFailedOver(entry.label, peer, self.active_peer(entry)))

    def active_peer(self, entry: MapEntry) -> str:
        """The peer that traffic of ``entry`` negotiates with: the first ``set peer`` until
        it fails, then the next, cycling back to the first after the last."""
        return entry.peers[self._active_peer.get(entry.label, 0) % len(entry.peers)]

    def _fail_wanted(self, peer: str, reason: str, *, failover: bool) -> None:
        if failover:
            self._failover(peer)
        failed = [k for k, w in self._wanted.items() if w.asked and w.peer == peer]
        for key in failed:
            del self._wanted[key]
            drops = self.acquire.sa_failed(key, 0.0)
            for drop in drops:
                self.drops[drop.reason] += 1
            self._events.append(
                NegotiationAbandoned(key.protect.entry.label, peer, reason, len(drops))
            )

    def _forget_abandoned(self, reason: str) -> None:
        pending = self.acquire.pending()
        for key in [k for k in self._wanted if k not in pending]:
            del self._wanted[key]
            peer = key.protect.entry.peers[0] if key.protect.entry.peers else ""
            self._events.append(NegotiationAbandoned(key.protect.entry.label, peer, reason, 0))

    def _drive(self, now: float, flow: str = "") -> None:
        """Ask IKE for the SAs that waiting traffic needs: a new IKE SA towards the entry's
        peer, or a new child SA on an established one (one request at a time per IKE SA)."""
        for key, want in list(self._wanted.items()):
            if want.asked or self._wanted.get(key) is not want:
                continue  # asked already, or settled by a nested call
            entry, rule = key.protect.entry, key.rule  # the selector that matched (D113)
            engine = self._engine_for(want.interface, entry)
            if engine is None or not entry.peers:
                del self._wanted[key]
                why = "no IKE version usable on the interface" if engine is None else "no peer"
                drops = self.acquire.sa_failed(key, now)
                self.drops["acquire-failed"] += len(drops)
                self._events.append(NegotiationAbandoned(entry.label, "", why, len(drops)))
                continue
            peer = self.active_peer(entry)
            if isinstance(engine, Ikev1Engine):
                how_v1 = self._ask_v1(engine, key, entry, rule, peer, now)
                if how_v1 is None:
                    continue
                want.asked, want.peer = True, peer
                self.counters["negotiations-started"] += 1
                event = NegotiationStarted(want.interface, entry.label, peer, flow, how_v1)
                self._events.append(event)
                self._after_ike(want.interface, now)
                continue
            ike = _ike_sa_to(engine, peer)
            try:
                if ike is None:
                    first = entry.peers.index(peer)  # IKE starts with the entry's first peer
                    rotated = replace(entry, peers=entry.peers[first:] + entry.peers[:first])
                    engine.initiate(rotated, rule, now)
                    how = "ike-sa-init"
                elif ike.state != "established" or ike.pending or ike.retransmit_at:
                    continue  # being negotiated, or busy: try again after its next event
                else:
                    engine.create_child(ike, entry, rule, now)
                    how = "create-child-sa"
            except ValueError as exc:
                del self._wanted[key]
                drops = self.acquire.sa_failed(key, now)
                self.drops["acquire-failed"] += len(drops)
                self._events.append(NegotiationAbandoned(entry.label, peer, str(exc), len(drops)))
                continue
            want.asked, want.peer = True, peer
            self.counters["negotiations-started"] += 1
            self._events.append(NegotiationStarted(want.interface, entry.label, peer, flow, how))
            self._after_ike(want.interface, now)

    def _engine_for(self, nameif: str, entry: MapEntry) -> Ikev1Engine | Ikev2Engine | None:
        """IKEv2 when the entry has IKEv2 proposals and the interface runs IKEv2, else IKEv1
        when it has transform sets and the interface runs IKEv1 (D86)."""
        if entry.proposals and nameif in self.engines:
            return self.engines[nameif]
        if entry.transform_sets and nameif in self.engines_v1:
            return self.engines_v1[nameif]
        return None

    def _ask_v1(
        self,
        engine: Ikev1Engine,
        key: AcquireKey,
        entry: MapEntry,
        rule: Rule,
        peer: str,
        now: float,
    ) -> str | None:
        """Main mode then quick mode, or quick mode on the ISAKMP SA with ``peer`` (queued by
        the engine until phase 1 is up); how, or None when it cannot be asked."""
        phase1 = _phase1_to(engine, peer)
        try:
            if phase1 is None:
                first = entry.peers.index(peer)
                rotated = replace(entry, peers=entry.peers[first:] + entry.peers[:first])
                engine.initiate(rotated, rule, now)
                return f"{entry.ikev1_phase1_mode}-mode"
            engine.create_child(phase1, entry, rule, now)
            return "quick-mode"
        except ValueError as exc:
            del self._wanted[key]
            drops = self.acquire.sa_failed(key, now)
            self.drops["acquire-failed"] += len(drops)
            self._events.append(NegotiationAbandoned(entry.label, peer, str(exc), len(drops)))
            return None

    # ------------------------------------------------------------------ commands

    def tear_down(self, spi_in: int, reason: str, now: float) -> bool:
        """Stop using a child SA at once and delete it with its peer (``clear crypto ipsec
        sa``, a configuration change); the Delete is sent as soon as IKE is free."""
        installed = self.installed.get(spi_in)
        if installed is None:
            return False
        self._uninstall(spi_in, reason)
        self._deletes.append(
            (installed.interface, installed.established.spi_in, installed.ike_version)
        )
        self._send_deletes(now)
        return True

    def delete_ike_sas(self, peer: str | None, now: float, version: int | None = None) -> int:
        """``clear crypto ikev2|ikev1|isakmp sa [PEER]``: delete established IKE SAs of that
        version (None: both) and their children with a Delete; an IKEv2 SA busy with another
        exchange is skipped."""
        deleted = 0
        for nameif, engine in self.engines.items() if version in (None, 2) else ():
            for sa in list(engine.sas.values()):
                if sa.state != "established" or (peer is not None and sa.peer[0] != peer):
                    continue
                try:
                    engine.delete_ike_sa(sa, now)
                except ValueError:
                    continue
                deleted += 1
            self._after_ike(nameif, now)
        for nameif, v1 in self.engines_v1.items() if version in (None, 1) else ():
            for phase1 in list(v1.sas.values()):
                if phase1.established_at is None or (peer is not None and phase1.peer[0] != peer):
                    continue
                v1.delete_sa(phase1, now)
                deleted += 1
            self._after_ike(nameif, now)
        return deleted

    def set_wall_clock(self, utc_offset_s: float | None) -> None:
        """UTC epoch seconds = ``now`` + ``utc_offset_s``, for every engine (certificates)."""
        self.utc_offset_s = utc_offset_s
        for engine in self.engines.values():
            engine.utc_offset_s = utc_offset_s
        for v1 in self.engines_v1.values():
            v1.utc_offset_s = utc_offset_s

    def clear_counters(self) -> None:
        """``clear crypto ipsec sa counters``: what ``show`` counts starts again from zero."""
        for installed in self.installed.values():
            base: dict[str, tuple[int, int, dict[str, int]]] = {}
            for name, state in (
                ("inbound", installed.sa.inbound_state),
                ("outbound", installed.sa.outbound_state),
            ):
                c = state.counters()
                base[name] = (c.packets, c.bytes, dict(c.errors))
            installed.counters_base = base
            installed.counted = None
        self.drops.clear()

    def rebuild_address_index(self) -> None:
        """After the interfaces changed (a new configuration): which nameif owns an address."""
        self._nameif_of = {address: nameif for nameif, address in self.local_addresses.items()}
        self._nameif_of.update(
            {address: nameif for nameif, address in self.local_addresses6.items()}
        )

    def local_for(self, nameif: str, peer: str) -> str:
        """Our address on ``nameif`` of ``peer``'s family (IPv6 when the peer is, D114)."""
        if ":" in peer:
            return self.local_addresses6.get(nameif, self.local_addresses[nameif])
        return self.local_addresses[nameif]

    def emit_routes(self, changes: list[RouteAdded | RouteRemoved]) -> None:
        """Route changes decided outside the data path (a new configuration's crypto ACLs)."""
        self._outputs.extend(changes)

    def _send_deletes(self, now: float) -> None:
        waiting: list[tuple[str, bytes, int]] = []
        for nameif, spi, version in self._deletes:
            engine: Ikev1Engine | Ikev2Engine | None = (
                self.engines_v1.get(nameif) if version == 1 else self.engines.get(nameif)
            )
            if engine is None:
                continue
            try:
                engine.delete_child(spi, now)
            except KeyError:
                continue  # IKE no longer knows it: nothing to tell the peer
            except ValueError:
                waiting.append((nameif, spi, version))  # another exchange is outstanding
                continue
            self._after_ike(nameif, now)
        self._deletes = waiting
        self._deletes_at = now + DELETE_RETRY_S

    # ------------------------------------------------------------------ views

    def ike_established_at(self, sa: IkeSa) -> float | None:
        return self._ike_established_at.get(sa.spi_i + sa.spi_r)

    def describe(self) -> dict[str, Any]:
        """Counters for logs and tests: SAs, drops and negotiations."""
        return {
            "child_sas": len(self.installed),
            "ike_sas": sum(len(e.sas) for e in self.engines.values()),
            "drops": dict(self.drops),
            "counters": dict(self.counters),
        }


def _clear_df(packet: bytes) -> bytes:
    """``packet`` with its DF bit cleared (``set df-bit clear-df`` fragments it anyway)."""
    flags = int.from_bytes(packet[6:8], "big") & ~FLAG_DF
    ihl = (packet[0] & 0x0F) * 4
    header = packet[:6] + flags.to_bytes(2, "big") + packet[8:10] + b"\x00\x00" + packet[12:ihl]
    return header[:10] + checksum(header).to_bytes(2, "big") + header[12:] + packet[ihl:]


def _phase1_to(engine: Ikev1Engine, peer: str) -> Phase1Sa | None:
    """The ISAKMP SA with ``peer``: an established one first, else one being negotiated."""
    found = [sa for sa in engine.sas.values() if sa.peer[0] == peer]
    found.sort(key=lambda sa: sa.established_at is None)
    return found[0] if found else None


def sel_covers(rule: Rule, installed: InstalledSa) -> bool:
    """The ACE whose selectors cover an SA's negotiated selector (its scope)."""
    return any(s.covers(installed.selector) for s in rule.selectors)


def _ike_sa_to(engine: Ikev2Engine, peer: str) -> IkeSa | None:
    """The IKE SA with ``peer``: an established one first, else one being negotiated."""
    found = [sa for sa in engine.sas.values() if sa.peer[0] == peer]
    found.sort(key=lambda sa: sa.state != "established")
    return found[0] if found else None


def local_address(policy: GatewayPolicy, nameif: str) -> str | None:
    iface = policy.interfaces.get(nameif)
    return ipv4_text(iface.address) if iface is not None and iface.address is not None else None


__all__ = [
    "Gateway",
    "InstalledSa",
    "PolicyRule",
    "esp_sa",
    "ipv4_int",
    "is_transport_entry",
    "local_address",
    "prefixes",
]
