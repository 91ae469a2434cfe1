"""IKEv2 IKE_SA_INIT + IKE_AUTH between two engines on a fake network (RFC 7296 §1.2).

Timelines (HQ initiates towards the branch):

    HQ  --- IKE_SA_INIT request: SA KE Ni N(NAT_D)* ---> branch
    HQ  <-- IKE_SA_INIT response: SA KE Nr N(NAT_D)* --- branch
    HQ  --- IKE_AUTH request: SK{IDi AUTH SAi2 TSi TSr} --> branch
    HQ  <-- IKE_AUTH response: SK{IDr AUTH SAr2 TSi TSr} -- branch
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom, drop_nth, duplicate_nth
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import (
    ChildSaEstablished,
    ChildSaFailed,
    Event,
    IkeSaEstablished,
    IkeSaFailed,
    PeerUnreachable,
)

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)


def events(engine: Ikev2Engine) -> list[Event]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def setup(
    hq: dict[str, str] | None = None, branch: dict[str, str] | None = None, **net: object
) -> tuple[FakeNetwork, Ikev2Engine, Ikev2Engine]:
    engines = []
    for side, over, seed in ((HQ, hq or {}, 1), (BRANCH, branch or {}, 2)):
        policy = compile_config(load(gateway_text(side, **over)))
        engines.append(Ikev2Engine(policy, "outside", SeededRandom(seed)))
    network = FakeNetwork(FakeClock(), **net)  # type: ignore[arg-type]
    network.attach(HQ_ADDR, engines[0])
    network.attach(BRANCH_ADDR, engines[1])
    return network, engines[0], engines[1]


def initiate(network: FakeNetwork, hq: Ikev2Engine) -> None:
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)


def test_ike_sa_and_first_child_sa_are_established_on_both_sides() -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run()
    hq_events, branch_events = events(hq), events(branch)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in branch_events] == [IkeSaEstablished, ChildSaEstablished]
    ike_h, child_h = hq_events
    ike_b, child_b = branch_events
    assert isinstance(ike_h, IkeSaEstablished) and isinstance(ike_b, IkeSaEstablished)
    assert (ike_h.spi_i, ike_h.spi_r) == (ike_b.spi_i, ike_b.spi_r)
    assert ike_h.algorithms == "aes-256/sha256/prf sha256/group 14"
    assert isinstance(child_h, ChildSaEstablished) and isinstance(child_b, ChildSaEstablished)
    # the SPI each side receives on is the one the other sends with; keys agree
    assert child_h.spi_in == child_b.spi_out and child_h.spi_out == child_b.spi_in
    assert child_h.keys == child_b.keys
    assert (child_h.encryption, child_h.integrity, child_h.mode) == ("aes-256", "sha-256", "tunnel")
    # selectors: each side's source is its own LAN
    assert child_h.selector == child_b.selector.mirrored()
    assert child_h.selector.source.describe_address() == "10.1.0.0 255.255.0.0"
    # four datagrams on the wire, all delivered
    assert [s.fate for s in network.log] == ["delivered"] * 4


def test_lost_request_is_retransmitted_after_the_timeout() -> None:
    network, hq, _branch = setup(rules=[drop_nth(0)])
    start = network.clock.now
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert network.clock.now == start + 1.0
    assert [s.fate for s in network.log][:2] == ["dropped", "delivered"]


def test_lost_responses_are_answered_from_the_responders_cache() -> None:
    # drop the IKE_SA_INIT response (index 1) and the IKE_AUTH response (index 3 after the
    # retransmission shifts indexes: 0 req, 1 resp(dropped), 2 req again, 3 resp, 4 auth, 5 resp)
    network, hq, branch = setup(rules=[drop_nth(1, 5)])
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]
    assert len(branch.sas) == 1  # the retransmitted requests did not create a second SA


def test_duplicated_requests_create_one_sa() -> None:
    network, hq, branch = setup(rules=[duplicate_nth(0, 2)])
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]
    assert len(branch.sas) == 1
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]


def test_invalid_ke_payload_retry_with_the_group_the_responder_wants() -> None:
    hq = {
        "ikev2_policy": "crypto ikev2 policy 10\n encryption aes-256\n integrity sha256\n"
        " group 19 14\n prf sha256\n"
    }
    network, hq_e, _branch = setup(hq=hq)
    initiate(network, hq_e)
    network.run()
    ike = events(hq_e)[0]
    assert isinstance(ike, IkeSaEstablished) and ike.algorithms.endswith("group 14")
    # request (group 19), INVALID_KE_PAYLOAD, request (group 14), response, auth, auth
    assert len(network.log) == 6


def test_no_proposal_chosen() -> None:
    branch = {
        "ikev2_policy": "crypto ikev2 policy 10\n encryption 3des\n integrity md5\n"
        " group 2\n prf md5\n"
    }
    network, hq, branch_e = setup(branch=branch)
    initiate(network, hq)
    network.run()
    (failed,) = events(hq)
    assert isinstance(failed, IkeSaFailed) and failed.notify == "NO_PROPOSAL_CHOSEN"
    (refused,) = events(branch_e)
    assert isinstance(refused, IkeSaFailed) and "no common IKEv2 proposal" in refused.reason
    assert not hq.sas and not branch_e.sas


def test_pre_shared_key_mismatch_is_authentication_failed() -> None:
    branch = {
        "group": f"tunnel-group {BRANCH['peer']} type ipsec-l2l\n"
        f"tunnel-group {BRANCH['peer']} ipsec-attributes\n"
        " ikev2 local-authentication pre-shared-key v2secret\n"
        " ikev2 remote-authentication pre-shared-key WRONG\n"
    }
    network, hq, branch_e = setup(branch=branch)
    initiate(network, hq)
    network.run()
    (failed,) = events(hq)
    assert isinstance(failed, IkeSaFailed) and failed.notify == "AUTHENTICATION_FAILED"
    (refused,) = events(branch_e)
    assert isinstance(refused, IkeSaFailed) and refused.notify == "AUTHENTICATION_FAILED"


def test_traffic_selectors_not_mirrored_fail_the_child_only() -> None:
    branch = {
        "acl": "access-list VPN extended permit ip 10.2.0.0 255.255.0.0 10.9.0.0 255.255.0.0\n"
    }
    network, hq, branch_e = setup(branch=branch)
    initiate(network, hq)
    network.run()
    hq_events = events(hq)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaFailed]
    child = hq_events[1]
    assert isinstance(child, ChildSaFailed) and child.notify == "TS_UNACCEPTABLE"
    assert [type(e) for e in events(branch_e)] == [IkeSaEstablished, ChildSaFailed]


def test_unreachable_peer_after_every_retransmission() -> None:
    network, hq, _ = setup(rules=[lambda i, s, d, data: "dropped"])
    start = network.clock.now
    initiate(network, hq)
    network.run(max_seconds=600)
    (event,) = events(hq)
    assert isinstance(event, PeerUnreachable) and event.tries == 6
    assert network.clock.now == start + 1 + 2 + 4 + 8 + 16 + 32
    assert not hq.sas


def test_lossy_duplicating_reordering_network_still_converges() -> None:
    for seed in range(20):
        network, hq, _branch = setup(seed=seed, loss=0.2, duplication=0.2, reorder=True)
        initiate(network, hq)
        network.run(max_seconds=600)
        kinds = [type(e) for e in events(hq)]
        assert kinds in ([IkeSaEstablished, ChildSaEstablished], [PeerUnreachable]), (seed, kinds)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_and_random_datagrams_never_raise(data: st.DataObject) -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    # capture the real exchange, then feed mutations of each datagram to both engines
    network.run()
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for sent in network.log:
        raw = bytearray(sent.data)
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        for engine, peer in ((hq, BRANCH_ADDR), (branch, HQ_ADDR)):
            engine.receive_datagram(bytes(raw), peer, network.clock.now)
            engine.receive_datagram(bytes(raw[: rng.randrange(len(raw))]), peer, network.clock.now)
            engine.receive_datagram(rng.randbytes(rng.randrange(200)), peer, network.clock.now)
    assert sum(hq.drops.values()) + sum(branch.drops.values()) > 0
