"""``packet-tracer``: what the gateway would do with one packet, phase by phase, as the ASA.

Pure: ``trace(gateway, input_interface, flow)`` returns a ``Trace`` value; ``format_trace``
renders the ASA's phase layout and ``trace_json`` the object scripts read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunnelgate.policy.acl import Rule
from tunnelgate.policy.address import address_int, address_text, ipv4_text, same_family
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.selector import ICMP, PORT_PROTOCOLS, Flow
from tunnelgate.policy.spd import DROP_REASONS, Bypass, Classifier, Drop, Protect

PROTOCOL_NUMBERS = {"ip": 0, "icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51}


class TraceInputError(ValueError):
    """The packet description is not valid; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Phase:
    type: str
    subtype: str
    result: str  # ALLOW | DROP
    config: tuple[str, ...] = ()
    info: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Trace:
    """The phases and the verdict for one packet."""

    input_interface: str
    output_interface: str | None
    phases: tuple[Phase, ...]
    action: str  # protect | bypass | drop
    reason: str
    entry: MapEntry | None = None
    rule: Rule | None = None
    next_hop: int | None = None
    drop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_flow(protocol: str, operands: list[str]) -> Flow:
    """``PROTO SRC [SPORT] DST [DPORT]``; for ICMP the optional ``SPORT`` is the ICMP type."""
    name = protocol.lower()
    if name in PROTOCOL_NUMBERS:
        number = PROTOCOL_NUMBERS[name]
    elif name.isdigit() and int(name) <= 255:
        number = int(name)
    else:
        raise TraceInputError(f"unknown protocol {protocol!r} (tcp, udp, icmp, ip or 0-255)")
    addresses = [i for i, op in enumerate(operands) if _is_address(op)]
    if len(addresses) != 2 or len(operands) > 4:
        raise TraceInputError(
            "expected SRC [SPORT] DST [DPORT] with two IPv4 addresses (or two IPv6 addresses)"
        )
    src_i, dst_i = addresses
    src_extra = operands[src_i + 1 : dst_i]
    dst_extra = operands[dst_i + 1 :]
    if src_i != 0 or len(src_extra) > 1 or len(dst_extra) > 1:
        raise TraceInputError("expected SRC [SPORT] DST [DPORT]")
    source, destination = address_int(operands[src_i]), address_int(operands[dst_i])
    if not same_family(source, destination):
        raise TraceInputError("SRC and DST must be both IPv4 or both IPv6")
    sport = _number(src_extra[0], "source port", 65535) if src_extra else 0
    dport = _number(dst_extra[0], "destination port", 65535) if dst_extra else 0
    if number == ICMP:
        return Flow(number, source, destination, icmp_type=sport if src_extra else 8)
    if number not in PORT_PROTOCOLS and (src_extra or dst_extra):
        raise TraceInputError(f"protocol {protocol} has no ports")
    return Flow(number, source, destination, sport, dport)


def _is_address(text: str) -> bool:
    try:
        address_int(text)
    except ValueError:
        return False
    return True


def _number(text: str, what: str, high: int) -> int:
    if not text.isdigit() or int(text) > high:
        raise TraceInputError(f"{what} must be a number from 0 to {high}, not {text!r}")
    return int(text)


def _entry_config(entry: MapEntry, rule: Rule | None) -> tuple[str, ...]:
    head = entry.label
    lines = []
    if entry.acl is not None:
        lines.append(f"{head} match address {entry.acl.name}")
    if rule is not None:
        lines.append(f"access-list {rule.acl} {rule.text}")
    if entry.peers:
        lines.append(f"{head} set peer {' '.join(entry.peers)}")
    if entry.transform_sets:
        names = " ".join(t.name for t in entry.transform_sets)
        lines.append(f"{head} set ikev1 transform-set {names}")
    if entry.proposals:
        lines.append(f"{head} set ikev2 ipsec-proposal {' '.join(p.name for p in entry.proposals)}")
    if entry.is_dynamic:
        lines.append(f"crypto map {entry.map} {entry.seq} ipsec-isakmp dynamic {entry.dynamic_map}")
    return tuple(lines)


def trace(gateway: GatewayPolicy, input_interface: str, flow: Flow) -> Trace:
    """Route lookup, the inbound clear-text check, then the outbound crypto map decision."""
    if input_interface not in gateway.interfaces:
        known = ", ".join(sorted(gateway.interfaces)) or "none"
        raise TraceInputError(f"no interface is named {input_interface!r} (known: {known})")
    phases: list[Phase] = []
    inbound = gateway.crypto_maps.get(input_interface)
    if inbound is not None:
        drop = Classifier.compile(inbound).check_inbound_clear(flow)
        if drop is not None:
            reason = _drop_sentence(drop)
            config = _entry_config(drop.entry, drop.rule) if drop.entry else ()
            phases.append(Phase("VPN", "ipsec-tunnel-flow", "DROP", config, (reason,)))
            return Trace(
                input_interface,
                None,
                tuple(phases),
                "drop",
                reason,
                drop.entry,
                drop.rule,
                drop_reason=str(drop.reason),
            )
    route = gateway.egress_interface(flow.destination)
    if route is None:
        phases.append(
            Phase(
                "ROUTE-LOOKUP",
                "Resolve Egress Interface",
                "DROP",
                (),
                (f"no route to host {address_text(flow.destination)}",),
            )
        )
        return Trace(
            input_interface,
            None,
            tuple(phases),
            "drop",
            f"no route to host {address_text(flow.destination)}",
            drop_reason="no-route",
        )
    egress, next_hop = route
    hop = f"next-hop {ipv4_text(next_hop)}" if next_hop is not None else "connected network"
    phases.append(
        Phase(
            "ROUTE-LOOKUP",
            "Resolve Egress Interface",
            "ALLOW",
            (),
            (f"found {hop} using egress ifc  {egress}",),
        )
    )
    cmap = gateway.crypto_maps.get(egress)
    if cmap is None:
        reason = f"no crypto map is applied to interface {egress}: routed in clear"
        return Trace(input_interface, egress, tuple(phases), "bypass", reason, next_hop=next_hop)
    decision = Classifier.compile(cmap).classify(flow)
    if isinstance(decision, Bypass):
        reason = (
            f"no permit ACE of crypto map {cmap.name} matches: routed in clear ({decision.reason})"
        )
        return Trace(input_interface, egress, tuple(phases), "bypass", reason, next_hop=next_hop)
    if isinstance(decision, Drop):
        reason = _drop_sentence(decision)
        config = _entry_config(decision.entry, decision.rule) if decision.entry else ()
        phases.append(Phase("VPN", "encrypt", "DROP", config, (reason,)))
        return Trace(
            input_interface,
            egress,
            tuple(phases),
            "drop",
            reason,
            decision.entry,
            decision.rule,
            next_hop,
            str(decision.reason),
        )
    assert isinstance(decision, Protect)
    entry, rule = decision.entry, decision.rule
    where = f"{entry.label} (access-list {rule.acl} line {rule.line})"
    if entry.is_dynamic:
        reason = (
            f"protected by {where}; a dynamic map cannot initiate: the packet is "
            "dropped unless the peer has already built the tunnel"
        )
    else:
        reason = (
            f"protected by {where}; the tunnel to {' or '.join(entry.peers)} is "
            "negotiated by the first packet if it is not up"
        )
    phases.append(
        Phase(
            "VPN",
            "encrypt",
            "ALLOW",
            (*_entry_config(entry, rule), f"crypto map {entry.map} interface {egress}"),
            (reason,),
        )
    )
    return Trace(input_interface, egress, tuple(phases), "protect", reason, entry, rule, next_hop)


def _drop_sentence(drop: Drop) -> str:
    """The drop reason's description, with the entry and ACE it concerns."""
    text = DROP_REASONS[drop.reason]
    if drop.entry is not None and drop.entry.incomplete:
        text += f": {drop.entry.label} is incomplete ({drop.entry.incomplete})"
    elif drop.entry is not None and drop.rule is not None:
        text += (
            f": {drop.entry.label}, access-list {drop.rule.acl} line {drop.rule.line} "
            f"({drop.rule.text})"
        )
    return text


def format_trace(result: Trace) -> str:
    """The ASA's ``packet-tracer`` layout: numbered phases, then the result block."""
    out: list[str] = []
    for number, phase in enumerate(result.phases, start=1):
        out += [
            f"Phase: {number}",
            f"Type: {phase.type}",
            f"Subtype: {phase.subtype}",
            f"Result: {phase.result}",
            "Config:",
            *phase.config,
            "Additional Information:",
            *phase.info,
            "",
        ]
    out += [
        "Result:",
        f"input-interface: {result.input_interface}",
        "input-status: up",
        "input-line-status: up",
    ]
    if result.output_interface is not None:
        out += [
            f"output-interface: {result.output_interface}",
            "output-status: up",
            "output-line-status: up",
        ]
    out.append(f"Action: {'drop' if result.action == 'drop' else 'allow'}")
    if result.action == "drop":
        out.append(f"Drop-reason: ({result.drop_reason}) {result.reason}")
    else:
        out.append(f"Verdict: {result.action}: {result.reason}")
    return "\n".join(out) + "\n"


def trace_json(result: Trace) -> dict[str, Any]:
    """The object scripts read: action, crypto map, seq, ACL and line, peers, transforms."""
    entry, rule = result.entry, result.rule
    return {
        "action": result.action,
        "reason": result.reason,
        "input_interface": result.input_interface,
        "output_interface": result.output_interface,
        "next_hop": ipv4_text(result.next_hop) if result.next_hop is not None else None,
        "crypto_map": entry.map if entry else None,
        "seq": entry.seq if entry else None,
        "dynamic_map": entry.dynamic_map if entry else None,
        "dynamic_seq": entry.dynamic_seq if entry else None,
        "acl": rule.acl if rule else (entry.acl.name if entry and entry.acl else None),
        "ace_line": rule.line if rule else None,
        "ace": rule.text if rule else None,
        "peers": list(entry.peers) if entry else [],
        "transform_sets": [t.name for t in entry.transform_sets] if entry else [],
        "proposals": [p.name for p in entry.proposals] if entry else [],
        "drop_reason": result.drop_reason,
    }
