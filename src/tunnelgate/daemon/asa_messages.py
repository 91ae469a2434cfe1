"""Gateway and IKEv2 events as ASA syslog messages (``%ASA-<severity>-<id>: text``).

``MESSAGES`` is the table: for each event type, the ASA messages it gives (id, default
severity, text template with the real ASA wording). Formatting is pure: the caller
passes the local address of an interface and the peers of installed child SAs
(``ChildSaRemoved`` carries no peer). Events carry no keys, so no secret can reach a
message; ``tests/unit/daemon/test_asa_messages.py`` checks it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tunnelgate.gateway.outputs import ChildSaInstalled, ChildSaRemoved, NegotiationStarted
from tunnelgate.ike.v1.events import Ikev1SaDeleted, Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v2.events import (
    ChildSaFailed,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaFailed,
    InvalidSelectorsReceived,
    PeerUnreachable,
)

Address = tuple[str, int]
UNKNOWN = "Unknown"  # what the ASA writes for a user it does not know yet


@dataclass(frozen=True, slots=True)
class MessageDef:
    """One ASA syslog message: its id, default severity and text template
    (``str.format`` fields filled from the event)."""

    id: int
    severity: int
    template: str


@dataclass(frozen=True, slots=True)
class AsaMessage:
    """One formatted message, before destination filtering."""

    id: int
    severity: int
    text: str

    def line(self) -> str:
        return f"%ASA-{self.severity}-{self.id}: {self.text}"


_IKEV2 = "Local:{local}:{local_port} Remote:{peer}:{peer_port} Username:{user} IKEv2 "
# Filled in two steps: direction and SPI field here, the event's values later.
_L2L = (
    "IPSEC: An {direction} LAN-to-LAN SA (SPI= {spi}) between {{local}} and {{peer}} "
    "(user= {{peer}}) has been "
)

_IKEV1 = "Group = {peer}, IP = {peer}, "

# event type -> the messages it gives, in the order the ASA logs them.
MESSAGES: Mapping[type, tuple[MessageDef, ...]] = {
    Ikev1SaEstablished: (MessageDef(713119, 5, _IKEV1 + "PHASE 1 COMPLETED"),),
    Ikev1SaDeleted: (
        MessageDef(713050, 5, _IKEV1 + "Connection terminated for peer {peer}. Reason: {reason}"),
    ),
    Ikev1SaFailed: (MessageDef(713902, 3, _IKEV1 + "{reason} ({notify})"),),
    ChildSaInstalled: (
        MessageDef(602303, 6, _L2L.format(direction="outbound", spi="{spi_out}") + "created."),
        MessageDef(602303, 6, _L2L.format(direction="inbound", spi="{spi_in}") + "created."),
    ),
    ChildSaRemoved: (
        MessageDef(602304, 6, _L2L.format(direction="outbound", spi="{spi_out}") + "deleted."),
        MessageDef(602304, 6, _L2L.format(direction="inbound", spi="{spi_in}") + "deleted."),
    ),
    IkeSaEstablished: (
        MessageDef(750006, 5, _IKEV2 + "SA UP. Reason: New Connection Established"),
    ),
    IkeSaDeleted: (MessageDef(750007, 5, _IKEV2 + "SA DOWN. Reason: {reason}"),),
    IkeSaFailed: (MessageDef(750003, 4, _IKEV2 + "Negotiation aborted due to ERROR: {reason}"),),
    ChildSaFailed: (MessageDef(750003, 4, _IKEV2 + "Negotiation aborted due to ERROR: {reason}"),),
    PeerUnreachable: (
        MessageDef(
            750003,
            4,
            _IKEV2 + "Negotiation aborted due to ERROR: Maximum number of retransmissions reached",
        ),
    ),
    InvalidSelectorsReceived: (
        MessageDef(
            751027,
            4,
            "IKEv2 Received INVALID_SELECTORS Notification from peer: {peer}. Peer received a "
            "packet (SPI={spi}) from {local}. The decapsulated inner packet didn't match the "
            "negotiated policy in the SA. Packet destination {pkt_daddr}, port {pkt_dport}, "
            "source {pkt_saddr}, port {pkt_sport}, protocol {pkt_proto}",
        ),
    ),
    NegotiationStarted: (
        MessageDef(
            750001,
            5,
            "Local:{local}:{local_port} Remote:{peer}:{peer_port} Username:{user} "
            "Received request to establish an IPsec tunnel; {flow}",
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What events do not carry: the address of an interface (a callback or a dict keyed by
    nameif), the nameif IKE runs on (IKE events name no interface), and the peer of each
    installed child SA by inbound SPI (``ChildSaRemoved`` names no peer)."""

    local_address: Callable[[str], str] | Mapping[str, str]
    ike_interface: str = "outside"
    peers: Mapping[int, Address] = field(default_factory=dict)

    def local(self, nameif: str) -> str:
        if callable(self.local_address):
            return self.local_address(nameif)
        return self.local_address.get(nameif, "0.0.0.0")


def _spi(value: int | bytes) -> str:
    number = int.from_bytes(value, "big") if isinstance(value, bytes) else value
    return f"0x{number:08X}"


def _ike_port(peer: Address) -> int:
    """Our IKE port: 4500 once NAT-T floated (the peer's port is 4500), else 500."""
    return 4500 if peer[1] == 4500 else 500


def _ike(ctx: MessageContext, peer: Address, user: str) -> dict[str, Any]:
    return {
        "local": ctx.local(ctx.ike_interface),
        "local_port": _ike_port(peer),
        "peer": peer[0],
        "peer_port": peer[1],
        "user": user,
    }


def _inner_packet(packet: bytes) -> dict[str, Any]:
    """Addresses, ports and protocol of the start of an IPv4 packet (0 where absent)."""
    out: dict[str, Any] = {
        "pkt_saddr": "0.0.0.0",
        "pkt_daddr": "0.0.0.0",
        "pkt_sport": 0,
        "pkt_dport": 0,
        "pkt_proto": 0,
    }
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return out
    header = (packet[0] & 0x0F) * 4
    out["pkt_proto"] = packet[9]
    out["pkt_saddr"] = ".".join(str(b) for b in packet[12:16])
    out["pkt_daddr"] = ".".join(str(b) for b in packet[16:20])
    if packet[9] in (6, 17, 132) and len(packet) >= header + 4:
        out["pkt_sport"], out["pkt_dport"] = struct.unpack_from("!HH", packet, header)
    return out


def _fields(event: object, ctx: MessageContext) -> dict[str, Any]:
    if isinstance(event, ChildSaInstalled):
        return {
            "local": ctx.local(event.interface),
            "peer": event.peer[0],
            "spi_in": _spi(event.spi_in),
            "spi_out": _spi(event.spi_out),
        }
    if isinstance(event, ChildSaRemoved):
        peer = ctx.peers.get(event.spi_in)
        return {
            "local": ctx.local(event.interface),
            "peer": peer[0] if peer else UNKNOWN,
            "spi_in": _spi(event.spi_in),
            "spi_out": _spi(event.spi_out),
        }
    if isinstance(event, Ikev1SaEstablished):
        return {"peer": event.peer[0]}
    if isinstance(event, Ikev1SaDeleted):
        return {"peer": event.peer[0], "reason": event.reason}
    if isinstance(event, Ikev1SaFailed):
        return {"peer": event.peer[0], "reason": event.reason, "notify": event.notify}
    if isinstance(event, IkeSaEstablished):
        return _ike(ctx, event.peer, event.peer[0])
    if isinstance(event, IkeSaDeleted):
        return {**_ike(ctx, event.peer, event.peer[0]), "reason": event.reason}
    if isinstance(event, IkeSaFailed):
        return {**_ike(ctx, event.peer, UNKNOWN), "reason": event.reason}
    if isinstance(event, ChildSaFailed):
        return {**_ike(ctx, event.peer, event.peer[0]), "reason": event.reason}
    if isinstance(event, PeerUnreachable):
        return _ike(ctx, event.peer, UNKNOWN)
    if isinstance(event, InvalidSelectorsReceived):
        return {
            "peer": event.peer[0],
            "spi": _spi(event.spi),
            "local": ctx.local(ctx.ike_interface),
            **_inner_packet(event.packet),
        }
    if isinstance(event, NegotiationStarted):
        return {
            "local": ctx.local(event.interface),
            "local_port": 500,
            "peer": event.peer,
            "peer_port": 500,
            "user": event.peer,
            "flow": event.flow,
        }
    raise TypeError(type(event).__name__)  # pragma: no cover - MESSAGES and _fields agree


# IKEv1 dead-peer detection gave up: the ASA's IKEv1 wording, not the IKEv2 one
IKEV1_LOST_CONTACT = MessageDef(
    713123,
    3,
    _IKEV1 + "IKE lost contact with remote peer, deleting connection (keepalive type: DPD)",
)


def format_event(event: object, ctx: MessageContext) -> list[AsaMessage]:
    """The ASA messages of one event at their default severities; [] for unmapped events."""
    if isinstance(event, PeerUnreachable) and event.version == 1:
        d = IKEV1_LOST_CONTACT
        return [AsaMessage(d.id, d.severity, d.template.format(peer=event.peer[0]))]
    defs = MESSAGES.get(type(event))
    if not defs:
        return []
    values = _fields(event, ctx)
    return [AsaMessage(d.id, d.severity, d.template.format(**values)) for d in defs]


def apply_message_settings(
    messages: list[AsaMessage], disabled: set[int] | frozenset[int], levels: Mapping[int, int]
) -> list[AsaMessage]:
    """``no logging message ID`` drops a message; ``logging message ID level L`` changes its
    severity."""
    return [
        AsaMessage(m.id, levels.get(m.id, m.severity), m.text)
        for m in messages
        if m.id not in disabled
    ]


__all__ = [
    "MESSAGES",
    "AsaMessage",
    "MessageContext",
    "MessageDef",
    "apply_message_settings",
    "format_event",
]
