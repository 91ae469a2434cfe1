"""Rekeying the ISAKMP SA (phase 1) between two engines on a fake network.

Timeline (both sides: ``crypto ikev1 policy 10 … lifetime 600``; HQ initiates):

    t=1000      main mode, INITIAL-CONTACT, quick mode (the IPsec SA pair)
    t=1510-1570 HQ's rekey timer (85-95 % of 600 s): a new main mode with new cookies,
                no INITIAL-CONTACT; HQ moves the IPsec SAs to it and deletes the old ISAKMP
                SA (*{HASH(1) D(ISAKMP)}); the branch moves them when the Delete arrives
    afterwards  ESP still round-trips with the same keys; deletes and DPD use the new SA
"""

from __future__ import annotations

from typing import TypeVar

import pytest

from tests.helpers import load
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.protocol.test_ikev1_quick_mode import assert_esp_round_trips, assert_same_child, events
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1 import decode_envelope
from tunnelgate.ike.v1.constants import ExchangeType, NotifyMessageType, ProtocolId
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    Ikev1Event,
    Ikev1SaDeleted,
    Ikev1SaEstablished,
)
from tunnelgate.ike.v1.payloads import DeletePayload, NotifyPayload, Payload
from tunnelgate.ike.v1.state import MainModeState, Phase1Sa

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)
LIFETIME = 600
E = TypeVar("E")
POLICY = f"crypto ikev1 policy 10\n encryption aes-256\n hash sha\n group 5\n lifetime {LIFETIME}\n"
AGGRESSIVE = "crypto map M 10 set ikev1 phase1-mode aggressive\n"


def setup(aggressive: bool = False) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    engines = []
    for side, seed in ((HQ, 1), (BRANCH, 2)):
        extra = {"map_extra": AGGRESSIVE} if aggressive and side is HQ else {}
        text = gateway_text(side, ikev1_policy=POLICY, **extra)
        engines.append(Ikev1Engine(compile_config(load(text)), "outside", SeededRandom(seed)))
    network = FakeNetwork(FakeClock())
    network.attach(HQ_ADDR, engines[0])
    network.attach(BRANCH_ADDR, engines[1])
    return network, engines[0], engines[1]


def established(
    aggressive: bool = False,
) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine, ChildSaEstablished, ChildSaEstablished]:
    network, hq, branch = setup(aggressive)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    network.run(max_seconds=5)
    (h,) = [e for e in events(hq) if isinstance(e, ChildSaEstablished)]
    (b,) = [e for e in events(branch) if isinstance(e, ChildSaEstablished)]
    return network, hq, branch, h, b


def of(kind: type[E], got: list[Ikev1Event]) -> list[E]:
    return [e for e in got if isinstance(e, kind)]


def test_rekey_timer_is_85_to_95_percent_of_the_lifetime() -> None:
    _, hq, branch, _, _ = established()
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.rekey_at is not None and sa_h.established_at is not None
    assert 0.85 * LIFETIME <= sa_h.rekey_at - sa_h.established_at <= 0.95 * LIFETIME
    assert sa_b.rekey_at is None  # only the side that initiated rekeys


def _rekey_keeps_ipsec_sas(aggressive: bool) -> None:
    network, hq, branch, h, b = established(aggressive)
    ((old_key, old_h),), (old_b,) = hq.sas.items(), branch.sas.values()
    start = len(network.log)
    network.run(max_seconds=0.96 * LIFETIME)
    ev_h, ev_b = events(hq), events(branch)
    assert not of(ChildSaDeleted, ev_h) and not of(ChildSaDeleted, ev_b)
    (new_h,), (_,) = of(Ikev1SaEstablished, ev_h), of(Ikev1SaEstablished, ev_b)
    assert new_h.initiator and (new_h.cookie_i, new_h.cookie_r) != (old_h.cookie_i, old_h.cookie_r)
    for got, old in ((ev_h, old_h), (ev_b, old_b)):
        (deleted,) = of(Ikev1SaDeleted, got)
        assert (deleted.cookie_i, deleted.cookie_r, deleted.reason) == (
            old.cookie_i, old.cookie_r, "rekeyed",
        )  # fmt: skip
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.key != old_key and sa_h.cookie_i == sa_b.cookie_i
    assert set(sa_h.children) == {h.spi_in} and set(sa_b.children) == {b.spi_in}
    assert sa_h.state.aggressive == aggressive == sa_b.state.aggressive
    assert sa_h.state.established and sa_h.rekey_at is not None
    assert_same_child(h, b)  # the IPsec SAs and their keys are untouched
    assert_esp_round_trips(h, b)
    kinds = [decode_envelope(s.data).header.exchange_type for s in network.log[start:]]
    assert ExchangeType.QUICK_MODE not in kinds  # no new IPsec SA was negotiated
    assert not hq.drops and not branch.drops
    # deletes travel on the new ISAKMP SA
    hq.delete_child(h.spi_in, network.clock.now)
    network.run(max_seconds=1)
    (gone,) = of(ChildSaDeleted, events(branch))
    assert gone.spi_in == b.spi_in and not sa_b.children


def test_main_mode_rekey_keeps_the_ipsec_sas_and_deletes_the_old_isakmp_sa() -> None:
    _rekey_keeps_ipsec_sas(aggressive=False)


def test_aggressive_mode_rekey_keeps_the_ipsec_sas() -> None:
    _rekey_keeps_ipsec_sas(aggressive=True)


def test_no_initial_contact_on_the_rekey(monkeypatch: pytest.MonkeyPatch) -> None:
    """An INITIAL-CONTACT would make the branch drop the old SA's IPsec SAs: none is sent."""
    network, hq, branch, _, _ = established()
    sent: list[Payload] = []
    original = hq._send_informational

    def spy(sa: Phase1Sa, payloads: list[Payload]) -> None:
        sent.extend(payloads)
        original(sa, payloads)

    monkeypatch.setattr(hq, "_send_informational", spy)
    network.run(max_seconds=0.96 * LIFETIME)
    notifies = {p.notify_type for p in sent if isinstance(p, NotifyPayload)}
    assert NotifyMessageType.INITIAL_CONTACT not in notifies
    (delete,) = [p for p in sent if isinstance(p, DeletePayload)]
    assert delete.protocol_id == ProtocolId.PROTO_ISAKMP  # the old ISAKMP SA only, no ESP
    assert not of(ChildSaDeleted, events(branch))


def test_dpd_keeps_working_on_the_new_sa() -> None:
    network, hq, _, _, _ = established()
    network.run(max_seconds=0.96 * LIFETIME)
    events(hq)
    (sa_h,) = hq.sas.values()
    hq.check_liveness(sa_h, network.clock.now)
    network.run(max_seconds=1)
    assert not sa_h.dpd_waiting and sa_h.state is MainModeState.MAIN_I4


def test_unanswered_rekey_leaves_the_old_sa_and_its_ipsec_sas() -> None:
    network, hq, branch, h, _ = established()
    network.rules.append(
        lambda i, src, dst, data: (
            "dropped"
            if decode_envelope(data).header.exchange_type == ExchangeType.MAIN_MODE
            else None
        )
    )
    network.run(max_seconds=0.96 * LIFETIME)
    old, new = sorted(hq.sas.values(), key=lambda s: s.state is MainModeState.MAIN_I1)
    assert old.state is MainModeState.MAIN_I4 and set(old.children) == {h.spi_in}
    assert new.state is MainModeState.MAIN_I1 and new.replaces == old.key and not new.children
    assert not of(ChildSaDeleted, events(hq)) and not of(ChildSaDeleted, events(branch))
