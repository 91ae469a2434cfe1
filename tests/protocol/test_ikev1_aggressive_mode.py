"""IKEv1 aggressive mode with pre-shared keys between two engines on a fake network (RFC 2409
§5.4), then quick mode as after main mode.

Timeline (HQ's map entry says ``set ikev1 phase1-mode aggressive``; send indexes):

    [0] HQ  --- AM1 SA KE Ni IDii VID VID ------------------> branch
    [1] HQ  <-- AM2 SA KE Nr IDir HASH_R VID VID NAT-D NAT-D - branch
    [2] HQ  --- AM3 HASH_I NAT-D NAT-D (in the clear) -------> branch
    [3] HQ  --- *{HASH(1) N(INITIAL-CONTACT)} ---------------> branch
    [4-6]       quick mode
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom, drop_nth
from tests.protocol.test_ikev1_quick_mode import assert_same_child, events
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1 import decode_envelope
from tunnelgate.ike.v1.constants import ExchangeType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import ChildSaEstablished, Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v1.state import MainModeState

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)
AGGRESSIVE = {"map_extra": "crypto map M 10 set ikev1 phase1-mode aggressive\n"}


def setup(
    hq: dict[str, str] | None = None,
    branch: dict[str, str] | None = None,
    hq_side: dict[str, str] = HQ,
    **net: object,
) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    engines = []
    for side, over, seed in ((hq_side, hq or {}, 1), (BRANCH, branch or {}, 2)):
        policy = compile_config(load(gateway_text(side, **over)))
        engines.append(Ikev1Engine(policy, "outside", SeededRandom(seed)))
    network = FakeNetwork(FakeClock(), **net)  # type: ignore[arg-type]
    network.attach((hq_side["outside"], 500), engines[0], 4500)
    network.attach(BRANCH_ADDR, engines[1], 4500)
    return network, engines[0], engines[1]


def initiate(network: FakeNetwork, engine: Ikev1Engine) -> None:
    entry = engine.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    engine.initiate(entry, entry.acl.permits[0], network.clock.now)


def kinds(network: FakeNetwork) -> list[tuple[int, bool]]:
    """(exchange type, encrypted) of every datagram on the wire."""
    out = []
    for sent in network.log:
        header = decode_envelope(sent.data).header
        out.append((int(header.exchange_type), header.is_encrypted))
    return out


def split(engine: Ikev1Engine) -> tuple[list[Ikev1SaEstablished], list[ChildSaEstablished]]:
    got = events(engine)
    phase1 = [e for e in got if isinstance(e, Ikev1SaEstablished)]
    return phase1, [e for e in got if isinstance(e, ChildSaEstablished)]


def failures(engine: Ikev1Engine) -> list[Ikev1SaFailed]:
    return [e for e in events(engine) if isinstance(e, Ikev1SaFailed)]


def _named_group(name: str, key: str = "byname") -> str:
    return (
        f"tunnel-group {name} type ipsec-l2l\n"
        f"tunnel-group {name} ipsec-attributes\n"
        f" ikev1 pre-shared-key {key}\n"
    )


# ---------------------------------------------------------------- establishment


def test_hq_initiates_aggressive_mode_then_quick_mode() -> None:
    network, hq, branch = setup(hq=AGGRESSIVE)
    initiate(network, hq)
    network.run(max_seconds=5)
    (p1_h,), (h,) = split(hq)
    (p1_b,), (b,) = split(branch)
    assert_same_child(h, b)
    assert (p1_h.cookie_i, p1_h.cookie_r) == (p1_b.cookie_i, p1_b.cookie_r)
    assert p1_h.initiator and not p1_b.initiator
    aggr, info, quick = ExchangeType.AGGRESSIVE, ExchangeType.INFORMATIONAL, ExchangeType.QUICK_MODE
    assert kinds(network) == [(aggr, False)] * 3 + [(info, True)] + [(quick, True)] * 3
    assert not hq.drops and not branch.drops
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert (sa_h.state, sa_b.state) == (MainModeState.AGGR_I2, MainModeState.AGGR_R2)
    assert set(sa_h.children) == {h.spi_in} and set(sa_b.children) == {b.spi_in}
    assert sa_h.peer_dpd and sa_b.peer_dpd and not sa_h.nat_detected


def test_branch_initiates_aggressive_mode() -> None:
    network, hq, branch = setup(branch=AGGRESSIVE)
    initiate(network, branch)
    network.run(max_seconds=5)
    (_,), (b,) = split(branch)
    (_,), (h,) = split(hq)
    assert_same_child(b, h)


def test_lost_am3_is_recovered_by_the_responders_am2_repeat() -> None:
    network, hq, branch = setup(hq=AGGRESSIVE)
    network.rules.append(drop_nth(2))
    initiate(network, hq)
    network.run(max_seconds=30)
    (_,), (h,) = split(hq)
    (_,), (b,) = split(branch)
    assert_same_child(h, b)
    assert branch.drops["duplicate"] == 0 and hq.drops["duplicate"] >= 1


# ---------------------------------------------------------------- refusals


def test_am_disable_refuses_with_no_proposal_chosen() -> None:
    network, hq, branch = setup(hq=AGGRESSIVE, branch={"extra": "crypto ikev1 am-disable\n"})
    initiate(network, hq)
    network.run(max_seconds=5)
    (b,) = failures(branch)
    assert b.notify == "NO_PROPOSAL_CHOSEN" and "am-disable" in b.reason
    (h,) = failures(hq)
    assert h.notify == "NO_PROPOSAL_CHOSEN" and "aggressive mode" in h.reason
    assert not hq.sas and not branch.sas
    assert len(network.log) == 2  # AM1, the unprotected notify


def test_am_disable_leaves_main_mode_alone() -> None:
    network, hq, _ = setup(branch={"extra": "crypto ikev1 am-disable\n"})
    initiate(network, hq)
    network.run(max_seconds=5)
    assert len(split(hq)[1]) == 1


def test_wrong_pre_shared_key_fails_with_authentication_failed() -> None:
    group = _named_group(HQ_ADDR[0], "other")
    network, hq, branch = setup(hq=AGGRESSIVE, branch={"group": group})
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,) = failures(hq)
    assert h.notify == "AUTHENTICATION_FAILED" and "HASH_R" in h.reason
    (b,) = failures(branch)
    assert b.notify == "AUTHENTICATION_FAILED"
    assert not hq.sas and not branch.sas


# ---------------------------------------------------------------- identities


def test_tunnel_group_found_by_hostname_identity() -> None:
    hq = {
        **AGGRESSIVE,
        "extra": "domain-name example.net\ncrypto isakmp identity hostname\n",
        "group": _named_group(BRANCH_ADDR[0]),
    }
    branch = {"group": _named_group("hq.example.net")}  # no group for HQ's address
    network, hq_engine, branch_engine = setup(hq=hq, branch=branch)
    initiate(network, hq_engine)
    network.run(max_seconds=5)
    assert len(split(hq_engine)[1]) == 1
    (sa_b,) = branch_engine.sas.values()
    assert sa_b.peer_id == "hq.example.net"
    am1 = decode_envelope(network.log[0].data)
    assert b"hq.example.net" in am1.body


def test_tunnel_group_found_by_key_id_identity() -> None:
    hq = {
        **AGGRESSIVE,
        "extra": "crypto isakmp identity key-id HQKEY\n",
        "group": _named_group(BRANCH_ADDR[0]),
    }
    network, hq_engine, branch_engine = setup(hq=hq, branch={"group": _named_group("HQKEY")})
    initiate(network, hq_engine)
    network.run(max_seconds=5)
    assert len(split(hq_engine)[1]) == 1
    assert next(iter(branch_engine.sas.values())).peer_id == "HQKEY"


def test_unknown_identity_without_a_key_is_refused() -> None:
    hq = {**AGGRESSIVE, "extra": "crypto isakmp identity key-id NOBODY\n"}
    # the branch has no group for NOBODY and none for HQ's address either: DefaultL2LGroup
    network, hq_engine, branch_engine = setup(hq=hq, branch={"group": _named_group("OTHER")})
    initiate(network, hq_engine)
    network.run(max_seconds=5)
    (b,) = failures(branch_engine)
    assert b.notify == "AUTHENTICATION_FAILED" and "DefaultL2LGroup" in b.reason
    assert failures(hq_engine)[0].notify == "AUTHENTICATION_FAILED"


# ---------------------------------------------------------------- NAT traversal


def test_nat_float_sends_am3_encrypted_from_4500() -> None:
    behind = {**HQ, "outside": "10.0.0.1"}
    network, hq, branch = setup(hq=AGGRESSIVE, hq_side=behind, nat={"10.0.0.1": "203.0.113.1"})
    initiate(network, hq)
    network.run(max_seconds=5)
    (_,), (h,) = split(hq)
    (_,), (b,) = split(branch)
    assert_same_child(h, b)
    assert h.udp_encapsulation and b.udp_encapsulation
    ports = [(s.source[1], s.destination[1]) for s in network.log]
    assert ports[:2] == [(500, 500)] * 2 and set(ports[2:]) == {(4500, 4500)}
    assert kinds(network)[2] == (ExchangeType.AGGRESSIVE, True)
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.nat_detected and sa_b.nat_detected
    assert sa_b.peer == ("203.0.113.1", 4500) and sa_h.peer == ("198.51.100.2", 4500)


# ---------------------------------------------------------------- robustness


def _pair_at(messages: int) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    """A pair stopped after ``messages`` datagrams of the timeline."""
    network, hq, branch = setup(hq=AGGRESSIVE)
    network.rules.append(lambda i, *_: "dropped" if i >= messages else None)
    initiate(network, hq)
    network.step()
    for _ in range(messages):
        network.step()
    return network, hq, branch


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.integers(0, 7),
    target=st.sampled_from(["hq", "branch"]),
    raw=st.binary(max_size=200),
    header_from=st.sampled_from(["random", "last", "last-encrypted"]),
)
def test_random_input_in_every_aggressive_mode_state_never_raises(
    messages: int, target: str, raw: bytes, header_from: str
) -> None:
    network, hq, branch = _pair_at(messages)
    engine = hq if target == "hq" else branch
    data = raw
    sent = [s.data for s in network.log]
    if header_from != "random" and sent:
        head = bytearray(sent[min(messages, len(sent) - 1)][:28])
        head[19] = 0x01 if header_from == "last-encrypted" else 0x00
        head[24:28] = (28 + len(raw)).to_bytes(4, "big")
        data = bytes(head) + raw
    before = sum(engine.drops.values())
    engine.receive_datagram(data, BRANCH_ADDR if engine is hq else HQ_ADDR, network.clock.now)
    events(engine)
    # a datagram that is no next message is counted (or, a new AM1 / a refusal, answered)
    assert sum(engine.drops.values()) >= before
    network.run(max_seconds=60)  # and whatever follows does not raise either
