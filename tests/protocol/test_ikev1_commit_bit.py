"""The ISAKMP Commit flag in quick mode (RFC 2408 §3.1, RFC 2409 §5.5), between two engines on
a fake network.

tunnelgate never sets the flag on its own (the gateway's initiator hold, D87, covers the QM3
race), so the peers that set it here are small test-only engine variants: a responder with
``set_commit_bit`` (every QM2 carries the flag) and an initiator whose quick-mode headers carry
it. Timeline with a committing responder (main mode as in ``test_ikev1_main_mode.py``):

    [0-5] main mode
    [6]   HQ  --- *{HASH(1) N(INITIAL-CONTACT)} ------------------> branch
    [7]   HQ  --- *{HASH(1) SA Ni IDci IDcr} (QM1) ----------------> branch
    [8]   HQ  <-- *c{HASH(2) SA Nr IDci IDcr} (QM2, Commit) -------- branch
    [9]   HQ  --- *{HASH(3)} (QM3) --------------------------------> branch   branch installs
    [10]  HQ  <-- *{HASH(1) N(CONNECTED)} -------------------------- branch   HQ installs
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.protocol.test_ikev1_quick_mode import (
    BRANCH_ADDR,
    HQ_ADDR,
    assert_same_child,
    children,
    events,
    initiate,
)
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1 import decode_envelope
from tunnelgate.ike.v1.constants import ExchangeType, HeaderFlag, NotifyMessageType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import ChildSaDeleted, ChildSaEstablished, ChildSaFailed
from tunnelgate.ike.v1.message import Header
from tunnelgate.ike.v1.payloads import NotifyPayload
from tunnelgate.ike.v1.protection import Protection
from tunnelgate.ike.v1.state import Phase1Sa, QuickModeState

QM1, QM2, QM3, CONNECTED = 7, 8, 9, 10  # send indexes of the timeline above
PFS = {"map_extra": "crypto map M 10 set pfs group5\n"}


class CommittingResponder(Ikev1Engine):
    """A responder that sets the Commit flag in QM2, as RFC 2408 §3.1 allows any peer to."""

    set_commit_bit = True


class CommittingInitiator(Ikev1Engine):
    """An initiator that sets the Commit flag in its quick-mode messages (QM1, QM3)."""

    @staticmethod
    def _qm_header(sa: Phase1Sa, mid: int, *, commit: bool = False) -> Header:
        header = Ikev1Engine._qm_header(sa, mid)
        return replace(header, flags=header.flags | HeaderFlag.COMMIT)


def setup(
    initiator: type[Ikev1Engine] = Ikev1Engine,
    responder: type[Ikev1Engine] = CommittingResponder,
    *,
    pfs: bool = False,
    **net: object,
) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    """HQ (``initiator``) and the branch (``responder``) with the quick-mode test's configs."""
    engines = []
    for side, cls, seed in ((HQ, initiator, 1), (BRANCH, responder, 2)):
        policy = compile_config(load(gateway_text(side, **(PFS if pfs else {}))))
        engines.append(cls(policy, "outside", SeededRandom(seed)))
    network = FakeNetwork(FakeClock(), **net)  # type: ignore[arg-type]
    network.attach(HQ_ADDR, engines[0])
    network.attach(BRANCH_ADDR, engines[1])
    return network, engines[0], engines[1]


def flags(network: FakeNetwork, index: int) -> HeaderFlag:
    return decode_envelope(network.log[index].data).header.flags


def notifies(engine: Ikev1Engine, data: bytes) -> list[int]:
    """The notify types of an encrypted informational ``engine`` sent (decrypted with a copy of
    its CBC state: the engine is left as it was)."""
    envelope = decode_envelope(data)
    if envelope.header.exchange_type != ExchangeType.INFORMATIONAL:
        return []
    (sa,) = engine.sas.values()
    p = sa.protection
    assert p is not None
    copy = Protection(p.algorithm, p.key, p.hash_name, dict(p.ivs))
    return [int(n.notify_type) for n in copy.open(envelope) if isinstance(n, NotifyPayload)]


def is_connected(engine: Ikev1Engine, data: bytes) -> bool:
    return NotifyMessageType.CONNECTED in notifies(engine, data)


@pytest.mark.parametrize("pfs", [False, True], ids=["no-pfs", "pfs-group5"])
def test_the_initiator_uses_the_sa_only_after_connected(pfs: bool) -> None:
    network, hq, branch = setup(pfs=pfs)
    initiate(network, hq)
    for _ in range(9):  # up to QM3 arriving at the branch
        network.step()
    assert len(network.log) == QM3 + 1
    assert HeaderFlag.COMMIT not in flags(network, QM1)
    assert HeaderFlag.COMMIT in flags(network, QM2)
    assert not children(hq)  # QM3 is out, but the branch has not said CONNECTED yet
    (sa,) = hq.sas.values()
    assert [q.state for q in sa.quick.values()] == [QuickModeState.QUICK_I2C]
    assert not sa.children
    (b,) = children(branch)  # the responder installed on QM3 ...
    network.step()
    assert is_connected(branch, network.log[CONNECTED].data)  # ... and said so
    (notify,) = notifies(branch, network.log[CONNECTED].data)
    assert notify == NotifyMessageType.CONNECTED
    (h,) = children(hq)
    assert_same_child(h, b)
    assert set(sa.children) == {h.spi_in}
    assert [q.state for q in sa.quick.values()] == [QuickModeState.QUICK_I2]
    network.run(max_seconds=5)
    assert not children(hq) and not children(branch)
    assert not hq.drops and not branch.drops


def test_without_connected_the_quick_mode_fails_within_the_retransmission_budget() -> None:
    network, hq, branch = setup()

    def connected_lost(i: int, source: object, destination: object, data: bytes) -> str | None:
        return "dropped" if source == BRANCH_ADDR and is_connected(branch, data) else None

    network.rules.append(connected_lost)
    initiate(network, hq)
    start = network.clock.now
    network.run(max_seconds=100)
    got = events(hq)
    assert not any(isinstance(e, ChildSaEstablished) for e in got)
    (failed,) = [e for e in got if isinstance(e, ChildSaFailed)]
    assert failed.peer == BRANCH_ADDR and "CONNECTED" in failed.reason
    # QM3 and its 5 repeats (1 + 2 + 4 + 8 + 16 s), then 32 s more before giving up
    qm3s = [
        s
        for s in network.log
        if s.source == HQ_ADDR
        and decode_envelope(s.data).header.exchange_type == ExchangeType.QUICK_MODE
    ]
    assert len(qm3s) == 1 + 6  # QM1, QM3 x 6
    assert 63 <= network.clock.now - start <= 100
    (sa,) = hq.sas.values()
    assert not sa.quick and not sa.children  # phase 1 stays up
    # the branch installed its SA on QM3: the initiator's ESP Delete removes it
    deleted = [e for e in events(branch) if isinstance(e, ChildSaDeleted)]
    assert [e.reason for e in deleted] == ["deleted by the peer"]
    assert not next(iter(branch.sas.values())).children


@pytest.mark.parametrize("lost", [QM3, CONNECTED], ids=["qm3-lost", "connected-lost"])
def test_a_lost_qm3_or_connected_is_repeated(lost: int) -> None:
    network, hq, branch = setup(rules=[lambda i, s, d, data: "dropped" if i == lost else None])
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = children(hq), children(branch)  # one each: a repeat installs nothing twice
    assert_same_child(h, b)
    assert network.log[lost].fate == "dropped"
    assert sum(is_connected(branch, s.data) for s in network.log if s.source == BRANCH_ADDR) == 2


def test_the_responder_accepts_a_commit_flag_in_qm1_and_answers_qm3_with_connected() -> None:
    network, hq, branch = setup(CommittingInitiator, Ikev1Engine)
    initiate(network, hq)
    network.run(max_seconds=5)
    assert HeaderFlag.COMMIT in flags(network, QM1)
    assert HeaderFlag.COMMIT in flags(network, QM2)  # the plain tunnelgate responder echoes it
    assert is_connected(branch, network.log[CONNECTED].data)
    (h,), (b,) = children(hq), children(branch)
    assert_same_child(h, b)
    assert not hq.drops and not branch.drops


def test_tunnelgate_as_responder_does_not_set_the_flag_on_its_own() -> None:
    network, hq, branch = setup(Ikev1Engine, Ikev1Engine)
    initiate(network, hq)
    network.run(max_seconds=5)
    assert HeaderFlag.COMMIT not in flags(network, QM2)
    assert not any(is_connected(branch, s.data) for s in network.log if s.source == BRANCH_ADDR)
    (h,), (b,) = children(hq), children(branch)
    assert_same_child(h, b)


def test_an_unexpected_connected_is_counted_and_ignored() -> None:
    network, hq, branch = setup(Ikev1Engine, Ikev1Engine)
    initiate(network, hq)
    network.run(max_seconds=5)
    assert len(children(hq)) == 1
    (sa,) = branch.sas.values()
    branch._send_informational(sa, [NotifyPayload(NotifyMessageType.CONNECTED, spi=b"\x01" * 4)])
    network.run(max_seconds=1)
    assert hq.drops == {"unexpected-connected": 1}
    assert not children(hq)
