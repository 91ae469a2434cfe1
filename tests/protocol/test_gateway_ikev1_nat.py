"""IKEv1 through a NAT between two whole gateways (RFC 3947): NAT-D shows the NAT, the
initiator floats to UDP 4500 from MM5 on, the responder follows, quick mode negotiates the
UDP-encapsulated tunnel mode and ESP travels in UDP 4500 (RFC 3948).

The branch (198.51.100.2) sits behind a NAT that maps it to 192.0.2.200: its port 500 to
31000, its port 4500 to 31001 (``Wire.nat``); the HQ knows the branch by its public address.

    branch --- MM1..MM4 (500 -> 500, seen from 192.0.2.200:31000) ---> HQ: NAT-D differ
    branch --- MM5 (4500 -> 4500, marker, seen from :31001) ---------> HQ: moves the SA there
    branch <-- MM6, quick mode, informational (4500, marker) --------- HQ
    ESP both ways in UDP 4500 (HQ sends to 192.0.2.200:31001)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.protocol.test_gateway_ikev1 import v1_map
from tests.protocol.test_gateway_pair import BRANCH, HQ, Wire, events, gateway, icmp_echo
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import ChildSaInstalled, SendUdp
from tunnelgate.ike.v1 import decode_envelope, main_mode, quick_mode
from tunnelgate.ike.v1.constants import ExchangeType, PayloadType
from tunnelgate.ike.v1.events import PeerUnreachable
from tunnelgate.ike.v1.message import decode_payloads
from tunnelgate.ike.v1.nat_traversal import DRAFT_VIDS
from tunnelgate.ike.v1.payloads import NatDPayload
from tunnelgate.ike.v1.proposals import SaPayload
from tunnelgate.ike.v1.sa_constants import EncapsulationMode, IpsecAttributeType

PUBLIC = "192.0.2.200"  # the branch's address outside its NAT
MAPPED_500, MAPPED_4500 = 31000, 31001
NON_ESP_MARKER = bytes(4)


class Tap(Wire):
    """The NAT'd wire, recording every UDP datagram as (sender, local, remote, data)."""

    udp: list[tuple[str, tuple[str, int], tuple[str, int], bytes]]

    def deliver(self, sender: str, out: object) -> None:
        if isinstance(out, SendUdp):
            self.udp.append((sender, out.local, out.remote, out.data))
        super().deliver(sender, out)

    def ike(self, sender: str) -> list[tuple[int, int, ExchangeType]]:
        """(our port, peer port, exchange) of the IKEv1 messages ``sender`` sent."""
        out = []
        for who, local, remote, data in self.udp:
            if who != sender:
                continue
            if local[1] == 4500:
                if not data.startswith(NON_ESP_MARKER):
                    continue  # ESP in UDP
                data = data[4:]
            if len(data) > 17 and data[17] >> 4 == 1:
                out.append((local[1], remote[1], decode_envelope(data).header.exchange_type))
        return out


def nat_pair(extra: str = "", *, keepalive: bool = False) -> Tap:
    def config(peer: str) -> str:
        if not keepalive:
            return ""
        dpd = "isakmp keepalive threshold 10 retry 2"
        return f"tunnel-group {peer} type ipsec-l2l\ntunnel-group {peer} ipsec-attributes\n {dpd}\n"

    hq_side = dict(HQ, peer=PUBLIC)
    hq = gateway(hq_side, 1, config(PUBLIC), map=v1_map(hq_side, extra))
    branch = gateway(BRANCH, 2, config(HQ["outside"]), map=v1_map(BRANCH, extra))
    wire = Tap({"hq": hq, "branch": branch})
    wire.udp = []
    wire.nat = {BRANCH["outside"]: (PUBLIC, MAPPED_500)}
    return wire


def installed(gw: Gateway) -> list[ChildSaInstalled]:
    return [e for e in events(gw) if isinstance(e, ChildSaInstalled)]


def test_main_mode_floats_to_4500_and_esp_goes_in_udp_both_ways() -> None:
    wire = nat_pair()
    packet = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", packet)  # the branch (behind the NAT) initiates
    wire.advance(0.5)  # the initiator holds its first packets until QM3 is processed (D87)
    assert wire.tun.get("hq") == [packet]
    reply = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", reply)
    assert wire.tun.get("branch") == [reply]
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    # MM1-MM4 on 500, then everything on 4500 with the marker (RFC 3947 §4)
    mm = ExchangeType.MAIN_MODE
    assert [p for p in wire.ike("branch") if p[2] == mm] == [(500, 500, mm)] * 2 + [
        (4500, 4500, mm)
    ]
    assert [p for p in wire.ike("hq") if p[2] == mm] == [(500, MAPPED_500, mm)] * 2 + [
        (4500, MAPPED_4500, mm)
    ]
    later = [p for p in wire.ike("branch") + wire.ike("hq") if p[2] != mm]
    assert later and all(p[0] == 4500 for p in later)
    (sa_h,), (sa_b,) = (
        hq.engines_v1["outside"].sas.values(),
        branch.engines_v1["outside"].sas.values(),
    )
    assert sa_h.nat_detected and sa_b.nat_detected and not sa_h.nat_t_draft
    assert sa_h.peer == (PUBLIC, MAPPED_4500) and sa_b.peer == (HQ["outside"], 4500)
    # the IPsec SAs are UDP-encapsulated, towards the peer's (mapped) 4500
    (on_hq,), (on_branch,) = installed(hq), installed(branch)
    assert on_hq.udp_encapsulation and on_hq.peer == (PUBLIC, MAPPED_4500)
    assert on_branch.udp_encapsulation and on_branch.peer == (HQ["outside"], 4500)
    esp = [u for u in wire.udp if u[1][1] == 4500 and not u[3].startswith(NON_ESP_MARKER)]
    assert {u[0] for u in esp} == {"hq", "branch"}
    assert wire.outer == []  # nothing as native ESP
    assert hq.engines_v1["outside"].drops == {} and branch.engines_v1["outside"].drops == {}
    assert hq.drops == {} and branch.drops == {}


def test_the_responder_behind_the_nat_starts_quick_mode_to_the_mapped_port() -> None:
    wire = nat_pair()
    wire.send_from_lan("branch", icmp_echo("10.2.0.9", "10.1.0.5", 1))
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    (spi,) = hq.installed
    assert hq.tear_down(spi, "clear crypto ipsec sa", wire.now)  # the delete goes via 4500
    wire.flush()
    assert hq.installed == {} and branch.installed == {}
    events(hq), events(branch)
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    wire.send_from_lan("hq", packet)  # the HQ asks: quick mode on the floated ISAKMP SA
    wire.advance(0.5)
    assert wire.tun.get("branch") == [packet]
    (on_hq,) = installed(hq)
    assert on_hq.udp_encapsulation and on_hq.peer == (PUBLIC, MAPPED_4500)
    qm = [p for p in wire.ike("hq") if p[2] == ExchangeType.QUICK_MODE]
    assert qm and all(p[:2] == (4500, MAPPED_4500) for p in qm)
    assert hq.engines_v1["outside"].drops == {} and branch.engines_v1["outside"].drops == {}


def test_rekey_and_dpd_keep_working_on_4500() -> None:
    wire = nat_pair(
        "crypto map M 10 set security-association lifetime seconds 120\n", keepalive=True
    )
    sent = []
    for seq in range(1, 401):  # 200 s: rekeys by seconds; DPD while IKE is quiet
        packet = icmp_echo("10.2.0.9", "10.1.0.5", seq)
        sent.append(packet)
        wire.send_from_lan("branch", packet)
        wire.advance(0.5)
    assert wire.tun["hq"] == sent
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    seen = events(hq)
    rekeys = [e for e in seen if isinstance(e, ChildSaInstalled) and e.rekey_of]
    assert len(rekeys) >= 1 and all(e.udp_encapsulation for e in rekeys)
    assert not [e for e in seen if isinstance(e, PeerUnreachable)]
    informational = [p for p in wire.ike("hq") if p[2] == ExchangeType.INFORMATIONAL]
    assert len(informational) >= 2 and all(p[:2] == (4500, MAPPED_4500) for p in informational)
    assert wire.outer == []  # never native ESP
    for gw in (hq, branch):  # both ends delete an expired SA: the second Delete finds none
        assert set(gw.engines_v1["outside"].drops) <= {"delete-unknown-spi"}
        assert gw.drops == {}


def test_a_datagram_from_another_port_that_does_not_authenticate_moves_nothing() -> None:
    wire = nat_pair()
    wire.send_from_lan("branch", icmp_echo("10.2.0.9", "10.1.0.5", 1))
    hq = wire.gateways["hq"]
    engine = hq.engines_v1["outside"]
    (sa,) = engine.sas.values()
    # a forged quick mode with the right cookies from another port of the NAT's address
    header = bytes(sa.cookie_i + sa.cookie_r) + bytes([8, 0x10, 32, 1]) + (7).to_bytes(4, "big")
    forged = header + (28 + 32).to_bytes(4, "big") + bytes(32)
    engine.receive_datagram(forged, (PUBLIC, 40000), wire.now)
    assert sa.peer == (PUBLIC, MAPPED_4500)
    assert engine.datagrams_to_send(wire.now) == []
    # from an address that is not the peer's: not even looked at
    engine.receive_datagram(forged, ("192.0.2.99", 4500), wire.now)
    assert engine.drops["unknown-cookie"] == 1


def test_without_a_nat_nothing_floats() -> None:
    from tests.protocol.test_gateway_ikev1 import pair

    wire = pair()
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    wire.advance(0.5)
    (sa,) = wire.gateways["hq"].engines_v1["outside"].sas.values()
    assert not sa.nat_detected and sa.peer == (BRANCH["outside"], 500)
    (event,) = installed(wire.gateways["hq"])
    assert not event.udp_encapsulation and event.peer[1] == 0
    assert len(wire.outer) >= 1  # native ESP


def test_a_draft_only_peer_gets_the_draft_dialect(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that announces only draft-ietf-ipsec-nat-t-ike-02\\n: the answer carries a draft
    vendor ID, NAT-D goes as payload type 130 and quick mode offers mode 61443."""
    monkeypatch.setattr(main_mode, "RFC_3947_VID", DRAFT_VIDS[1])  # MM1 of a draft peer
    offers: list[SaPayload] = []
    real: Callable[..., SaPayload] = quick_mode.esp_offer

    def recording(*args: object, **kwargs: object) -> SaPayload:
        offers.append(real(*args, **kwargs))
        return offers[-1]

    monkeypatch.setattr(quick_mode, "esp_offer", recording)
    wire = nat_pair()
    packet = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", packet)
    wire.advance(0.5)
    assert wire.tun.get("hq") == [packet]
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    (sa_h,), (sa_b,) = (
        hq.engines_v1["outside"].sas.values(),
        branch.engines_v1["outside"].sas.values(),
    )
    assert sa_h.nat_t_draft and sa_b.nat_t_draft and sa_h.nat_detected
    (offer,) = offers
    mode = offer.proposals[0].transforms[0].attribute(IpsecAttributeType.ENCAPSULATION_MODE)
    assert mode == EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT
    (on_hq,) = installed(hq)
    assert on_hq.udp_encapsulation and on_hq.peer == (PUBLIC, MAPPED_4500)
    nat_d = set()
    for _, _, _, data in wire.udp:
        if data.startswith(NON_ESP_MARKER) or data[17] >> 4 != 1:
            continue
        envelope = decode_envelope(data)
        if envelope.header.exchange_type == ExchangeType.MAIN_MODE and envelope.first_payload == 4:
            payloads = decode_payloads(envelope.first_payload, envelope.body)
            nat_d |= {int(p.payload_type) for p in payloads if isinstance(p, NatDPayload)}
    assert nat_d == {PayloadType.NAT_D_DRAFT}  # MM3 and MM4
    assert hq.engines_v1["outside"].drops == {} and branch.engines_v1["outside"].drops == {}
