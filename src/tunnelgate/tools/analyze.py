"""``analyze``: will the tunnels between these gateways come up, and if not, why?

For every static crypto map entry of every gateway, each peer it names is looked up among
the other gateways (by interface address) and the session is played offline, initiator
to responder, with the same decision functions the engines use: IKE enabled on both
interfaces, the responder's crypto map, phase 1 (IKEv2 first when both sides allow it, as
the ASA does, then IKEv1), authentication, then phase 2 for every permit ACE of the
initiator's ACL (the ASA builds one SA per permit line): the responder's choice of crypto
map entry (mirror ACL), transform set or proposal, PFS and mode.

Statuses follow Batfish's IPsec session status names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunnelgate.config.model import RunningConfig
from tunnelgate.policy.address import address_int, address_text
from tunnelgate.policy.crypto_map import CryptoMapSet, MapEntry
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.ike_proposal import select_ikev1, select_ikev2
from tunnelgate.policy.ipsec_proposal import (
    ProposalChoice,
    TransformSetChoice,
    check_pfs,
    select_ipsec_proposal,
    select_mode,
    select_transform_set,
)
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.responder import choose_entry
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group

ESTABLISHED = "ESTABLISHED"
MISSING_END_POINT = "MISSING_END_POINT"
IKE_PHASE1_FAILED = "IKE_PHASE1_FAILED"
IKE_PHASE1_KEY_MISMATCH = "IKE_PHASE1_KEY_MISMATCH"
IPSEC_PHASE2_FAILED = "IPSEC_PHASE2_FAILED"

# How far a failed attempt got, to report the most informative version's failure.
_PROGRESS = {
    IKE_PHASE1_FAILED: 1,
    IKE_PHASE1_KEY_MISMATCH: 2,
    IPSEC_PHASE2_FAILED: 3,
    ESTABLISHED: 4,
}


@dataclass(frozen=True, slots=True)
class Gateway:
    """One configuration under analysis: a label (file name), its text model and its policy."""

    label: str
    config: RunningConfig
    policy: GatewayPolicy

    @property
    def name(self) -> str:
        return self.config.hostname if self.config.hostname != "ciscoasa" else self.label


@dataclass(frozen=True, slots=True)
class Session:
    """One initiator → responder attempt for one crypto map entry and peer address."""

    initiator: str
    responder: str
    crypto_map: str
    seq: int
    peer: str
    status: str
    ike_version: int | None = None
    reasons: tuple[str, ...] = ()
    details: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class _Attempt:
    status: str
    reasons: list[str]
    details: list[str]


def _owner(gateways: list[Gateway], address: str) -> tuple[Gateway, str] | None:
    try:
        value = address_int(address)  # IPv4 or IPv6 (D114)
    except ValueError:
        return None
    for gw in gateways:
        ifname = gw.policy.interface_for(value)
        if ifname is not None:
            return gw, ifname
    return None


def analyze(gateways: list[Gateway]) -> list[Session]:
    """Every session the static crypto maps of these gateways would try, with a verdict."""
    sessions: list[Session] = []
    for a in gateways:
        maps = list(a.policy.crypto_maps.values()) + list(a.policy.unbound_maps.values())
        for cmap in maps:
            for entry in cmap.entries:
                if entry.is_dynamic:
                    continue  # dynamic maps only answer
                for peer in entry.peers:
                    sessions.append(_session(gateways, a, cmap, entry, peer))
    return sessions


def _session(
    gateways: list[Gateway], a: Gateway, cmap: CryptoMapSet, entry: MapEntry, peer: str
) -> Session:
    def done(
        status: str,
        reasons: list[str],
        version: int | None = None,
        details: list[str] | None = None,
        responder: str | None = None,
    ) -> Session:
        return Session(
            a.name,
            responder or peer,
            cmap.name,
            entry.seq,
            peer,
            status,
            version,
            tuple(reasons),
            tuple(details or ()),
        )

    found = _owner([g for g in gateways if g is not a], peer)
    if found is None:
        return done(MISSING_END_POINT, [f"no configuration given owns peer address {peer}"])
    b, b_if = found
    if cmap.interface is None:
        return done(
            IKE_PHASE1_FAILED,
            [f"crypto map {cmap.name} is not applied to any interface on {a.name}"],
            responder=b.name,
        )
    if entry.incomplete:
        return done(
            IKE_PHASE1_FAILED,
            [
                f"{entry.label} on {a.name} is incomplete "
                f"({entry.incomplete}): it drops traffic instead of "
                "negotiating"
            ],
            responder=b.name,
        )
    a_addr = a.policy.local_address_towards(cmap.interface, address_int(peer))
    if a_addr is None:
        family = "IPv6 " if ":" in peer else ""
        return done(
            IKE_PHASE1_FAILED,
            [f"interface {cmap.interface} of {a.name} has no {family}address"],
            responder=b.name,
        )
    attempts: list[tuple[int, _Attempt]] = []
    source = address_text(a_addr)
    if entry.proposals:
        attempts.append((2, _attempt(a, b, cmap.interface, b_if, entry, source, peer, 2)))
    # The ASA falls back to IKEv1 only when IKEv2 fails before its IKE SA exists; a
    # phase-2 failure inside an established IKEv2 SA is final.
    v2_final = bool(attempts) and attempts[0][1].status in (ESTABLISHED, IPSEC_PHASE2_FAILED)
    if entry.transform_sets and not v2_final:
        attempts.append((1, _attempt(a, b, cmap.interface, b_if, entry, source, peer, 1)))
    if not attempts:
        return done(
            IKE_PHASE1_FAILED,
            [f"{entry.label} on {a.name} has no transform set or IPsec proposal"],
            responder=b.name,
        )
    version, best = max(attempts, key=lambda va: _PROGRESS[va[1].status])
    reasons = list(best.reasons)
    details = list(best.details)
    for other_version, other in attempts:
        if other is not best and other.status != ESTABLISHED:
            notes = [f"IKEv{other_version} failed first: {r}" for r in other.reasons]
            (details if best.status == ESTABLISHED else reasons).extend(notes)
    return done(best.status, reasons, version, details, b.name)


def _attempt(
    a: Gateway,
    b: Gateway,
    a_if: str,
    b_if: str,
    entry: MapEntry,
    a_addr: str,
    peer: str,
    version: int,
) -> _Attempt:
    ike = f"ikev{version}"
    enabled_a = a.policy.ikev2_enabled if version == 2 else a.policy.ikev1_enabled
    enabled_b = b.policy.ikev2_enabled if version == 2 else b.policy.ikev1_enabled
    fail = _Attempt(IKE_PHASE1_FAILED, [], [])
    if a_if not in enabled_a:
        fail.reasons.append(
            f"IKEv{version} is not enabled on {a.name} interface {a_if} "
            f"(crypto {ike} enable {a_if})"
        )
    if b_if not in enabled_b:
        fail.reasons.append(
            f"IKEv{version} is not enabled on {b.name} interface {b_if} "
            f"(crypto {ike} enable {b_if})"
        )
    b_map = b.policy.crypto_maps.get(b_if)
    if b_map is None:
        fail.reasons.append(f"no crypto map is applied to {b.name} interface {b_if}")
    if fail.reasons or b_map is None:
        return fail
    # Phase 1 proposals
    if version == 2:
        choice2 = select_ikev2(a.policy.ikev2_policies, b.policy.ikev2_policies)
        if isinstance(choice2, Refusal):
            return _Attempt(IKE_PHASE1_FAILED, [f"{b.name} (responder): {choice2.reason}"], [])
        phase1 = choice2.describe()
        auth = _auth_v2(a, b, a_addr, peer)
    else:
        choice1 = select_ikev1(a.policy.ikev1_policies, b.policy.ikev1_policies)
        if isinstance(choice1, Refusal):
            return _Attempt(IKE_PHASE1_FAILED, [f"{b.name} (responder): {choice1.reason}"], [])
        phase1 = choice1.describe()
        aggressive = entry.ikev1_phase1_mode == "aggressive"
        if aggressive and not b.policy.ikev1_aggressive_mode:
            return _Attempt(
                IKE_PHASE1_FAILED,
                [
                    f"{entry.label} on {a.name} uses aggressive "
                    f"mode, which {b.name} refuses "
                    "(crypto ikev1 am-disable)"
                ],
                [],
            )
        auth = (
            _auth_v1(a, b, a_addr, peer, aggressive)
            if choice1.authentication == "pre-share"
            else _Attempt(ESTABLISHED, [], ["certificates are not checked offline"])
        )
    if auth.status != ESTABLISHED:
        return auth
    details = [f"IKEv{version} {phase1}", *auth.details]
    # Phase 2: one SA per permit ACE of the initiator's crypto ACL
    assert entry.acl is not None
    failures: list[str] = []
    for rule in entry.acl.permits:
        for selector in rule.selectors:
            where = f"{a.name} access-list {rule.acl} line {rule.line} ({rule.text})"
            choice = choose_entry(b_map, a_addr, selector.mirrored(), version)
            if isinstance(choice, Refusal):
                failures.append(f"{where}: {b.name} (responder) refuses it: {choice.reason}")
                continue
            peer_entry = choice.entry
            prop: ProposalChoice | TransformSetChoice | Refusal
            mode: str | Refusal | None = None
            if version == 2:
                prop = select_ipsec_proposal(entry.proposals, peer_entry.proposals)
                mode = select_mode(entry.ikev2_mode, peer_entry.ikev2_mode)
            else:
                prop = select_transform_set(entry.transform_sets, peer_entry.transform_sets)
            pfs = check_pfs(entry.pfs_group, peer_entry.pfs_group)
            problems = [r.reason for r in (prop, mode, pfs) if isinstance(r, Refusal)]
            if problems or isinstance(prop, Refusal):
                failures.append(f"{where} with {b.name} {peer_entry.label}: " + "; ".join(problems))
                continue
            summary = (
                f"{rule.acl} line {rule.line} -> {b.name} {peer_entry.label}: {prop.describe()}"
            )
            if summary not in details:
                details.append(summary)
    if failures:
        return _Attempt(IPSEC_PHASE2_FAILED, failures, details)
    if not entry.acl.permits:
        return _Attempt(
            IPSEC_PHASE2_FAILED,
            [f"access-list {entry.acl.name} of {a.name} permits nothing"],
            details,
        )
    return _Attempt(ESTABLISHED, [], details)


def _group_key(gw: Gateway, peer: str, version: int, aggressive: bool = False) -> Any:
    return find_tunnel_group(
        gw.policy, peer_address=peer, version=version, auth="psk", aggressive=aggressive
    )


def _auth_v1(a: Gateway, b: Gateway, a_addr: str, peer: str, aggressive: bool) -> _Attempt:
    mine = _group_key(a, peer, 1, aggressive)
    theirs = _group_key(b, a_addr, 1, aggressive)
    missing = [
        f"{gw.name} has no IKEv1 pre-shared key for {addr}"
        for gw, addr, m in ((a, peer, mine), (b, a_addr, theirs))
        if isinstance(m, Refusal) or m.group.ikev1_psk is None
    ]
    if missing:
        return _Attempt(IKE_PHASE1_FAILED, missing, [])
    if mine.group.ikev1_psk != theirs.group.ikev1_psk:
        return _Attempt(
            IKE_PHASE1_KEY_MISMATCH,
            [
                f"the IKEv1 pre-shared keys differ: {a.name} tunnel-group {mine.group.name} and "
                f"{b.name} tunnel-group {theirs.group.name}"
            ],
            [],
        )
    return _Attempt(ESTABLISHED, [], [])


def _auth_v2(a: Gateway, b: Gateway, a_addr: str, peer: str) -> _Attempt:
    mine = _group_key(a, peer, 2)
    theirs = _group_key(b, a_addr, 2)
    if isinstance(mine, Refusal) or isinstance(theirs, Refusal):
        text = [r.reason for r in (mine, theirs) if isinstance(r, Refusal)]
        return _Attempt(IKE_PHASE1_FAILED, text, [])
    reasons: list[str] = []
    mismatch: list[str] = []
    notes: list[str] = []
    for sender, s_group, receiver, r_group in (
        (a, mine.group, b, theirs.group),
        (b, theirs.group, a, mine.group),
    ):
        local, remote = s_group.ikev2_local_psk, r_group.ikev2_remote_psk
        if s_group.ikev2_local_certificate or r_group.ikev2_remote_certificate:
            notes.append(
                f"{sender.name} → {receiver.name}: certificate authentication is not "
                "checked offline"
            )
            continue
        if local is None:
            reasons.append(
                f"{sender.name} tunnel-group {s_group.name} has no IKEv2 local "
                "authentication pre-shared key"
            )
        elif remote is None:
            reasons.append(
                f"{receiver.name} tunnel-group {r_group.name} has no IKEv2 remote "
                "authentication pre-shared key"
            )
        elif local != remote:
            mismatch.append(
                f"{sender.name} tunnel-group {s_group.name} local key differs from "
                f"{receiver.name} tunnel-group {r_group.name} remote key"
            )
    if reasons:
        return _Attempt(IKE_PHASE1_FAILED, reasons + mismatch, [])
    if mismatch:
        return _Attempt(IKE_PHASE1_KEY_MISMATCH, mismatch, [])
    return _Attempt(ESTABLISHED, [], notes)


# --------------------------------------------------------------------------- output


def format_sessions(sessions: list[Session]) -> str:
    """A short table an operator reads: one line per session, reasons indented under it."""
    if not sessions:
        return "No crypto map entry names a peer: nothing to analyze.\n"
    rows = [
        (
            f"{s.initiator} -> {s.responder}",
            f"{s.crypto_map} {s.seq}",
            f"IKEv{s.ike_version}" if s.ike_version else "-",
            s.status,
        )
        for s in sessions
    ]
    widths = [
        max(len(r[i]) for r in [*rows, ("SESSION", "CRYPTO MAP", "IKE", "STATUS")])
        for i in range(4)
    ]
    out = [
        "  ".join(
            h.ljust(w)
            for h, w in zip(("SESSION", "CRYPTO MAP", "IKE", "STATUS"), widths, strict=True)
        ).rstrip()
    ]
    for row, session in zip(rows, sessions, strict=True):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines = session.reasons if session.status != ESTABLISHED else session.details
        out.extend(f"    {line}" for line in lines)
    established = sum(s.status == ESTABLISHED for s in sessions)
    out.append(f"{established} of {len(sessions)} sessions would be established")
    return "\n".join(out) + "\n"


def sessions_json(sessions: list[Session]) -> list[dict[str, Any]]:
    return [
        {
            "initiator": s.initiator,
            "responder": s.responder,
            "crypto_map": s.crypto_map,
            "seq": s.seq,
            "peer": s.peer,
            "status": s.status,
            "ike_version": s.ike_version,
            "reasons": list(s.reasons),
            "details": list(s.details),
        }
        for s in sessions
    ]
