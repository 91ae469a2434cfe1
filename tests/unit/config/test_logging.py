"""``logging …``: levels, hosts, facility, device id, per-message settings, render."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.diagnostics import INCOMPLETE, INVALID_INPUT, Severity
from tunnelgate.config.model import LoggingHost, RunningConfig

FULL = """\
logging enable
logging timestamp
logging trap 6
logging console warn
logging buffered debugging
logging host outside 192.0.2.50
logging host outside 192.0.2.51 udp/5514
logging host inside 10.0.0.9 tcp
logging device-id hostname
logging facility 23
no logging message 602303
logging message 750006 level 4
"""


def test_full_logging_renders_in_the_asa_order() -> None:
    cfg = load(FULL)
    assert show(cfg, "logging") == (
        "logging enable\n"
        "logging timestamp\n"
        "logging console warnings\n"
        "logging buffered debugging\n"
        "logging trap informational\n"
        "logging facility 23\n"
        "logging device-id hostname\n"
        "logging host outside 192.0.2.50\n"
        "logging host outside 192.0.2.51 17/5514\n"
        "logging host inside 10.0.0.9 6/1470\n"
        "no logging message 602303\n"
        "logging message 750006 level warnings\n"
    )
    assert roundtrip(cfg) == cfg


def test_logging_sits_between_the_acls_and_the_routes() -> None:
    cfg = load(
        "access-list A extended permit ip any any\n"
        "route outside 0.0.0.0 0.0.0.0 192.0.2.254\n"
        "logging enable\n"
    )
    text = show(cfg)
    assert text.index("access-list A") < text.index("logging enable") < text.index("route ")


def test_default_is_off_and_shows_nothing_but_the_facility_under_all() -> None:
    cfg = RunningConfig()
    assert show(cfg, "logging") == ""
    assert show(cfg, "logging", all=True) == "logging facility 20\n"


@pytest.mark.parametrize(
    ("word", "number"),
    [
        ("emergencies", 0),
        ("alerts", 1),
        ("critical", 2),
        ("errors", 3),
        ("warnings", 4),
        ("notifications", 5),
        ("informational", 6),
        ("debugging", 7),
    ],
)
def test_levels_by_name_or_number_print_by_name(word: str, number: int) -> None:
    by_name = load(f"logging trap {word}")
    by_number = load(f"logging trap {number}")
    assert by_name == by_number
    assert by_name.logging.trap == number
    assert show(by_number, "logging") == f"logging trap {word}\n"


@pytest.mark.parametrize("line", ["logging trap 8", "logging trap loud", "logging console 9"])
def test_bad_levels_are_refused(line: str) -> None:
    assert refused(RunningConfig(), line) == INVALID_INPUT


def test_no_forms() -> None:
    cfg = load(FULL)
    for line in (
        "no logging enable",
        "no logging timestamp",
        "no logging trap",
        "no logging console warnings",
        "no logging buffered",
        "no logging host outside 192.0.2.50",
        "no logging host outside 192.0.2.51 udp/5514",
        "no logging host inside 10.0.0.9",
        "no logging device-id hostname",
        "no logging facility",
        "logging message 602303",
        "no logging message 750006 level warnings",
    ):
        assert run(cfg, line) == [], line
    assert cfg.logging == RunningConfig().logging


def test_clear_configure_logging() -> None:
    cfg = load(FULL)
    assert run(cfg, "clear configure logging") == []
    assert cfg.logging == RunningConfig().logging


def test_hosts_default_ports_and_replacement() -> None:
    cfg = load("logging host outside 192.0.2.50\nlogging host outside 192.0.2.50 udp/514")
    assert cfg.logging.hosts == [LoggingHost("outside", "192.0.2.50", "udp", 514)]
    run(cfg, "logging host outside 192.0.2.50 17/1514")
    assert cfg.logging.hosts == [LoggingHost("outside", "192.0.2.50", "udp", 1514)]
    assert show(cfg, "logging") == "logging host outside 192.0.2.50 17/1514\n"


def test_tcp_host_is_accepted_with_a_warning() -> None:
    cfg = RunningConfig()
    diagnostics = run(cfg, "logging host outside 192.0.2.51 tcp/1470")
    assert [(d.severity, d.message) for d in diagnostics] == [
        (
            Severity.WARNING,
            "logging host outside 192.0.2.51: tunnelgate sends syslog over UDP only; "
            "no messages will be sent to this host",
        )
    ]
    assert cfg.logging.hosts == [LoggingHost("outside", "192.0.2.51", "tcp", 1470)]


def test_host_errors() -> None:
    cfg = load("logging host outside 192.0.2.50")
    assert refused(cfg, "logging host outside 192.0.2.60 udp/1000") == (
        "port 1000 is out of range: use 514 or 1025-65535"
    )
    assert refused(cfg, "logging host outside 192.0.2.60 tcp/514") == (
        "port 514 is out of range: use 1470 or 1025-65535"
    )
    assert refused(cfg, "logging host outside 192.0.2.60 sctp/5000") == INVALID_INPUT
    assert refused(cfg, "logging host outside 192.0.2.300") == INVALID_INPUT
    assert refused(cfg, "logging host outside") == INCOMPLETE
    assert refused(cfg, "no logging host outside 192.0.2.60") == (
        "logging host outside 192.0.2.60 does not exist"
    )


def test_facility_range_and_default() -> None:
    cfg = load("logging facility 16")
    assert cfg.logging.facility == 16
    for bad in ("logging facility 15", "logging facility 24"):
        assert refused(cfg, bad) == INVALID_INPUT
    run(cfg, "no logging facility 16")
    assert cfg.logging.facility == 20


def test_device_id_only_hostname() -> None:
    cfg = load("logging device-id hostname")
    assert cfg.logging.device_id_hostname
    assert refused(cfg, "logging device-id string fw") == INVALID_INPUT


def test_message_ids_and_levels() -> None:
    cfg = load(
        "no logging message 750007\nno logging message 602304\nlogging message 602303 level 7"
    )
    assert cfg.logging.disabled_messages == {602304, 750007}
    assert cfg.logging.message_levels == {602303: 7}
    assert show(cfg, "logging") == (
        "no logging message 602304\n"
        "no logging message 750007\n"
        "logging message 602303 level debugging\n"
    )
    assert refused(cfg, "no logging message 99999") == INVALID_INPUT
    assert refused(cfg, "logging message 1000000 level 3") == INVALID_INPUT


def test_buffered_is_kept_with_an_info() -> None:
    cfg = RunningConfig()
    diagnostics = run(cfg, "logging buffered 7")
    assert [d.severity for d in diagnostics] == [Severity.INFO]
    assert cfg.logging.buffered == 7


def test_host_on_a_missing_nameif_warns_only_with_interfaces() -> None:
    assert load_result("logging host dmz 192.0.2.5").warnings == []
    result = load_result(
        "interface eth0\n nameif outside\n ip address 192.0.2.1 255.255.255.0\n"
        "logging host dmz 192.0.2.5\n"
    )
    assert result.config is not None
    assert [d.message for d in result.warnings] == [
        "logging host dmz 192.0.2.5: no interface has 'nameif dmz'"
    ]
