"""tunnelgate's IKEv2 engine against a real strongSwan charon, both directions.

Namespaces ``a`` (charon, 203.0.113.1, LAN 10.1.0.0/16) and ``b`` (tunnelgate,
203.0.113.2, LAN 10.2.0.0/16). charon with kernel-libipsec always claims to be behind a
NAT, so IKE_AUTH moves to UDP 4500 with the non-ESP marker (RFC 3948) on both sides.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import StartCharon
from tests.interop.harness import Namespace, Netns, psk_gateway_conf, topology_two_gateways

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0
PSK = "tunnelgate-interop-psk"

TUNNELGATE_CONFIG = f"""\
hostname tg
interface veth-b
 nameif outside
 ip address 203.0.113.2 255.255.255.0
access-list VPN extended permit ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0
crypto ipsec ikev2 ipsec-proposal GCM
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto ipsec ikev2 ipsec-proposal CBC
 protocol esp encryption aes-256
 protocol esp integrity sha-256
crypto map M 10 match address VPN
crypto map M 10 set peer 203.0.113.1
crypto map M 10 set ikev2 ipsec-proposal GCM CBC
crypto map M interface outside
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group 14
 prf sha256
crypto ikev2 enable outside
tunnel-group 203.0.113.1 type ipsec-l2l
tunnel-group 203.0.113.1 ipsec-attributes
 ikev2 local-authentication pre-shared-key {PSK}
 ikev2 remote-authentication pre-shared-key {PSK}
"""


class Peer:
    """tunnelgate running in namespace ``ns``; events read from its stdout."""

    def __init__(
        self,
        ns: Namespace,
        tmp: Path,
        *,
        initiate: bool,
        rekey_after: float | None = None,
        rekey_ike_after: float | None = None,
        config_text: str = TUNNELGATE_CONFIG,
        extra_args: Sequence[str] = (),
    ) -> None:
        config = tmp / "tunnelgate.cfg"
        config.write_text(config_text)
        argv = [
            sys.executable,
            "-m",
            "tests.interop.tunnelgate_peer",
            str(config),
            "--seconds",
            str(WAIT + 10),
        ]
        if initiate:
            argv.append("--initiate")
        if rekey_after is not None:
            argv += ["--rekey-after", str(rekey_after)]
        if rekey_ike_after is not None:
            argv += ["--rekey-ike-after", str(rekey_ike_after)]
        argv += extra_args
        self.proc = subprocess.Popen(
            ns.argv(argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: list[dict[str, Any]] = []
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self._next(WAIT)
        if first != "ready":
            self.stop()
            raise AssertionError(f"tunnelgate peer did not start: {first!r} {self.stderr()}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("")  # end of output

    def _next(self, timeout: float) -> str:
        try:
            return self.lines.get(timeout=max(timeout, 0.01))
        except queue.Empty:
            return "<timeout>"

    def wait_for(self, kinds: set[str], timeout: float = WAIT) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not kinds <= {e["event"] for e in self.events}:
            line = self._next(deadline - time.monotonic())
            if line in ("", "<timeout>"):
                raise AssertionError(
                    f"events {kinds} not seen ({line or 'exited'}); "
                    f"got {self.events}; {self.stderr()}"
                )
            self.events.append(json.loads(line))
        return self.events

    def poll(self, timeout: float) -> None:
        """Read whatever events arrive within ``timeout`` seconds."""
        line = self._next(timeout)
        if line not in ("", "<timeout>"):
            self.events.append(json.loads(line))

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _charon_conf() -> str:
    return psk_gateway_conf(
        local_addr="203.0.113.1",
        remote_addr="203.0.113.2",
        local_ts="10.1.0.0/16",
        remote_ts="10.2.0.0/16",
        psk=PSK,
        proposals="aes256-sha256-modp2048",
        esp_proposals="aes256gcm16",
    )


def _check(charon_sa: Any, events: list[dict[str, Any]], tunnelgate_initiated: bool) -> None:
    ike = next(e for e in events if e["event"] == "IkeSaEstablished")
    child = next(e for e in events if e["event"] == "ChildSaEstablished")
    assert ike["initiator"] is tunnelgate_initiated
    assert ike["algorithms"] == "aes-256/sha256/prf sha256/group 14"
    assert charon_sa.version == "2" and charon_sa.state == "ESTABLISHED"
    installed = charon_sa.installed("gw")
    assert len(installed) == 1
    c = installed[0]
    # the SPI charon receives on is the one tunnelgate sends with, and vice versa
    assert c.spi_in == child["spi_out"] and c.spi_out == child["spi_in"]
    assert c.encr_alg == "AES_GCM_16" and child["encryption"] == "aes-gcm-256"
    assert c.local_ts == ("10.1.0.0/16",) and c.remote_ts == ("10.2.0.0/16",)
    assert child["selector"] == "ip 10.2.0.0 255.255.0.0 10.1.0.0 255.255.0.0"
    assert charon_sa.remote_port == "4500"  # NAT-T float happened


@pytest.mark.interop
def test_charon_initiates_to_tunnelgate(
    netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    gw_a, gw_b, _ = topology_two_gateways(netns)
    peer = Peer(gw_b, tmp_path, initiate=False)
    try:
        charon = start_charon(gw_a, _charon_conf(), name="a")
        charon.initiate("gw", timeout=WAIT)
        sa = charon.wait_established("gw", "gw", timeout=WAIT)
        events = peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        _check(sa, events, tunnelgate_initiated=False)
    finally:
        peer.stop()


@pytest.mark.interop
def test_tunnelgate_initiates_to_charon(
    netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    gw_a, gw_b, _ = topology_two_gateways(netns)
    charon = start_charon(gw_a, _charon_conf(), name="a")
    peer = Peer(gw_b, tmp_path, initiate=True)
    try:
        events = peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        sa = charon.wait_established("gw", "gw", timeout=WAIT)
        _check(sa, events, tunnelgate_initiated=True)
    finally:
        peer.stop()


def _wait_child_spis(charon: Any, spi_in: str, spi_out: str) -> Any:
    """charon's SA once its installed child has the SPIs our new child has (crosswise)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sa = charon.ike_sa("gw")
        if sa is not None:
            installed = sa.installed("gw")
            if [(c.spi_in, c.spi_out) for c in installed] == [(spi_out, spi_in)]:
                return sa
        time.sleep(0.1)
    raise AssertionError(f"charon never showed child {spi_out}/{spi_in}: {charon.list_sas()}")


@pytest.mark.interop
def test_child_rekey_both_ways_with_charon(
    netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    """charon rekeys the child (CREATE_CHILD_SA to us), then tunnelgate rekeys it back."""
    gw_a, gw_b, _ = topology_two_gateways(netns)
    peer = Peer(gw_b, tmp_path, initiate=False, rekey_after=1.5)
    try:
        charon = start_charon(gw_a, _charon_conf(), name="a")
        charon.initiate("gw", timeout=WAIT)
        charon.wait_established("gw", "gw", timeout=WAIT)
        events = peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        first = next(e for e in events if e["event"] == "ChildSaEstablished")
        # 1. tunnelgate rekeys (after 1.5 s): a new child replaces the first one
        peer.wait_for({"ChildSaDeleted"})
        ours = [e for e in peer.events if e["event"] == "ChildSaEstablished"]
        assert len(ours) == 2 and ours[1]["rekeyed_spi"] == first["spi_in"]
        assert ours[1]["initiator"] is True
        _wait_child_spis(charon, ours[1]["spi_in"], ours[1]["spi_out"])
        deleted = [e for e in peer.events if e["event"] == "ChildSaDeleted"]
        assert [d["spi_in"] for d in deleted] == [first["spi_in"]]
        # 2. charon rekeys: CREATE_CHILD_SA with REKEY_SA to tunnelgate, then deletes the old
        count = len(peer.events)
        charon.rekey(child="gw")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not any(
            e["event"] == "ChildSaDeleted" for e in peer.events[count:]
        ):
            peer.poll(0.5)
        theirs = [e for e in peer.events[count:] if e["event"] == "ChildSaEstablished"]
        assert len(theirs) == 1 and theirs[0]["rekeyed_spi"] == ours[1]["spi_in"]
        assert theirs[0]["initiator"] is False
        _wait_child_spis(charon, theirs[0]["spi_in"], theirs[0]["spi_out"])
        gone = [e for e in peer.events[count:] if e["event"] == "ChildSaDeleted"]
        assert [d["spi_in"] for d in gone] == [ours[1]["spi_in"]]
    finally:
        peer.stop()


def _wait_ike_spis(charon: Any, spi_i: str, spi_r: str) -> Any:
    """charon's IKE SA once it carries these SPIs (the rekeyed SA), with its child."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sas = [s for s in charon.list_sas() if s.name == "gw" and s.state == "ESTABLISHED"]
        if (
            len(sas) == 1
            and (sas[0].initiator_spi, sas[0].responder_spi) == (spi_i, spi_r)
            and sas[0].installed("gw")
        ):
            return sas[0]
        time.sleep(0.1)
    raise AssertionError(f"charon never showed IKE SA {spi_i}_i {spi_r}_r: {charon.list_sas()}")


@pytest.mark.interop
def test_ike_sa_rekey_both_ways_with_charon(
    netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    """tunnelgate rekeys the IKE SA, then charon does; the child SA survives both."""
    gw_a, gw_b, _ = topology_two_gateways(netns)
    peer = Peer(gw_b, tmp_path, initiate=False, rekey_ike_after=1.5)
    try:
        charon = start_charon(gw_a, _charon_conf(), name="a")
        charon.initiate("gw", timeout=WAIT)
        charon.wait_established("gw", "gw", timeout=WAIT)
        peer.wait_for({"IkeSaEstablished", "IkeSaDeleted"})
        ikes = [e for e in peer.events if e["event"] == "IkeSaEstablished"]
        assert len(ikes) == 2 and ikes[1]["initiator"] is True
        _wait_ike_spis(charon, ikes[1]["spi_i"], ikes[1]["spi_r"])
        count = len(peer.events)
        charon.rekey(ike="gw")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not any(
            e["event"] == "IkeSaDeleted" for e in peer.events[count:]
        ):
            peer.poll(0.5)
        third = [e for e in peer.events[count:] if e["event"] == "IkeSaEstablished"]
        assert len(third) == 1 and third[0]["initiator"] is False
        _wait_ike_spis(charon, third[0]["spi_i"], third[0]["spi_r"])
        assert not any(e["event"] == "ChildSaDeleted" for e in peer.events)
    finally:
        peer.stop()


@pytest.mark.interop
def test_charon_reassembles_our_fragmented_ike_auth(
    netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    """With a 200-byte MTU our IKE_AUTH answer goes as RFC 7383 fragments."""
    gw_a, gw_b, _ = topology_two_gateways(netns)
    config = TUNNELGATE_CONFIG + "crypto ikev2 fragmentation mtu 200\n"
    peer = Peer(gw_b, tmp_path, initiate=False, config_text=config)
    try:
        charon = start_charon(gw_a, _charon_conf(), name="a")
        charon.initiate("gw", timeout=WAIT)
        sa = charon.wait_established("gw", "gw", timeout=WAIT)
        events = peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        _check(sa, events, tunnelgate_initiated=False)
        assert "received fragment #1" in charon.log() or "reassembled fragmented" in charon.log()
    finally:
        peer.stop()
