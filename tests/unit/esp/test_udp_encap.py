"""RFC 3948 port-4500 demux, IKE framing and the NAT-keepalive timer."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunnelgate.esp.udp_encap import (
    DEFAULT_KEEPALIVE_SECONDS,
    KEEPALIVE,
    NON_ESP_MARKER,
    Datagram4500,
    Esp,
    Ike,
    Keepalive,
    KeepaliveTimer,
    Malformed,
    classify,
    frame_ike,
)
from tunnelgate.net import ike_runner

ZERO4 = b"\x00" * 4
ESP_MIN = bytes.fromhex("00000100 00000001")  # SPI 256, seq 1: the smallest valid header

# (UDP payload, expected classification)
CASES: list[tuple[bytes, Datagram4500]] = [
    (b"", Malformed("empty")),
    (b"\xff", Keepalive()),  # §2.3
    (b"\xff\xff", Malformed("too-short")),  # only exactly one 0xFF is a keepalive
    (b"\xfe", Malformed("too-short")),
    (b"\x00", Malformed("too-short")),  # partial marker
    (b"\x00\x00\x00", Malformed("too-short")),
    (ZERO4, Malformed("empty-ike")),  # marker with nothing behind it
    (ZERO4 + b"\x01", Ike(b"\x01")),  # §2.2
    (ZERO4 + b"ike-header-and-payloads", Ike(b"ike-header-and-payloads")),
    (ZERO4 + ZERO4, Ike(ZERO4)),  # only the first marker is stripped
    (ZERO4 + b"\xff", Ike(b"\xff")),
    (b"\x00\x00\x01\x00\x00\x00\x01", Malformed("too-short")),  # 7 bytes: no full ESP header
    (b"\xff\x00\x00\x00\x00", Malformed("too-short")),
    (bytes.fromhex("00000001 00000001"), Malformed("spi-reserved")),  # RFC 4303 §2.1
    (bytes.fromhex("000000ff 00000001") + b"payload", Malformed("spi-reserved")),
    (ESP_MIN, Esp(ESP_MIN)),
    (ESP_MIN + b"iv|ciphertext|icv", Esp(ESP_MIN + b"iv|ciphertext|icv")),
    (bytes.fromhex("ffffffff 00000000"), Esp(bytes.fromhex("ffffffff 00000000"))),
    (bytes.fromhex("00010000 ffffffff"), Esp(bytes.fromhex("00010000 ffffffff"))),
]


@pytest.mark.parametrize(("datagram", "expected"), CASES)
def test_classify(datagram: bytes, expected: Datagram4500) -> None:
    assert classify(datagram) == expected


def test_the_ike_runner_uses_these_constants() -> None:
    assert NON_ESP_MARKER is ike_runner.NON_ESP_MARKER == ZERO4
    assert KEEPALIVE is ike_runner.NAT_KEEPALIVE == b"\xff"


def test_frame_ike() -> None:
    assert frame_ike(b"msg") == ZERO4 + b"msg"


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_classify_never_raises(datagram: bytes) -> None:
    result = classify(datagram)
    assert isinstance(result, Keepalive | Ike | Esp | Malformed)
    if isinstance(result, Esp):
        assert result.packet == datagram
        assert int.from_bytes(datagram[:4], "big") >= 256


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=64))
def test_frame_ike_round_trips(message: bytes) -> None:
    assert classify(frame_ike(message)) == Ike(message)


# (interval, last_sent, now, behind_nat, expected due)
TIMER_CASES = [
    (20, 100.0, 119.9, True, False),  # interval not yet elapsed
    (20, 100.0, 120.0, True, True),  # exactly due
    (20, 100.0, 500.0, True, True),  # long overdue
    (20, 100.0, 500.0, False, False),  # not behind a NAT: never (RFC 3948 §4)
    (10, 0.0, 10.0, True, True),  # smallest ASA interval
    (3600, 0.0, 3599.0, True, False),  # largest ASA interval
    (3600, 0.0, 3600.0, True, True),
]


@pytest.mark.parametrize(("interval", "last_sent", "now", "behind_nat", "expected"), TIMER_CASES)
def test_keepalive_due(
    interval: int, last_sent: float, now: float, behind_nat: bool, expected: bool
) -> None:
    timer = KeepaliveTimer(interval)
    assert timer.due(now, last_sent, behind_nat=behind_nat) is expected


def test_keepalive_next_due_and_default() -> None:
    timer = KeepaliveTimer()
    assert timer.interval_seconds == DEFAULT_KEEPALIVE_SECONDS == 20
    assert timer.next_due(100.0) == 120.0


def test_keepalive_other_traffic_pushes_it_back() -> None:
    timer = KeepaliveTimer(20)
    # ESP sent at 115 (the caller's last_sent moves), so at 120 nothing is due yet.
    assert not timer.due(120.0, 115.0, behind_nat=True)
    assert timer.next_due(115.0) == 135.0
    assert timer.due(135.0, 115.0, behind_nat=True)


@pytest.mark.parametrize("interval", [0, 9, 3601, -20])
def test_keepalive_interval_out_of_range(interval: int) -> None:
    with pytest.raises(ValueError, match=r"10\.\.3600"):
        KeepaliveTimer(interval)


@pytest.mark.parametrize("interval", [20.5, True])
def test_keepalive_interval_must_be_int(interval: object) -> None:
    with pytest.raises(TypeError):
        KeepaliveTimer(interval)  # type: ignore[arg-type]


def test_the_ike_runner_hands_esp_on_4500_to_the_data_plane() -> None:
    class Engine:
        def receive_datagram(self, data: bytes, addr: ike_runner.Address, now: float) -> None:
            raise AssertionError("ESP and keepalives must not reach the IKE engine")

    class Transport:
        def __init__(self) -> None:
            self.sent: list[tuple[bytes, ike_runner.Address]] = []

        def sendto(self, data: bytes, addr: ike_runner.Address) -> None:
            self.sent.append((data, addr))

    esp: list[tuple[bytes, ike_runner.Address]] = []
    runner = ike_runner.IkeRunner(
        cast(ike_runner.Engine, Engine()),
        "192.0.2.1",
        print,
        on_esp=lambda d, a: esp.append((d, a)),
    )
    peer = ("192.0.2.2", 4500)
    runner.received(ESP_MIN, peer, ike_runner.NAT_T_PORT)
    runner.received(KEEPALIVE, peer, ike_runner.NAT_T_PORT)
    assert esp == [(ESP_MIN, peer)]
    socket, transport = ike_runner._Socket(runner, ike_runner.NAT_T_PORT), Transport()
    socket.connection_made(cast(asyncio.DatagramTransport, transport))
    runner._sockets[ike_runner.NAT_T_PORT] = socket
    runner.send_esp(ESP_MIN, peer)
    assert transport.sent == [(ESP_MIN, peer)]  # no non-ESP marker in front
