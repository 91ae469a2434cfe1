"""``hostname``, ``domain-name``, ``route``, ``ipv6 route`` and ``sysopt connection permit-vpn``."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.commands import grammars
from tunnelgate.config.diagnostics import INVALID_INPUT
from tunnelgate.config.model import Ipv6Route, Route, RunningConfig
from tunnelgate.config.modes import CONFIG

# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize("name", ["fw1", "Edge-FW-01", "9lives", "a" * 63])
def test_valid_hostnames(name: str) -> None:
    cfg = load(f"hostname {name}")
    assert cfg.hostname == name
    assert show(cfg, "hostname") == f"hostname {name}\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("-fw", "invalid hostname -fw: it must start and end with a letter or digit"),
        ("fw-", "invalid hostname fw-: it must start and end with a letter or digit"),
        ("fw_1", "invalid hostname fw_1: use only letters, digits and hyphens"),
        ("fw.example", "invalid hostname fw.example: use only letters, digits and hyphens"),
        ("a" * 64, "hostname is 64 characters long; the maximum is 63"),
    ],
)
def test_invalid_hostnames(name: str, message: str) -> None:
    cfg = RunningConfig()
    assert refused(cfg, f"hostname {name}") == message
    assert cfg.hostname == "ciscoasa"


def test_default_hostname_is_rendered_and_no_hostname_restores_it() -> None:
    cfg = load("hostname fw1")
    run(cfg, "no hostname")
    assert cfg.hostname == "ciscoasa"
    assert show(cfg, "hostname") == "hostname ciscoasa\n"


def test_domain_name() -> None:
    cfg = load("hostname fw1\ndomain-name corp.example.com")
    assert show(cfg).splitlines()[4:6] == ["hostname fw1", "domain-name corp.example.com"]
    assert roundtrip(cfg) == cfg
    assert refused(cfg, "domain-name bad..name") == (
        "invalid domain name bad..name: use dot-separated labels of letters, digits and hyphens"
    )
    assert refused(cfg, f"domain-name {'d' * 64}") == (
        "domain name is 64 characters long; the maximum is 63"
    )
    run(cfg, "no domain-name")
    assert cfg.domain_name is None
    assert show(cfg, "domain-name") == ""


# --------------------------------------------------------------------------- routes

IFACES = "interface eth0\n nameif outside\n ip address 203.0.113.1 255.255.255.0\n"


def test_routes_render_with_their_distance_after_the_acls() -> None:
    cfg = load(
        IFACES
        + """\
route outside 0.0.0.0 0.0.0.0 203.0.113.254
route outside 10.9.0.0 255.255.0.0 203.0.113.253 20
access-list A extended permit ip any any
"""
    )
    assert cfg.routes == [
        Route("outside", "0.0.0.0", "0.0.0.0", "203.0.113.254", 1),
        Route("outside", "10.9.0.0", "255.255.0.0", "203.0.113.253", 20),
    ]
    assert show(cfg, "route") == (
        "route outside 0.0.0.0 0.0.0.0 203.0.113.254 1\n"
        "route outside 10.9.0.0 255.255.0.0 203.0.113.253 20\n"
    )
    text = show(cfg)
    assert text.index("access-list A") < text.index("route outside")
    assert roundtrip(cfg) == cfg


def test_route_to_the_same_gateway_replaces_the_distance() -> None:
    cfg = load(
        IFACES
        + "route outside 10.0.0.0 255.0.0.0 203.0.113.9 5\n"
        + "route outside 10.0.0.0 255.0.0.0 203.0.113.9 7\n"
        + "route outside 10.0.0.0 255.0.0.0 203.0.113.8 7\n"
    )
    assert [(r.gateway, r.distance) for r in cfg.routes] == [
        ("203.0.113.9", 7),
        ("203.0.113.8", 7),
    ]


def test_route_errors() -> None:
    cfg = load(IFACES)
    assert refused(cfg, "route outside 10.0.0.1 255.0.0.0 203.0.113.9") == (
        "IP address,mask doesn't pair"
    )
    assert refused(cfg, "route outside 10.0.0.0 255.0.0.0 203.0.113.9 256") == INVALID_INPUT
    assert refused(cfg, "route outside 10.0.0.0 255.0.0.0 203.0.113.9 0") == INVALID_INPUT


def test_no_route() -> None:
    cfg = load(IFACES + "route outside 10.0.0.0 255.0.0.0 203.0.113.9 5")
    assert refused(cfg, "no route outside 10.0.0.0 255.0.0.0 203.0.113.8") == (
        "no route 10.0.0.0 255.0.0.0 via 203.0.113.8 on outside"
    )
    assert run(cfg, "no route outside 10.0.0.0 255.0.0.0 203.0.113.9") == []
    assert cfg.routes == []


def test_route_on_a_missing_nameif_is_a_warning() -> None:
    result = load_result("route dmz 10.0.0.0 255.0.0.0 192.0.2.1")
    assert result.config is not None
    assert [d.message for d in result.warnings] == [
        "route dmz 10.0.0.0 255.0.0.0 192.0.2.1: no interface has 'nameif dmz'"
    ]


# --------------------------------------------------------------------------- ipv6 route (D114)

IFACES6 = IFACES + " ipv6 address 2001:db8:1::1/64\n"


def test_ipv6_routes_render_after_the_routes_with_a_distance_only_when_not_1() -> None:
    cfg = load(
        IFACES6
        + """\
ipv6 route outside 2001:DB8:9::/48 fe80::1 20
route outside 0.0.0.0 0.0.0.0 203.0.113.254
ipv6 route outside ::/0 2001:db8:1:0::fe
access-list A extended permit ip any any
"""
    )
    assert cfg.ipv6_routes == [
        Ipv6Route("outside", "2001:db8:9::", 48, "fe80::1", 20),
        Ipv6Route("outside", "::", 0, "2001:db8:1::fe", 1),
    ]
    assert show(cfg, "ipv6", "route") == (
        "ipv6 route outside 2001:db8:9::/48 fe80::1 20\nipv6 route outside ::/0 2001:db8:1::fe\n"
    )
    text = show(cfg)
    assert text.index("access-list A") < text.index("route outside 0.0.0.0")
    assert text.index("route outside 0.0.0.0") < text.index("ipv6 route outside 2001:db8:9::/48")
    assert roundtrip(cfg) == cfg


def test_ipv6_route_to_the_same_gateway_replaces_the_distance() -> None:
    cfg = load(
        IFACES6
        + "ipv6 route outside 2001:db8:9::/48 2001:db8:1::fe 5\n"
        + "ipv6 route outside 2001:db8:9::/48 2001:db8:1::fe 7\n"
        + "ipv6 route outside 2001:db8:9::/48 2001:db8:1::fd 7\n"
    )
    assert [(r.gateway, r.distance) for r in cfg.ipv6_routes] == [
        ("2001:db8:1::fe", 7),
        ("2001:db8:1::fd", 7),
    ]


IPV6_TEXT = "an IPv6 address is up to 8 groups of 1-4 hex digits joined by colons, e.g. 2001:db8::1"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "ipv6 route outside 2001:db8::1/64 2001:db8:1::fe",
            "IPv6 address,prefix doesn't pair: 2001:db8::1/64 has bits set past the prefix "
            "(the network is 2001:db8::/64)",
        ),
        (
            "ipv6 route outside 2001:db8::/129 2001:db8:1::fe",
            "Invalid IPv6 prefix length /129: it must be 0-128",
        ),
        (
            "ipv6 route outside 2001:db8::/² 2001:db8:1::fe",
            "Invalid IPv6 prefix length /²: it must be 0-128",
        ),
        (
            "ipv6 route outside 2001:db8::x/64 2001:db8:1::fe",
            f"Invalid IPv6 address 2001:db8::x: {IPV6_TEXT}",
        ),
        (
            "ipv6 route outside ::/0 2001:db8:1::fe::1",
            f"Invalid IPv6 address 2001:db8:1::fe::1: {IPV6_TEXT}",
        ),
        ("ipv6 route outside ::/0 ::", "invalid next hop ::: it is the unspecified address"),
        ("ipv6 route outside ::/0 ff02::2", "invalid next hop ff02::2: it is a multicast address"),
        ("ipv6 route outside ::/0 ::1", "invalid next hop ::1: it is the loopback address"),
        ("ipv6 route outside ::/0 2001:db8:1::fe 255", INVALID_INPUT),
        ("ipv6 route outside ::/0 2001:db8:1::fe 0", INVALID_INPUT),
        ("ipv6 route outside ::/0 203.0.113.254", INVALID_INPUT),
        ("ipv6 route outside 0.0.0.0 0.0.0.0 203.0.113.254", INVALID_INPUT),
    ],
)
def test_ipv6_route_errors(line: str, message: str) -> None:
    assert refused(load(IFACES6), line) == message


def test_ipv6_route_error_caret_is_under_the_token() -> None:
    result = load_result(IFACES6 + "ipv6 route outside ::/0 ff02::2\n")
    (error,) = result.errors
    assert error.column == len("ipv6 route outside ::/0 ")


def test_no_ipv6_route() -> None:
    cfg = load(IFACES6 + "ipv6 route outside 2001:db8:9::/48 2001:db8:1::fe 5")
    assert refused(cfg, "no ipv6 route outside 2001:db8:9::/48 2001:db8:1::fd") == (
        "no ipv6 route 2001:db8:9::/48 via 2001:db8:1::fd on outside"
    )
    assert run(cfg, "no ipv6 route outside 2001:DB8:9:0::/48 2001:db8:1::fe") == []
    assert cfg.ipv6_routes == []


def test_ipv6_route_on_a_missing_nameif_is_a_warning() -> None:
    result = load_result("ipv6 route dmz ::/0 2001:db8::1 3")
    assert result.config is not None
    assert [d.message for d in result.warnings] == [
        "ipv6 route dmz ::/0 2001:db8::1 3: no interface has 'nameif dmz'"
    ]


def test_ipv6_route_help() -> None:
    table = grammars()[CONFIG]
    assert [(c.text, c.help) for c in table.candidates("ipv6 ")] == [
        ("route", "Add a static route")
    ]
    assert [c.text for c in table.candidates("ipv6 route outside ")] == ["X:X::X/LEN"]
    assert [c.text for c in table.candidates("ipv6 route outside ::/0 ")] == ["X:X::X"]
    assert [c.text for c in table.candidates("ipv6 route outside ::/0 2001:db8::1 ")] == [
        "<1-254>",
        "<cr>",
    ]


# --------------------------------------------------------------------------- sysopt


def test_sysopt_permit_vpn_is_on_by_default_and_rendered_only_when_off() -> None:
    cfg = RunningConfig()
    assert cfg.sysopt_permit_vpn
    assert show(cfg, "sysopt") == ""
    assert show(cfg, "sysopt", all=True) == "sysopt connection permit-vpn\n"
    run(cfg, "no sysopt connection permit-vpn")
    assert not cfg.sysopt_permit_vpn
    assert show(cfg, "sysopt") == "no sysopt connection permit-vpn\n"
    assert roundtrip(cfg) == cfg
    run(cfg, "sysopt connection permit-vpn")
    assert cfg.sysopt_permit_vpn
