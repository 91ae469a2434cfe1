"""Gateway and IKEv2 events as ASA syslog messages: ids, severities, exact texts."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from tunnelgate.daemon.asa_messages import (
    MESSAGES,
    AsaMessage,
    MessageContext,
    apply_message_settings,
    format_event,
)
from tunnelgate.gateway.outputs import ChildSaInstalled, ChildSaRemoved, NegotiationStarted
from tunnelgate.ike.v2.events import (
    ChildSaFailed,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaFailed,
    InvalidSelectorsReceived,
    PeerUnreachable,
)

LOCAL = {"outside": "192.0.2.1"}
CTX = MessageContext(LOCAL, peers={0x1234: ("198.51.100.2", 500)})
PEER = ("198.51.100.2", 500)
INSTALLED = ChildSaInstalled(
    "outside", "VPN 10", PEER, 0x1234, 0xABCDEF01, "10.1.0.0/16 -> 10.2.0.0/16", False, None
)


def lines(event: object, ctx: MessageContext = CTX) -> list[str]:
    return [m.line() for m in format_event(event, ctx)]


def test_child_sa_installed_gives_outbound_then_inbound_602303() -> None:
    assert lines(INSTALLED) == [
        "%ASA-6-602303: IPSEC: An outbound LAN-to-LAN SA (SPI= 0xABCDEF01) between 192.0.2.1 "
        "and 198.51.100.2 (user= 198.51.100.2) has been created.",
        "%ASA-6-602303: IPSEC: An inbound LAN-to-LAN SA (SPI= 0x00001234) between 192.0.2.1 "
        "and 198.51.100.2 (user= 198.51.100.2) has been created.",
    ]


def test_child_sa_removed_gives_602304_with_the_remembered_peer() -> None:
    event = ChildSaRemoved("outside", 0x1234, 0xABCDEF01, "deleted by peer")
    assert lines(event) == [
        "%ASA-6-602304: IPSEC: An outbound LAN-to-LAN SA (SPI= 0xABCDEF01) between 192.0.2.1 "
        "and 198.51.100.2 (user= 198.51.100.2) has been deleted.",
        "%ASA-6-602304: IPSEC: An inbound LAN-to-LAN SA (SPI= 0x00001234) between 192.0.2.1 "
        "and 198.51.100.2 (user= 198.51.100.2) has been deleted.",
    ]
    unknown = MessageContext(lambda nameif: "192.0.2.1")
    assert "between 192.0.2.1 and Unknown (user= Unknown)" in lines(event, unknown)[0]


def test_ike_sa_up_and_down() -> None:
    up = IkeSaEstablished(b"\x01" * 8, b"\x02" * 8, PEER, True, "aes-256/sha256", 86400)
    assert lines(up) == [
        "%ASA-5-750006: Local:192.0.2.1:500 Remote:198.51.100.2:500 Username:198.51.100.2 "
        "IKEv2 SA UP. Reason: New Connection Established"
    ]
    down = IkeSaDeleted(b"\x01" * 8, b"\x02" * 8, ("198.51.100.2", 4500), "Received DELETE")
    assert lines(down) == [
        "%ASA-5-750007: Local:192.0.2.1:4500 Remote:198.51.100.2:4500 Username:198.51.100.2 "
        "IKEv2 SA DOWN. Reason: Received DELETE"
    ]


def test_failures_are_750003_at_warnings() -> None:
    assert lines(IkeSaFailed(PEER, "NO_PROPOSAL_CHOSEN", "no matching policy")) == [
        "%ASA-4-750003: Local:192.0.2.1:500 Remote:198.51.100.2:500 Username:Unknown "
        "IKEv2 Negotiation aborted due to ERROR: no matching policy"
    ]
    assert lines(ChildSaFailed(PEER, "TS_UNACCEPTABLE", "selectors refused")) == [
        "%ASA-4-750003: Local:192.0.2.1:500 Remote:198.51.100.2:500 Username:198.51.100.2 "
        "IKEv2 Negotiation aborted due to ERROR: selectors refused"
    ]
    assert lines(PeerUnreachable(PEER, 5)) == [
        "%ASA-4-750003: Local:192.0.2.1:500 Remote:198.51.100.2:500 Username:Unknown "
        "IKEv2 Negotiation aborted due to ERROR: Maximum number of retransmissions reached"
    ]


def test_ikev1_dead_peer_is_713123_not_the_ikev2_wording() -> None:
    assert lines(PeerUnreachable(PEER, 3, version=1)) == [
        "%ASA-3-713123: Group = 198.51.100.2, IP = 198.51.100.2, IKE lost contact with remote "
        "peer, deleting connection (keepalive type: DPD)"
    ]


def _udp_packet(src: str, dst: str, sport: int, dport: int) -> bytes:
    def addr(a: str) -> bytes:
        return bytes(int(x) for x in a.split("."))

    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, addr(src), addr(dst))
    return header + struct.pack("!HHHH", sport, dport, 8, 0)


def test_invalid_selectors_is_751027_with_the_spec_text() -> None:
    packet = _udp_packet("10.1.0.5", "10.9.9.9", 5353, 53)
    event = InvalidSelectorsReceived(PEER, bytes.fromhex("c0ffee01"), packet)
    assert lines(event) == [
        "%ASA-4-751027: IKEv2 Received INVALID_SELECTORS Notification from peer: 198.51.100.2. "
        "Peer received a packet (SPI=0xC0FFEE01) from 192.0.2.1. The decapsulated inner packet "
        "didn't match the negotiated policy in the SA. Packet destination 10.9.9.9, port 53, "
        "source 10.1.0.5, port 5353, protocol 17"
    ]
    short = InvalidSelectorsReceived(PEER, b"\x00\x00\x00\x01", b"\x45")
    assert "destination 0.0.0.0, port 0, source 0.0.0.0, port 0, protocol 0" in lines(short)[0]


def test_negotiation_started_is_750001() -> None:
    event = NegotiationStarted(
        "outside", "VPN 10", "198.51.100.2", "10.1.0.5 -> 10.2.0.7 icmp", "ike-sa-init"
    )
    assert lines(event) == [
        "%ASA-5-750001: Local:192.0.2.1:500 Remote:198.51.100.2:500 Username:198.51.100.2 "
        "Received request to establish an IPsec tunnel; 10.1.0.5 -> 10.2.0.7 icmp"
    ]


def test_unmapped_events_give_nothing() -> None:
    assert format_event(object(), CTX) == []


def test_severities_of_the_table() -> None:
    severities = {d.id: d.severity for defs in MESSAGES.values() for d in defs}
    assert severities == {
        602303: 6,
        602304: 6,
        713050: 5,
        713119: 5,
        713902: 3,
        750001: 5,
        750003: 4,
        750006: 5,
        750007: 5,
        751027: 4,
    }


def test_suppression_and_level_override() -> None:
    messages = format_event(INSTALLED, CTX)
    assert apply_message_settings(messages, frozenset({602303}), {}) == []
    changed = apply_message_settings(messages, frozenset(), {602303: 3})
    assert [m.severity for m in changed] == [3, 3]
    assert changed[0].line().startswith("%ASA-3-602303: ")
    assert apply_message_settings(messages, frozenset({750006}), {}) == messages


@pytest.mark.parametrize("event_type", list(MESSAGES))
def test_events_carry_no_secrets(event_type: type) -> None:
    names = {f.name for f in dataclasses.fields(event_type)}
    assert not names & {"keys", "key", "psk", "local_psk", "remote_psk", "secret", "sk_d"}


def test_no_key_material_reaches_a_message() -> None:
    # The child SA event of the IKE engine carries keys; it is not mapped, so it gives nothing.
    from tunnelgate.ike.v2.events import ChildSaEstablished

    assert ChildSaEstablished not in MESSAGES
    message = AsaMessage(602303, 6, "x")
    assert message.line() == "%ASA-6-602303: x"


def test_ikev1_phase1_up_down_and_failure_are_713xxx() -> None:
    from tunnelgate.ike.v1.events import Ikev1SaDeleted, Ikev1SaEstablished, Ikev1SaFailed

    up = Ikev1SaEstablished(b"\x01" * 8, b"\x02" * 8, PEER, True, "aes-256/sha/group 5", 86400)
    assert lines(up) == [
        "%ASA-5-713119: Group = 198.51.100.2, IP = 198.51.100.2, PHASE 1 COMPLETED"
    ]
    down = Ikev1SaDeleted(b"\x01" * 8, b"\x02" * 8, PEER, "deleted by the peer")
    assert lines(down) == [
        "%ASA-5-713050: Group = 198.51.100.2, IP = 198.51.100.2, Connection terminated for "
        "peer 198.51.100.2. Reason: deleted by the peer"
    ]
    failed = Ikev1SaFailed(PEER, "NO_PROPOSAL_CHOSEN", "no acceptable policy")
    assert lines(failed) == [
        "%ASA-3-713902: Group = 198.51.100.2, IP = 198.51.100.2, no acceptable policy "
        "(NO_PROPOSAL_CHOSEN)"
    ]
