"""ESP transport mode between the gateways' own addresses (D91-D94), in memory.

HQ 203.0.113.1 and branch 198.51.100.2 protect their own GRE to each other:

    HQ host stack: GRE 203.0.113.1 -> 198.51.100.2 (policy rule -> TUN)
    HQ: ACQUIRE -> IKEv2 with USE_TRANSPORT_MODE -> transport SA installed
    HQ: ESP(next header 47) under 203.0.113.1 -> 198.51.100.2, protocol 50
    branch: header rebuilt (peer -> us, protocol 47), selectors checked -> TUN (local delivery)
"""

from __future__ import annotations

from ipaddress import IPv4Address

from tests.protocol.test_gateway_ikev1 import v1_map
from tests.protocol.test_gateway_pair import Wire, events, gateway, icmp_echo
from tests.unit.tools.test_analyze import BRANCH, HQ
from tunnelgate.esp.ipv4 import Ipv4Header, parse_header
from tunnelgate.gateway.core import Gateway, PolicyRule
from tunnelgate.gateway.outputs import ChildSaInstalled, NegotiationAbandoned

GRE = 47
TRANSPORT = "crypto map M 10 set ikev2 mode transport\n"


def gre_acl(side: dict[str, str], protocol: str = "gre") -> str:
    return (
        f"access-list VPN extended permit {protocol} host {side['outside']} host {side['peer']}\n"
    )


def transport_gateway(side: dict[str, str], seed: int, protocol: str = "gre") -> Gateway:
    return gateway(side, seed, acl=gre_acl(side, protocol), map_extra=TRANSPORT)


def transport_pair(protocol: str = "gre") -> Wire:
    return Wire(
        {
            "hq": transport_gateway(HQ, 1, protocol),
            "branch": transport_gateway(BRANCH, 2, protocol),
        }
    )


def gre(src: str, dst: str, seq: int, *, df: bool = False, mf: bool = False) -> bytes:
    """A GRE packet (RFC 2784, no options) carrying an ICMP echo between inner addresses."""
    body = b"\x00\x00\x08\x00" + icmp_echo("172.16.0.1", "172.16.0.2", seq)
    header = Ipv4Header(IPv4Address(src), IPv4Address(dst), GRE, 20 + len(body), df=df, mf=mf)
    return header.build() + body


def test_gre_between_the_gateways_is_carried_in_transport_mode_both_ways() -> None:
    wire = transport_pair()
    packet = gre("203.0.113.1", "198.51.100.2", 1)
    wire.send_from_lan("hq", packet)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    installed = [e for e in events(hq) if isinstance(e, ChildSaInstalled)]
    assert len(installed) == 1
    assert [i.transport for i in hq.installed.values()] == [True]
    # the branch's kernel gets the same GRE packet (a header rebuilt with TTL 64)
    assert wire.tun["branch"] == [packet]
    # on the wire: protocol 50 between the same addresses, and no IP-in-IP inside
    outer = parse_header(wire.outer[0])
    assert (outer.protocol, str(outer.src), str(outer.dst)) == (50, "203.0.113.1", "198.51.100.2")
    assert len(wire.outer[0]) < len(packet) + 20 + 8 + 16 + 16  # no inner IPv4 header added
    reply = gre("198.51.100.2", "203.0.113.1", 2)
    wire.send_from_lan("branch", reply)
    assert wire.tun["hq"] == [reply]
    back = parse_header(wire.outer[-1])
    assert (str(back.src), str(back.dst), back.protocol) == ("198.51.100.2", "203.0.113.1", 50)
    assert hq.drops == {} and branch.drops == {}


def test_df_and_tos_come_from_the_hosts_packet() -> None:
    wire = transport_pair()
    wire.send_from_lan("hq", gre("203.0.113.1", "198.51.100.2", 1))
    packet = bytearray(gre("203.0.113.1", "198.51.100.2", 2, df=True))
    packet[1] = 0xB8  # EF
    header = Ipv4Header(
        IPv4Address("203.0.113.1"), IPv4Address("198.51.100.2"), GRE, len(packet), tos=0xB8, df=True
    )
    packet[:20] = header.build()
    wire.send_from_lan("hq", bytes(packet))
    outer = parse_header(wire.outer[-1])
    assert outer.df and outer.tos == 0xB8


def test_the_selectors_are_enforced_both_ways() -> None:
    wire = transport_pair()
    wire.send_from_lan("hq", gre("203.0.113.1", "198.51.100.2", 1))
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    # outbound: the host's ICMP to the peer is not GRE: no SA carries it, nothing leaves
    sent = wire.esp_sent
    wire.send_from_lan("hq", icmp_echo("203.0.113.1", "198.51.100.2", 1))
    assert hq.drops["bypass-not-routed"] == 1 and wire.esp_sent == sent
    # inbound: a peer that protects UDP on the GRE SA is refused after decryption
    (sa,) = hq.installed.values()
    udp = b"\x13\x88\x13\x88\x00\x0c\x00\x00abcd"
    hq._seal(sa, udp, 17, wire.now, (False, 0))
    wire.flush()
    assert branch.drops["invalid-selectors"] == 1
    assert wire.tun["branch"] == [gre("203.0.113.1", "198.51.100.2", 1)]


def test_fragments_of_transport_traffic_are_dropped_and_counted() -> None:
    wire = transport_pair()
    wire.send_from_lan("hq", gre("203.0.113.1", "198.51.100.2", 1))
    sent = wire.esp_sent
    wire.send_from_lan("hq", gre("203.0.113.1", "198.51.100.2", 2, mf=True))
    assert wire.gateways["hq"].drops == {"transport-fragment": 1}
    assert wire.esp_sent == sent


def test_a_transport_sa_whose_selectors_are_not_the_gateways_is_refused() -> None:
    """LAN-to-LAN selectors with transport mode negotiated: never installed, deleted with
    the peer, counted; nothing goes out in clear."""
    wire = Wire(
        {
            "hq": gateway(HQ, 1, map_extra=TRANSPORT),
            "branch": gateway(BRANCH, 2, map_extra=TRANSPORT),
        }
    )
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    wire.advance(1.0)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    assert hq.installed == {} and branch.installed == {}
    assert hq.drops["child-sa-not-installable"] + branch.drops["child-sa-not-installable"] >= 1
    refused = [e for e in events(hq) + events(branch) if isinstance(e, NegotiationAbandoned)]
    assert any("single hosts" in e.reason for e in refused)
    assert "branch" not in wire.tun and not wire.clear_text


def test_host_originated_aces_become_policy_rules_not_routes() -> None:
    gre_gw = transport_gateway(HQ, 1)
    assert "198.51.100.2/32" not in gre_gw.static_routes()
    assert gre_gw.transport_rules() == [PolicyRule("198.51.100.2/32", GRE, source="203.0.113.1")]
    any_gw = transport_gateway(HQ, 1, "ip")
    assert any_gw.static_routes() == []
    peer = "198.51.100.2/32"
    assert any_gw.transport_rules() == [
        PolicyRule(peer, 50, tunnel=False),
        PolicyRule(peer, 255, tunnel=False),
        PolicyRule(peer, 17, (500, 500), tunnel=False),
        PolicyRule(peer, 17, (4500, 4500), tunnel=False),
        PolicyRule(peer, 0, source="203.0.113.1"),
    ]
    # tunnel mode keeps its routes exactly as before
    tunnel = gateway(HQ, 1, acl=gre_acl(HQ))
    assert tunnel.static_routes() == ["198.51.100.2/32"] and tunnel.transport_rules() == []


def test_an_ikev1_transform_set_in_transport_mode_carries_gre_too() -> None:
    ts = "crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac mode transport\n"

    def v1(side: dict[str, str], seed: int) -> Gateway:
        return gateway(side, seed, acl=gre_acl(side), map=v1_map(side), transform=ts)

    wire = Wire({"hq": v1(HQ, 1), "branch": v1(BRANCH, 2)})
    packet = gre("203.0.113.1", "198.51.100.2", 1)
    wire.send_from_lan("hq", packet)
    wire.advance(0.5)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    assert [(i.ike_version, i.transport) for i in hq.installed.values()] == [(1, True)]
    assert wire.tun["branch"] == [packet]
    reply = gre("198.51.100.2", "203.0.113.1", 2)
    wire.send_from_lan("branch", reply)
    assert wire.tun["hq"] == [reply] and hq.drops == {} and branch.drops == {}
