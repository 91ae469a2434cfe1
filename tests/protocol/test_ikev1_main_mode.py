"""IKEv1 main mode with pre-shared keys between two engines on a fake network (RFC 2409 §5).

Quick mode, INITIAL-CONTACT and DPD follow phase 1 (``test_ikev1_quick_mode.py``); here only
the phase-1 events and main-mode datagrams are looked at.

Timeline (HQ initiates towards the branch; send indexes in brackets):

    [0] HQ  --- MM1 SA ------------------> branch
    [1] HQ  <-- MM2 SA ------------------- branch
    [2] HQ  --- MM3 KE Ni NAT-D NAT-D ---> branch
    [3] HQ  <-- MM4 KE Nr NAT-D NAT-D ---- branch
    [4] HQ  --- MM5 *{IDii HASH_I} ------> branch
    [5] HQ  <-- MM6 *{IDir HASH_R} ------- branch
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import (
    FakeClock,
    FakeNetwork,
    SeededRandom,
    Sent,
    drop_nth,
    duplicate_nth,
)
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1 import decode_envelope
from tunnelgate.ike.v1.constants import ExchangeType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import Ikev1Event, Ikev1SaDeleted, Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v1.state import MainModeState

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)


PHASE1 = (Ikev1SaEstablished, Ikev1SaFailed, Ikev1SaDeleted)


def events(engine: Ikev1Engine) -> list[Ikev1Event]:
    """The phase-1 events (quick mode's child-SA events are left out)."""
    out: list[Ikev1Event] = []
    while (event := engine.next_event()) is not None:
        if isinstance(event, PHASE1):
            out.append(event)
    return out


def main_mode_log(network: FakeNetwork) -> list[Sent]:
    """The main-mode datagrams of the timeline."""
    return [
        s
        for s in network.log
        if decode_envelope(s.data).header.exchange_type == ExchangeType.MAIN_MODE
    ]


def setup(
    hq: dict[str, str] | None = None, branch: dict[str, str] | None = None, **net: object
) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    engines = []
    for side, over, seed in ((HQ, hq or {}, 1), (BRANCH, branch or {}, 2)):
        policy = compile_config(load(gateway_text(side, **over)))
        engines.append(Ikev1Engine(policy, "outside", SeededRandom(seed)))
    network = FakeNetwork(FakeClock(), **net)  # type: ignore[arg-type]
    network.attach(HQ_ADDR, engines[0])
    network.attach(BRANCH_ADDR, engines[1])
    return network, engines[0], engines[1]


def initiate(network: FakeNetwork, hq: Ikev1Engine) -> None:
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)


def test_main_mode_establishes_the_same_isakmp_sa_on_both_sides() -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run(max_seconds=10)
    (h,), (b,) = events(hq), events(branch)
    assert isinstance(h, Ikev1SaEstablished) and isinstance(b, Ikev1SaEstablished)
    assert (h.cookie_i, h.cookie_r) == (b.cookie_i, b.cookie_r)
    assert (h.initiator, b.initiator) == (True, False)
    assert h.algorithms == b.algorithms == "aes-256/sha/group 5/pre-share"
    assert h.lifetime_seconds == b.lifetime_seconds == 86400
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.state is MainModeState.MAIN_I4 and sa_b.state is MainModeState.MAIN_R3
    assert sa_h.keys == sa_b.keys and sa_h.keys is not None
    assert len(sa_h.keys.encryption_key) == 32  # aes-256 from 20-octet SKEYID_e (App. B)
    # both sides end on the same CBC state: the last block of MM6 (base of quick mode IVs)
    assert sa_h.protection is not None and sa_b.protection is not None
    log = main_mode_log(network)
    assert sa_h.protection.iv(0) == sa_b.protection.iv(0) == log[-1].data[-16:]
    assert not sa_h.nat_detected and not sa_b.nat_detected
    assert [s.fate for s in log] == ["delivered"] * 6
    flags = [decode_envelope(s.data).header.is_encrypted for s in log]
    assert flags == [False] * 4 + [True] * 2
    assert not hq.drops and not branch.drops


def test_wrong_pre_shared_key_fails_authentication_on_the_responder() -> None:
    wrong = (
        f"tunnel-group {HQ['peer']} type ipsec-l2l\ntunnel-group {HQ['peer']} ipsec-attributes\n"
    )
    wrong += " ikev1 pre-shared-key not-the-secret\n"
    network, hq, branch = setup(hq={"group": wrong})
    initiate(network, hq)
    network.run(max_seconds=10)
    (b,) = events(branch)
    assert isinstance(b, Ikev1SaFailed)
    assert b.notify in ("AUTHENTICATION_FAILED", "INVALID_HASH_INFORMATION")
    assert not branch.sas
    # the initiator hears the unprotected notify and gives up too
    (h,) = events(hq)
    assert isinstance(h, Ikev1SaFailed) and h.notify == b.notify
    assert not hq.sas


def test_no_common_policy_is_answered_with_no_proposal_chosen() -> None:
    other = "crypto ikev1 policy 10\n encryption 3des\n hash md5\n group 2\n"
    network, hq, branch = setup(branch={"ikev1_policy": other})
    initiate(network, hq)
    network.run(max_seconds=10)
    (b,) = events(branch)
    assert isinstance(b, Ikev1SaFailed) and b.notify == "NO_PROPOSAL_CHOSEN"
    assert "encryption" in b.reason
    (h,) = events(hq)
    assert isinstance(h, Ikev1SaFailed) and h.notify == "NO_PROPOSAL_CHOSEN"
    assert not hq.sas and not branch.sas
    assert len(network.log) == 2  # MM1, then the informational notify


@pytest.mark.parametrize("lost", [0, 1, 2, 3, 4, 5], ids=lambda i: f"MM{i + 1}")
def test_a_lost_message_is_retransmitted(lost: int) -> None:
    network, hq, branch = setup(rules=[drop_nth(lost)])
    start = network.clock.now
    initiate(network, hq)
    network.run(max_seconds=5)  # before the first DPD check (threshold 10 s)
    assert [type(e) for e in events(hq)] == [Ikev1SaEstablished]
    assert [type(e) for e in events(branch)] == [Ikev1SaEstablished]
    assert network.clock.now == start + 1.0  # one retransmission timeout
    fates = [s.fate for s in main_mode_log(network)]
    # a lost request costs its retransmission; a lost answer the request's and its own
    assert fates[lost] == "dropped" and fates.count("delivered") == 6 + lost % 2
    if lost % 2:  # a lost answer: the repeated request is answered from the last message
        assert branch.drops["duplicate"] == 1
    else:
        assert network.log[lost].data == network.log[lost + 1].data


def test_duplicated_mm1_does_not_create_a_second_sa() -> None:
    network, hq, branch = setup(rules=[duplicate_nth(0)])
    initiate(network, hq)
    network.run(max_seconds=10)
    assert [type(e) for e in events(branch)] == [Ikev1SaEstablished]
    assert [type(e) for e in events(hq)] == [Ikev1SaEstablished]
    assert len(branch.sas) == 1 and len(hq.sas) == 1
    # the branch answered the repeat with MM2 again; HQ dropped that second MM2
    assert branch.drops["duplicate"] == 1 and hq.drops["duplicate"] == 1


def test_unanswered_initiator_gives_up_after_its_retransmissions() -> None:
    network, hq, _branch = setup(rules=[lambda i, s, d, data: "dropped"])
    initiate(network, hq)
    network.run(max_seconds=100)
    (h,) = events(hq)
    assert isinstance(h, Ikev1SaFailed) and "no answer after 6 tries" in h.reason
    assert len(network.log) == 6 and not hq.sas


def test_half_open_responder_sa_expires() -> None:
    network, hq, branch = setup(rules=[lambda i, s, d, data: "dropped" if i >= 2 else None])
    initiate(network, hq)
    network.run(max_seconds=100)
    assert not branch.sas and not hq.sas
    assert [e.reason for e in events(branch) if isinstance(e, Ikev1SaFailed)] == [
        "main mode did not finish in time"
    ]


# ---------------------------------------------------------------- robustness (Hypothesis)


def _pair_at(messages: int) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    """A pair after the first ``messages`` main-mode messages were delivered."""
    network, hq, branch = setup(rules=[lambda i, s, d, data: "dropped" if i >= messages else None])
    initiate(network, hq)
    for _ in range(messages):
        network.step()
    return network, hq, branch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.integers(0, 6),
    target=st.sampled_from(["hq", "branch"]),
    raw=st.binary(max_size=200),
    header_from=st.sampled_from(["random", "last-mm", "last-mm-encrypted"]),
)
def test_random_bytes_in_any_state_never_raise_and_are_counted(
    messages: int, target: str, raw: bytes, header_from: str
) -> None:
    network, hq, branch = _pair_at(messages)
    engine = hq if target == "hq" else branch
    data = raw
    sent = [s.data for s in network.log]
    if header_from != "random" and sent:
        # a well-formed header of this negotiation (cookies, main mode) with a random body
        head = bytearray(sent[-1][:28])
        head[19] = 0x01 if header_from == "last-mm-encrypted" else 0x00
        head[24:28] = (28 + len(raw)).to_bytes(4, "big")
        data = bytes(head) + raw
    before = (sum(engine.drops.values()), len(engine.sas))
    events(engine)
    engine.receive_datagram(data, BRANCH_ADDR if engine is hq else HQ_ADDR, network.clock.now)
    after = (sum(engine.drops.values()), len(engine.sas))
    outcome = events(engine)
    # every datagram is either counted as a drop / refusal or starts a new negotiation
    assert after[0] == before[0] + 1 or (after[1] == before[1] + 1 and not outcome)
