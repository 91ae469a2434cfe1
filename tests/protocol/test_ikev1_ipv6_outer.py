"""IKEv1 between IPv6 gateway addresses ("IPv6 outer", D115): main mode, quick mode and
aggressive mode with pre-shared keys, and one engine serving an IPv4 and an IPv6 address.

Same configurations as ``test_ikev2_ipv6_outer.py`` (``ip address`` and ``ipv6 address`` on
outside, the other gateway's IPv6 address as peer and tunnel-group name). Timeline of main
mode between the IPv6 addresses (as in ``test_ikev1_main_mode.py``):

    [0] HQ [2001:db8:a::1]:500 --- MM1 SA ------------------------> [2001:db8:b::2]:500
    [1] HQ                     <-- MM2 SA ------------------------- branch
    [2] HQ                     --- MM3 KE Ni NAT-D(peer) NAT-D(us) -> branch
    [3] HQ                     <-- MM4 KE Nr NAT-D(peer) NAT-D(us) -- branch
    [4] HQ                     --- MM5 *{IDii(ID_IPV6_ADDR) HASH_I} -> branch
    [5] HQ                     <-- MM6 *{IDir(ID_IPV6_ADDR) HASH_R} -- branch

NAT-D = HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash, the IP in its 16 octets
(RFC 3947 §3.2); ID_IPV6_ADDR is RFC 2407 §4.6.2.1 type 5.
"""

from __future__ import annotations

import hashlib
import socket
from typing import Any

import pytest

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.protocol.test_ikev1_quick_mode import assert_same_child
from tests.protocol.test_ikev2_exchanges import quiet_group
from tests.protocol.test_ikev2_ipv6_outer import (
    BRANCH4_ADDR,
    BRANCH6,
    BRANCH6_ADDR,
    BRANCH_SIDE,
    HQ4_ADDR,
    HQ6,
    HQ6_ADDR,
    HQ_SIDE,
    THIRD6,
    THIRD6_ADDR,
    THIRD_SIDE,
    V6_INNER_BRANCH,
    V6_INNER_HQ,
    config_text,
)
from tests.unit.tools.test_analyze import BRANCH, HQ
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1 import decode_envelope, decode_message
from tunnelgate.ike.v1 import quick_mode as quick_mode_module
from tunnelgate.ike.v1.constants import ExchangeType, IdType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.events import ChildSaEstablished, Ikev1Event, Ikev1SaEstablished
from tunnelgate.ike.v1.identity import check_peer_identity, own_identity
from tunnelgate.ike.v1.message import Header, Message, encode_message
from tunnelgate.ike.v1.payloads import IdPayload, NatDPayload, Payload, VidPayload
from tunnelgate.ike.v1.state import MainModeState, Phase1Sa

AGGRESSIVE = {"map_extra": "crypto map M 10 set ikev1 phase1-mode aggressive\n"}


def engine(side: dict[str, str], seed: int, **over: str) -> Ikev1Engine:
    return Ikev1Engine(
        compile_config(load(config_text(side, **over))), "outside", SeededRandom(seed)
    )


def setup6(
    hq: dict[str, str] | None = None, branch: dict[str, str] | None = None
) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    """The pair, attached at their IPv6 addresses only (500 and 4500)."""
    h, b = engine(HQ_SIDE, 1, **(hq or {})), engine(BRANCH_SIDE, 2, **(branch or {}))
    network = FakeNetwork(FakeClock())
    network.attach(HQ6_ADDR, h, 4500)
    network.attach(BRANCH6_ADDR, b, 4500)
    return network, h, b


def start(network: FakeNetwork, initiator: Ikev1Engine, entry: int = 0) -> Phase1Sa:
    chosen = initiator.gateway.crypto_maps["outside"].entries[entry]
    assert chosen.acl is not None
    return initiator.initiate(chosen, chosen.acl.permits[0], network.clock.now)


def events(engine: Ikev1Engine) -> list[Ikev1Event]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def of_type(evs: list[Ikev1Event], kind: type[Any]) -> list[Any]:
    return [e for e in evs if isinstance(e, kind)]


def packed6(address: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, address)


def nat_d(cky_i: bytes, cky_r: bytes, ip: str, port: int) -> bytes:
    """RFC 3947 §3.2 from its definition with SHA-1 (``hash sha``): HASH(CKY-I | CKY-R | IP |
    Port), the address in network order (16 octets for IPv6, 4 for IPv4)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    packed = socket.inet_pton(family, ip)
    return hashlib.sha1(cky_i + cky_r + packed + port.to_bytes(2, "big")).digest()


def nat_d_of(data: bytes) -> tuple[bytes, bytes, list[bytes]]:
    message = decode_message(data)
    header = message.header
    hashes = [p.data for p in message.payloads if isinstance(p, NatDPayload)]
    return header.initiator_cookie, header.responder_cookie, hashes


# --------------------------------------------------------------------------- main mode


def test_main_and_quick_mode_between_two_ipv6_gateway_addresses() -> None:
    network, hq, branch = setup6()
    start(network, hq)
    network.run(max_seconds=5)
    hq_events, branch_events = events(hq), events(branch)
    (p1_h,), (p1_b,) = (
        of_type(hq_events, Ikev1SaEstablished),
        of_type(branch_events, Ikev1SaEstablished),
    )
    assert (p1_h.peer, p1_h.local_address) == (BRANCH6_ADDR, HQ6_ADDR)
    assert (p1_b.peer, p1_b.local_address) == (HQ6_ADDR, BRANCH6_ADDR)
    (h,), (b,) = of_type(hq_events, ChildSaEstablished), of_type(branch_events, ChildSaEstablished)
    assert_same_child(h, b)
    assert h.selector.describe() == "ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0"
    assert (h.peer, h.local_address) == (BRANCH6_ADDR, HQ6_ADDR)
    assert (b.peer, b.local_address) == (HQ6_ADDR, BRANCH6_ADDR)
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.state is MainModeState.MAIN_I4 and sa_b.state is MainModeState.MAIN_R3
    assert (sa_h.local_address, sa_b.local_address) == (HQ6_ADDR, BRANCH6_ADDR)
    assert not sa_h.nat_detected and not sa_b.nat_detected  # the 16-octet hashes agree
    assert {(s.source, s.destination) for s in network.log} == {
        (HQ6_ADDR, BRANCH6_ADDR),
        (BRANCH6_ADDR, HQ6_ADDR),
    }
    assert not hq.drops and not branch.drops


def test_ipv6_inner_selectors_over_the_ipv6_outer_pair() -> None:
    network, hq, branch = setup6(hq=V6_INNER_HQ, branch=V6_INNER_BRANCH)
    start(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = (
        of_type(events(hq), ChildSaEstablished),
        of_type(events(branch), ChildSaEstablished),
    )
    assert h.selector.describe() == "ip 2001:db8:1::/64 2001:db8:2::/64"
    assert b.selector == h.selector.mirrored()
    assert h.keys == b.keys and h.spi_in == b.spi_out
    assert (h.local_address, b.local_address) == (HQ6_ADDR, BRANCH6_ADDR)


def test_nat_d_payloads_hash_the_16_octet_addresses() -> None:
    network, hq, _branch = setup6()
    start(network, hq)
    network.run(max_seconds=5)
    mm3, mm4 = network.log[2].data, network.log[3].data
    # MM3 from HQ: the peer's (branch's) address first, then HQ's own (RFC 3947 §3.2)
    cky_i, cky_r, hashes = nat_d_of(mm3)
    assert hashes == [nat_d(cky_i, cky_r, BRANCH6, 500), nat_d(cky_i, cky_r, HQ6, 500)]
    _, _, hashes = nat_d_of(mm4)
    assert hashes == [nat_d(cky_i, cky_r, HQ6, 500), nat_d(cky_i, cky_r, BRANCH6, 500)]


def test_main_mode_identities_are_id_ipv6_addr(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, tuple[Payload, ...]]] = []
    real = Ikev1Engine._send_encrypted

    def spy(self: Ikev1Engine, sa: Phase1Sa, payloads: tuple[Payload, ...], now: float) -> None:
        sent.append((self.gateway.hostname, payloads))
        real(self, sa, payloads, now)

    monkeypatch.setattr(Ikev1Engine, "_send_encrypted", spy)
    network, hq, branch = setup6()
    start(network, hq)
    network.run(max_seconds=5)
    ids = {host: next(p for p in payloads if isinstance(p, IdPayload)) for host, payloads in sent}
    assert (ids["hq"].id_type, ids["hq"].data) == (IdType.ID_IPV6_ADDR, packed6(HQ6))
    assert (ids["branch"].id_type, ids["branch"].data) == (IdType.ID_IPV6_ADDR, packed6(BRANCH6))
    assert len(hq.sas) == len(branch.sas) == 1


def test_the_peer_identity_check_reads_ipv6_addresses() -> None:
    ours = own_identity("2001:db8:a::1")
    assert (ours.id_type, ours.data) == (IdType.ID_IPV6_ADDR, packed6(HQ6))
    assert own_identity("203.0.113.1").id_type == IdType.ID_IPV4_ADDR
    # the peer's ID_IPV6_ADDR against its address: the same address in any spelling passes
    assert check_peer_identity(ours, "2001:DB8:A:0::1", validate=True, behind_nat=False) == HQ6
    with pytest.raises(Phase1Error, match="is not the peer address 2001:db8:a::2"):
        check_peer_identity(ours, "2001:db8:a::2", validate=True, behind_nat=False)
    with pytest.raises(Phase1Error, match=r"is not the peer address 203\.0\.113\.1"):
        check_peer_identity(ours, "203.0.113.1", validate=True, behind_nat=False)
    assert check_peer_identity(ours, "2001:db8:a::2", validate=False, behind_nat=False) == HQ6
    short = IdPayload(IdType.ID_IPV6_ADDR, packed6(HQ6)[:15], 17, 500)
    with pytest.raises(Phase1Error, match="ID_IPV6_ADDR of 15 octets"):
        check_peer_identity(short, HQ6, validate=False, behind_nat=False)


def test_quick_mode_without_proxy_identities_uses_the_two_ipv6_ike_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an initiator that sends no IDci/IDcr (RFC 2409 §5.5): the traffic between the two IKE
    # addresses, which the responder takes from the SA's local (IPv6) address and the peer's.
    # HQ's own line is wider (to the branch's /64): had it gone out as IDs, the branch, whose
    # line is host to host, would have refused it.
    monkeypatch.setattr(quick_mode_module, "proxy_ids", lambda selector: ())
    hosts_hq = {"acl": f"access-list VPN extended permit ip host {HQ6} 2001:db8:b::/64\n"}
    hosts_branch = {"acl": f"access-list VPN extended permit ip host {BRANCH6} host {HQ6}\n"}
    network, hq, branch = setup6(hq=hosts_hq, branch=hosts_branch)
    start(network, hq)
    network.run(max_seconds=5)
    (b,) = of_type(events(branch), ChildSaEstablished)
    assert b.selector.describe() == f"ip host {BRANCH6} host {HQ6}"
    assert len(of_type(events(hq), ChildSaEstablished)) == 1
    assert not branch.drops


# --------------------------------------------------------------------------- aggressive mode


def test_aggressive_mode_between_two_ipv6_gateway_addresses() -> None:
    network, hq, branch = setup6(hq=AGGRESSIVE)
    start(network, hq)
    network.run(max_seconds=5)
    hq_events, branch_events = events(hq), events(branch)
    assert len(of_type(hq_events, Ikev1SaEstablished)) == 1
    (p1_b,) = of_type(branch_events, Ikev1SaEstablished)
    assert p1_b.local_address == BRANCH6_ADDR
    (h,), (b,) = of_type(hq_events, ChildSaEstablished), of_type(branch_events, ChildSaEstablished)
    assert_same_child(h, b)
    # AM1 and AM2 carry the identities in the clear: ID_IPV6_ADDR of each side's address
    am = [decode_message(s.data) for s in network.log[:2]]
    assert all(m.header.exchange_type == ExchangeType.AGGRESSIVE for m in am)
    idii, idir = (next(p for p in m.payloads if isinstance(p, IdPayload)) for m in am)
    assert (idii.id_type, idii.data) == (IdType.ID_IPV6_ADDR, packed6(HQ6))
    assert (idir.id_type, idir.data) == (IdType.ID_IPV6_ADDR, packed6(BRANCH6))
    # AM2's NAT-D: HQ's address (the peer of the branch) first, then the branch's own
    cky_i, cky_r, hashes = nat_d_of(network.log[1].data)
    assert hashes == [nat_d(cky_i, cky_r, HQ6, 500), nat_d(cky_i, cky_r, BRANCH6, 500)]
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert not sa_h.nat_detected and not sa_b.nat_detected
    assert not hq.drops and not branch.drops


# --------------------------------------------------------------------------- fragmentation


def test_phase_1_fragments_over_ipv6_fit_1280_octets() -> None:
    network, hq, _branch = setup6()
    start(network, hq)
    network.run(max_seconds=5)
    (sa,) = hq.sas.values()
    assert sa.key in hq.fragmenting  # the branch announced IKEv1 fragmentation
    big = encode_message(
        Message(
            Header(sa.cookie_i, sa.cookie_r, ExchangeType.MAIN_MODE), (VidPayload(bytes(3000)),)
        )
    )
    hq._emit(sa, big)
    out = hq.datagrams_to_send_from(network.clock.now)
    assert {(peer, local) for _, peer, local in out} == {(BRANCH6_ADDR, HQ6_ADDR)}
    sizes = [len(data) for data, _, _ in out]
    assert len(sizes) == 3 and all(size + 40 + 8 <= 1280 for size in sizes)
    assert max(sizes) > 576 - 28  # not the IPv4 default
    assert all(decode_envelope(data).first_payload == 132 for data, _, _ in out)


# --------------------------------------------------------------------------- dual stack


def dual_stack_hq() -> Ikev1Engine:
    v4_peer, v6_peer = BRANCH["outside"], THIRD6
    over = {
        "acl": "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0\n"
        "access-list VPN6 extended permit ip 10.1.0.0 255.255.0.0 10.3.0.0 255.255.0.0\n",
        "map": "".join(
            f"crypto map M {seq} match address {acl}\ncrypto map M {seq} set peer {peer}\n"
            f"crypto map M {seq} set ikev1 transform-set TS\n"
            f"crypto map M {seq} set ikev2 ipsec-proposal P\n"
            for seq, acl, peer in ((10, "VPN", v4_peer), (20, "VPN6", v6_peer))
        ),
        "group": quiet_group({"peer": v4_peer}) + quiet_group({"peer": v6_peer}),
    }
    return engine({**HQ, "outside6": HQ6}, 1, **over)


def test_one_engine_talks_to_an_ipv4_and_an_ipv6_peer_from_the_matching_addresses() -> None:
    hq, branch, third = dual_stack_hq(), engine(BRANCH, 2), engine(THIRD_SIDE, 3)
    network = FakeNetwork(FakeClock())
    network.attach(HQ4_ADDR, hq, 4500)
    network.attach(HQ6_ADDR, hq, 4500)
    network.attach(BRANCH4_ADDR, branch, 4500)
    network.attach(THIRD6_ADDR, third, 4500)
    start(network, hq, 0)
    start(network, hq, 1)
    now = network.clock.now
    sent = hq.datagrams_to_send_from(now)
    assert [(peer, local) for _, peer, local in sent] == [
        (BRANCH4_ADDR, HQ4_ADDR),
        (THIRD6_ADDR, HQ6_ADDR),
    ]
    (to_branch, _, _), (to_third, _, _) = sent
    branch.receive_datagram(to_branch, HQ4_ADDR, now, local=BRANCH4_ADDR)
    third.receive_datagram(to_third, HQ6_ADDR, now, local=THIRD6_ADDR)
    network.run(max_seconds=5)
    hq_events = events(hq)
    children = of_type(hq_events, ChildSaEstablished)
    assert sorted((c.peer, c.local_address) for c in children) == [
        (BRANCH4_ADDR, HQ4_ADDR),
        (THIRD6_ADDR, HQ6_ADDR),
    ]
    by_peer = {sa.peer: sa for sa in hq.sas.values()}
    assert by_peer[BRANCH4_ADDR].local_address == HQ4_ADDR
    assert by_peer[THIRD6_ADDR].local_address == HQ6_ADDR
    (b,) = of_type(events(branch), ChildSaEstablished)
    (t,) = of_type(events(third), ChildSaEstablished)
    assert b.local_address == BRANCH4_ADDR and t.local_address == THIRD6_ADDR
    # the MM3 of each: NAT-D over the local address of the conversation's family
    checked = 0
    for s in [s for s in network.log if s.source in (HQ4_ADDR, HQ6_ADDR)]:
        message = (
            decode_message(s.data) if not decode_envelope(s.data).header.is_encrypted else None
        )
        if message is None or not any(isinstance(p, NatDPayload) for p in message.payloads):
            continue
        cky_i, cky_r, hashes = nat_d_of(s.data)
        assert hashes[1] == nat_d(cky_i, cky_r, s.source[0], 500)
        checked += 1
    assert checked == 2  # the two MM3s
    for s in network.log:
        assert (":" in s.source[0]) == (":" in s.destination[0]), s
    assert not hq.drops and not branch.drops and not third.drops


def test_a_responder_answers_from_the_address_main_mode_arrived_on() -> None:
    hq, third = dual_stack_hq(), engine(THIRD_SIDE, 3)
    network = FakeNetwork(FakeClock())
    network.attach(HQ4_ADDR, hq, 4500)
    network.attach(HQ6_ADDR, hq, 4500)
    network.attach(THIRD6_ADDR, third, 4500)
    start(network, third)
    network.run(max_seconds=5)
    (p1,) = of_type(events(hq), Ikev1SaEstablished)
    assert (p1.peer, p1.local_address, p1.initiator) == (THIRD6_ADDR, HQ6_ADDR, False)
    assert {s.source for s in network.log if s.destination == THIRD6_ADDR} == {HQ6_ADDR}


def test_an_ipv6_peer_without_a_local_ipv6_address_cannot_be_initiated() -> None:
    policy = compile_config(load(config_text(HQ_SIDE)))
    hq = Ikev1Engine(policy, "outside", SeededRandom(1), addresses=(HQ["outside"],))
    with pytest.raises(ValueError, match="no local IPv6 address"):
        start(FakeNetwork(FakeClock()), hq)
    assert not hq.sas


def test_a_datagram_on_another_local_address_than_the_sas_is_dropped() -> None:
    network, hq, branch = setup6()
    start(network, hq)
    network.run(max_seconds=5)
    (sa_b,) = branch.sas.values()
    # a second IPv6 address on the branch's engine: the SA keeps the one it uses
    extra = Ikev1Engine(
        branch.gateway, "outside", SeededRandom(5), addresses=(BRANCH6, "2001:db8:b::99")
    )
    extra.sas = dict(branch.sas)
    mm1 = network.log[0].data
    extra.receive_datagram(mm1, HQ6_ADDR, network.clock.now, local=("2001:db8:b::99", 500))
    assert extra.drops["unexpected-local-address"] == 1
    assert sa_b.local_address == BRANCH6_ADDR and not extra.datagrams_to_send(network.clock.now)
