"""Parts of aggressive mode and phase-1 rekeying that need no peer: the offer, the local
identity of ``crypto isakmp identity``, the states and the rekey jitter."""

from __future__ import annotations

from dataclasses import replace

from tests.helpers import load
from tests.unit.tools.test_analyze import HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1.aggressive_mode import aggressive_policies
from tunnelgate.ike.v1.constants import IdType
from tunnelgate.ike.v1.identity import local_identity
from tunnelgate.ike.v1.rekey import Phase1Rekey
from tunnelgate.ike.v1.state import MainModeState, Phase1Sa
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.ike import Ikev1Policy

POLICIES = (
    "crypto ikev1 policy 20\n encryption aes\n hash sha\n group 2\n"
    "crypto ikev1 policy 10\n encryption aes-256\n hash sha\n group 5\n"
    "crypto ikev1 policy 30\n encryption 3des\n hash md5\n group 5\n"
)


def gateway(**over: str) -> GatewayPolicy:
    return compile_config(load(gateway_text(HQ, **over)))


def test_aggressive_offer_keeps_the_first_policys_group() -> None:
    policies: tuple[Ikev1Policy, ...] = gateway(ikev1_policy=POLICIES).ikev1_policies
    offered = aggressive_policies(policies)
    assert [p.priority for p in offered] == [10, 30]
    assert {p.group for p in offered} == {5}


def test_local_identity_follows_crypto_isakmp_identity() -> None:
    policy = gateway()
    address = local_identity(policy, "203.0.113.1")
    assert (address.id_type, address.data) == (IdType.ID_IPV4_ADDR, bytes([203, 0, 113, 1]))
    named = local_identity(replace(policy, identity="hostname", domain_name="example.net"), "x")
    assert (named.id_type, named.data) == (IdType.ID_FQDN, b"hq.example.net")
    bare = local_identity(replace(policy, identity="hostname", domain_name=None), "x")
    assert bare.data == b"hq"
    key = local_identity(replace(policy, identity="key-id", identity_key_id="K1"), "x")
    assert (key.id_type, key.data) == (IdType.ID_KEY_ID, b"K1")
    auto = local_identity(replace(policy, identity="auto"), "198.51.100.2")
    assert auto.id_type == IdType.ID_IPV4_ADDR


def test_states() -> None:
    S = MainModeState
    assert {s for s in S if s.established} == {S.MAIN_R3, S.MAIN_I4, S.AGGR_I2, S.AGGR_R2}
    assert {s for s in S if s.aggressive} == {
        S.AGGR_R0, S.AGGR_I1, S.AGGR_R1, S.AGGR_I2, S.AGGR_R2,
    }  # fmt: skip
    assert S.AGGR_I1.mode_name == "aggressive mode" and S.MAIN_I1.mode_name == "main mode"


class _FixedRandom(Phase1Rekey):
    def __init__(self, raw: bytes) -> None:
        self.random = lambda n: raw[:n]
        self.sas = {}


def test_rekey_jitter_spans_85_to_95_percent() -> None:
    for raw, expected in ((b"\x00\x00", 0.95), (b"\xff\xff", 0.85)):
        sa = Phase1Sa(True, ("198.51.100.2", 500), b"\x01" * 8)
        _FixedRandom(raw)._arm_rekey(sa, 1000, 0.0)
        assert sa.rekey_at is not None and abs(sa.rekey_at - 1000 * expected) < 1e-9
        responder = Phase1Sa(False, ("198.51.100.2", 500), b"\x01" * 8)
        _FixedRandom(raw)._arm_rekey(responder, 1000, 0.0)
        assert responder.rekey_at is None
