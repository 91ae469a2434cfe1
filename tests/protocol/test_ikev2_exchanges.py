"""IKEv2 IKE_SA_INIT + IKE_AUTH between two engines on a fake network (RFC 7296 §1.2).

Timelines (HQ initiates towards the branch):

    HQ  --- IKE_SA_INIT request: SA KE Ni N(NAT_D)* ---> branch
    HQ  <-- IKE_SA_INIT response: SA KE Nr N(NAT_D)* --- branch
    HQ  --- IKE_AUTH request: SK{IDi AUTH SAi2 TSi TSr} --> branch
    HQ  <-- IKE_AUTH response: SK{IDr AUTH SAr2 TSi TSr} -- branch
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import (
    FakeClock,
    FakeNetwork,
    SeededRandom,
    drop_nth,
    duplicate_nth,
)
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v2.constants import ExchangeType, HeaderFlag
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaFailed,
    Event,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaFailed,
    PeerUnreachable,
)
from tunnelgate.ike.v2.message import Header, Message, encode_message

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)


def events(engine: Ikev2Engine) -> list[Event]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def quiet_group(side: dict[str, str], keepalive: str = " isakmp keepalive disable\n") -> str:
    """The pair's tunnel group; dead peer detection off unless a test is about it."""
    peer = side["peer"]
    return (
        f"tunnel-group {peer} type ipsec-l2l\ntunnel-group {peer} ipsec-attributes\n"
        " ikev1 pre-shared-key v1secret\n"
        " ikev2 local-authentication pre-shared-key v2secret\n"
        " ikev2 remote-authentication pre-shared-key v2secret\n" + keepalive
    )


def setup(
    hq: dict[str, str] | None = None, branch: dict[str, str] | None = None, **net: object
) -> tuple[FakeNetwork, Ikev2Engine, Ikev2Engine]:
    engines = []
    seeds = net.pop("engine_seeds", (1, 2))
    assert isinstance(seeds, tuple)
    for side, over, seed in ((HQ, hq or {}, seeds[0]), (BRANCH, branch or {}, seeds[1])):
        over = {"group": quiet_group(side), **over}
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


# --------------------------------------------------------------------------- after IKE_AUTH
#
#   rekey (RFC 7296 §1.3.3):
#   X --- CREATE_CHILD_SA request: SK{N(REKEY_SA) SA Ni [KEi] TSi TSr} ---> Y
#   X <-- CREATE_CHILD_SA response: SK{SA Nr [KEr] TSi TSr} --------------- Y
#   X --- INFORMATIONAL request: SK{D(ESP, old SPI of X)} ----------------> Y
#   X <-- INFORMATIONAL response: SK{D(ESP, old SPI of Y)} ---------------- Y


def established(
    **kw: object,
) -> tuple[FakeNetwork, Ikev2Engine, Ikev2Engine, list[Event], list[Event]]:
    network, hq, branch = setup(**kw)  # type: ignore[arg-type]
    initiate(network, hq)
    network.run()
    return network, hq, branch, events(hq), events(branch)


def child_of(evs: list[Event]) -> ChildSaEstablished:
    found = [e for e in evs if isinstance(e, ChildSaEstablished)]
    assert found, evs
    return found[-1]


def test_child_rekey_by_either_side_replaces_the_child_and_deletes_the_old_one() -> None:
    for rekeyer in ("hq", "branch"):
        network, hq, branch, hq_ev, br_ev = established()
        old_h, old_b = child_of(hq_ev), child_of(br_ev)
        engine = hq if rekeyer == "hq" else branch
        old = old_h if rekeyer == "hq" else old_b
        engine.rekey_child(old.spi_in, network.clock.now)
        network.run()
        new_h_ev, new_b_ev = events(hq), events(branch)
        new_h, new_b = child_of(new_h_ev), child_of(new_b_ev)
        assert new_h.spi_in == new_b.spi_out and new_h.spi_out == new_b.spi_in
        assert new_h.spi_in not in (old_h.spi_in,) and new_h.keys == new_b.keys
        assert new_h.keys != old_h.keys  # fresh nonces: fresh keys
        assert new_h.rekeyed_spi == old_h.spi_in and new_b.rekeyed_spi == old_b.spi_in
        assert new_h.initiator is (rekeyer == "hq") and new_b.initiator is (rekeyer == "branch")
        deleted_h = [e for e in new_h_ev if isinstance(e, ChildSaDeleted)]
        deleted_b = [e for e in new_b_ev if isinstance(e, ChildSaDeleted)]
        assert [d.spi_in for d in deleted_h] == [old_h.spi_in]
        assert [d.spi_in for d in deleted_b] == [old_b.spi_in]
        sa_h = next(iter(hq.sas.values()))
        assert list(sa_h.children) == [new_h.spi_in]


def test_rekey_with_pfs_uses_a_fresh_key_exchange() -> None:
    pfs = {"map_extra": "crypto map M 10 set pfs group5\n"}
    network, hq, branch, hq_ev, _br_ev = established(hq=pfs, branch=pfs)
    hq.rekey_child(child_of(hq_ev).spi_in, network.clock.now)
    network.run()
    new_h, new_b = child_of(events(hq)), child_of(events(branch))
    assert new_h.keys == new_b.keys
    kes = [s for s in network.log if len(s.data) > 300]  # KE payloads make the rekey large
    assert len(kes) >= 2


def test_rekey_refused_when_the_responder_demands_another_pfs_group() -> None:
    network, hq, branch, hq_ev, _ = established(
        hq={"map_extra": "crypto map M 10 set pfs group5\n"},
        branch={"map_extra": "crypto map M 10 set pfs group2\n"},
    )
    hq.rekey_child(child_of(hq_ev).spi_in, network.clock.now)
    network.run()
    (failed,) = events(hq)
    assert isinstance(failed, ChildSaFailed) and failed.notify == "NO_PROPOSAL_CHOSEN"
    assert isinstance(events(branch)[0], ChildSaFailed)


def test_delete_child_and_delete_ike_sa() -> None:
    network, hq, branch, hq_ev, _br_ev = established()
    hq.delete_child(child_of(hq_ev).spi_in, network.clock.now)
    network.run()
    assert [type(e) for e in events(hq)] == [ChildSaDeleted]
    assert [type(e) for e in events(branch)] == [ChildSaDeleted]
    branch.delete_ike_sa(next(iter(branch.sas.values())), network.clock.now)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaDeleted]
    assert [type(e) for e in events(branch)] == [IkeSaDeleted]
    assert not hq.sas and not branch.sas


def test_liveness_check_answered_and_dead_peer_detected() -> None:
    network, hq, _branch, _, _ = established()
    sa = next(iter(hq.sas.values()))
    hq.check_liveness(sa, network.clock.now)
    network.run()
    assert events(hq) == [] and sa.state == "established"
    network.rules.append(lambda i, s, d, data: "dropped")  # the branch goes silent
    hq.check_liveness(sa, network.clock.now)
    network.run(max_seconds=600)
    gone = events(hq)
    assert [type(e) for e in gone] == [PeerUnreachable, ChildSaDeleted]
    assert isinstance(gone[1], ChildSaDeleted) and gone[1].reason == "peer unreachable"
    assert not hq.sas


def test_replayed_request_after_the_window_is_answered_from_cache_only() -> None:
    network, hq, branch, hq_ev, _ = established()
    hq.delete_child(child_of(hq_ev).spi_in, network.clock.now)
    network.run()
    request = [s for s in network.log if s.source == HQ_ADDR][-1].data
    events(branch)
    before = len(network.log)
    branch.receive_datagram(request, HQ_ADDR, network.clock.now)
    network.step()
    assert events(branch) == []  # not processed twice
    assert len(network.log) == before + 1  # the cached response was sent again


# --------------------------------------------------------------------------- COOKIE, identity
#
#   HQ --- IKE_SA_INIT request: SA KE Ni -------------> branch (too many half-open SAs)
#   HQ <-- IKE_SA_INIT response: N(COOKIE) ------------ branch (keeps no state)
#   HQ --- IKE_SA_INIT request: N(COOKIE) SA KE Ni ---> branch
#   ... as usual


def test_cookie_round_trip_under_half_open_load() -> None:
    network, hq, branch = setup()
    branch.cookie_threshold = 0  # every request must first return the cookie
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert len(network.log) == 6  # one extra round trip
    assert branch.drops["cookie-demanded"] == 1


# A late copy of a COOKIE answer (issue 8: 164 of 20,000 reconnecting initiators hung):
#   HQ --- IKE_SA_INIT request ----------------------> branch
#   HQ --- the same, retransmitted (branch is slow) -> branch
#   HQ <-- N(COOKIE) ------------------------------ branch    HQ sends the request with it
#   HQ <-- N(COOKIE) again (answers the retransmission)       ignored: the request stays
#   HQ <-- IKE_SA_INIT response ------------------- branch    outstanding, with its timer


def test_a_repeated_cookie_answer_leaves_the_cookie_request_outstanding() -> None:
    network, hq, branch = setup(rules=[duplicate_nth(1)])  # the COOKIE answer, twice
    branch.cookie_threshold = 0
    initiate(network, hq)
    network.step()  # request -> branch
    network.step()  # COOKIE, COOKIE -> HQ: it sends the request with the cookie once
    (sa,) = (sa for sa in hq.sas.values())
    assert sa.state == "init" and sa.cookie and hq.drops["repeated-cookie"] == 1
    assert sa.retransmit_at is not None and hq.get_timer() == sa.retransmit_at
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]
    assert hq.drops["unexpected-response"] == 0


def test_a_repeated_cookie_answer_after_the_request_is_lost_is_retransmitted() -> None:
    # the request with the cookie is lost: only the retransmission timer can recover it
    network, hq, branch = setup(rules=[duplicate_nth(1), drop_nth(3)])
    branch.cookie_threshold = 0
    start = network.clock.now
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert network.clock.now == start + 1.0


def test_an_unusable_ike_sa_init_answer_is_dropped_and_the_request_retransmitted() -> None:
    network, hq, _branch = setup(rules=[drop_nth(1)])  # the real answer is lost
    initiate(network, hq)
    network.step()
    (sa,) = (sa for sa in hq.sas.values())
    due = sa.retransmit_at
    # an answer without SA, KE or Nonce (and no notify) from the responder's address
    bogus = Header(sa.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
    hq.receive_datagram(encode_message(Message(bogus, ())), BRANCH_ADDR, network.clock.now)
    assert hq.drops["DecodeError"] == 1
    assert sa.retransmit_at == due and hq.get_timer() == due
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]


def test_a_repeated_invalid_ke_answer_does_not_fail_the_retry() -> None:
    hq = {
        "ikev2_policy": "crypto ikev2 policy 10\n encryption aes-256\n integrity sha256\n"
        " group 19 14\n prf sha256\n"
    }
    network, hq_e, _branch = setup(hq=hq, rules=[duplicate_nth(1)])  # INVALID_KE, twice
    initiate(network, hq_e)
    network.run()
    hq_events = events(hq_e)
    assert [type(e) for e in hq_events] == [IkeSaEstablished, ChildSaEstablished]
    ike = hq_events[0]
    assert isinstance(ike, IkeSaEstablished) and ike.algorithms.endswith("group 14")
    assert hq_e.drops["repeated-invalid-ke"] == 1


def test_the_cookie_retry_repeats_every_payload_unchanged() -> None:
    """RFC 7296 §2.6: the retry carries N(COOKIE) first and all other payloads unchanged
    (the same KE data and nonce)."""
    from tunnelgate.ike.v2 import decode_message
    from tunnelgate.ike.v2.payloads import KePayload, NoncePayload, NotifyPayload

    network, hq, branch = setup()
    branch.cookie_threshold = 0
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    now = network.clock.now
    hq.initiate(entry, entry.acl.permits[0], now)
    ((first, to),) = hq.datagrams_to_send(now)
    branch.receive_datagram(first, HQ_ADDR, now)
    ((cookie_answer, _),) = branch.datagrams_to_send(now)
    hq.receive_datagram(cookie_answer, to, now)
    ((retry, _),) = hq.datagrams_to_send(now)
    one, two = decode_message(first), decode_message(retry)
    assert isinstance(two.payloads[0], NotifyPayload) and two.payloads[0].data
    assert two.payloads[1:] == one.payloads
    assert one.find(KePayload) == two.find(KePayload)
    assert one.find(NoncePayload) == two.find(NoncePayload)


def test_a_new_cookie_is_followed_a_bounded_number_of_times() -> None:
    """A responder that restarted between our retries demands a cookie made with a new
    secret: the initiator follows new values (at most MAX_COOKIE_ROUNDS), never a repeat."""
    from tunnelgate.ike.v2 import decode_message
    from tunnelgate.ike.v2.ike_sa_init import MAX_COOKIE_ROUNDS
    from tunnelgate.ike.v2.payloads import NotifyPayload

    network, hq, _ = setup()
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    now = network.clock.now
    sa = hq.initiate(entry, entry.acl.permits[0], now)
    ((request, to),) = hq.datagrams_to_send(now)
    sent = []
    for n in range(MAX_COOKIE_ROUNDS + 2):
        responder = setup()[2]  # a fresh responder each time, with a new cookie secret
        responder.cookie_threshold, responder._cookie_secret = 0, bytes([n + 1]) * 32
        responder.receive_datagram(request, HQ_ADDR, now)
        ((answer, _),) = responder.datagrams_to_send(now)
        hq.receive_datagram(answer, to, now)
        retry = hq.datagrams_to_send(now)
        sent.append(len(retry))
        if retry:
            ((request, _),) = retry
            first = decode_message(request).payloads[0]
            assert isinstance(first, NotifyPayload) and first.data == sa.cookie
    assert sent == [1] * MAX_COOKIE_ROUNDS + [0, 0]  # then ignored: the timer decides
    assert sa.cookie_rounds == MAX_COOKIE_ROUNDS and hq.drops["repeated-cookie"] == 2
    assert hq.get_timer() is not None


def test_a_flood_of_spoofed_requests_keeps_no_state_beyond_the_threshold() -> None:
    network, hq, branch = setup()
    branch.cookie_threshold = 5
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    ((request, _),) = hq.datagrams_to_send(network.clock.now)
    for n in range(50):  # the same request replayed from 50 spoofed sources
        branch.receive_datagram(request, (f"192.0.2.{n + 1}", 500), network.clock.now)
    assert len(branch._half_open) == 5
    assert branch.drops["cookie-demanded"] == 45
    answers = branch.datagrams_to_send(network.clock.now)
    assert len(answers) == 50  # every source got an answer: 5 responses, 45 cookies


def test_half_open_sas_are_forgotten_and_the_cookie_demand_ends() -> None:
    from tunnelgate.ike.v2.ike_sa_init import HALF_OPEN_TIMEOUT_S

    network, hq, branch = setup()
    branch.cookie_threshold = 5
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    ((request, _),) = hq.datagrams_to_send(network.clock.now)
    for n in range(5):  # abandoned (or spoofed) IKE_SA_INITs: no IKE_AUTH ever follows
        branch.receive_datagram(request, (f"192.0.2.{n + 1}", 500), network.clock.now)
    branch.datagrams_to_send(network.clock.now)
    assert len(branch._half_open) == 5 and len(branch.sas) == 5
    due = branch.get_timer()
    assert due is not None and due == network.clock.now + HALF_OPEN_TIMEOUT_S
    branch.handle_timer(due)
    assert branch._half_open == {} and branch.sas == {}
    assert branch.drops["half-open-expired"] == 5 and branch.get_timer() is None
    # the table is free again: a real initiator is answered without a COOKIE
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)][-2:] == [IkeSaEstablished, ChildSaEstablished]
    assert branch.drops["cookie-demanded"] == 0
    # an established SA is never taken for a half-open one
    up = dict(branch.sas)
    assert up and all(sa.state == "established" for sa in up.values())
    network.clock.now += HALF_OPEN_TIMEOUT_S + 1
    network.run()
    assert branch.sas == up and branch.drops["half-open-expired"] == 5


def test_identity_follows_crypto_isakmp_identity() -> None:
    from tunnelgate.ike.v2 import decode_message
    from tunnelgate.ike.v2.constants import IdType
    from tunnelgate.ike.v2.payloads import IdiPayload
    from tunnelgate.ike.v2.protection import unseal

    hq = {"extra": "domain-name example.net\ncrypto isakmp identity hostname\n"}
    network, hq_e, branch = setup(hq=hq)
    initiate(network, hq_e)
    network.run()
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]
    auth_request = network.log[2].data
    sa = next(iter(branch.sas.values()))
    inner = unseal(auth_request, decode_message(auth_request), branch._protection(sa, False))
    idi = next(p for p in inner if isinstance(p, IdiPayload))
    assert (idi.id_type, idi.data) == (IdType.ID_FQDN, b"hq.example.net")


# --------------------------------------------------------------------------- lifetimes, DPD


def test_children_rekey_before_their_lifetime_ends_and_expire_if_they_cannot() -> None:
    lifetime = {"map_extra": "crypto map M 10 set security-association lifetime seconds 1000\n"}
    network, hq, branch, hq_ev, _ = established(hq=lifetime, branch=lifetime)
    start = network.clock.now
    first = child_of(hq_ev)
    network.run(max_seconds=960)  # the first rekey falls between 850 and 950 s
    rekeyed = [e for e in events(hq) + events(branch) if isinstance(e, ChildSaEstablished)]
    assert rekeyed and all(e.rekeyed_spi is not None for e in rekeyed)
    assert any(e.rekeyed_spi == first.spi_in for e in rekeyed)
    assert 850 <= network.log[4].at - start <= 950  # the CREATE_CHILD_SA request
    # a silent peer: the next rekey cannot happen, the child hits its hard lifetime
    network.rules.append(lambda i, s, d, data: "dropped")
    network.run(max_seconds=2000)
    gone = [e for e in events(hq) if isinstance(e, ChildSaDeleted)]
    # the unanswered rekey ends the IKE SA (or the child's hard lifetime comes first)
    assert gone and {e.reason for e in gone} <= {"peer unreachable", "lifetime expired"}
    assert not hq.sas


def test_dead_peer_detection_follows_the_tunnel_group_keepalive() -> None:
    keepalive = " isakmp keepalive threshold 30 retry 2\n"
    network, hq, _branch = setup(hq={"group": quiet_group(HQ, keepalive)})
    initiate(network, hq)
    network.run(max_seconds=5)
    events(hq)
    start = network.clock.now
    network.run(max_seconds=100)  # three liveness checks at 30 s intervals, all answered
    checks = [s for s in network.log if s.source == HQ_ADDR and s.at > start]
    assert len(checks) == 3 and hq.sas
    network.rules.append(lambda i, s, d, data: "dropped")  # the branch goes silent
    network.run(max_seconds=400)
    assert any(isinstance(e, PeerUnreachable) for e in events(hq)) and not hq.sas


# --------------------------------------------------------------------------- IKE SA rekey
#
#   X --- CREATE_CHILD_SA request: SK{SA(IKE, new SPIi) Ni KEi} ---> Y   (RFC 7296 §1.3.2)
#   X <-- CREATE_CHILD_SA response: SK{SA(IKE, new SPIr) Nr KEr} --- Y
#   X --- INFORMATIONAL request on the old SA: SK{D(IKE)} ----------> Y
#   X <-- INFORMATIONAL response: SK{} ------------------------------- Y


def test_ike_sa_rekey_by_either_side_moves_the_children() -> None:
    for rekeyer in ("hq", "branch"):
        network, hq, branch, _hq_ev, _br_ev = established()
        old = next(iter(hq.sas.values()))
        old_spis = (old.spi_i, old.spi_r)
        engine = hq if rekeyer == "hq" else branch
        engine.rekey_ike_sa(next(iter(engine.sas.values())), network.clock.now)
        network.run()
        for own, evs in ((hq, events(hq)), (branch, events(branch))):
            kinds = [type(e) for e in evs]
            assert kinds == [IkeSaEstablished, IkeSaDeleted], (rekeyer, kinds)
            new, gone = evs
            assert isinstance(new, IkeSaEstablished) and isinstance(gone, IkeSaDeleted)
            assert (gone.spi_i, gone.spi_r) == old_spis
            assert (new.spi_i, new.spi_r) != old_spis
            assert new.initiator is (own is engine)
            (sa,) = own.sas.values()
            assert len(sa.children) == 1 and sa.state == "established"
        # the children keep working under the new IKE SA: rekey one with the new SK_d
        child = next(iter(next(iter(hq.sas.values())).children))
        hq.rekey_child(child, network.clock.now)
        network.run()
        new_h, new_b = child_of(events(hq)), child_of(events(branch))
        assert new_h.keys == new_b.keys and new_h.rekeyed_spi == child


def test_ike_sa_rekeys_itself_before_its_lifetime_ends() -> None:
    policy = {
        "ikev2_policy": "crypto ikev2 policy 10\n encryption aes-256\n integrity sha256\n"
        " group 14\n prf sha256\n lifetime seconds 600\n"
    }
    network, hq, _branch, _, _ = established(hq=policy, branch=policy)
    start = network.clock.now
    network.run(max_seconds=580)  # both sides schedule a rekey at 510-570 s
    rekeys = [e for e in events(hq) if isinstance(e, IkeSaEstablished)]
    assert rekeys and all(510 <= s.at - start <= 575 for s in network.log[4:5])
    (sa,) = hq.sas.values()
    assert sa.state == "established" and len(sa.children) == 1


# --------------------------------------------------------------------------- NAT traversal
#
#   HQ 10.0.0.1 == NAT (203.0.113.1) ==> branch 198.51.100.2
#   IKE_SA_INIT on 500: NAT-D hashes do not match what each side sees (RFC 7296 §2.23)
#   IKE_AUTH and everything after on 4500


def test_nat_is_detected_and_ike_moves_to_port_4500() -> None:
    behind = {**HQ, "outside": "10.0.0.1"}
    engines = []
    for side, seed in ((behind, 1), (BRANCH, 2)):
        policy = compile_config(load(gateway_text(side, group=quiet_group(side))))
        engines.append(Ikev2Engine(policy, "outside", SeededRandom(seed)))
    hq, branch = engines
    network = FakeNetwork(FakeClock(), nat={"10.0.0.1": "203.0.113.1"})
    network.attach(("10.0.0.1", 500), hq, 4500)
    network.attach(BRANCH_ADDR, branch, 4500)
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]
    ports = [(s.source[1], s.destination[1]) for s in network.log]
    assert ports == [(500, 500), (500, 500), (4500, 4500), (4500, 4500)]
    assert network.log[2].source == ("203.0.113.1", 4500)  # the branch sees the NAT's address
    (sa_h,) = hq.sas.values()
    (sa_b,) = branch.sas.values()
    assert sa_h.nat_detected and sa_b.nat_detected
    assert sa_b.peer == ("203.0.113.1", 4500) and sa_h.peer == ("198.51.100.2", 4500)
    # later exchanges stay on 4500
    hq.rekey_child(next(iter(sa_h.children)), network.clock.now)
    network.run()
    assert all(s.destination[1] == 4500 for s in network.log[4:])


def test_without_nat_ike_stays_on_port_500() -> None:
    network, hq, _branch, _, _ = established()
    assert all((s.source[1], s.destination[1]) == (500, 500) for s in network.log)
    assert not next(iter(hq.sas.values())).nat_detected


# --------------------------------------------------------------------------- fragmentation
#
#   IKE_SA_INIT: both send N(IKEV2_FRAGMENTATION_SUPPORTED)            (RFC 7383 §2.3)
#   IKE_AUTH and later: SKF{n/total} datagrams that fit the MTU, each protected alone


SMALL_MTU = {"extra": "crypto ikev2 fragmentation mtu 200\n"}


def test_large_messages_are_fragmented_to_the_configured_mtu_and_reassembled() -> None:
    network, hq, _branch, hq_ev, br_ev = established(hq=SMALL_MTU, branch=SMALL_MTU)
    assert [type(e) for e in hq_ev] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in br_ev] == [IkeSaEstablished, ChildSaEstablished]
    auth = network.log[2:]
    assert len(auth) > 2  # IKE_AUTH went in several fragments
    assert all(len(s.data) + 28 <= 200 for s in auth)
    # a fragmented rekey works too
    child = child_of(hq_ev)
    hq.rekey_child(child.spi_in, network.clock.now)
    network.run()
    assert child_of(events(hq)).rekeyed_spi == child.spi_in


def test_a_lost_fragment_is_recovered_by_retransmitting_the_whole_message() -> None:
    network, hq, branch = setup(hq=SMALL_MTU, branch=SMALL_MTU, rules=[drop_nth(3)])
    initiate(network, hq)
    network.run()
    assert [type(e) for e in events(hq)] == [IkeSaEstablished, ChildSaEstablished]
    assert [type(e) for e in events(branch)] == [IkeSaEstablished, ChildSaEstablished]


def test_no_fragmentation_when_one_side_disables_it() -> None:
    network, _hq, _branch, hq_ev, _ = established(
        hq=SMALL_MTU, branch={"extra": "no crypto ikev2 fragmentation\n"}
    )
    assert [type(e) for e in hq_ev] == [IkeSaEstablished, ChildSaEstablished]
    assert len(network.log) == 4 and len(network.log[2].data) > 200  # sent whole


def test_more_than_100_fragments_are_refused() -> None:
    from tunnelgate.ike.v2.constants import ExchangeType, HeaderFlag
    from tunnelgate.ike.v2.message import Header
    from tunnelgate.ike.v2.payloads import NotifyPayload
    from tunnelgate.ike.v2.protection import seal_fragments

    network, hq, branch, _, _ = established(hq=SMALL_MTU, branch=SMALL_MTU)
    sa = next(iter(hq.sas.values()))
    header = Header(
        sa.spi_i, sa.spi_r, ExchangeType.INFORMATIONAL, HeaderFlag.INITIATOR, sa.next_message_id
    )
    big = [NotifyPayload(40000, bytes(60)) for _ in range(150)]
    pieces = seal_fragments(header, big, hq._protection(sa, True), hq.random, 120)
    assert len(pieces) > 100
    for piece in pieces:
        branch.receive_datagram(piece, HQ_ADDR, network.clock.now)
    assert branch.drops["DecodeError"] == len(pieces)
    assert not branch.datagrams_to_send(network.clock.now)


# --------------------------------------------------------------------------- rekey collision
#
#   HQ --- CREATE_CHILD_SA(REKEY_SA old) ---> branch    both at the same instant
#   HQ <-- CREATE_CHILD_SA(REKEY_SA old) ---- branch
#   both answer, both complete: two new SAs; the one made with the lowest of the four
#   nonces is redundant and its creator deletes it; the other side deletes the old SA
#   (RFC 7296 §2.8.1)


def test_simultaneous_child_rekeys_leave_exactly_one_child() -> None:
    losers = set()
    for seed in range(8):
        network, hq, branch, hq_ev, br_ev = established(engine_seeds=(seed, 100 + seed))
        old_h, old_b = child_of(hq_ev), child_of(br_ev)
        hq.rekey_child(old_h.spi_in, network.clock.now)
        branch.rekey_child(old_b.spi_in, network.clock.now)
        network.run()
        (sa_h,) = hq.sas.values()
        (sa_b,) = branch.sas.values()
        assert len(sa_h.children) == 1 and len(sa_b.children) == 1, seed
        (child_h,) = sa_h.children.values()
        (child_b,) = sa_b.children.values()
        assert (child_h.spi_in, child_h.spi_out) == (child_b.spi_out, child_b.spi_in)
        assert old_h.spi_in not in sa_h.children and old_b.spi_in not in sa_b.children
        made_h = [e for e in events(hq) if isinstance(e, ChildSaEstablished)]
        assert len(made_h) == 2  # two SAs were made; one of them is already gone again
        survivor_made_by_hq = next(e for e in made_h if e.spi_in == child_h.spi_in).initiator
        losers.add("branch" if survivor_made_by_hq else "hq")
    assert losers == {"hq", "branch"}  # both outcomes of the nonce comparison were exercised


def test_a_rekey_request_that_crosses_our_finished_rekey_is_refused() -> None:
    """The staggered collision: branch's rekey request reaches HQ only after HQ's own rekey
    of the same child completed and HQ is closing the old SA. HQ answers
    TEMPORARY_FAILURE (RFC 7296 §2.8.1) instead of making a second successor nobody would
    delete; one child is left on each side, the same one."""
    for seed in range(6):
        network, hq, branch, hq_ev, br_ev = established(engine_seeds=(seed, 200 + seed))
        old_h, old_b = child_of(hq_ev), child_of(br_ev)
        now = network.clock.now
        branch.rekey_child(old_b.spi_in, now)
        held = branch.datagrams_to_send(now)  # branch's request, delayed on the way
        assert len(held) == 1
        hq.rekey_child(old_h.spi_in, now)
        network.step()  # HQ's request reaches branch (its own rekey is outstanding)
        network.step()  # branch's answer reaches HQ: HQ's rekey is done, old SA closing
        data, _ = held[0]
        hq.receive_datagram(data, BRANCH_ADDR, now)
        network.run()
        (sa_h,) = hq.sas.values()
        (sa_b,) = branch.sas.values()
        assert len(sa_h.children) == 1 and len(sa_b.children) == 1, seed
        (child_h,) = sa_h.children.values()
        (child_b,) = sa_b.children.values()
        assert (child_h.spi_in, child_h.spi_out) == (child_b.spi_out, child_b.spi_in)
        assert old_h.spi_in not in sa_h.children and old_b.spi_in not in sa_b.children
        failed = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
        assert [(e.notify, e.rekey) for e in failed] == [("TEMPORARY_FAILURE", True)], seed


# --------------------------------------------------------------------------- notifications


def test_invalid_selectors_notify_is_off_by_default() -> None:
    network, hq, _, hq_ev, _ = established()
    assert (
        hq.invalid_selectors(child_of(hq_ev).spi_in, b"\x45" + bytes(39), network.clock.now)
        is False
    )


def test_invalid_selectors_notify_when_enabled_rate_limited_per_sa() -> None:
    from tunnelgate.ike.v2.events import InvalidSelectorsReceived

    on = {"extra": "crypto ikev2 notify invalid-selectors\n"}
    network, hq, branch, hq_ev, br_ev = established(hq=on)
    spi = child_of(hq_ev).spi_in
    packet = b"\x45\x00" + bytes(38)
    assert hq.invalid_selectors(spi, packet, network.clock.now) is True
    network.run()
    (got,) = events(branch)
    assert isinstance(got, InvalidSelectorsReceived)
    assert got.spi == spi == child_of(br_ev).spi_out and got.packet == packet
    network.clock.advance(4.9)
    assert hq.invalid_selectors(spi, packet, network.clock.now) is False  # within 5 s
    network.clock.advance(0.2)
    assert hq.invalid_selectors(spi, packet, network.clock.now) is True
    network.run()
    assert [type(e) for e in events(branch)] == [InvalidSelectorsReceived]


def test_initial_contact_clears_stale_sas_of_a_restarted_peer() -> None:
    network, hq, branch, _, _ = established()
    assert len(branch.sas) == 1
    # HQ restarts: a fresh engine with no SAs initiates again (INITIAL_CONTACT)
    policy = hq.gateway
    fresh = Ikev2Engine(policy, "outside", SeededRandom(99))
    network.attach(HQ_ADDR, fresh)
    initiate(network, fresh)
    network.run()
    kinds = [type(e) for e in events(branch)]
    assert kinds == [ChildSaDeleted, IkeSaDeleted, IkeSaEstablished, ChildSaEstablished]
    assert len(branch.sas) == 1


def test_ike_is_ignored_on_an_interface_without_crypto_ikev2_enable() -> None:
    network, hq, branch = setup(branch={"enable": "crypto ikev1 enable outside\n"})
    initiate(network, hq)
    network.run(max_seconds=600)
    assert [type(e) for e in events(hq)] == [PeerUnreachable]
    assert branch.drops["ikev2-not-enabled"] == 6 and not branch.sas


def test_simultaneous_ike_sa_rekeys_leave_one_ike_sa_with_the_children() -> None:
    """RFC 7296 §2.8.2: both sides rekey the IKE SA at once; the SA made with the lowest
    nonce is deleted by its creator, the other side deletes the old one."""
    winners = set()
    for seed in range(8):
        network, hq, branch, hq_ev, _ = established(engine_seeds=(seed, 50 + seed))
        child = child_of(hq_ev)
        hq.rekey_ike_sa(next(iter(hq.sas.values())), network.clock.now)
        branch.rekey_ike_sa(next(iter(branch.sas.values())), network.clock.now)
        network.run()
        (sa_h,) = hq.sas.values()
        (sa_b,) = branch.sas.values()
        assert (sa_h.spi_i, sa_h.spi_r) == (sa_b.spi_i, sa_b.spi_r), seed
        assert list(sa_h.children) == [child.spi_in] and len(sa_b.children) == 1
        assert not [e for e in events(hq) + events(branch) if isinstance(e, ChildSaDeleted)]
        winners.add("hq" if sa_h.initiator else "branch")
        # the survivor works: rekey the child under it
        hq.rekey_child(child.spi_in, network.clock.now)
        network.run()
        assert child_of(events(hq)).rekeyed_spi == child.spi_in
    assert winners == {"hq", "branch"}


# --------------------------------------------------------------------------- more children
#
#   HQ --- CREATE_CHILD_SA: SK{SA Ni [KEi] TSi TSr} ---> branch   (RFC 7296 §1.3.1)
#   HQ <-- CREATE_CHILD_SA: SK{SA Nr [KEr] TSi TSr} ---- branch


TWO_LINES = {
    "hq": "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0\n"
    "access-list VPN extended permit tcp 10.1.0.0 255.255.0.0 10.3.0.0 255.255.0.0 eq https\n",
    "branch": "access-list VPN extended permit ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0\n"
    "access-list VPN extended permit tcp 10.3.0.0 255.255.0.0 eq https 10.1.0.0 255.255.0.0\n",
}


def test_a_second_child_sa_for_another_acl_line() -> None:
    network, hq, branch, _, _ = established(
        hq={"acl": TWO_LINES["hq"]}, branch={"acl": TWO_LINES["branch"]}
    )
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    second = entry.acl.permits[1]
    hq.create_child(next(iter(hq.sas.values())), entry, second, network.clock.now)
    network.run()
    new_h, new_b = child_of(events(hq)), child_of(events(branch))
    assert new_h.rekeyed_spi is None and new_h.keys == new_b.keys
    assert new_h.selector.describe() == "6 10.1.0.0 255.255.0.0 10.3.0.0 255.255.0.0 eq 443"
    assert new_h.selector == new_b.selector.mirrored()
    assert len(next(iter(hq.sas.values())).children) == 2


def test_a_new_child_the_responder_has_no_acl_line_for_is_ts_unacceptable() -> None:
    network, hq, _branch, _, _ = established(hq={"acl": TWO_LINES["hq"]})
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.create_child(next(iter(hq.sas.values())), entry, entry.acl.permits[1], network.clock.now)
    network.run()
    (failed,) = events(hq)
    assert isinstance(failed, ChildSaFailed) and failed.notify == "TS_UNACCEPTABLE"
    assert "refused the new child SA" in failed.reason


def test_rekey_of_an_unknown_child_is_child_sa_not_found() -> None:
    network, hq, branch, hq_ev, _ = established()
    (sa_b,) = branch.sas.values()
    sa_b.children.clear()  # the branch has lost the child (e.g. it expired there)
    hq.rekey_child(child_of(hq_ev).spi_in, network.clock.now)
    network.run()
    (failed,) = events(hq)
    assert isinstance(failed, ChildSaFailed) and failed.notify == "CHILD_SA_NOT_FOUND"


def test_esp_tfc_padding_not_supported_is_recorded_for_the_data_plane() -> None:
    from tunnelgate.ike.v2.payloads import NotifyPayload

    network, hq, branch, hq_ev, _ = established()
    assert child_of(hq_ev).peer_accepts_tfc_padding is True
    # a peer that cannot take TFC padding says so in its CREATE_CHILD_SA request
    sa = next(iter(branch.sas.values()))
    original = branch._request

    def with_notify(
        sa_: object, pending: object, exchange: object, payloads: list[object], now: float
    ) -> None:
        payloads.append(NotifyPayload(16394))  # ESP_TFC_PADDING_NOT_SUPPORTED
        original(sa_, pending, exchange, payloads, now)  # type: ignore[arg-type]

    branch._request = with_notify  # type: ignore[method-assign]
    branch.rekey_child(next(iter(sa.children)), network.clock.now)
    branch._request = original  # type: ignore[method-assign]
    network.run()
    assert child_of(events(hq)).peer_accepts_tfc_padding is False


def test_dropped_datagrams_are_counted_and_logged(caplog: object) -> None:
    import logging

    import pytest

    assert isinstance(caplog, pytest.LogCaptureFixture)
    network, hq, _, _, _ = established()
    with caplog.at_level(logging.DEBUG, logger="tunnelgate.ike"):
        hq.receive_datagram(b"\x00" * 10, BRANCH_ADDR, network.clock.now)
    assert hq.drops["DecodeError"] == 1
    assert "dropped 10 bytes from 198.51.100.2:500" in caplog.text


# --------------------------------------------------------------------------- modes (spec)


def _mode(hq_mode: str, branch_mode: str) -> tuple[list[Event], list[Event]]:
    set_mode = "crypto map M 10 set ikev2 mode {}\n"
    _network, _hq, _branch, hq_ev, br_ev = established(
        hq={"map_extra": set_mode.format(hq_mode)},
        branch={"map_extra": set_mode.format(branch_mode)},
    )
    return hq_ev, br_ev


@pytest.mark.parametrize(
    ("hq_mode", "branch_mode", "result"),
    [
        ("transport", "transport", "transport"),
        ("transport", "tunnel", "tunnel"),  # the initiator falls back to tunnel
        ("tunnel", "transport", "tunnel"),  # the responder falls back to tunnel
        ("transport-require", "transport", "transport"),
        ("tunnel", "transport-require", "NO_PROPOSAL_CHOSEN"),
        ("transport-require", "tunnel", "NO_PROPOSAL_CHOSEN"),
    ],
)
def test_encapsulation_mode_rules_of_the_spec(hq_mode: str, branch_mode: str, result: str) -> None:
    hq_ev, br_ev = _mode(hq_mode, branch_mode)
    if result == "NO_PROPOSAL_CHOSEN":
        assert [type(e) for e in hq_ev] == [IkeSaEstablished, ChildSaFailed]
        failed = hq_ev[1]
        assert isinstance(failed, ChildSaFailed) and failed.notify == result
        # whichever side refused, no child SA is left on the branch
        assert [type(e) for e in br_ev][-1] in (ChildSaFailed, ChildSaDeleted)
    else:
        assert child_of(hq_ev).mode == result
