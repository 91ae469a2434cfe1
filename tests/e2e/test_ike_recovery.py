"""DPD at scale and recovery, reduced for CI (issue 8): 300 tunnels held by ``tunnelgate bench
ike --hold --reconnect`` against a ``tunnelgate run`` responder with ``isakmp keepalive threshold
10 retry 2``; every tunnel answers the responder's liveness checks and stays up. Then the
responder is killed (SIGKILL: a crash, no Deletes) and started again with the same
configuration; the initiators' own liveness checks (every 2 s) find their SAs gone and set up
again at once, the responder demands COOKIEs (its threshold lowered to 2 half-open SAs), and all
300 come back, none refused. The full run (20,000) is ``benchmarks/ike_scale.py --dpd
--recovery``, by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.test_bench_ike import INITIATOR, PSK, RESPONDER, responder_config
from tests.interop.harness import Namespace, Netns, TunnelgateDaemon, end_process, wait_until

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and iproute2 (network namespaces, a TUN device)",
)

TUNNELS = 300
COOKIE_THRESHOLD = 2
DPD_CONFIG = " isakmp keepalive threshold 10 retry 2\n"


def dpd_responder_config() -> str:
    """The benchmark responder with DPD on (a liveness check every 10 s per IKE SA)."""
    text = responder_config(group=19)
    assert " isakmp keepalive disable\n" in text
    return text.replace(" isakmp keepalive disable\n", DPD_CONFIG)


@dataclass
class HeldLoad:
    """A holding ``tunnelgate bench ike`` and the latest progress line it printed."""

    proc: subprocess.Popen[bytes]
    progress: dict[str, object] = field(default_factory=dict)
    stderr: list[str] = field(default_factory=list)

    def follow(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").strip()
            if line.startswith("{"):
                try:
                    self.progress = json.loads(line)
                    continue
                except ValueError:
                    pass
            self.stderr.append(line)

    def set_up(self) -> bool:
        """The first set-ups are done (or the generator exited: nothing more will come)."""
        return bool(self.progress.get("setup_done")) or self.proc.poll() is not None

    def value(self, key: str) -> int:
        return int(str(self.progress.get(key, 0)))

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        """End the hold (SIGTERM to the generator, by its pid) and read its JSON result."""
        os.kill(self.proc.pid, signal.SIGTERM)
        assert self.proc.stdout is not None
        out, _ = self.proc.communicate(timeout=timeout)
        return dict(json.loads(out.decode()))


def start_held_load(
    ns: Namespace,
    count: int,
    *extra: str,
    parallel: int = 8,
    workers: int = 2,
    proposal: str = "aes256-sha256-ecp256",
) -> HeldLoad:
    """``tunnelgate bench ike … --json`` in the background, its progress followed."""
    argv = [sys.executable, "-m", "tunnelgate", "bench", "ike", "--peer", RESPONDER]
    argv += ["--local", INITIATOR, "--count", str(count), "--parallel", str(parallel)]
    argv += ["--workers", str(workers), "--proposal", proposal, "--psk", PSK, "--json", *extra]
    proc = ns.popen(*argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load = HeldLoad(proc)
    threading.Thread(target=load.follow, daemon=True).start()
    return load


@pytest.fixture
def netns_pair() -> Iterator[tuple[Namespace, Namespace]]:
    with Netns() as netns:
        initiator, responder = netns.add("ini"), netns.add("rsp")
        netns.veth(initiator, f"{INITIATOR}/24", responder, f"{RESPONDER}/24")
        yield initiator, responder


def test_tunnels_held_with_dpd_come_back_after_a_responder_crash(
    netns_pair: tuple[Namespace, Namespace],
) -> None:
    initiator, responder = netns_pair
    daemon_args = ("--ikev2-cookie-threshold", str(COOKIE_THRESHOLD))
    daemon = TunnelgateDaemon(responder, dpd_responder_config(), args=daemon_args).start()
    load = start_held_load(initiator, TUNNELS, "--hold", "300", "--reconnect", "--dpd", "2")
    try:
        wait_until(load.set_up, timeout=60, what="the set-ups")
        assert load.value("ok") == TUNNELS and load.value("failed") == 0, load.progress
        # the responder's liveness checks (10 s after each set-up) reach every held SA
        wait_until(
            lambda: load.value("peer_requests") >= TUNNELS or load.proc.poll() is not None,
            timeout=45,
            what="the responder's liveness checks",
        )
        assert load.value("held") == TUNNELS and load.value("lost") == 0, load.progress
        summary = json.loads(daemon.show("show crypto ikev2 sa", as_json=True))
        assert _count(summary) == TUNNELS
        assert daemon.running()

        os.kill(daemon.proc.pid, signal.SIGKILL)  # a crash: no Deletes reach the initiators
        daemon.proc.wait(timeout=10)
        daemon.stop()
        killed = time.monotonic()
        daemon = TunnelgateDaemon(responder, dpd_responder_config(), args=daemon_args).start()

        def recovered() -> bool:
            if load.proc.poll() is not None:
                return True
            return (
                load.value("lost") >= TUNNELS
                and load.value("recovered") == load.value("lost")
                and load.value("held") == TUNNELS
            )

        wait_until(recovered, timeout=120, what="all tunnels re-established")
        back_after = time.monotonic() - killed
        result = load.finish()
    finally:
        end_process(load.proc)
    print(
        f"\n{TUNNELS} tunnels back {back_after:.1f} s after the crash; recovery "
        f"{result['recovery_seconds']} s from the first loss to the last re-establishment, "
        f"p50 {result['recovery_ms_p50']} ms p95 {result['recovery_ms_p95']} ms, "
        f"{result['reconnect_attempts']} attempts, {result['recovery_cookie_challenged']} of "
        f"them answered a COOKIE, {result['refused']} refused"
    )
    assert result["ok"] == TUNNELS and result["failed"] == 0, result
    assert result["recovered"] == result["lost"] >= TUNNELS, result
    assert result["refused"] == 0 and result["reconnecting"] == 0, result
    assert result["held"] == TUNNELS, result
    assert result["recovery_cookie_challenged"] > 0, result
    counters = json.loads(daemon.show("show tunnelgate counters", as_json=True))
    assert counters["ike"].get("ikev2 cookie-demanded", 0) > 0, counters  # the responder's view
    summary = json.loads(daemon.show("show crypto ikev2 sa", as_json=True))
    assert _count(summary) == TUNNELS
    assert daemon.running()


def _count(answer: object) -> int:
    from tests.e2e.test_ike_scale import _count_ike_sas

    return _count_ike_sas(answer)
