"""Two gateways that speak IKEv1 (main mode + quick mode) carry traffic, as with IKEv2:
ACQUIRE, rekeys by kilobytes and by seconds without loss, teardown, and the version demux."""

from __future__ import annotations

import pytest

from tests.protocol.test_gateway_pair import BRANCH, HQ, Wire, events, gateway, icmp_echo
from tunnelgate.gateway.outputs import ChildSaInstalled, NegotiationStarted
from tunnelgate.gateway.views import snapshot
from tunnelgate.ike.v1.events import Ikev1SaEstablished


def v1_map(side: dict[str, str], extra: str = "") -> str:
    return (
        f"crypto map M 10 match address VPN\ncrypto map M 10 set peer {side['peer']}\n"
        "crypto map M 10 set ikev1 transform-set TS\n" + extra
    )


def pair(extra: str = "") -> Wire:
    return Wire(
        {
            "hq": gateway(HQ, 1, map=v1_map(HQ, extra)),
            "branch": gateway(BRANCH, 2, map=v1_map(BRANCH, extra)),
        }
    )


def test_first_packet_runs_main_and_quick_mode_and_arrives() -> None:
    wire = pair()
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", packet)
    # RFC 2409 has no way to know the responder installed its SA (the commit bit aside):
    # the initiator holds its first packets until the responder's first packet or 0.3 s (D87)
    assert "branch" not in wire.tun
    wire.advance(0.5)
    assert wire.tun["branch"] == [packet]
    hq_events = events(wire.gateways["hq"])
    assert [e.how for e in hq_events if isinstance(e, NegotiationStarted)] == ["main-mode"]
    assert any(isinstance(e, Ikev1SaEstablished) for e in hq_events)
    reply = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", reply)
    assert wire.tun["hq"] == [reply]
    (view,) = snapshot(wire.gateways["hq"], wire.now).child_sas
    assert view.ike_version == 1 and view.encryption == "esp-aes-256"
    assert wire.gateways["hq"].drops == {} and wire.gateways["branch"].drops == {}


def test_kilobyte_lifetime_rekeys_by_new_quick_mode_without_loss() -> None:
    wire = pair("crypto map M 10 set security-association lifetime kilobytes 10\n")
    sent = []
    for seq in range(1, 81):
        packet = icmp_echo("10.1.0.5", "10.2.0.9", seq, size=1000)
        sent.append(packet)
        wire.send_from_lan("hq", packet)
        wire.advance(0.1, step=0.1)
    wire.advance(15)  # replaced SAs are deleted 10 s after their successor came up
    assert wire.tun["branch"] == sent
    installed = [e for e in events(wire.gateways["hq"]) if isinstance(e, ChildSaInstalled)]
    assert sum(1 for e in installed if e.rekey_of) >= 3
    assert len(wire.gateways["hq"].installed) <= 2
    assert wire.gateways["hq"].drops == {} and wire.gateways["branch"].drops == {}


def test_seconds_lifetime_rekeys_and_expires_on_the_data_path() -> None:
    wire = pair("crypto map M 10 set security-association lifetime seconds 120\n")
    sent = []
    for seq in range(1, 601):  # 300 s: at least two rekeys
        packet = icmp_echo("10.1.0.5", "10.2.0.9", seq)
        sent.append(packet)
        wire.send_from_lan("hq", packet)
        wire.advance(0.5)
    assert wire.tun["branch"] == sent
    installed = [e for e in events(wire.gateways["hq"]) if isinstance(e, ChildSaInstalled)]
    assert sum(1 for e in installed if e.rekey_of) >= 2
    assert len(wire.gateways["hq"].installed) <= 2  # expired SAs are deleted
    assert wire.gateways["hq"].drops == {}


def test_teardown_deletes_on_both_sides_and_traffic_renegotiates() -> None:
    wire = pair()
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    wire.advance(0.5)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    (spi,) = hq.installed
    assert hq.tear_down(spi, "clear crypto ipsec sa", wire.now)
    wire.flush()
    assert hq.installed == {} and branch.installed == {}
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 2))
    wire.advance(0.5)
    assert len(wire.tun["branch"]) == 2
    started = [e for e in events(hq) if isinstance(e, NegotiationStarted)]
    assert [e.how for e in started] == ["main-mode", "quick-mode"]  # the ISAKMP SA stayed
    assert hq.delete_ike_sas(None, wire.now) == 1
    wire.flush()
    assert all(not e.sas for e in branch.engines_v1.values())


def test_show_crypto_isakmp_sa_lists_the_ikev1_sa_and_automation_parses_it() -> None:
    from ntc_templates.parse import parse_output

    from tunnelgate.cli.show_sa import show_crypto_ikev1_sa, show_crypto_isakmp_sa

    wire = pair()
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    snap = snapshot(wire.gateways["hq"], wire.now)
    text = show_crypto_isakmp_sa(snap)
    assert "IKEv1 SAs:" in text and "1   IKE Peer: 198.51.100.2" in text
    assert "State   : MM_ACTIVE" in text and "There are no IKEv2 SAs" in text
    rows = parse_output(
        platform="cisco_asa",
        command="show crypto ikev1 sa detail",
        data=show_crypto_ikev1_sa(snap, detail=True),
    )
    assert [(r["peer"], r["dir"], r["state"], r["encryption"]) for r in rows] == [
        ("198.51.100.2", "Init", "MM_Active", "aes256")
    ]


def test_the_initiators_hold_ends_early_when_the_responder_sends_first() -> None:
    wire = pair()
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    assert "branch" not in wire.tun  # held
    reply = icmp_echo("10.2.0.9", "10.1.0.5", 7)
    wire.send_from_lan("branch", reply)  # the responder's SA is up: it sends on it
    assert wire.tun["hq"] == [reply]
    assert len(wire.tun["branch"]) == 1  # the held packet left at once


def test_ikev1_dead_first_peer_fails_over_to_the_next() -> None:
    from tests.protocol.test_gateway_pair import PeerFailedOver, quiet_group

    entry = (
        "crypto map M 10 match address VPN\ncrypto map M 10 set peer 192.0.2.99 198.51.100.2\n"
        "crypto map M 10 set ikev1 transform-set TS\n"
    )
    extra = quiet_group(dict(HQ, peer="192.0.2.99"))
    wire = Wire(
        {"hq": gateway(HQ, 1, extra, map=entry), "branch": gateway(BRANCH, 2, map=v1_map(BRANCH))}
    )
    hq = wire.gateways["hq"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    assert set(wire.lost) == {"192.0.2.99"}
    wire.advance(90, step=1)  # main mode retransmissions run out
    seen = events(hq)
    assert [(e.failed, e.next_peer) for e in seen if isinstance(e, PeerFailedOver)] == [
        ("192.0.2.99", "198.51.100.2")
    ]
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    wire.send_from_lan("hq", packet)
    wire.advance(0.5)
    assert wire.tun["branch"] == [packet]


@pytest.mark.parametrize(
    ("encryption", "hash_", "group", "transform"),
    [
        ("des", "md5", 1, "esp-des esp-md5-hmac"),
        ("3des", "sha", 2, "esp-3des esp-sha-hmac"),
        ("aes", "sha", 5, "esp-aes esp-sha-hmac"),
        ("aes-192", "md5", 5, "esp-aes-192 esp-md5-hmac"),
    ],
)
def test_the_spec_ikev1_algorithms_carry_traffic(
    encryption: str, hash_: str, group: int, transform: str
) -> None:
    policy = (
        f"crypto ikev1 policy 10\n authentication pre-share\n encryption {encryption}\n"
        f" hash {hash_}\n group {group}\n"
    )
    ts = f"crypto ipsec ikev1 transform-set TS {transform}\n"
    wire = Wire(
        {
            "hq": gateway(HQ, 1, map=v1_map(HQ), ikev1_policy=policy, transform=ts),
            "branch": gateway(BRANCH, 2, map=v1_map(BRANCH), ikev1_policy=policy, transform=ts),
        }
    )
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", packet)
    wire.advance(0.5)
    assert wire.tun.get("branch") == [packet], events(wire.gateways["hq"])
    reply = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", reply)
    assert wire.tun["hq"] == [reply]


def test_a_negotiated_sa_the_data_path_cannot_carry_is_refused_cleanly() -> None:
    """esp-aes-256 with esp-none (confidentiality only, which the ESP layer refuses: no
    integrity with CBC) negotiates, but is never installed: counted, deleted with the peer,
    and nothing is sent in clear."""
    ts = "crypto ipsec ikev1 transform-set TS esp-aes-256 esp-none\n"
    wire = Wire(
        {
            "hq": gateway(HQ, 1, map=v1_map(HQ), transform=ts),
            "branch": gateway(BRANCH, 2, map=v1_map(BRANCH), transform=ts),
        }
    )
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    wire.advance(0.5)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    assert hq.installed == {} and branch.installed == {}
    assert hq.drops["child-sa-not-installable"] == 1
    assert "branch" not in wire.tun and wire.esp_sent == 0
