"""``interface HWNAME`` and its sub-mode."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.commands import grammars, interface
from tunnelgate.config.diagnostics import INCOMPLETE, INVALID_INPUT, Severity
from tunnelgate.config.model import Interface, RunningConfig
from tunnelgate.config.modes import CONFIG, INTERFACE
from tunnelgate.config.render_types import RenderOptions
from tunnelgate.config.session import ConfigSession


def rendered(config: RunningConfig) -> str:
    blocks = interface.render(config, RenderOptions())
    return "".join(line + "\n" for block in blocks for line in block.lines)


TWO = """\
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 203.0.113.1 255.255.255.0
interface GigabitEthernet0/1
 description inside LAN
 nameif inside
 security-level 100
 ip address 10.0.0.1 255.255.255.0 standby 10.0.0.2
interface Management0/0
 shutdown
"""


def test_render_like_the_asa() -> None:
    cfg = load(TWO)
    assert rendered(cfg) == (
        "!\n"
        "interface GigabitEthernet0/0\n"
        " nameif outside\n"
        " security-level 0\n"
        " ip address 203.0.113.1 255.255.255.0\n"
        "!\n"
        "interface GigabitEthernet0/1\n"
        " description inside LAN\n"
        " nameif inside\n"
        " security-level 100\n"
        " ip address 10.0.0.1 255.255.255.0 standby 10.0.0.2\n"
        "!\n"
        "interface Management0/0\n"
        " shutdown\n"
        " no nameif\n"
        " no security-level\n"
        " no ip address\n"
        "!\n"
    )
    assert show(cfg, "interface", "Management0/0") == (
        "interface Management0/0\n shutdown\n no nameif\n no security-level\n no ip address\n"
    )
    assert roundtrip(cfg) == cfg


def test_no_interfaces_render_nothing() -> None:
    assert rendered(RunningConfig()) == ""


def test_model() -> None:
    cfg = load(TWO)
    assert cfg.interfaces["GigabitEthernet0/1"] == Interface(
        "GigabitEthernet0/1",
        nameif="inside",
        security_level=100,
        ip_address="10.0.0.1",
        netmask="255.255.255.0",
        standby_address="10.0.0.2",
        description="inside LAN",
    )


@pytest.mark.parametrize(
    "name",
    ["GigabitEthernet0/0", "Management0/0", "eth0", "veth-x", "Port-channel1.100", "TenGig1/0/1:2"],
)
def test_interface_names(name: str) -> None:
    session = ConfigSession(RunningConfig())
    session.execute(f"interface {name}")
    assert session.mode is INTERFACE and session.key == name
    assert name in session.config.interfaces


def test_bad_interface_name() -> None:
    assert refused(RunningConfig(), "interface 0bad") == (
        "invalid interface name 0bad: use letters, digits and / . _ : -, starting with a letter"
    )


@pytest.mark.parametrize(("nameif", "level"), [("inside", 100), ("outside", 0), ("dmz", 0)])
def test_nameif_sets_a_default_security_level(nameif: str, level: int) -> None:
    result = load_result(f"interface eth0\n nameif {nameif}")
    assert result.config is not None
    assert result.config.interfaces["eth0"].security_level == level
    assert [(d.severity, d.message) for d in result.diagnostics] == [
        (Severity.INFO, f'Security level for "{nameif}" set to {level} by default.')
    ]


def test_explicit_security_level_is_kept_by_a_later_nameif() -> None:
    cfg = load("interface eth0\n security-level 50\n nameif inside")
    assert cfg.interfaces["eth0"].security_level == 50


def test_security_level_range() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "interface eth0", "security-level 101") == INVALID_INPUT


def test_nameif_must_be_unique() -> None:
    cfg = load("interface eth0\n nameif outside\ninterface eth1")
    assert refused(cfg, "interface eth1", "nameif outside") == (
        'name "outside" is already used by interface eth0'
    )
    assert run(cfg, "interface eth0", "nameif outside") == []


def test_nameif_length() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "interface eth0", f"nameif {'n' * 49}") == (
        "nameif is 49 characters long; the maximum is 48"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "ip address 10.0.0.1 255.0.255.0",
            "Invalid netmask 255.0.255.0: a mask must be contiguous ones, e.g. 255.255.255.0",
        ),
        (
            "ip address 10.0.0.0 255.255.255.0",
            "10.0.0.0 is the network or broadcast address of 10.0.0.0/24",
        ),
        (
            "ip address 10.0.0.255 255.255.255.0",
            "10.0.0.255 is the network or broadcast address of 10.0.0.255/24",
        ),
        (
            "ip address 10.0.0.1 255.255.255.0 standby 10.0.1.2",
            "standby address 10.0.1.2 is not in the subnet of 10.0.0.1 255.255.255.0",
        ),
        (
            "ip address 10.0.0.1 255.255.255.0 standby 10.0.0.1",
            "the standby address must differ from the active one",
        ),
    ],
)
def test_ip_address_errors(line: str, message: str) -> None:
    cfg = RunningConfig()
    assert refused(cfg, "interface eth0", line) == message


def test_point_to_point_masks() -> None:
    cfg = load(
        "interface eth0\n ip address 10.0.0.0 255.255.255.254\n"
        "interface eth1\n ip address 10.0.0.9 255.255.255.255"
    )
    assert cfg.interfaces["eth0"].ip_address == "10.0.0.0"
    assert cfg.interfaces["eth1"].netmask == "255.255.255.255"


def test_no_forms() -> None:
    cfg = load(TWO)
    run(
        cfg,
        "interface GigabitEthernet0/1",
        "no nameif",
        "no security-level",
        "no ip address",
        "no description",
        "interface Management0/0",
        "no shutdown",
    )
    assert cfg.interfaces["GigabitEthernet0/1"] == Interface("GigabitEthernet0/1")
    assert cfg.interfaces["Management0/0"] == Interface("Management0/0")
    assert roundtrip(cfg) == cfg


def test_no_interface() -> None:
    cfg = load(TWO)
    assert refused(cfg, "no interface eth9") == "interface eth9 does not exist"
    run(cfg, "no interface Management0/0")
    assert list(cfg.interfaces) == ["GigabitEthernet0/0", "GigabitEthernet0/1"]


def test_description_length() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "interface eth0", f"description {'d' * 201}") == (
        "description is 201 characters long; the maximum is 200"
    )


# --------------------------------------------------------------------------- IPv6 (D114)

DUAL = """\
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 203.0.113.1 255.255.255.0
 ipv6 address 2001:DB8:0:1::1/64 standby 2001:db8:0:1:0::2
 ipv6 enable
interface GigabitEthernet0/1
 nameif inside
 ipv6 enable
"""


def test_ipv6_address_and_enable_render_like_the_asa() -> None:
    cfg = load(DUAL)
    assert cfg.interfaces["GigabitEthernet0/0"] == Interface(
        "GigabitEthernet0/0",
        nameif="outside",
        security_level=0,
        ip_address="203.0.113.1",
        netmask="255.255.255.0",
        ipv6_address="2001:db8:0:1::1",
        ipv6_prefix_length=64,
        ipv6_standby_address="2001:db8:0:1::2",
        ipv6_enable=True,
    )
    assert rendered(cfg) == (
        "!\n"
        "interface GigabitEthernet0/0\n"
        " nameif outside\n"
        " security-level 0\n"
        " ip address 203.0.113.1 255.255.255.0\n"
        " ipv6 address 2001:db8:0:1::1/64 standby 2001:db8:0:1::2\n"
        " ipv6 enable\n"
        "!\n"
        "interface GigabitEthernet0/1\n"
        " nameif inside\n"
        " security-level 100\n"
        " no ip address\n"
        " ipv6 enable\n"
        "!\n"
    )
    assert roundtrip(cfg) == cfg


def test_a_second_ipv6_address_replaces_the_first() -> None:
    cfg = load(DUAL)
    run(cfg, "interface GigabitEthernet0/0", "ipv6 address 2001:db8:5::9/48")
    iface = cfg.interfaces["GigabitEthernet0/0"]
    assert (iface.ipv6_address, iface.ipv6_prefix_length) == ("2001:db8:5::9", 48)
    assert iface.ipv6_standby_address is None


@pytest.mark.parametrize("line", ["ipv6 address 2001:db8::1/128", "ipv6 address 2001:db8::/127"])
def test_ipv6_host_and_point_to_point_prefixes(line: str) -> None:
    cfg = RunningConfig()
    assert run(cfg, "interface eth0", line) == []
    assert roundtrip(cfg) == cfg


def test_no_ipv6_forms() -> None:
    cfg = load(DUAL)
    assert refused(cfg, "interface GigabitEthernet0/0", "no ipv6 address 2001:db8:0:1::5/64") == (
        "ipv6 address 2001:db8:0:1::5/64 is not configured on interface GigabitEthernet0/0"
    )
    assert run(cfg, "interface GigabitEthernet0/0", "no ipv6 address 2001:db8:0:1:0::1/64") == []
    assert run(cfg, "interface GigabitEthernet0/0", "no ipv6 enable") == []
    assert run(cfg, "interface GigabitEthernet0/1", "no ipv6 address", "no ipv6 enable") == []
    assert cfg.interfaces["GigabitEthernet0/0"] == Interface(
        "GigabitEthernet0/0",
        nameif="outside",
        security_level=0,
        ip_address="203.0.113.1",
        netmask="255.255.255.0",
    )
    assert cfg.interfaces["GigabitEthernet0/1"] == Interface(
        "GigabitEthernet0/1", nameif="inside", security_level=100
    )
    assert "ipv6" not in rendered(cfg)


IPV6_TEXT = "an IPv6 address is up to 8 groups of 1-4 hex digits joined by colons, e.g. 2001:db8::1"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "ipv6 address 2001:db8::g/64",
            f"Invalid IPv6 address 2001:db8::g: {IPV6_TEXT}",
        ),
        (
            "ipv6 address 2001:db8:::1/64",
            f"Invalid IPv6 address 2001:db8:::1: {IPV6_TEXT}",
        ),
        (
            "ipv6 address 2001:db8::1/0",
            "Invalid IPv6 prefix length /0: an interface prefix length is 1-128",
        ),
        (
            "ipv6 address 2001:db8::1/129",
            "Invalid IPv6 prefix length /129: an interface prefix length is 1-128",
        ),
        (
            "ipv6 address 2001:db8::1/064",
            "Invalid IPv6 prefix length /064: an interface prefix length is 1-128",
        ),
        (
            "ipv6 address 2001:db8::1/",
            "Invalid IPv6 prefix length /: an interface prefix length is 1-128",
        ),
        (
            "ipv6 address 2001:db8::1/²",
            "Invalid IPv6 prefix length /²: an interface prefix length is 1-128",
        ),
        (
            "ipv6 address 2001:db8::1/64 standby ::1",
            "standby address ::1: it is the loopback address",
        ),
        (
            "ipv6 address 2001:db8::/64",
            "2001:db8:: is the subnet-router anycast address of 2001:db8::/64",
        ),
        (
            "ipv6 address ::/64",
            "::/64 cannot be an interface address: it is the unspecified address",
        ),
        (
            "ipv6 address ::1/128",
            "::1/128 cannot be an interface address: it is the loopback address",
        ),
        (
            "ipv6 address ff02::1/64",
            "ff02::1/64 cannot be an interface address: it is a multicast address",
        ),
        (
            "ipv6 address FE80::1/64",
            "fe80::1/64 cannot be an interface address: it is a link-local address "
            "(the link-local address comes with 'ipv6 enable')",
        ),
        (
            "ipv6 address ::ffff:192.0.2.1/96",
            "::ffff:c000:201/96 cannot be an interface address: it is an IPv4-mapped address",
        ),
        (
            "ipv6 address 2001:db8::1/64 standby 2001:db8::1",
            "the standby address must differ from the active one",
        ),
        (
            "ipv6 address 2001:db8::1/64 standby 2001:db8:1::2",
            "standby address 2001:db8:1::2 is not in the subnet of 2001:db8::1/64",
        ),
        (
            "ipv6 address 2001:db8::1/64 standby 2001:db8::zz",
            f"Invalid IPv6 address 2001:db8::zz: {IPV6_TEXT}",
        ),
    ],
)
def test_ipv6_address_errors(line: str, message: str) -> None:
    assert refused(RunningConfig(), "interface eth0", line) == message


def test_ipv6_address_errors_put_the_caret_under_the_token() -> None:
    session = ConfigSession(RunningConfig())
    session.execute("interface eth0")
    result = session.execute("ipv6 address 2001:db8::1/64 standby 2001:db9::2")
    (diag,) = result.diagnostics
    assert diag.column == len("ipv6 address 2001:db8::1/64 standby ")
    result = session.execute("ipv6 address 2001:db8::1/200")
    (diag,) = result.diagnostics
    assert diag.column == len("ipv6 address ")
    assert diag.render() == (
        "ipv6 address 2001:db8::1/200\n"
        "             ^\n"
        "ERROR: Invalid IPv6 prefix length /200: an interface prefix length is 1-128"
    )


@pytest.mark.parametrize(
    "line", ["ipv6 address 2001:db8::1", "ipv6 address 10.0.0.1/24", "ipv6 address", "ipv6"]
)
def test_ipv6_address_shapes_the_grammar_refuses(line: str) -> None:
    assert refused(RunningConfig(), "interface eth0", line) in (INVALID_INPUT, INCOMPLETE)


def test_ipv6_help() -> None:
    table = grammars()[INTERFACE]
    assert [(c.text, c.help) for c in table.candidates("ipv6 ")] == [
        ("address", "Set the interface address"),
        ("enable", "Enable IPv6 on the interface (its link-local address)"),
    ]
    assert [c.text for c in table.candidates("ipv6 address ")] == ["X:X::X/LEN"]
    assert [c.text for c in table.candidates("ipv6 address 2001:db8::1/64 ")] == [
        "standby",
        "<cr>",
    ]
    assert [c.text for c in table.candidates("i")] == ["ip", "ipv6"]


def test_a_global_ipv6_command_leaves_the_interface_sub_mode() -> None:
    """``ipv6 route`` shares its first keyword with the sub-mode's ``ipv6 address``."""
    session = ConfigSession(RunningConfig())
    session.execute("interface eth0")
    session.execute("nameif outside")
    assert session.execute("ipv6 route outside ::/0 2001:db8::fe").applied
    assert session.mode is CONFIG
    assert [r.gateway for r in session.config.ipv6_routes] == ["2001:db8::fe"]
    session.execute("interface eth0")
    assert session.execute("no ipv6 route outside ::/0 2001:db8::fe").applied
    assert session.mode is CONFIG and session.config.ipv6_routes == []
    # a sub-mode command with a bad value stays a sub-mode error
    session.execute("interface eth0")
    result = session.execute("ipv6 address 2001:db8::1/200")
    assert not result.applied and session.mode is INTERFACE
