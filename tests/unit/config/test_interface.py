"""``interface HWNAME`` and its sub-mode."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.commands import interface
from tunnelgate.config.diagnostics import INVALID_INPUT, Severity
from tunnelgate.config.model import Interface, RunningConfig
from tunnelgate.config.modes import INTERFACE
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
