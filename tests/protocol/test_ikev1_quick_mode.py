"""IKEv1 quick mode and the encrypted informational exchange between two engines on a fake
network (RFC 2409 §5.5, §5.7; RFC 3706 DPD).

Timeline of a working pair (HQ initiates; main mode as in ``test_ikev1_main_mode.py``):

    [0-5] main mode
    [6]   HQ  --- *{HASH(1) N(INITIAL-CONTACT)} ------------------> branch
    [7]   HQ  --- *{HASH(1) SA Ni IDci IDcr} (QM1) ----------------> branch
    [8]   HQ  <-- *{HASH(2) SA Nr IDci IDcr} (QM2) ----------------- branch
    [9]   HQ  --- *{HASH(3)} (QM3) --------------------------------> branch
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.esp.child_sa import ChildSa, Protected, Unprotected
from tunnelgate.esp.packet import EspKeys, EspTransform
from tunnelgate.esp.sa import Lifetime
from tunnelgate.ike.v1 import decode_envelope
from tunnelgate.ike.v1.constants import ExchangeType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaFailed,
    Ikev1Event,
    Ikev1SaDeleted,
    Ikev1SaEstablished,
    PeerUnreachable,
)
from tunnelgate.ike.v1.state import Phase1Sa

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)
Engines = tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]


def events(engine: Ikev1Engine) -> list[Ikev1Event]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def children(engine: Ikev1Engine) -> list[ChildSaEstablished]:
    return [e for e in events(engine) if isinstance(e, ChildSaEstablished)]


def setup(
    hq: dict[str, str] | None = None, branch: dict[str, str] | None = None, **net: object
) -> Engines:
    engines = []
    for side, over, seed in ((HQ, hq or {}, 1), (BRANCH, branch or {}, 2)):
        policy = compile_config(load(gateway_text(side, **over)))
        engines.append(Ikev1Engine(policy, "outside", SeededRandom(seed)))
    network = FakeNetwork(FakeClock(), **net)  # type: ignore[arg-type]
    network.attach(HQ_ADDR, engines[0])
    network.attach(BRANCH_ADDR, engines[1])
    return network, engines[0], engines[1]


def initiate(network: FakeNetwork, engine: Ikev1Engine, line: int = 0) -> Phase1Sa:
    entry = engine.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    return engine.initiate(entry, entry.acl.permits[line], network.clock.now)


def esp_pair(event: ChildSaEstablished) -> ChildSa:
    """The data path's SA pair, built as ``gateway.core.esp_sa`` builds it."""
    keys = event.keys
    i_to_r, r_to_i = EspKeys(keys.encr_i, keys.integ_i), EspKeys(keys.encr_r, keys.integ_r)
    out_keys, in_keys = (i_to_r, r_to_i) if event.initiator else (r_to_i, i_to_r)
    spi_out, spi_in = int.from_bytes(event.spi_out, "big"), int.from_bytes(event.spi_in, "big")
    outbound = EspTransform.from_keywords(spi_out, event.encryption, event.integrity, out_keys)
    inbound = EspTransform.from_keywords(spi_in, event.encryption, event.integrity, in_keys)
    return ChildSa(outbound, inbound, Lifetime(None, None), 0.0, SeededRandom(7))


def ipv4(source: str, destination: str, payload: bytes) -> bytes:
    """A UDP-in-IPv4 packet (header checksum included) to carry through the tunnel."""
    header = bytearray(20)
    header[0], header[8], header[9] = 0x45, 64, 17
    header[2:4] = (20 + len(payload)).to_bytes(2, "big")
    header[12:16] = bytes(int(x) for x in source.split("."))
    header[16:20] = bytes(int(x) for x in destination.split("."))
    total = sum(int.from_bytes(header[i : i + 2], "big") for i in range(0, 20, 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    header[10:12] = (~total & 0xFFFF).to_bytes(2, "big")
    return bytes(header) + payload


def assert_esp_round_trips(a: ChildSaEstablished, b: ChildSaEstablished) -> None:
    """One packet each way through ESP: the keys and SPIs of both sides line up."""
    sa_a, sa_b = esp_pair(a), esp_pair(b)
    there = ipv4("10.1.0.5", "10.2.0.9", b"a->b" * 10)
    back = ipv4("10.2.0.9", "10.1.0.5", b"b->a" * 10)
    for sender, receiver, inner in ((sa_a, sa_b, there), (sa_b, sa_a, back)):
        protected = sender.protect(inner, 4, 1.0, SeededRandom(3))
        assert isinstance(protected, Protected)
        result = receiver.unprotect(protected.esp, 1.0)
        assert isinstance(result, Unprotected) and result.inner == inner


def assert_same_child(initiator: ChildSaEstablished, responder: ChildSaEstablished) -> None:
    assert (initiator.spi_in, initiator.spi_out) == (responder.spi_out, responder.spi_in)
    assert initiator.keys == responder.keys
    assert initiator.selector == responder.selector.mirrored()
    assert (initiator.initiator, responder.initiator) == (True, False)
    assert_esp_round_trips(initiator, responder)


def exchange_types(network: FakeNetwork) -> list[int]:
    return [decode_envelope(s.data).header.exchange_type for s in network.log]


# ---------------------------------------------------------------- establishment


def test_hq_initiates_main_mode_then_quick_mode() -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = children(hq), children(branch)
    assert_same_child(h, b)
    assert (h.encryption, h.integrity, h.mode) == ("aes-256", "sha-1", "tunnel")
    assert h.selector.describe() == "ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0"
    assert (h.lifetime_seconds, h.lifetime_kilobytes) == (28800, 4608000)
    assert h.map_label == b.map_label == "crypto map M 10"
    assert (h.ike_spi_i, h.ike_spi_r) == (b.ike_spi_i, b.ike_spi_r) and h.peer == BRANCH_ADDR
    assert exchange_types(network) == [2] * 6 + [5, 32, 32, 32]
    assert not hq.drops and not branch.drops
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.peer_dpd and sa_b.peer_dpd  # the DPD vendor ID went both ways
    assert set(sa_h.children) == {h.spi_in} and set(sa_b.children) == {b.spi_in}


def test_branch_initiates() -> None:
    network, hq, branch = setup()
    initiate(network, branch)
    network.run(max_seconds=5)
    (b,), (h,) = children(branch), children(hq)
    assert_same_child(b, h)
    assert b.selector.describe() == "ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0"


def test_pfs_group_5_on_both_sides() -> None:
    # D16: ``set pfs group14`` is refused on an entry with IKEv1 transform sets; group 5 is not
    pfs = {"map_extra": "crypto map M 10 set pfs group5\n"}
    network, hq, branch = setup(hq=pfs, branch=pfs)
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = children(hq), children(branch)
    assert_same_child(h, b)
    without = setup()[0]
    initiate(without, without.engines[HQ_ADDR])  # type: ignore[arg-type]
    without.run(max_seconds=5)
    # QM1 and QM2 carry a 1536-bit (192-octet) KE each with PFS
    assert len(network.log[7].data) - len(without.log[7].data) >= 192 + 4
    assert len(network.log[8].data) - len(without.log[8].data) >= 192 + 4


def test_pfs_required_by_the_responder_but_not_offered() -> None:
    network, hq, branch = setup(branch={"map_extra": "crypto map M 10 set pfs group5\n"})
    initiate(network, hq)
    network.run(max_seconds=5)
    (b,) = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
    assert b.notify == "NO_PROPOSAL_CHOSEN" and "PFS" in b.reason
    (h,) = [e for e in events(hq) if isinstance(e, ChildSaFailed)]
    assert h.notify == "NO_PROPOSAL_CHOSEN"


def test_shorter_responder_lifetime_is_announced_and_adopted() -> None:
    short = {"map_extra": "crypto map M 10 set security-association lifetime seconds 3600\n"}
    network, hq, branch = setup(branch=short)
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = children(hq), children(branch)
    assert h.lifetime_seconds == b.lifetime_seconds == 3600
    assert h.lifetime_kilobytes == b.lifetime_kilobytes == 4608000


def test_transform_set_mismatch_is_refused_with_no_proposal_chosen() -> None:
    other = "crypto ipsec ikev1 transform-set TS esp-3des esp-md5-hmac\n"
    network, hq, branch = setup(branch={"transform": other})
    initiate(network, hq)
    network.run(max_seconds=5)
    (b,) = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
    assert b.notify == "NO_PROPOSAL_CHOSEN" and "transform set" in b.reason
    hq_events = events(hq)
    (h,) = [e for e in hq_events if isinstance(e, ChildSaFailed)]
    assert h.notify == "NO_PROPOSAL_CHOSEN"
    assert not any(isinstance(e, ChildSaEstablished) for e in hq_events)
    assert len(hq.sas) == len(branch.sas) == 1  # phase 1 stays up
    assert not next(iter(hq.sas.values())).quick


def test_proxy_identity_mismatch_is_refused_with_invalid_id_information() -> None:
    acl = "access-list VPN extended permit ip 10.2.0.0 255.255.0.0 10.9.0.0 255.255.0.0\n"
    network, hq, branch = setup(branch={"acl": acl})
    initiate(network, hq)
    network.run(max_seconds=5)
    (b,) = [e for e in events(branch) if isinstance(e, ChildSaFailed)]
    assert b.notify == "INVALID_ID_INFORMATION"
    (h,) = [e for e in events(hq) if isinstance(e, ChildSaFailed)]
    assert h.notify == "INVALID_ID_INFORMATION"


def test_a_second_acl_line_gets_a_second_quick_mode_on_the_same_isakmp_sa() -> None:
    hq_acl = (
        "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0\n"
        "access-list VPN extended permit tcp host 10.1.0.5 host 10.3.0.9 eq 443\n"
    )
    branch_acl = (
        "access-list VPN extended permit ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0\n"
        "access-list VPN extended permit tcp host 10.3.0.9 eq 443 host 10.1.0.5\n"
    )
    network, hq, branch = setup(hq={"acl": hq_acl}, branch={"acl": branch_acl})
    sa = initiate(network, hq)
    network.run(max_seconds=5)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.create_child(sa, entry, entry.acl.permits[1], network.clock.now)
    network.run(max_seconds=5)
    first_h, second_h = children(hq)
    first_b, second_b = children(branch)
    assert_same_child(first_h, first_b)
    assert_same_child(second_h, second_b)
    assert second_h.selector.describe() == "6 host 10.1.0.5 host 10.3.0.9 eq 443"
    assert len(hq.sas) == len(branch.sas) == 1 and len(sa.children) == 2
    assert first_h.ike_spi_i == second_h.ike_spi_i


# ---------------------------------------------------------------- informational


def established() -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine, ChildSaEstablished]:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,) = children(hq)
    events(branch)
    return network, hq, branch, h


def test_delete_of_a_child_reaches_the_peer() -> None:
    network, hq, branch, h = established()
    hq.delete_child(h.spi_in, network.clock.now)
    network.run(max_seconds=1)
    assert events(hq) == [ChildSaDeleted(h.spi_in, h.spi_out, "deleted locally")]
    assert events(branch) == [ChildSaDeleted(h.spi_out, h.spi_in, "deleted by the peer")]
    assert len(hq.sas) == len(branch.sas) == 1
    assert not next(iter(branch.sas.values())).children


def test_delete_of_the_isakmp_sa_deletes_its_children_on_both_sides() -> None:
    network, hq, branch, h = established()
    (sa,) = hq.sas.values()
    hq.delete_sa(sa, network.clock.now)
    network.run(max_seconds=1)
    for engine, (spi_in, spi_out) in ((hq, (h.spi_in, h.spi_out)), (branch, (h.spi_out, h.spi_in))):
        got = events(engine)
        assert ChildSaDeleted(spi_in, spi_out, got[0].reason) == got[0]  # type: ignore[union-attr]
        assert isinstance(got[-1], Ikev1SaDeleted)
        assert not engine.sas
    assert not hq.drops and not branch.drops


def test_dpd_keeps_a_live_peer_and_detects_a_dead_one() -> None:
    network, hq, _branch, _h = established()
    network.run(max_seconds=60)  # R-U-THERE / R-U-THERE-ACK every 10 s of silence
    assert not any(isinstance(e, (PeerUnreachable, ChildSaDeleted)) for e in events(hq))
    assert exchange_types(network).count(ExchangeType.INFORMATIONAL) > 4
    assert len(hq.sas) == 1 and not hq.drops
    network.rules.append(lambda i, s, d, data: "dropped")  # the branch is gone
    start = network.clock.now
    network.run(max_seconds=120)
    got = events(hq)
    assert isinstance(got[0], PeerUnreachable) and got[0].peer == BRANCH_ADDR
    assert got[0].version == 1  # the daemon logs IKEv1's 713123, not IKEv2's wording
    assert [type(e) for e in got[1:]] == [ChildSaDeleted, Ikev1SaDeleted]
    assert not hq.sas
    # threshold 10 s idle, then retry every 2 s: 5 repeats after the first R-U-THERE
    assert network.clock.now - start <= 10 + 2 * 6 + 0.001


def test_initial_contact_removes_the_peers_older_sas() -> None:
    network, hq, branch, h = established()
    # the branch reboots: a fresh engine at the same address initiates again
    fresh = Ikev1Engine(branch.gateway, "outside", SeededRandom(9))
    network.attach(BRANCH_ADDR, fresh)
    initiate(network, fresh)
    network.run(max_seconds=5)
    got = events(hq)
    deleted = [e for e in got if isinstance(e, ChildSaDeleted)]
    assert deleted and deleted[0].spi_in == h.spi_in
    assert any(isinstance(e, Ikev1SaDeleted) for e in got)
    assert [type(e) for e in got if isinstance(e, (Ikev1SaEstablished, ChildSaEstablished))] == [
        Ikev1SaEstablished,
        ChildSaEstablished,
    ]
    assert len(hq.sas) == 1


def test_lost_qm2_and_qm3_are_repeated() -> None:
    for lost in (8, 9):
        network, hq, branch = setup(
            rules=[lambda i, s, d, data, n=lost: "dropped" if i == n else None]
        )
        initiate(network, hq)
        network.run(max_seconds=5)
        (h,), (b,) = children(hq), children(branch)
        assert_same_child(h, b)


# ---------------------------------------------------------------- robustness (Hypothesis)


def _pair_at(messages: int) -> Engines:
    network, hq, branch = setup(rules=[lambda i, s, d, data: "dropped" if i >= messages else None])
    initiate(network, hq)
    for _ in range(messages):
        network.step()
    return network, hq, branch


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.integers(6, 10),
    target=st.sampled_from(["hq", "branch"]),
    exchange=st.sampled_from([ExchangeType.QUICK_MODE, ExchangeType.INFORMATIONAL]),
    raw=st.binary(max_size=200),
    message_id=st.sampled_from(["random", "zero", "last"]),
)
def test_random_encrypted_input_in_any_state_never_raises(
    messages: int, target: str, exchange: int, raw: bytes, message_id: str
) -> None:
    network, hq, branch = _pair_at(messages)
    engine = hq if target == "hq" else branch
    head = bytearray(network.log[5].data[:28])  # the cookies of the ISAKMP SA
    head[18], head[19] = exchange, 0x01
    if message_id == "random":
        head[20:24] = raw[:4].ljust(4, b"\x01")
    elif message_id == "last":
        head[20:24] = network.log[-1].data[20:24]
    else:
        head[20:24] = bytes(4)
    head[24:28] = (28 + len(raw)).to_bytes(4, "big")
    before = sum(engine.drops.values())
    engine.receive_datagram(bytes(head) + raw, BRANCH_ADDR if engine is hq else HQ_ADDR, 1e6)
    engine.handle_timer(1e6)
    assert sum(engine.drops.values()) >= before
