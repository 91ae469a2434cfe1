"""The data-path settings of the spec on two in-memory gateways (see test_gateway_pair.py):
``crypto ipsec fragmentation``, ``set df-bit``, path MTU and ``pmtu-aging``,
``set validate-icmp-errors``, ``sysopt connection permit-vpn`` with ``access-group``, and
``set tfc-packets``.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from tests.protocol.test_gateway_pair import BRANCH, HQ, Wire, gateway, icmp_echo
from tunnelgate.esp.icmp import frag_needed, parse_error
from tunnelgate.esp.ipv4 import FLAG_DF, Ipv4Header, checksum
from tunnelgate.gateway.core import Gateway, InstalledSa
from tunnelgate.gateway.outputs import WriteTun
from tunnelgate.gateway.path import max_inner
from tunnelgate.gateway.views import snapshot


def udp(src: str, dst: str, size: int, *, df: bool = False, tos: int = 0) -> bytes:
    """An IPv4/UDP packet of ``size`` bytes in all."""
    body = (1234).to_bytes(2, "big") + (5678).to_bytes(2, "big")
    body += (size - 20).to_bytes(2, "big") + bytes(2) + bytes(range(256)) * 8
    body = body[: size - 20]
    header = Ipv4Header(IPv4Address(src), IPv4Address(dst), 17, size, ident=77, df=df, tos=tos)
    return header.build() + body


def pair(hq_extra: str = "", branch_extra: str = "", *, map_extra: str = "") -> Wire:
    wire = Wire(
        {
            "hq": gateway(HQ, 1, hq_extra, map_extra=map_extra),
            "branch": gateway(BRANCH, 2, branch_extra, map_extra=map_extra),
        }
    )
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))  # bring the SA up
    wire.tun.clear()
    wire.outer.clear()
    return wire


def only_sa(gw: Gateway) -> InstalledSa:
    (installed,) = gw.installed.values()
    return installed


def reassembled(fragments: list[bytes]) -> tuple[bytes, bytes]:
    """(first header, payload) the protected host's kernel rebuilds from inner fragments."""
    fragments = sorted(fragments, key=lambda f: int.from_bytes(f[6:8], "big") & 0x1FFF)
    payload = b"".join(f[(f[0] & 0x0F) * 4 :] for f in fragments)
    first = fragments[0]
    return first[:20], payload


def test_before_encryption_fragments_the_inner_packet() -> None:
    wire = pair()
    packet = udp("10.1.0.5", "10.2.0.9", 1500)
    wire.send_from_lan("hq", packet)
    arrived = wire.tun["branch"]
    assert len(arrived) == 2  # two inner fragments, each in its own ESP packet
    assert all(len(p) <= 1500 for p in wire.outer)
    header, payload = reassembled(arrived)
    assert header[12:20] == packet[12:20]
    assert payload == packet[20:]
    view = snapshot(wire.gateways["hq"], wire.now).child_sas[0]
    assert (view.pre_frag_successes, view.fragments_created) == (1, 2)


def test_inner_df_gets_fragmentation_needed_back_with_the_tunnel_mtu() -> None:
    wire = pair()
    packet = udp("10.1.0.5", "10.2.0.9", 1500, df=True)
    wire.send_from_lan("hq", packet)
    assert "branch" not in wire.tun and wire.outer == []  # nothing sent
    assert "hq" not in wire.tun
    (icmp,) = wire.originated["hq"]  # from the gateway's own stack, not into the TUN
    error = parse_error(icmp)
    installed = only_sa(wire.gateways["hq"])
    assert error is not None and (error.type, error.code) == (3, 4)
    assert error.next_hop_mtu == max_inner(installed.sa.outbound, 1500, False)
    assert icmp[12:16] == IPv4Address("10.1.0.1").packed  # from our inside address
    assert icmp[16:20] == IPv4Address("10.1.0.5").packed
    assert error.quoted[:20] == packet[:20]
    assert installed.stats["pmtus-sent"] == 1


def test_clear_df_fragments_even_with_df_set() -> None:
    wire = pair(map_extra="crypto map M 10 set df-bit clear-df\n")
    packet = udp("10.1.0.5", "10.2.0.9", 1500, df=True)
    wire.send_from_lan("hq", packet)
    assert len(wire.tun["branch"]) == 2
    assert all(not int.from_bytes(p[6:8], "big") & FLAG_DF for p in wire.outer)


def test_after_encryption_fragments_the_outer_packet() -> None:
    extra = "crypto ipsec fragmentation after-encryption outside\n"
    wire = pair(extra, extra)
    packet = udp("10.1.0.5", "10.2.0.9", 1500)
    wire.send_from_lan("hq", packet)
    assert wire.tun["branch"] == [packet]  # whole: the receiver reassembled the ESP packet
    assert len(wire.outer) == 2 and all(len(p) <= 1500 for p in wire.outer)


def test_df_bit_policies_on_the_outer_header() -> None:
    def outer_df(map_extra: str, inner_df: bool) -> bool:
        wire = pair(map_extra=map_extra)
        wire.send_from_lan("hq", udp("10.1.0.5", "10.2.0.9", 200, df=inner_df, tos=0x28))
        (outer,) = wire.outer
        assert outer[1] == 0x28  # TOS copied (RFC 4301 §5.1.2.1)
        return bool(int.from_bytes(outer[6:8], "big") & FLAG_DF)

    assert outer_df("", True) and not outer_df("", False)  # copy-df, the default
    assert outer_df("crypto map M 10 set df-bit set-df\n", False)
    assert not outer_df("crypto map M 10 set df-bit clear-df\n", True)


def test_pmtu_message_lowers_the_path_mtu_until_pmtu_aging_restores_it() -> None:
    wire = pair("crypto ipsec security-association pmtu-aging 10\n")
    hq = wire.gateways["hq"]
    wire.send_from_lan("hq", udp("10.1.0.5", "10.2.0.9", 1400))
    (sent,) = wire.outer
    router = frag_needed(sent, 1300, "192.0.2.99")  # a router on the way: the ESP is too big
    hq.receive_icmp("203.0.113.1", router, wire.now)
    installed = only_sa(hq)
    assert installed.path_mtu == 1300 and installed.stats["pmtus-received"] == 1
    view = snapshot(hq, wire.now).child_sas[0]
    assert view.path_mtu == 1300 and view.pmtu_remaining_seconds == 600
    wire.outer.clear()
    wire.send_from_lan("hq", udp("10.1.0.5", "10.2.0.9", 1400))
    assert len(wire.outer) == 2 and all(len(p) <= 1300 for p in wire.outer)
    wire.advance(601, step=30)
    assert installed.path_mtu == 1500


def test_icmp_errors_inside_the_tunnel_with_and_without_validation() -> None:
    # a router inside the branch network (outside the selectors) reports our packet expired
    quoted = icmp_echo("10.1.0.5", "10.2.0.9", 9)
    body = bytes([11, 0, 0, 0, 0, 0, 0, 0]) + quoted[:28]
    body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
    error = (
        Ipv4Header(IPv4Address("172.16.0.1"), IPv4Address("10.1.0.5"), 1, 20 + len(body)).build()
        + body
    )
    bogus = error[:20] + body[:8] + icmp_echo("10.9.9.9", "10.8.8.8", 1)[:28]

    for extra, expect in (
        ("", ["invalid-selectors", "invalid-selectors"]),
        ("crypto map M 10 set validate-icmp-errors\n", ["ok", "invalid-icmp-error"]),
    ):
        wire = pair(map_extra=extra)
        hq, branch = wire.gateways["hq"], wire.gateways["branch"]
        outcomes = []
        for packet in (error, bogus):
            result = only_sa(branch).sa.protect(packet, 4, wire.now, branch.random)
            esp = result.esp  # type: ignore[union-attr]
            hq.drops.clear()
            hq.receive_esp("203.0.113.1", "198.51.100.2", esp, wire.now)
            written = [o for o in hq.outputs() if isinstance(o, WriteTun)]
            outcomes.append("ok" if written else next(iter(hq.drops)))
        assert outcomes == expect


def test_no_sysopt_permit_vpn_filters_decrypted_traffic_with_the_access_group() -> None:
    acl = (
        "access-list OUTSIDE-IN extended permit icmp any any\n"
        "access-list OUTSIDE-IN extended deny ip any any\n"
        "access-group OUTSIDE-IN in interface outside\n"
    )
    for sysopt, expect_udp in (("", True), ("no sysopt connection permit-vpn\n", False)):
        wire = pair(sysopt + acl)
        wire.send_from_lan("branch", icmp_echo("10.2.0.9", "10.1.0.5", 2))
        wire.send_from_lan("branch", udp("10.2.0.9", "10.1.0.5", 100))
        protocols = [p[9] for p in wire.tun.get("hq", [])]
        assert protocols == ([1, 17] if expect_udp else [1])
        assert wire.gateways["hq"].drops.get("acl-denied", 0) == (0 if expect_udp else 1)


def test_tfc_dummy_packets_are_sent_in_bursts_and_discarded() -> None:
    extra = "crypto map M 10 set tfc-packets burst 3 payload-size 100 timeout 10\n"
    wire = pair(map_extra=extra)
    wire.advance(21, step=1)
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    hq_sa, branch_sa = only_sa(hq), only_sa(branch)
    assert hq_sa.stats["tfc-sent"] >= 6  # at least two bursts of three
    assert branch_sa.stats["tfc-received"] == hq_sa.stats["tfc-sent"]
    assert hq_sa.stats["tfc-received"] == branch_sa.stats["tfc-sent"]
    assert not wire.tun  # dummies never reach the protected side
    view = snapshot(hq, wire.now).child_sas[0]
    assert view.tfc_enabled and view.tfc_sent == hq_sa.stats["tfc-sent"]
