"""``SyslogSink``: RFC 3164 datagrams to a real UDP receiver, level filtering, errors."""

from __future__ import annotations

import calendar
import socket
from collections.abc import Iterator

import pytest

from tests.helpers import load
from tunnelgate.daemon.syslog import SyslogSink, compile_settings, rfc3164
from tunnelgate.gateway.outputs import ChildSaInstalled, ChildSaRemoved
from tunnelgate.ike.v2.events import IkeSaFailed

LOCAL = {"outside": "192.0.2.1"}
PEER = ("198.51.100.2", 500)
INSTALLED = ChildSaInstalled("outside", "VPN 10", PEER, 0x1234, 0xABCDEF01, "x", False, None)
FAILED = IkeSaFailed(PEER, "NO_PROPOSAL_CHOSEN", "no matching policy")
WALL = calendar.timegm((2024, 3, 5, 14, 7, 9, 0, 0, 0))  # Mar  5 14:07:09 UTC


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def _config(port: int, extra: str = "") -> str:
    return (
        "hostname fw1\nlogging enable\nlogging timestamp\nlogging device-id hostname\n"
        f"logging trap informational\nlogging host outside 127.0.0.1 udp/{port}\n{extra}"
    )


def test_a_real_receiver_gets_rfc3164_lines(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    sink = SyslogSink.from_config(load(_config(port)), LOCAL)
    assert sink.emit(INSTALLED, 1.0, WALL) == []  # no console level: nothing local
    got = [receiver.recv(2048).decode() for _ in range(2)]
    assert got == [
        "<166>Mar  5 14:07:09 fw1 %ASA-6-602303: IPSEC: An outbound LAN-to-LAN SA "
        "(SPI= 0xABCDEF01) between 192.0.2.1 and 198.51.100.2 (user= 198.51.100.2) "
        "has been created.",
        "<166>Mar  5 14:07:09 fw1 %ASA-6-602303: IPSEC: An inbound LAN-to-LAN SA "
        "(SPI= 0x00001234) between 192.0.2.1 and 198.51.100.2 (user= 198.51.100.2) "
        "has been created.",
    ]
    assert (sink.sent, sink.send_errors) == (2, 0)
    # the removal names the peer remembered from the installation
    sink.emit(ChildSaRemoved("outside", 0x1234, 0xABCDEF01, "deleted"), 2.0, WALL)
    assert "has been deleted." in receiver.recv(2048).decode()
    assert sink.peers == {}
    sink.close()


def test_trap_level_filters_what_the_servers_get(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    cfg = load(_config(port, "logging trap warnings\nlogging facility 16\n"))
    sink = SyslogSink.from_config(cfg, LOCAL)
    sink.emit(INSTALLED, 1.0, WALL)  # severity 6: filtered out
    sink.emit(FAILED, 1.0, WALL)  # severity 4: sent
    assert receiver.recv(2048).decode().startswith("<132>Mar  5 14:07:09 fw1 %ASA-4-750003: ")
    assert sink.sent == 1
    sink.close()


def test_console_level_suppression_and_override() -> None:
    cfg = load(
        "logging enable\nlogging console notifications\n"
        "no logging message 750003\nlogging message 602303 level 5\n"
    )
    sink = SyslogSink.from_config(cfg, LOCAL)
    out = sink.emit(INSTALLED, 1.0, WALL)
    assert [line[:20] for line in out] == ["%ASA-5-602303: IPSEC"] * 2
    assert sink.emit(FAILED, 1.0, WALL) == []  # suppressed
    sink.close()


def test_nothing_without_logging_enable(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    cfg = load(_config(port, "no logging enable\nlogging console debugging\n"))
    sink = SyslogSink.from_config(cfg, LOCAL)
    assert sink.emit(INSTALLED, 1.0, WALL) == []
    assert sink.sent == 0
    sink.close()


def test_header_follows_timestamp_and_device_id() -> None:
    settings = compile_settings(load("hostname fw1\nlogging facility 23"))
    message = SyslogSink(settings, LOCAL).messages(FAILED)[0]
    assert rfc3164(settings, message, WALL).startswith("<188>%ASA-4-750003: Local:")


def test_tcp_hosts_are_not_sent_to() -> None:
    settings = compile_settings(load("logging host outside 192.0.2.9 tcp/1470"))
    assert settings.servers == ()


def test_an_unreachable_host_does_not_raise() -> None:
    cfg = load(
        "logging enable\nlogging trap debugging\n"
        "logging host outside 255.255.255.255\n"  # broadcast without SO_BROADCAST: EACCES
    )
    sink = SyslogSink.from_config(cfg, LOCAL)
    sink.emit(INSTALLED, 7.0, WALL)
    assert sink.send_errors == 2 and sink.sent == 0
    assert sink.last_error is not None and sink.last_error_at == 7.0
    sink.close()
