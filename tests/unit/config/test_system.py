"""``hostname``, ``domain-name``, ``route`` and ``sysopt connection permit-vpn``."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.diagnostics import INVALID_INPUT
from tunnelgate.config.model import Route, RunningConfig

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
