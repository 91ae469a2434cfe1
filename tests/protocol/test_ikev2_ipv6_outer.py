"""IKEv2 between IPv6 gateway addresses ("IPv6 outer", D115), and one engine serving an IPv4
and an IPv6 address at once.

Each gateway's ``outside`` interface has ``ip address`` and ``ipv6 address``; the engine
serves both (``Ikev2Engine.addresses``) and each IKE SA keeps the one it uses
(``IkeSa.local_address``). Timeline of the IPv6 pair (HQ initiates, as in
``test_ikev2_exchanges.py``):

    HQ 2001:db8:a::1 --- IKE_SA_INIT SA KE Ni N(NAT_D src) N(NAT_D dst) --> 2001:db8:b::2
    HQ               <-- IKE_SA_INIT SA KE Nr N(NAT_D src) N(NAT_D dst) --- branch
    HQ               --- IKE_AUTH SK{IDi(ID_IPV6_ADDR) AUTH SAi2 TSi TSr} -> branch
    HQ               <-- IKE_AUTH SK{IDr(ID_IPV6_ADDR) AUTH SAr2 TSi TSr} -- branch

NAT_DETECTION_*_IP = SHA-1(SPIi | SPIr | IP | Port), the IP in its 16 octets (RFC 7296 §2.23).
Fragments over IPv6 fit 1280 octets less 40 + 8 of IPv6 and UDP headers (RFC 7383, D57).
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import replace

import pytest

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.protocol.test_ikev2_exchanges import child_of, events, quiet_group
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v2 import decode_message
from tunnelgate.ike.v2.constants import ExchangeType, IdType, NotifyType
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import ChildSaEstablished, IkeSaEstablished
from tunnelgate.ike.v2.payloads import IdiPayload, IdrPayload, NotifyPayload
from tunnelgate.ike.v2.protection import unseal
from tunnelgate.ike.v2.state import Pending
from tunnelgate.policy.address import ipv6_int

HQ6, BRANCH6, THIRD6 = "2001:db8:a::1", "2001:db8:b::2", "2001:db8:c::3"
HQ6_ADDR, BRANCH6_ADDR, THIRD6_ADDR = (HQ6, 500), (BRANCH6, 500), (THIRD6, 500)
HQ4_ADDR, BRANCH4_ADDR = (HQ["outside"], 500), (BRANCH["outside"], 500)

# the usual pair, each with an IPv6 address on outside and the other's IPv6 address as peer
HQ_SIDE = {**HQ, "peer": BRANCH6, "outside6": HQ6}
BRANCH_SIDE = {**BRANCH, "peer": HQ6, "outside6": BRANCH6}
# a third gateway, reached over IPv6 only, with its own LAN
THIRD_SIDE = {
    "hostname": "third",
    "outside": "192.0.2.3",
    "outside6": THIRD6,
    "lan": "10.3.0.0 255.255.0.0",
    "peer": HQ6,
    "remote_lan": "10.1.0.0 255.255.0.0",
}
V6_INNER_HQ = {"acl": "access-list VPN extended permit ip 2001:db8:1::/64 2001:db8:2::/64\n"}
V6_INNER_BRANCH = {"acl": "access-list VPN extended permit ip 2001:db8:2::/64 2001:db8:1::/64\n"}


def config_text(side: dict[str, str], **over: str) -> str:
    """``gateway_text`` with ``ipv6 address {outside6}/64`` on outside when the side has one;
    the tunnel group is the quiet one of ``test_ikev2_exchanges`` unless overridden."""
    text = gateway_text(side, **{"group": quiet_group(side), **over})
    line = f" ip address {side['outside']} 255.255.255.0\n"
    assert line in text
    if "outside6" in side:
        text = text.replace(line, f"{line} ipv6 address {side['outside6']}/64\n")
    return text


def engine(side: dict[str, str], seed: int, **over: str) -> Ikev2Engine:
    return Ikev2Engine(
        compile_config(load(config_text(side, **over))), "outside", SeededRandom(seed)
    )


def setup6(
    hq: dict[str, str] | None = None, branch: dict[str, str] | None = None
) -> tuple[FakeNetwork, Ikev2Engine, Ikev2Engine]:
    """The pair, attached at their IPv6 addresses only (500 and 4500)."""
    h, b = engine(HQ_SIDE, 1, **(hq or {})), engine(BRANCH_SIDE, 2, **(branch or {}))
    network = FakeNetwork(FakeClock())
    network.attach(HQ6_ADDR, h, 4500)
    network.attach(BRANCH6_ADDR, b, 4500)
    return network, h, b


def start(network: FakeNetwork, initiator: Ikev2Engine, entry: int = 0) -> None:
    chosen = initiator.gateway.crypto_maps["outside"].entries[entry]
    assert chosen.acl is not None
    initiator.initiate(chosen, chosen.acl.permits[0], network.clock.now)


def nat_d(spi_i: bytes, spi_r: bytes, ip: str, port: int) -> bytes:
    """RFC 7296 §2.23 from its definition: SHA-1(SPIi | SPIr | IP | Port), the address in
    network order (16 octets for IPv6, 4 for IPv4)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    packed = socket.inet_pton(family, ip)
    return hashlib.sha1(spi_i + spi_r + packed + port.to_bytes(2, "big")).digest()


def notify_data(data: bytes, kind: NotifyType) -> list[bytes]:
    message = decode_message(data)
    return [n.data for n in message.find_all(NotifyPayload) if n.notify_type == kind]


# --------------------------------------------------------------------------- the IPv6 pair


def test_ike_sa_and_child_sa_between_two_ipv6_gateway_addresses() -> None:
    network, hq, branch = setup6()
    assert hq.address == HQ4_ADDR  # the primary address stays the IPv4 one
    assert hq.addresses == (HQ4_ADDR, HQ6_ADDR)
    start(network, hq)
    network.run()
    hq_events, branch_events = events(hq), events(branch)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in branch_events] == [IkeSaEstablished, ChildSaEstablished]
    ike_h, child_h = hq_events
    ike_b, child_b = branch_events
    assert isinstance(ike_h, IkeSaEstablished) and isinstance(ike_b, IkeSaEstablished)
    assert (ike_h.peer, ike_h.local_address) == (BRANCH6_ADDR, HQ6_ADDR)
    assert (ike_b.peer, ike_b.local_address) == (HQ6_ADDR, BRANCH6_ADDR)
    assert isinstance(child_h, ChildSaEstablished) and isinstance(child_b, ChildSaEstablished)
    assert (child_h.peer, child_h.local_address) == (BRANCH6_ADDR, HQ6_ADDR)
    assert (child_b.peer, child_b.local_address) == (HQ6_ADDR, BRANCH6_ADDR)
    assert child_h.keys == child_b.keys and child_h.spi_in == child_b.spi_out
    assert child_h.selector.describe() == "ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0"
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert (sa_h.local_address, sa_h.peer) == (HQ6_ADDR, BRANCH6_ADDR)
    assert (sa_b.local_address, sa_b.peer) == (BRANCH6_ADDR, HQ6_ADDR)
    assert not sa_h.nat_detected and not sa_b.nat_detected  # the 16-octet hashes agree
    assert [(s.source, s.destination) for s in network.log] == [
        (HQ6_ADDR, BRANCH6_ADDR),
        (BRANCH6_ADDR, HQ6_ADDR),
    ] * 2
    assert not hq.drops and not branch.drops


def test_ipv6_inner_selectors_over_the_ipv6_outer_pair() -> None:
    network, hq, branch = setup6(hq=V6_INNER_HQ, branch=V6_INNER_BRANCH)
    start(network, hq)
    network.run()
    child_h, child_b = child_of(events(hq)), child_of(events(branch))
    assert child_h.selector.describe() == "ip 2001:db8:1::/64 2001:db8:2::/64"
    assert child_b.selector == child_h.selector.mirrored()
    assert child_h.local_address == HQ6_ADDR and child_b.local_address == BRANCH6_ADDR


def test_nat_detection_hashes_cover_the_16_octet_addresses() -> None:
    network, hq, _branch = setup6()
    start(network, hq)
    network.run()
    request, response = network.log[0].data, network.log[1].data
    spi_i, spi_r = decode_message(response).header.spi_i, decode_message(response).header.spi_r
    # the request: SPIr is still zero; source = HQ's IPv6 address, destination = branch's
    assert notify_data(request, NotifyType.NAT_DETECTION_SOURCE_IP) == [
        nat_d(spi_i, bytes(8), HQ6, 500)
    ]
    assert notify_data(request, NotifyType.NAT_DETECTION_DESTINATION_IP) == [
        nat_d(spi_i, bytes(8), BRANCH6, 500)
    ]
    # the response: both SPIs; source = branch, destination = HQ
    assert notify_data(response, NotifyType.NAT_DETECTION_SOURCE_IP) == [
        nat_d(spi_i, spi_r, BRANCH6, 500)
    ]
    assert notify_data(response, NotifyType.NAT_DETECTION_DESTINATION_IP) == [
        nat_d(spi_i, spi_r, HQ6, 500)
    ]
    # not the hash of the IPv4 address the engine also has
    assert nat_d(spi_i, bytes(8), HQ["outside"], 500) not in notify_data(
        request, NotifyType.NAT_DETECTION_SOURCE_IP
    )


def test_the_identity_is_id_ipv6_addr_of_the_local_address() -> None:
    network, hq, branch = setup6()
    start(network, hq)
    network.run()
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    auth_request, auth_response = network.log[2].data, network.log[3].data
    inner = unseal(auth_request, decode_message(auth_request), branch._protection(sa_b, False))
    idi = next(p for p in inner if isinstance(p, IdiPayload))
    assert (idi.id_type, idi.data) == (IdType.ID_IPV6_ADDR, socket.inet_pton(socket.AF_INET6, HQ6))
    inner = unseal(auth_response, decode_message(auth_response), hq._protection(sa_h, False))
    idr = next(p for p in inner if isinstance(p, IdrPayload))
    assert (idr.id_type, idr.data) == (
        IdType.ID_IPV6_ADDR,
        socket.inet_pton(socket.AF_INET6, BRANCH6),
    )


def test_an_ipv6_only_engine_from_the_addresses_parameter() -> None:
    policy = compile_config(load(config_text(HQ_SIDE)))
    hq = Ikev2Engine(policy, "outside", SeededRandom(1), addresses=("2001:DB8:A:0::1",))
    assert hq.address == hq.addresses[0] == HQ6_ADDR  # RFC 5952 text; no IPv4: IPv6 primary
    branch = engine(BRANCH_SIDE, 2)
    network = FakeNetwork(FakeClock())
    network.attach(HQ6_ADDR, hq)
    network.attach(BRANCH6_ADDR, branch)
    start(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]


def test_an_ipv6_peer_without_a_local_ipv6_address_cannot_be_initiated() -> None:
    policy = compile_config(load(config_text(HQ_SIDE)))
    hq = Ikev2Engine(policy, "outside", SeededRandom(1), addresses=(HQ["outside"],))
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    with pytest.raises(ValueError, match="no local IPv6 address for peer 2001:db8:b::2"):
        hq.initiate(entry, entry.acl.permits[0], 0.0)
    assert not hq.sas and not hq.datagrams_to_send(0.0)


def test_the_interface_ipv6_address_is_served_by_default() -> None:
    policy = compile_config(load(config_text(HQ_SIDE)))
    assert policy.interfaces["outside"].address6 == ipv6_int(HQ6)
    assert Ikev2Engine(policy, "outside", SeededRandom(1)).addresses == (HQ4_ADDR, HQ6_ADDR)
    without = replace(policy, interfaces={**policy.interfaces})
    without.interfaces["outside"] = replace(policy.interfaces["outside"], address6=None)
    assert Ikev2Engine(without, "outside", SeededRandom(1)).addresses == (HQ4_ADDR,)


def test_datagrams_on_an_address_that_is_not_ours_or_of_the_other_family_are_dropped() -> None:
    network, hq, branch = setup6()
    start(network, hq)
    ((request, peer, local),) = hq.datagrams_to_send_from(network.clock.now)
    assert (peer, local) == (BRANCH6_ADDR, HQ6_ADDR)
    branch.receive_datagram(request, HQ6_ADDR, network.clock.now, local=("2001:db8:b::99", 500))
    branch.receive_datagram(request, HQ6_ADDR, network.clock.now, local=BRANCH4_ADDR)
    assert branch.drops["not-a-local-address"] == 2 and not branch.sas
    # non-RFC 5952 text of our own address and of the peer's is the same address
    branch.receive_datagram(
        request, ("2001:DB8:A::0:1", 500), network.clock.now, local="2001:db8:b:0::2"
    )
    ((_, answered_peer, answered_from),) = branch.datagrams_to_send_from(network.clock.now)
    assert (answered_peer, answered_from) == (HQ6_ADDR, BRANCH6_ADDR)


# --------------------------------------------------------------------------- fragmentation


def test_fragments_over_ipv6_fit_1280_octets() -> None:
    network, hq, branch = setup6()
    start(network, hq)
    network.run()
    events(hq), events(branch)
    (sa,) = hq.sas.values()
    assert sa.fragmentation
    sent = len(network.log)
    big = [NotifyPayload(40000, bytes(3000))]  # a status type the peer ignores
    hq._request(sa, Pending("liveness"), ExchangeType.INFORMATIONAL, big, network.clock.now)
    network.run()
    fragments = [s for s in network.log[sent:] if s.source == HQ6_ADDR]
    assert len(fragments) == 3 and sa.pending is None  # reassembled and answered
    sizes = [len(s.data) for s in fragments]
    assert all(size + 40 + 8 <= 1280 for size in sizes)  # IPv6 + UDP headers within 1280
    assert max(sizes) > 576 - 28  # not the IPv4 default
    assert not branch.drops.keys() - {"fragment-held"}


def test_the_configured_fragmentation_mtu_counts_the_ipv6_header() -> None:
    mtu = {"extra": "crypto ikev2 fragmentation mtu 600\n"}
    network, hq, _branch = setup6(hq=mtu, branch=mtu)
    start(network, hq)
    network.run()
    (sa,) = hq.sas.values()
    sent = len(network.log)
    big = [NotifyPayload(40000, bytes(1500))]
    hq._request(sa, Pending("liveness"), ExchangeType.INFORMATIONAL, big, network.clock.now)
    network.run()
    fragments = [s for s in network.log[sent:] if s.source == HQ6_ADDR]
    assert len(fragments) > 2 and sa.pending is None
    sizes = [len(s.data) for s in fragments]
    assert all(size + 48 <= 600 for size in sizes) and max(sizes) > 600 - 48 - 20


# --------------------------------------------------------------------------- dual stack


def dual_stack_hq() -> Ikev2Engine:
    """HQ with an IPv4 and an IPv6 address: entry 10 towards the IPv4 branch, entry 20
    towards the third gateway's IPv6 address."""
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


def dual_stack_network() -> tuple[FakeNetwork, Ikev2Engine, Ikev2Engine, Ikev2Engine]:
    hq, branch, third = dual_stack_hq(), engine(BRANCH, 2), engine(THIRD_SIDE, 3)
    network = FakeNetwork(FakeClock())
    network.attach(HQ4_ADDR, hq, 4500)
    network.attach(HQ6_ADDR, hq, 4500)
    network.attach(BRANCH4_ADDR, branch, 4500)
    network.attach(THIRD6_ADDR, third, 4500)
    return network, hq, branch, third


def test_one_engine_talks_to_an_ipv4_and_an_ipv6_peer_from_the_matching_addresses() -> None:
    network, hq, branch, third = dual_stack_network()
    start(network, hq, 0)
    start(network, hq, 1)
    now = network.clock.now
    sent = hq.datagrams_to_send_from(now)
    assert [(peer, local) for _, peer, local in sent] == [
        (BRANCH4_ADDR, HQ4_ADDR),
        (THIRD6_ADDR, HQ6_ADDR),
    ]
    # NAT-D of each request is over the local address of its family
    (to_branch, _, _), (to_third, _, _) = sent
    spi_4, spi_6 = decode_message(to_branch).header.spi_i, decode_message(to_third).header.spi_i
    assert notify_data(to_branch, NotifyType.NAT_DETECTION_SOURCE_IP) == [
        nat_d(spi_4, bytes(8), HQ["outside"], 500)
    ]
    assert notify_data(to_third, NotifyType.NAT_DETECTION_SOURCE_IP) == [
        nat_d(spi_6, bytes(8), HQ6, 500)
    ]
    branch.receive_datagram(to_branch, HQ4_ADDR, now, local=BRANCH4_ADDR)
    third.receive_datagram(to_third, HQ6_ADDR, now, local=THIRD6_ADDR)
    network.run()
    hq_children = [e for e in events(hq) if isinstance(e, ChildSaEstablished)]
    assert sorted((c.peer, c.local_address) for c in hq_children) == [
        (BRANCH4_ADDR, HQ4_ADDR),
        (THIRD6_ADDR, HQ6_ADDR),
    ]
    by_peer = {sa.peer: sa for sa in hq.sas.values()}
    assert by_peer[BRANCH4_ADDR].local_address == HQ4_ADDR
    assert by_peer[THIRD6_ADDR].local_address == HQ6_ADDR
    assert child_of(events(branch)).local_address == BRANCH4_ADDR
    assert child_of(events(third)).local_address == THIRD6_ADDR
    for s in network.log:  # each conversation stays within its family
        assert (":" in s.source[0]) == (":" in s.destination[0]), s
    assert not hq.drops and not branch.drops and not third.drops


def test_a_responder_answers_from_the_address_the_request_arrived_on() -> None:
    network, hq, branch, third = dual_stack_network()
    start(network, branch)  # towards HQ's IPv4 address
    start(network, third)  # towards HQ's IPv6 address
    network.run()
    ike = [e for e in events(hq) if isinstance(e, IkeSaEstablished)]
    assert sorted((e.peer, e.local_address, e.initiator) for e in ike) == [
        (BRANCH4_ADDR, HQ4_ADDR, False),
        (THIRD6_ADDR, HQ6_ADDR, False),
    ]
    for sa in hq.sas.values():
        assert sa.local_address == (HQ6_ADDR if sa.peer == THIRD6_ADDR else HQ4_ADDR)
    answers = [s for s in network.log if s.source[0] in (HQ4_ADDR[0], HQ6)]
    assert {(s.source, s.destination) for s in answers} == {
        (HQ4_ADDR, BRANCH4_ADDR),
        (HQ6_ADDR, THIRD6_ADDR),
    }


def test_the_legacy_surface_still_gives_data_and_peer() -> None:
    network, hq, _branch, _third = dual_stack_network()
    start(network, hq, 1)
    ((data, peer),) = hq.datagrams_to_send(network.clock.now)
    assert (
        peer == THIRD6_ADDR
        and decode_message(data).header.exchange_type == ExchangeType.IKE_SA_INIT
    )
    assert hq.address == HQ4_ADDR


def test_an_ike_sa_rekey_keeps_the_local_address() -> None:
    network, hq, _branch = setup6()
    start(network, hq)
    network.run()
    (old,) = hq.sas.values()
    hq.rekey_ike_sa(old, network.clock.now)
    network.run()
    (new,) = hq.sas.values()
    assert new is not old and new.local_address == HQ6_ADDR and new.peer == BRANCH6_ADDR
    rekey = network.log[4:]
    assert rekey and all(s.source in (HQ6_ADDR, BRANCH6_ADDR) for s in rekey)


def test_set_addresses_adds_an_ipv6_address_and_keeps_the_ipv4_sas() -> None:
    network, hq, _branch, third = dual_stack_network()
    hq.set_addresses((HQ["outside"],))  # as before ``ipv6 address`` was configured
    assert hq.addresses == (HQ4_ADDR,)
    start(network, hq, 0)
    network.run()
    with pytest.raises(ValueError, match="no local IPv6 address"):
        start(network, hq, 1)
    (v4_sa,) = hq.sas.values()
    hq.set_addresses((HQ["outside"], HQ6))  # the reconfiguration added it
    assert (hq.address, hq.addresses) == (HQ4_ADDR, (HQ4_ADDR, HQ6_ADDR))
    start(network, hq, 1)
    network.run()
    assert hq.sas[v4_sa.key] is v4_sa and v4_sa.state == "established"
    assert sorted(sa.local_address for sa in hq.sas.values()) == [HQ6_ADDR, HQ4_ADDR]
    assert child_of(events(third)).local_address == THIRD6_ADDR
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        hq.set_addresses(("2001:db8::/64",))
    assert hq.addresses == (HQ4_ADDR, HQ6_ADDR)
