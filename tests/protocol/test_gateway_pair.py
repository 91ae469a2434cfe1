"""Two whole gateways (policy + IKEv2 + ESP) in memory, joined by a fake wire and clock.

Timelines, HQ (10.1.0.0/16) <-> branch (10.2.0.0/16):

    host 10.1.0.5 -> TUN(HQ): no SA -> ACQUIRE, packet queued  (nothing leaves in clear)
    HQ  --- IKE_SA_INIT / IKE_AUTH --->  branch
    HQ: child SA installed -> the queued packet leaves as ESP -> branch TUN gets it
    ... kilobyte lifetime reached -> CREATE_CHILD_SA rekey -> new SA carries traffic at once,
        the old one decrypts until its delete -> no packet lost
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import SeededRandom
from tests.protocol.test_ikev2_exchanges import quiet_group
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.esp.ipv4 import Ipv4Header, checksum
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import (
    ChildSaInstalled,
    ChildSaRemoved,
    NegotiationAbandoned,
    NegotiationStarted,
    PeerFailedOver,
    SendIpv4,
    SendUdp,
    WriteTun,
)
from tunnelgate.ike.v2.events import ChildSaFailed, IkeSaEstablished

ROUTE = {"hq": "203.0.113.254", "branch": "198.51.100.254"}


def gateway(side: dict[str, str], seed: int, extra: str = "", **over: str) -> Gateway:
    text = gateway_text(
        side,
        group=quiet_group(side),
        extra=f"route outside 0.0.0.0 0.0.0.0 {ROUTE[side['hostname']]}\n" + extra,
        **over,
    )
    return Gateway(compile_config(load(text)), SeededRandom(seed))


def icmp_echo(src: str, dst: str, seq: int, size: int = 56) -> bytes:
    """An IPv4 ICMP echo request with valid checksums."""
    body = bytes([8, 0, 0, 0]) + (7).to_bytes(2, "big") + seq.to_bytes(2, "big") + bytes(size)
    body = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
    from ipaddress import IPv4Address

    header = Ipv4Header(IPv4Address(src), IPv4Address(dst), 1, 20 + len(body), ident=seq)
    return header.build() + body


@dataclass
class Wire:
    """Delivers outputs between gateways by address; ``nat`` rewrites one side's source."""

    gateways: dict[str, Gateway]
    now: float = 1000.0
    nat: dict[str, tuple[str, int]] = field(default_factory=dict)  # inside addr -> public
    tun: dict[str, list[bytes]] = field(default_factory=dict)
    clear_text: list[bytes] = field(default_factory=list)
    esp_sent: int = 0
    lost: list[str] = field(default_factory=list)  # destinations nobody answers at
    outer: list[bytes] = field(default_factory=list)  # native ESP packets as sent
    originated: dict[str, list[bytes]] = field(default_factory=dict)  # gateways' own ICMP
    _fragments: dict[tuple[bytes, int], dict[int, bytes]] = field(default_factory=dict)

    def _owner(self, address: str) -> tuple[str, Gateway] | None:
        for name, gw in self.gateways.items():
            if address in gw.local_addresses.values():
                return name, gw
            public = {self.nat[a][0] for a in gw.local_addresses.values() if a in self.nat}
            if address in public:
                return name, gw
        self.lost.append(address)  # nobody there: the datagram is lost
        return None

    def _inside(self, address: str, port: int) -> tuple[str, int]:
        for inside, (public, base) in self.nat.items():
            if address == public:
                return inside, 500 if port == base else 4500
        return address, port

    def flush(self) -> None:
        for _ in range(1000):
            moved = False
            for name, gw in self.gateways.items():
                for out in gw.outputs():
                    moved = True
                    self.deliver(name, out)
            if not moved:
                return
        raise AssertionError("the wire never went quiet")

    def deliver(self, sender: str, out: object) -> None:
        if isinstance(out, WriteTun):
            self.tun.setdefault(sender, []).append(out.packet)
        elif isinstance(out, SendUdp):
            source = out.local
            if source[0] in self.nat:
                public, base = self.nat[source[0]]
                source = (public, base if source[1] == 500 else base + 1)
            owner = self._owner(out.remote[0])
            self.esp_sent += out.local[1] == 4500 and not out.data.startswith(bytes(4))
            if owner is None:
                return
            owner[1].receive_udp(self._inside(*out.remote), source, out.data, self.now)
        elif isinstance(out, SendIpv4) and out.packet[9] != 50:
            self.originated.setdefault(sender, []).append(out.packet)
        elif isinstance(out, SendIpv4):
            self.esp_sent += 1
            self.outer.append(out.packet)
            whole = self._reassemble(out.packet)
            owner = self._owner(out.remote)
            if whole is not None and owner is not None:
                owner[1].receive_esp(out.remote, out.local, whole[20:], self.now)

    def _reassemble(self, packet: bytes) -> bytes | None:
        """What the receiving kernel does before raw sockets see ESP (RFC 791 §3.2)."""
        flags = int.from_bytes(packet[6:8], "big")
        if not flags & 0x3FFF:
            return packet
        key = (packet[12:20], int.from_bytes(packet[4:6], "big"))
        parts = self._fragments.setdefault(key, {})
        parts[(flags & 0x1FFF) * 8] = packet
        last = [p for p in parts.values() if not int.from_bytes(p[6:8], "big") & 0x2000]
        if not last:
            return None
        end = (int.from_bytes(last[0][6:8], "big") & 0x1FFF) * 8 + len(last[0]) - 20
        payload, offset = b"", 0
        while offset < end:
            if offset not in parts:
                return None
            payload += parts[offset][20:]
            offset += len(parts[offset]) - 20
        del self._fragments[key]
        return packet[:20] + payload

    def send_from_lan(self, name: str, packet: bytes) -> None:
        self.gateways[name].receive_tun(packet, self.now)
        self.flush()

    def advance(self, seconds: float, step: float = 0.5) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            for gw in self.gateways.values():
                timer = gw.get_timer()
                if timer is not None and timer <= self.now:
                    gw.handle_timer(self.now)
            self.flush()


def events(gw: Gateway) -> list[object]:
    out = []
    while (e := gw.next_event()) is not None:
        out.append(e)
    return out


def pair(**over: str) -> Wire:
    return Wire({"hq": gateway(HQ, 1, **over), "branch": gateway(BRANCH, 2, **over)})


def test_first_packet_triggers_negotiation_and_arrives_once_the_sa_is_up() -> None:
    wire = pair()
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", packet)
    assert wire.tun["branch"] == [packet]  # queued during negotiation, then sent protected
    hq_events = events(wire.gateways["hq"])
    started = [e for e in hq_events if isinstance(e, NegotiationStarted)]
    assert [(e.peer, e.how) for e in started] == [("198.51.100.2", "ike-sa-init")]
    assert any(isinstance(e, IkeSaEstablished) for e in hq_events)
    installed = [e for e in hq_events if isinstance(e, ChildSaInstalled)]
    assert len(installed) == 1 and not installed[0].udp_encapsulation
    # the reply goes back through the branch's SA without a new negotiation
    reply = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", reply)
    assert wire.tun["hq"] == [reply]
    assert not any(isinstance(e, NegotiationStarted) for e in events(wire.gateways["branch"]))
    assert wire.gateways["hq"].drops == {}


def test_traffic_outside_the_crypto_acl_is_not_sent_in_clear() -> None:
    wire = pair()
    wire.send_from_lan("hq", icmp_echo("10.9.0.5", "10.2.0.9", 1))
    assert wire.gateways["hq"].drops == {"bypass-not-routed": 1}
    assert wire.tun == {} and wire.esp_sent == 0


def test_forged_and_replayed_esp_is_dropped_and_counted() -> None:
    wire = pair()
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    hq.receive_tun(icmp_echo("10.1.0.5", "10.2.0.9", 2), wire.now)
    hq.receive_tun(icmp_echo("10.1.0.5", "10.2.0.9", 3), wire.now)
    sent = [o for o in hq.outputs() if isinstance(o, SendIpv4)]
    assert len(sent) == 2
    esp, fresh = sent[0].packet[20:], sent[1].packet[20:]
    branch.receive_esp("198.51.100.2", "203.0.113.1", esp, wire.now)
    branch.receive_esp("198.51.100.2", "203.0.113.1", esp, wire.now)  # replayed
    forged = fresh[:-1] + bytes([fresh[-1] ^ 1])  # a sequence number not seen yet
    branch.receive_esp("198.51.100.2", "203.0.113.1", forged, wire.now)
    branch.receive_esp("198.51.100.2", "192.0.2.66", esp, wire.now)  # other source
    branch.receive_esp("198.51.100.2", "203.0.113.1", b"\x00\x00\x99\x99" + esp[4:], wire.now)
    assert [type(o) for o in branch.outputs()] == [WriteTun]
    assert branch.drops == {
        "replay": 1,
        "icv-failed": 1,
        "spi-peer-mismatch": 1,
        "invalid-spi": 1,
    }


def test_kilobyte_lifetime_rekeys_under_traffic_without_losing_a_packet() -> None:
    # 10 KB lifetime: ~12 packets of 1 KB per SA, so a rekey every few packets
    extra = "crypto map M 10 set security-association lifetime kilobytes 10\n"
    wire = Wire(
        {"hq": gateway(HQ, 1, map_extra=extra), "branch": gateway(BRANCH, 2, map_extra=extra)}
    )
    sent = []
    for seq in range(1, 121):
        packet = icmp_echo("10.1.0.5", "10.2.0.9", seq, size=1000)
        sent.append(packet)
        wire.send_from_lan("hq", packet)
        wire.advance(0.1, step=0.1)
    wire.advance(5)
    assert wire.tun["branch"] == sent  # every packet, in order
    hq_events = events(wire.gateways["hq"])
    rekeys = [e for e in hq_events if isinstance(e, ChildSaInstalled) and e.rekey_of]
    removed = [e for e in hq_events if isinstance(e, ChildSaRemoved)]
    assert len(rekeys) >= 5 and len(removed) >= 5
    assert len(wire.gateways["hq"].installed) <= 2
    assert wire.gateways["hq"].drops == {} and wire.gateways["branch"].drops == {}


def test_packets_in_flight_on_a_rekeyed_sa_are_still_decrypted_after_its_delete() -> None:
    """D110: the peer's Delete of a rekeyed SA can overtake ESP sent on it just before the
    switch (another socket, another queue); its inbound half decrypts for DRAIN_S more."""
    from tunnelgate.gateway.core import DRAIN_S

    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    (old,) = hq.installed.values()
    late = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    hq.receive_tun(late, wire.now)
    (in_flight,) = [o for o in hq.outputs() if isinstance(o, SendIpv4)]  # held on the way
    hq._rekey(old, wire.now)
    wire.flush()  # the rekey, then HQ's Delete of the old SA, both done
    removed = [e for e in events(branch) if isinstance(e, ChildSaRemoved)]
    assert removed == []  # deleted with IKE, still draining on the data path
    branch.receive_esp("198.51.100.2", "203.0.113.1", in_flight.packet[20:], wire.now)
    wire.flush()
    assert wire.tun["branch"][-1] == late and branch.drops == {}
    wire.advance(DRAIN_S + 0.5)
    (gone,) = [e for e in events(branch) if isinstance(e, ChildSaRemoved)]
    assert gone.spi_in == old.sa.outbound.spi and gone.reason == "deleted by the peer"
    branch.receive_esp("198.51.100.2", "203.0.113.1", in_flight.packet[20:], wire.now)
    assert branch.drops == {"invalid-spi": 1}  # drained: now it is gone
    assert len(hq.installed) == len(branch.installed) == 1


def test_the_redundant_sa_of_a_rekey_collision_drains_too() -> None:
    """Both ends rekey one SA at once (RFC 7296 §2.8.1): each installs two successors and
    the redundant one is deleted; ESP the peer sealed on it before it switched still
    decrypts for DRAIN_S (D110), where removing it at once dropped it as ``invalid-spi``."""
    from tunnelgate.gateway.core import DRAIN_S

    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    (old_hq,), (old_branch,) = hq.installed.values(), branch.installed.values()
    hq._rekey(old_hq, wire.now)
    branch._rekey(old_branch, wire.now)
    wire.flush()
    draining = [i for i in branch.installed.values() if i.drain_until is not None]
    redundant = [i for i in draining if i is not old_branch]
    assert len(redundant) == 1, "a collision leaves one redundant SA"
    (sibling,) = redundant
    late = icmp_echo("10.2.0.9", "10.1.0.5", 2)
    sealed = sibling.sa.protect_packet(late, 4, wire.now, os.urandom)  # sent just before
    assert isinstance(sealed, bytes)
    hq.receive_esp("203.0.113.1", "198.51.100.2", sealed, wire.now)
    wire.flush()
    assert wire.tun["hq"][-1] == late and hq.drops == {}
    wire.advance(DRAIN_S + 0.5)
    hq.receive_esp("203.0.113.1", "198.51.100.2", sealed, wire.now)
    assert hq.drops == {"invalid-spi": 1}  # drained: now it is gone
    assert len(hq.installed) == len(branch.installed) == 1
    (live,) = hq.installed.values()
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 3))
    assert wire.tun["branch"][-1] == icmp_echo("10.1.0.5", "10.2.0.9", 3)
    assert live.spi_in != old_hq.spi_in


def test_a_rekey_refused_because_the_peer_replaced_the_sa_first_is_no_failure() -> None:
    """The staggered collision (D109): the branch asks to rekey an SA the HQ has just
    replaced and is deleting; TEMPORARY_FAILURE is counted as a deferred rekey, not as a
    failed negotiation, and the tunnel carries on the HQ's successor."""
    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    (old_hq,), (old_branch,) = hq.installed.values(), branch.installed.values()
    hq._rekey(old_hq, wire.now)
    request = hq.outputs()
    branch._rekey(old_branch, wire.now)  # the branch's soft point, at the same moment
    crossing = branch.outputs()
    for out in request:  # the HQ's request reaches the branch first ...
        wire.deliver("hq", out)
    for out in branch.outputs():  # ... its answer: the HQ switches and deletes the old
        wire.deliver("branch", out)
    for out in crossing:  # the branch's own request arrives at the HQ only now
        wire.deliver("branch", out)
    wire.flush()
    failed = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
    assert [(e.notify, e.rekey) for e in failed] == [("TEMPORARY_FAILURE", True)]
    assert branch.counters["rekeys-deferred"] == 1
    assert "negotiations-failed" not in branch.counters
    packet = icmp_echo("10.2.0.9", "10.1.0.5", 2)
    wire.send_from_lan("branch", packet)
    assert wire.tun["hq"][-1] == packet


def test_the_responder_of_a_rekey_sends_on_the_old_sa_until_the_initiators_delete() -> None:
    """D116: the initiator installs the new SA only when the answer arrives; ESP the responder
    sent on it before would be dropped as ``invalid-spi``. The responder keeps sending on
    the old SA (and accepts the new one inbound) until the initiator's Delete."""
    wire = pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    (old_hq,), (old_branch,) = hq.installed.values(), branch.installed.values()
    hq._rekey(old_hq, wire.now)
    for out in hq.outputs():  # the request: the branch answers and installs the new SA
        wire.deliver("hq", out)
    answer = branch.outputs()
    assert len(branch.installed) == 2
    early = icmp_echo("10.2.0.9", "10.1.0.5", 2)
    branch.receive_tun(early, wire.now)  # before the answer has reached the HQ
    (esp,) = [o for o in branch.outputs() if isinstance(o, SendIpv4)]
    assert int.from_bytes(esp.packet[20:24], "big") == old_branch.sa.outbound.spi
    for out in [*answer, esp]:
        wire.deliver("branch", out)
    from_hq = hq.outputs()  # the HQ's Delete of the old SA, and the early packet decrypted
    assert WriteTun(early) in from_hq and hq.drops == {}
    for out in from_hq:
        wire.deliver("hq", out)
    wire.flush()  # the branch switches on the Delete
    late = icmp_echo("10.2.0.9", "10.1.0.5", 3)
    branch.receive_tun(late, wire.now)
    (esp,) = [o for o in branch.outputs() if isinstance(o, SendIpv4)]
    (new_branch,) = [i for i in branch.installed.values() if i is not old_branch]
    assert int.from_bytes(esp.packet[20:24], "big") == new_branch.sa.outbound.spi
    wire.deliver("branch", esp)
    assert WriteTun(late) in hq.outputs() and hq.drops == {} and branch.drops == {}


def icmp6_echo(src: str, dst: str, seq: int, size: int = 56) -> bytes:
    """An ICMPv6 echo request with a valid checksum (RFC 4443 §4.1)."""
    from ipaddress import IPv6Address

    from tunnelgate.esp import ipv6

    body = bytes([128, 0, 0, 0]) + (7).to_bytes(2, "big") + seq.to_bytes(2, "big") + bytes(size)
    s, d = IPv6Address(src), IPv6Address(dst)
    body = body[:2] + ipv6.upper_checksum(s, d, 58, body).to_bytes(2, "big") + body[4:]
    return ipv6.Ipv6Header(s, d, 58, len(body)).build() + body


def dual_stack_pair() -> Wire:
    """The pair with an IPv6 ACE next to the IPv4 one on both sides (D113)."""

    def acl(side: dict[str, str], lan6: str, remote6: str) -> str:
        return (
            f"access-list VPN extended permit ip {side['lan']} {side['remote_lan']}\n"
            f"access-list VPN extended permit ip {lan6} {remote6}\n"
        )

    return Wire(
        {
            "hq": gateway(HQ, 1, acl=acl(HQ, "2001:db8:1::/64", "2001:db8:2::/64")),
            "branch": gateway(BRANCH, 2, acl=acl(BRANCH, "2001:db8:2::/64", "2001:db8:1::/64")),
        }
    )


def test_ipv6_between_the_sites_gets_a_child_sa_of_its_own_through_the_ipv4_tunnel() -> None:
    from tunnelgate.policy.address import ipv6_int

    wire = dual_stack_pair()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    request = icmp6_echo("2001:db8:1::5", "2001:db8:2::9", 1)
    wire.send_from_lan("hq", request)
    assert wire.tun["branch"] == [request]
    (installed,) = hq.installed.values()
    assert installed.selector.source.low == ipv6_int("2001:db8:1::")
    assert installed.selector.destination.high == ipv6_int("2001:db8:2:0:ffff:ffff:ffff:ffff")
    outer = wire.outer[-1]
    assert outer[0] == 0x45 and outer[9] == 50  # IPv4 outer, native ESP
    reply = icmp6_echo("2001:db8:2::9", "2001:db8:1::5", 1)
    wire.send_from_lan("branch", reply)
    assert wire.tun["hq"] == [reply]
    v4 = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    wire.send_from_lan("hq", v4)
    assert wire.tun["branch"][-1] == v4
    assert len(hq.installed) == len(branch.installed) == 2  # one child SA per ACE
    assert hq.drops == {} and branch.drops == {}


def test_each_selector_of_an_object_group_ace_is_negotiated_for_its_own_traffic() -> None:
    """An ACE of object groups expands to one selector per same-family pair; the packet's
    own selector is negotiated (as the ASA does for expanded ACEs), not the first one."""

    def acl(local: str, remote: str, local6: str, remote6: str) -> str:
        return (
            f"object-group network LOCAL\n network-object {local}\n network-object {local6}\n"
            f"object-group network REMOTE\n network-object {remote}\n"
            f" network-object {remote6}\n"
            "access-list VPN extended permit ip object-group LOCAL object-group REMOTE\n"
        )

    wire = Wire(
        {
            "hq": gateway(
                HQ, 1, acl=acl(HQ["lan"], HQ["remote_lan"], "2001:db8:1::/64", "2001:db8:2::/64")
            ),
            "branch": gateway(
                BRANCH,
                2,
                acl=acl(BRANCH["lan"], BRANCH["remote_lan"], "2001:db8:2::/64", "2001:db8:1::/64"),
            ),
        }
    )
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    v6 = icmp6_echo("2001:db8:1::5", "2001:db8:2::9", 1)
    wire.send_from_lan("hq", v6)  # the ACE's second selector: it is the one negotiated
    assert wire.tun["branch"] == [v6]
    v4 = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    wire.send_from_lan("hq", v4)
    assert wire.tun["branch"] == [v6, v4]
    assert len(hq.installed) == len(branch.installed) == 2
    assert hq.drops == {} and branch.drops == {}


def test_an_ipv6_packet_too_big_for_the_tunnel_gets_packet_too_big_back() -> None:
    from tunnelgate.esp import ipv6

    wire = dual_stack_pair()
    hq = wire.gateways["hq"]
    wire.send_from_lan("hq", icmp6_echo("2001:db8:1::5", "2001:db8:2::9", 1))
    big = icmp6_echo("2001:db8:1::5", "2001:db8:2::9", 2, size=1460)  # 1508 bytes
    wire.send_from_lan("hq", big)
    (answer,) = wire.tun["hq"]
    header, body = ipv6.split(answer)
    assert (header.next_header, body[0]) == (58, 2)  # ICMPv6 Packet Too Big
    assert str(header.dst) == "2001:db8:1::5" and str(header.src) == "2001:db8:2::9"
    mtu = int.from_bytes(body[4:8], "big")
    assert 1280 <= mtu < len(big)
    assert body[8:48] == big[:40]  # the invoking packet, quoted
    assert hq.drops == {"too-big-ipv6": 1}


def test_the_kernels_own_link_scope_ipv6_on_the_tun_is_ignored() -> None:
    wire = dual_stack_pair()
    hq = wire.gateways["hq"]
    mld = icmp6_echo("::", "ff02::16", 1)  # what a router's kernel sends on a new interface
    wire.send_from_lan("hq", mld)
    wire.send_from_lan("hq", icmp6_echo("fe80::1", "fe80::2", 1))
    assert hq.counters["ipv6-link-scope-ignored"] == 2
    assert hq.drops == {} and not hq.installed and not wire.outer


def test_seconds_lifetime_rekeys_keep_a_continuous_flow() -> None:
    extra = "crypto map M 10 set security-association lifetime seconds 120\n"
    wire = Wire(
        {"hq": gateway(HQ, 1, map_extra=extra), "branch": gateway(BRANCH, 2, map_extra=extra)}
    )
    sent = []
    for seq in range(1, 801):  # 400 s of traffic: at least three rekeys
        packet = icmp_echo("10.1.0.5", "10.2.0.9", seq)
        sent.append(packet)
        wire.send_from_lan("hq", packet)
        wire.advance(0.5)
    assert wire.tun["branch"] == sent
    rekeys = [e for e in events(wire.gateways["hq"]) if isinstance(e, ChildSaInstalled)]
    assert len(rekeys) >= 4
    assert wire.gateways["hq"].drops == {}


def test_behind_nat_esp_goes_in_udp_4500() -> None:
    wire = pair()
    wire.nat = {"198.51.100.2": ("192.0.2.200", 31000)}  # the branch sits behind a NAT
    # the HQ reaches the branch at its public address
    hq = gateway(dict(HQ, peer="192.0.2.200"), 1)
    wire.gateways["hq"] = hq
    packet = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", packet)
    assert wire.tun.get("hq") == [packet]
    installed = [e for e in events(wire.gateways["branch"]) if isinstance(e, ChildSaInstalled)]
    assert installed and installed[0].udp_encapsulation


def test_a_second_permit_line_gets_a_child_sa_on_the_existing_ike_sa() -> None:
    def acl(lan: str, remote: str, lan2: str, remote2: str) -> str:
        return (
            f"access-list VPN extended permit ip {lan} {remote}\n"
            f"access-list VPN extended permit ip {lan2} {remote2}\n"
        )

    hq_acl = acl(HQ["lan"], HQ["remote_lan"], "10.11.0.0 255.255.0.0", "10.12.0.0 255.255.0.0")
    br_acl = acl(
        BRANCH["lan"], BRANCH["remote_lan"], "10.12.0.0 255.255.0.0", "10.11.0.0 255.255.0.0"
    )
    wire = Wire({"hq": gateway(HQ, 1, acl=hq_acl), "branch": gateway(BRANCH, 2, acl=br_acl)})
    first, second = icmp_echo("10.1.0.5", "10.2.0.9", 1), icmp_echo("10.11.0.5", "10.12.0.9", 2)
    wire.send_from_lan("hq", first)
    wire.send_from_lan("hq", second)
    assert wire.tun["branch"] == [first, second]
    started = [e for e in events(wire.gateways["hq"]) if isinstance(e, NegotiationStarted)]
    assert [e.how for e in started] == ["ike-sa-init", "create-child-sa"]
    assert sum(len(e.sas) for e in wire.gateways["hq"].engines.values()) == 1
    assert len(wire.gateways["hq"].installed) == 2


def test_a_dead_first_peer_fails_over_to_the_next_and_the_working_one_is_kept() -> None:
    entry = (
        "crypto map M 10 match address VPN\ncrypto map M 10 set peer 192.0.2.99 198.51.100.2\n"
        "crypto map M 10 set ikev2 ipsec-proposal P\n"
    )
    extra = quiet_group(dict(HQ, peer="192.0.2.99"))
    wire = Wire({"hq": gateway(HQ, 1, extra, map=entry), "branch": gateway(BRANCH, 2)})
    hq = wire.gateways["hq"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    assert "branch" not in wire.tun and set(wire.lost) == {"192.0.2.99"}
    wire.advance(70, step=1)  # five retransmissions, then PeerUnreachable
    seen = events(hq)
    assert [(e.failed, e.next_peer) for e in seen if isinstance(e, PeerFailedOver)] == [
        ("192.0.2.99", "198.51.100.2")
    ]
    assert any(isinstance(e, NegotiationAbandoned) for e in seen)
    assert hq.drops["acquire-timeout"] == 1  # the waiting packet, never sent in clear
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    wire.send_from_lan("hq", packet)
    assert wire.tun["branch"] == [packet]
    started = [e for e in events(hq) if isinstance(e, NegotiationStarted)]
    assert [e.peer for e in started] == ["198.51.100.2"]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 3))  # stays on the live peer
    assert len(wire.tun["branch"]) == 2 and not events(hq)


def test_peer_redundancy_cycles_back_to_the_first_peer() -> None:
    entry = (
        "crypto map M 10 match address VPN\ncrypto map M 10 set peer 192.0.2.98 192.0.2.99\n"
        "crypto map M 10 set ikev2 ipsec-proposal P\n"
    )
    extra = quiet_group(dict(HQ, peer="192.0.2.98")) + quiet_group(dict(HQ, peer="192.0.2.99"))
    wire = Wire({"hq": gateway(HQ, 1, extra, map=entry)})
    hq = wire.gateways["hq"]
    moves = []
    for seq in (1, 2):
        wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", seq))
        wire.advance(70, step=1)
        moves += [(e.failed, e.next_peer) for e in events(hq) if isinstance(e, PeerFailedOver)]
    assert moves == [("192.0.2.98", "192.0.2.99"), ("192.0.2.99", "192.0.2.98")]
    assert wire.lost == ["192.0.2.98"] * 6 + ["192.0.2.99"] * 6  # each tried, never in clear


_V6_WIRE = dual_stack_pair()
_V6_WIRE.send_from_lan("hq", icmp6_echo("2001:db8:1::5", "2001:db8:2::9", 1))


@settings(max_examples=150, deadline=None)
@given(
    st.binary(min_size=0, max_size=120),
    st.sampled_from([6, 17, 58, 0, 43, 44, 60, 59, 255]),
    st.integers(0, 300),
)
def test_random_ipv6_from_either_side_never_breaks_the_gateway(
    tail: bytes, next_header: int, plen: int
) -> None:
    """Bad IPv6 read from the TUN, or decrypted from the peer (D113): dropped with a reason
    or ignored, never an exception, never clear text on the wire."""
    wire = _V6_WIRE
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    src = bytes.fromhex("20010db8000100000000000000000005")
    dst = bytes.fromhex("20010db8000200000000000000000009")
    packet = bytes((0x60, 0, 0, 0)) + plen.to_bytes(2, "big") + bytes((next_header, 64))
    packet += src + dst + tail
    hq.receive_tun(packet, wire.now)
    outputs = hq.outputs()
    assert all(not isinstance(o, SendIpv4) or o.packet[9] in (50, 58, 1) for o in outputs)
    (installed,) = hq.installed.values()
    sealed = installed.sa.protect_packet(packet, 41, wire.now, os.urandom)
    if isinstance(sealed, bytes):  # into the branch as if the HQ had sent it
        branch.receive_esp("198.51.100.2", "203.0.113.1", sealed, wire.now)
        for out in branch.outputs():
            assert not isinstance(out, SendUdp) or out.local[1] in (500, 4500)
