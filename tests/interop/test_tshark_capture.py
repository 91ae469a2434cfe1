"""An independent decoder checks tunnelgate's IKEv2 messages: Wireshark's dissector.

dumpcap captures inside namespace ``b`` (tunnelgate, 203.0.113.2) on its veth while both
directions run to ESTABLISHED against a real charon (``a``, 203.0.113.1): charon → tunnelgate,
then tunnelgate → charon. tshark then reads the capture and must find IKE_SA_INIT (UDP 500)
and IKE_AUTH (UDP 4500, non-ESP marker) requests and responses from both sides, no malformed
packet and no expert error, and our IKE_SA_INIT messages carrying SA, KE, Nonce and both
NAT_DETECTION notifies.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from tests.interop.conftest import StartCharon, in_ci
from tests.interop.harness import (
    Namespace,
    Netns,
    end_process,
    run,
    topology_two_gateways,
    wait_until,
)
from tests.interop.test_ikev2_interop import WAIT, Peer, _charon_conf

CHARON_ADDR = "203.0.113.1"
TUNNELGATE_ADDR = "203.0.113.2"
CAPTURE_FILTER = "udp port 500 or udp port 4500"
CAPTURE_START = 10.0
CAPTURE_STOP = 5.0
TSHARK_TIMEOUT = 30.0

IKE_SA_INIT, IKE_AUTH = 34, 35
PAYLOAD_SA, PAYLOAD_KE, PAYLOAD_NONCE, PAYLOAD_NOTIFY = 33, 34, 40, 41
NAT_DETECTION_SOURCE_IP, NAT_DETECTION_DESTINATION_IP = 16388, 16389
#: Proposal and Transform: tshark lists them among ``isakmp.typepayload`` (nested in the SA).
SUBSTRUCTURES = frozenset({2, 3})

#: tshark's notice when run as root; anything else on its stderr is a finding.
ROOT_NOTICE = 'Running as user "root" and group "root". This could be dangerous.'

FIELDS = (
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "udp.srcport",
    "udp.dstport",
    "isakmp.ispi",
    "isakmp.exchangetype",
    "isakmp.flag_i",
    "isakmp.flag_r",
    "isakmp.typepayload",
    "isakmp.notify.msgtype",
)


@pytest.fixture
def wireshark() -> None:
    """tshark and dumpcap, else skip (fail in CI), like the other interop prerequisites."""
    missing = [tool for tool in ("tshark", "dumpcap") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed (run scripts/bootstrap as root)"
    if in_ci():
        pytest.fail(f"interop prerequisites missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def capture(ns: Namespace, ifname: str, pcap: Path) -> Iterator[subprocess.Popen[bytes]]:
    """dumpcap on ``ifname`` inside ``ns`` writing ``pcap``; capturing once the block starts.

    dumpcap prints "Capturing on 'IF'" *before* it opens the device (it prints it for a missing
    device too), and "File: PATH" once the device is open, the filter set and the file header
    written: that line, with the header on disk, is the readiness signal.
    Stopped by its pid (SIGINT, bounded wait, then SIGTERM/SIGKILL) when the block ends, also on
    failure; the namespace teardown would end it too.
    """
    proc = ns.popen(
        *("dumpcap", "-P", "-i", ifname, "-f", CAPTURE_FILTER, "-w", str(pcap)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.put(raw.decode(errors="replace").rstrip())
        lines.put(None)  # end of output

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + CAPTURE_START
        while not (
            any(line.startswith("Capturing on") for line in seen)
            and any(line.startswith("File: ") for line in seen)
        ):
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"dumpcap did not start capturing: {seen}") from None
            if line is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=CAPTURE_STOP)
                raise AssertionError(f"dumpcap exited ({proc.returncode}): {seen}")
            seen.append(line)
        assert proc.poll() is None and pcap.stat().st_size >= 24, f"dumpcap: {seen}"
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=CAPTURE_STOP)
        end_process(proc, grace=CAPTURE_STOP)
        with contextlib.suppress(ValueError):
            ns.processes.remove(proc)


def pcap_records(pcap: Path) -> int:
    """Complete packet records in a (libpcap format) capture file, 0 before its header."""
    data = pcap.read_bytes() if pcap.exists() else b""
    if len(data) < 24:
        return 0
    order: Literal["little", "big"] = (
        "little" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else "big"
    )
    count, offset = 0, 24
    while offset + 16 <= len(data):
        offset += 16 + int.from_bytes(data[offset + 8 : offset + 12], order)
        if offset > len(data):
            break
        count += 1
    return count


def tshark(*args: str) -> str:
    """tshark's stdout; it must exit 0 and print nothing on stderr but the root notice."""
    result = run(["tshark", *args], timeout=TSHARK_TIMEOUT)
    noise = [line for line in result.stderr.splitlines() if line.strip() and line != ROOT_NOTICE]
    assert not noise, f"tshark {' '.join(args)} warned: {noise}"
    return result.stdout


@dataclass(frozen=True)
class Ike:
    """One IKE message as tshark decoded it."""

    frame: int
    protocols: tuple[str, ...]
    src: str
    dst: str
    sport: int
    dport: int
    ispi: str
    exchange: int
    initiator: bool
    response: bool
    payloads: tuple[int, ...]  # top-level payload types, in order
    notifies: tuple[int, ...]


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


def _flag(text: str) -> bool:
    return text in ("1", "True")


def decode(pcap: Path) -> list[Ike]:
    args = ["-r", str(pcap), "-n", "-Y", "isakmp", "-T", "fields"]
    args += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for name in FIELDS:
        args += ["-e", name]
    messages = []
    for line in tshark(*args).splitlines():
        f = line.split("\t")
        assert len(f) == len(FIELDS), f"unexpected tshark line: {line!r}"
        messages.append(
            Ike(
                frame=int(f[0]),
                protocols=tuple(f[1].split(":")),
                src=f[2],
                dst=f[3],
                sport=int(f[4]),
                dport=int(f[5]),
                ispi=f[6],
                exchange=int(f[7]),
                initiator=_flag(f[8]),
                response=_flag(f[9]),
                payloads=tuple(p for p in _ints(f[10]) if p not in SUBSTRUCTURES),
                notifies=_ints(f[11]),
            )
        )
    return messages


def check_exchange(messages: list[Ike], initiator: str, responder: str) -> list[Ike]:
    """The IKE_SA_INIT and IKE_AUTH request/response of the IKE SA ``initiator`` set up."""
    inits = [
        m
        for m in messages
        if m.exchange == IKE_SA_INIT and m.src == initiator and m.initiator and not m.response
    ]
    spis = {m.ispi for m in inits}
    assert len(spis) == 1, f"IKE_SA_INIT requests from {initiator}: {inits}"
    spi = spis.pop()
    sa = [m for m in messages if m.ispi == spi]
    found = []
    for exchange, port, encapsulated in ((IKE_SA_INIT, 500, False), (IKE_AUTH, 4500, True)):
        for src, dst, response in ((initiator, responder, False), (responder, initiator, True)):
            hits = [
                m
                for m in sa
                if m.exchange == exchange
                and m.src == src
                and m.dst == dst
                and m.response is response
            ]
            what = f"exchange {exchange} {'response' if response else 'request'} {src} → {dst}"
            assert hits, f"no {what} in {sa}"
            for m in hits:
                assert (m.sport, m.dport) == (port, port), f"{what} on ports {m}"
                assert ("udpencap" in m.protocols) is encapsulated, f"{what} marker: {m}"
                assert m.initiator is (src == initiator), f"{what} initiator flag: {m}"
            found += hits
    return found


def check_our_sa_init(message: Ike) -> None:
    """SA, KE, Nonce, then only notifies, among them both NAT_DETECTION ones."""
    assert message.payloads[:3] == (PAYLOAD_SA, PAYLOAD_KE, PAYLOAD_NONCE), message
    notifies = message.payloads[3:]
    assert set(notifies) == {PAYLOAD_NOTIFY}, message
    assert len(message.notifies) == len(notifies), message
    assert {NAT_DETECTION_SOURCE_IP, NAT_DETECTION_DESTINATION_IP} <= set(message.notifies), message


@pytest.mark.interop
def test_tshark_decodes_both_directions_cleanly(
    wireshark: None, netns: Netns, start_charon: StartCharon, tmp_path: Path
) -> None:
    gw_a, gw_b, link = topology_two_gateways(netns)
    pcap = tmp_path / "ike.pcap"
    with capture(gw_b, link.b_ifname, pcap):
        # charon → tunnelgate
        peer = Peer(gw_b, tmp_path, initiate=False)
        try:
            charon = start_charon(gw_a, _charon_conf(), name="a-initiator")
            charon.initiate("gw", timeout=WAIT)
            charon.wait_established("gw", "gw", timeout=WAIT)
            peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
        finally:
            peer.stop()
        charon.stop()
        # tunnelgate → charon
        charon = start_charon(gw_a, _charon_conf(), name="a-responder")
        peer = Peer(gw_b, tmp_path, initiate=True)
        try:
            peer.wait_for({"IkeSaEstablished", "ChildSaEstablished"})
            charon.wait_established("gw", "gw", timeout=WAIT)
        finally:
            peer.stop()
        charon.stop()
        # 2 × (IKE_SA_INIT + IKE_AUTH) × (request + response) must be on disk before stopping
        wait_until(lambda: pcap_records(pcap) >= 8, timeout=CAPTURE_STOP, what="8 captured")

    messages = decode(pcap)
    charon_first = check_exchange(messages, CHARON_ADDR, TUNNELGATE_ADDR)
    tunnelgate_first = check_exchange(messages, TUNNELGATE_ADDR, CHARON_ADDR)
    ours = [
        m
        for m in charon_first + tunnelgate_first
        if m.exchange == IKE_SA_INIT and m.src == TUNNELGATE_ADDR
    ]
    assert len(ours) == 2, ours  # our response, then our request
    for message in ours:
        check_our_sa_init(message)

    flagged = tshark("-r", str(pcap), "-n", "-Y", "_ws.malformed || _ws.expert.severity == error")
    assert flagged.strip() == "", f"tshark flags malformed packets or expert errors:\n{flagged}"
    expert = tshark("-r", str(pcap), "-n", "-q", "-z", "expert")
    assert "Errors (" not in expert, f"tshark expert errors:\n{expert}"
    assert "Malformed" not in expert, f"tshark expert info:\n{expert}"
