"""``tunnelgate bench ike`` against the ``tunnelgate run`` daemon, each in its own namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.harness import Namespace, Netns, TunnelgateDaemon

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and iproute2 (network namespaces, a TUN device)",
)

INITIATOR, RESPONDER = "192.0.2.1", "192.0.2.2"
PSK = "bench-secret-1"


def responder_config(initiator: str = INITIATOR, group: int = 14) -> str:
    """A responder for the load generator's defaults (its selectors, seen from this side)."""
    return f"""\
hostname responder
interface eth0
 nameif outside
 security-level 0
 ip address {RESPONDER} 255.255.255.0
access-list BENCH extended permit ip 10.2.0.0 255.255.255.0 10.1.0.0 255.255.255.0
crypto ipsec ikev2 ipsec-proposal BENCH
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map BENCH 10 match address BENCH
crypto map BENCH 10 set peer {initiator}
crypto map BENCH 10 set ikev2 ipsec-proposal BENCH
crypto map BENCH interface outside
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group {group}
 prf sha256
crypto ikev2 enable outside
tunnel-group {initiator} type ipsec-l2l
tunnel-group {initiator} ipsec-attributes
 ikev2 remote-authentication pre-shared-key {PSK}
 ikev2 local-authentication pre-shared-key {PSK}
 isakmp keepalive disable
"""


@pytest.fixture
def pair() -> Iterator[tuple[Namespace, TunnelgateDaemon]]:
    with Netns() as netns:
        initiator, responder = netns.add("ini"), netns.add("rsp")
        netns.veth(initiator, f"{INITIATOR}/24", responder, f"{RESPONDER}/24")
        daemon = TunnelgateDaemon(responder, responder_config()).start()
        yield initiator, daemon


def bench(ns: Namespace, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tunnelgate", "bench", "ike", "--peer", RESPONDER, *args]
    return ns.run(*argv, timeout=timeout, check=False)


def test_twenty_ikev2_sas_four_in_flight(pair: tuple[Namespace, TunnelgateDaemon]) -> None:
    initiator, daemon = pair
    started = time.monotonic()
    done = bench(
        initiator,
        *("--local", INITIATOR, "--count", "20", "--parallel", "4", "--version", "2"),
        *("--proposal", "aes256-sha256-modp2048", "--esp-proposal", "aes256gcm16"),
        *("--psk", PSK, "--json"),
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{daemon.text()}"
    result = json.loads(done.stdout)
    assert result["ok"] == 20 and result["failed"] == 0, result
    assert result["rate_per_s"] > 0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p95"] <= result["latency_ms_p99"]
    assert time.monotonic() - started < 20


def test_child_sas_and_failures_by_reason(pair: tuple[Namespace, TunnelgateDaemon]) -> None:
    initiator, daemon = pair
    done = bench(
        initiator,
        *("--count", "6", "--parallel", "3", "--child", "--psk", PSK, "--json"),
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{daemon.text()}"
    assert json.loads(done.stdout)["ok"] == 6
    wrong = bench(initiator, *("--count", "3", "--parallel", "3", "--psk", "wrong", "--json"))
    assert wrong.stdout, f"no result (exit {wrong.returncode}): {wrong.stderr}\n{daemon.text()}"
    result = json.loads(wrong.stdout)
    assert wrong.returncode == 1 and result["ok"] == 0
    assert result["failures"] == {"ike: AUTHENTICATION_FAILED": 3}, result


def test_human_output_and_unknown_proposal(pair: tuple[Namespace, TunnelgateDaemon]) -> None:
    initiator, _ = pair
    done = bench(initiator, "--count", "2", "--parallel", "2", "--psk", PSK)
    assert done.returncode == 0 and "2 ok, 0 failed" in done.stdout and "p95" in done.stdout
    bad = bench(initiator, "--count", "1", "--psk", PSK, "--proposal", "aes256-sha256-modp9")
    assert bad.returncode == 2 and "unknown IKE algorithm 'modp9'" in bad.stderr


# --- certificate authentication -----------------------------------------------------------


def _certificate_responder(version: int) -> str:
    """The responder of ``responder_config`` authenticating with trustpoint SITE-TP."""
    text = responder_config().replace(
        " ikev2 remote-authentication pre-shared-key bench-secret-1\n"
        " ikev2 local-authentication pre-shared-key bench-secret-1\n",
        " ikev2 remote-authentication certificate\n"
        " ikev2 local-authentication certificate SITE-TP\n"
        if version == 2
        else " ikev1 trust-point SITE-TP\n",
    )
    text += "crypto ca trustpoint SITE-TP\n enrollment terminal\n"
    if version == 1:
        text += (
            "crypto ipsec ikev1 transform-set BENCH esp-aes-256 esp-sha-hmac\n"
            "crypto map BENCH 10 set ikev1 transform-set BENCH\n"
            "crypto ikev1 policy 10\n authentication rsa-sig\n encryption aes-256\n"
            " hash sha\n group 5\ncrypto ikev1 enable outside\n"
        )
    return text


@pytest.mark.parametrize(("version", "kind"), [(2, "rsa"), (2, "ecdsa"), (1, "rsa")])
def test_certificate_authentication(tmp_path: Path, version: int, kind: str) -> None:
    from tests.interop.test_certificate_interop import Pki, import_credentials, make_ca, make_leaf

    ca = make_ca("bench CA", kind)
    pki = Pki(
        ca, make_leaf(ca, "responder", kind, RESPONDER), make_leaf(ca, "bench", kind, INITIATOR)
    )
    files = {"ca.pem": ca.cert_pem, "bench.pem": pki.gw_b.cert_pem, "bench.key": pki.gw_b.key_pem}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with Netns() as netns:
        initiator, responder = netns.add("ini"), netns.add("rsp")
        netns.veth(initiator, f"{INITIATOR}/24", responder, f"{RESPONDER}/24")
        daemon = TunnelgateDaemon(
            responder, _certificate_responder(version), prepare=import_credentials(pki)
        ).start()
        proposal = "aes256-sha256-modp2048" if version == 2 else "aes256-sha1-modp1536"
        done = bench(
            initiator,
            *("--local", INITIATOR, "--count", "6", "--parallel", "3"),
            *("--version", str(version), "--proposal", proposal, "--json"),
            *("--esp-proposal", "aes256gcm16" if version == 2 else "aes256-sha1"),
            *("--cert", str(tmp_path / "bench.pem"), "--key", str(tmp_path / "bench.key")),
            *("--ca", str(tmp_path / "ca.pem")),
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{daemon.text()}"
        result = json.loads(done.stdout)
        assert result["ok"] == 6 and result["failed"] == 0, result
        # a CA that did not issue the responder's certificate: every set-up refused
        (tmp_path / "other.pem").write_bytes(make_ca("other CA", kind).cert_pem)
        refused = bench(
            initiator,
            *("--local", INITIATOR, "--count", "2", "--parallel", "2"),
            *("--version", str(version), "--proposal", proposal, "--json"),
            *("--esp-proposal", "aes256gcm16" if version == 2 else "aes256-sha1"),
            *("--cert", str(tmp_path / "bench.pem"), "--key", str(tmp_path / "bench.key")),
            *("--ca", str(tmp_path / "other.pem")),
        )
        assert refused.returncode == 1 and json.loads(refused.stdout)["ok"] == 0
        daemon.stop()


def test_psk_or_certificate_must_be_given() -> None:
    argv = [sys.executable, "-m", "tunnelgate", "bench", "ike", "--peer", RESPONDER]
    done = subprocess.run([*argv, "--count", "1"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "either --psk or --cert/--key/--ca" in done.stderr
