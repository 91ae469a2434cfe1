"""Two whole gateways authenticating with certificates (IKEv1 rsa-sig and IKEv2 certificate
tunnel groups) over the in-memory wire: traffic flows once the gateway knows the wall clock,
and without it every certificate is refused (validity dates cannot be checked)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import load
from tests.pki.factory import NOW, make_ca, make_leaf
from tests.protocol.network import SeededRandom
from tests.protocol.test_gateway_pair import ROUTE, Wire, events, icmp_echo
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.gateway.core import Gateway
from tunnelgate.ike.v1.events import Ikev1SaEstablished, Ikev1SaFailed
from tunnelgate.ike.v2.events import IkeSaEstablished, IkeSaFailed
from tunnelgate.pki.credentials import Credentials, LocalCredential, TrustpointTrust

ROOT = make_ca("Gateway Root CA")
WIRE_START = 1000.0  # Wire.now at the start


def _group(side: dict[str, str], version: int) -> str:
    peer = side["peer"]
    auth = (
        " ikev1 trust-point TP\n"
        if version == 1
        else " ikev2 local-authentication certificate TP\n"
        " ikev2 remote-authentication certificate\n"
    )
    return (
        f"tunnel-group {peer} type ipsec-l2l\ntunnel-group {peer} ipsec-attributes\n"
        f"{auth} isakmp keepalive disable\n"
    )


def _gateway(side: dict[str, str], seed: int, version: int, key_type: str) -> Gateway:
    text = gateway_text(
        side,
        group=_group(side, version),
        ikev1_policy="crypto ikev1 policy 10\n authentication rsa-sig\n encryption aes-256\n"
        " hash sha\n group 5\n",
        enable=f"crypto ikev{version} enable outside\n",
        extra=f"crypto ca trustpoint TP\n enrollment terminal\n"
        f"route outside 0.0.0.0 0.0.0.0 {ROUTE[side['hostname']]}\n",
    )
    key, certificate = make_leaf(ROOT, side["hostname"], key_type, sans=[f"ip:{side['outside']}"])
    credentials = Credentials(
        local={"TP": LocalCredential("TP", key, (certificate,))},
        trust={"TP": TrustpointTrust("TP", (ROOT.certificate,))},
    )
    policy = dataclasses.replace(compile_config(load(text)), credentials=credentials)
    return Gateway(policy, SeededRandom(seed))


def _pair(version: int, key_type: str = "rsa") -> Wire:
    return Wire(
        {
            "hq": _gateway(HQ, 1, version, key_type),
            "branch": _gateway(BRANCH, 2, version, key_type),
        }
    )


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("key_type", ["rsa", "p256"])
def test_certificate_tunnels_carry_traffic_once_the_wall_clock_is_known(
    version: int, key_type: str
) -> None:
    wire = _pair(version, key_type)
    for gw in wire.gateways.values():
        gw.set_wall_clock(NOW.timestamp() - wire.now)
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", packet)
    wire.advance(0.5)  # IKEv1: the initiator holds its first packets briefly (D87)
    assert wire.tun["branch"] == [packet]
    up = IkeSaEstablished if version == 2 else Ikev1SaEstablished
    assert any(isinstance(e, up) for e in events(wire.gateways["hq"]))
    assert any(isinstance(e, up) for e in events(wire.gateways["branch"]))


@pytest.mark.parametrize("version", [1, 2])
def test_without_the_wall_clock_certificates_are_refused_and_nothing_leaks(version: int) -> None:
    wire = _pair(version)
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    assert "branch" not in wire.tun and wire.esp_sent == 0
    failed = IkeSaFailed if version == 2 else Ikev1SaFailed
    reasons = [
        e.reason for gw in wire.gateways.values() for e in events(gw) if isinstance(e, failed)
    ]
    assert any("wall-clock" in r or "wall clock" in r for r in reasons), reasons


def test_reconfiguration_keeps_the_wall_clock_for_new_engines() -> None:
    from tunnelgate.gateway.reconfigure import apply_policy

    gw = _gateway(HQ, 1, 2, "rsa")
    gw.set_wall_clock(123.0)
    changed = dataclasses.replace(gw.policy, ikev1_enabled=frozenset({"outside"}))
    apply_policy(gw, changed, WIRE_START)
    assert gw.engines_v1["outside"].utc_offset_s == 123.0
    assert gw.engines["outside"].utc_offset_s == 123.0
