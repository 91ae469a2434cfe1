"""``access-list`` (extended, standard, remarks) and ``access-group``."""

from __future__ import annotations

import time

import pytest

from tests.helpers import errors, load, load_result, refused, roundtrip, run, show
from tunnelgate.config.commands import grammars
from tunnelgate.config.diagnostics import INVALID_INPUT, Severity
from tunnelgate.config.model import (
    AccessGroup,
    AccessList,
    Ace,
    AddressSpec,
    PortSpec,
    Remark,
    RunningConfig,
)
from tunnelgate.config.modes import CONFIG
from tunnelgate.config.session import ConfigSession

IFACES = """\
interface GigabitEthernet0/0
 nameif outside
interface GigabitEthernet0/1
 nameif inside
"""


def caret(config: RunningConfig, line: str) -> str:
    """The caret line under a refused ``line``."""
    diags = run(config, line)
    assert diags and diags[0].is_error
    return diags[0].render().splitlines()[1]


def acl_lines(*lines: str) -> str:
    cfg = load("\n".join(lines))
    return show(cfg, "access-list")


def one(line: str) -> str:
    """The rendering of a single ACE line, checked for and stripped of the trailing space
    a real ASA prints after every entry (not after remarks)."""
    text = acl_lines(line).removesuffix("\n")
    if " remark " not in text:
        assert text.endswith(" "), f"no trailing space after {text!r}"
        text = text[:-1]
    return text


# --------------------------------------------------------------------------- address forms


def test_spec_example_renders_as_extended() -> None:
    assert one("access-list 101 permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0") == (
        "access-list 101 extended permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0"
    )


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("any any", "any any"),
        ("any6 any6", "any6 any6"),
        ("any4 any", "any4 any"),
        ("host 10.0.0.1 host 10.0.0.2", "host 10.0.0.1 host 10.0.0.2"),
        ("10.0.0.1 255.255.255.255 any", "host 10.0.0.1 any"),
        ("0.0.0.0 0.0.0.0 any4", "0.0.0.0 0.0.0.0 any4"),
        ("interface outside any", "interface outside any"),
    ],
)
def test_address_forms(given: str, shown: str) -> None:
    assert one(f"access-list A extended permit ip {given}") == (
        f"access-list A extended permit ip {shown}"
    )


def test_object_and_object_group_addresses() -> None:
    cfg = load(
        """\
        object network WEB
         host 10.1.1.1
        object-group network NETS
         network-object 10.0.0.0 255.0.0.0
        access-list A extended permit tcp object-group NETS object WEB eq https
        """
    )
    ace = cfg.access_lists["A"].entries[0]
    assert ace == Ace(
        "permit",
        "tcp",
        AddressSpec("object-group", name="NETS"),
        AddressSpec("object", name="WEB"),
        destination_port=PortSpec("eq", 443),
    )
    assert show(cfg, "access-list") == (
        "access-list A extended permit tcp object-group NETS object WEB eq https \n"
    )


def test_missing_object_or_group_is_refused() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "access-list A permit ip object NOPE any") == (
        "object network NOPE does not exist; create it before using it"
    )
    assert refused(cfg, "access-list A permit ip any object-group NOPE") == (
        "object-group network NOPE does not exist; create it before using it"
    )
    assert cfg.access_lists == {}


# --------------------------------------------------------------------------- the spec's A/B/C table


ABC_REAL_ACES = [
    "deny ip 192.168.3.3 255.255.255.192 192.168.12.0 255.255.255.248",
    "deny ip 192.168.3.3 255.255.255.192 192.168.201.0 255.255.255.224",
    "permit ip 192.168.3.3 255.255.255.192 192.168.12.0 255.255.255.248",
    "permit ip 192.168.3.3 255.255.255.192 192.168.201.0 255.255.255.224",
]


@pytest.mark.parametrize("ace", ABC_REAL_ACES)
def test_spec_abc_host_with_subnet_mask_does_not_pair(ace: str) -> None:
    cfg = RunningConfig()
    line = f"access-list A1 extended {ace}"
    assert refused(cfg, line) == "IP address,mask doesn't pair"
    assert caret(cfg, line) == " " * line.index("192.168.3.3") + "^"


def test_spec_abc_table_loads_when_a3_is_written_as_a_host() -> None:
    cfg = load(
        """\
        access-list A1 extended deny ip host 192.168.3.3 192.168.12.0 255.255.255.248
        access-list A1 extended deny ip host 192.168.3.3 192.168.201.0 255.255.255.224
        access-list A1 extended permit ip 192.168.3.0 255.255.255.192 192.168.12.0 255.255.255.248
        access-list A1 extended permit ip 192.168.3.0 255.255.255.192 192.168.201.0 255.255.255.224
        access-list A2 extended permit ip host 192.168.3.3 192.168.12.0 255.255.255.248
        access-list A2 extended permit ip host 192.168.3.3 192.168.201.0 255.255.255.224
        access-list B extended permit ip 192.168.12.0 255.255.255.248 192.168.3.0 255.255.255.192
        access-list B extended permit ip 192.168.12.0 255.255.255.248 192.168.201.0 255.255.255.224
        access-list C extended permit ip 192.168.201.0 255.255.255.224 192.168.3.0 255.255.255.192
        access-list C extended permit ip 192.168.201.0 255.255.255.224 192.168.12.0 255.255.255.248
        """
    )
    assert [len(a.entries) for a in cfg.access_lists.values()] == [4, 2, 2, 2]
    first = cfg.access_lists["A1"].entries[0]
    assert isinstance(first, Ace) and first.source == AddressSpec("host", "192.168.3.3")
    assert roundtrip(cfg) == cfg


def test_destination_host_bits_are_refused_with_caret_under_the_address() -> None:
    cfg = RunningConfig()
    line = "access-list A extended permit ip any 10.1.1.1 255.255.255.0"
    assert refused(cfg, line) == "IP address,mask doesn't pair"
    assert caret(cfg, line) == " " * line.index("10.1.1.1") + "^"


def test_non_contiguous_mask_is_refused_with_caret_under_the_mask() -> None:
    cfg = RunningConfig()
    line = "access-list A extended permit ip 10.0.0.0 255.0.255.0 any"
    assert refused(cfg, line) == (
        "Invalid netmask 255.0.255.0: a mask must be contiguous ones, e.g. 255.255.255.0"
    )
    assert caret(cfg, line) == " " * line.index("255.0.255.0") + "^"


@pytest.mark.parametrize(
    "line",
    [
        "access-list A extended permit ip 10.0.0.256 255.0.0.0 any",
        "access-list A extended permit ip 010.0.0.0 255.0.0.0 any",
        "access-list A extended permit ip host 10.0.0 any",
        "access-list A extended permit bogus any any",
        "access-list A extended permit 256 any any",
        "access-list A extended allow ip any any",
    ],
)
def test_malformed_lines_are_invalid_input(line: str) -> None:
    cfg = RunningConfig()
    assert refused(cfg, line) == INVALID_INPUT


# --------------------------------------------------------------------------- protocols


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("ip", "ip"),
        ("IP", "ip"),
        ("6", "tcp"),
        ("17", "udp"),
        ("0", "ip"),
        ("esp", "esp"),
        ("50", "esp"),
        ("ipsec", "esp"),
        ("ah", "ah"),
        ("gre", "gre"),
        ("pptp", "gre"),
        ("ospf", "ospf"),
        ("255", "255"),
        ("99", "99"),
    ],
)
def test_protocols(given: str, shown: str) -> None:
    assert one(f"access-list A extended permit {given} any any") == (
        f"access-list A extended permit {shown} any any"
    )


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("tcp any any eq 80", "tcp any any eq www"),
        ("tcp any any eq www", "tcp any any eq www"),
        ("tcp any any eq http", "tcp any any eq www"),
        ("tcp any any eq 443", "tcp any any eq https"),
        ("tcp any any eq ssh", "tcp any any eq ssh"),
        ("tcp any any neq telnet", "tcp any any neq telnet"),
        ("tcp any any lt 1024", "tcp any any lt 1024"),
        ("tcp any any gt 1023", "tcp any any gt 1023"),
        ("tcp any any eq 3389", "tcp any any eq 3389"),
        ("tcp any any eq 514", "tcp any any eq rsh"),
        ("tcp any any eq cmd", "tcp any any eq rsh"),
        ("tcp any any range 80 88", "tcp any any range www 88"),
        ("tcp any any range gopher 71", "tcp any any range gopher 71"),
        ("tcp any any range 443 443", "tcp any any range https https"),
        (
            "tcp any range 1024 65535 host 10.0.0.1 eq 22",
            "tcp any range 1024 65535 host 10.0.0.1 eq ssh",
        ),
        ("udp any any eq 53", "udp any any eq domain"),
        ("udp any any eq 500", "udp any any eq isakmp"),
        ("udp any any eq 4500", "udp any any eq 4500"),
        ("udp any any eq 514", "udp any any eq syslog"),
        ("udp any eq snmp any eq snmptrap", "udp any eq snmp any eq snmptrap"),
        ("udp any any eq 1645", "udp any any eq radius"),
        ("tcp any any eq 750", "tcp any any eq kerberos"),
        ("tcp any any eq 0", "tcp any any eq 0"),
    ],
)
def test_ports_render_with_asa_names(given: str, shown: str) -> None:
    assert one(f"access-list A extended permit {given}") == f"access-list A extended permit {shown}"


def test_ports_are_refused_for_protocols_other_than_tcp_and_udp() -> None:
    cfg = RunningConfig()
    line = "access-list A extended permit ip any eq 80 any"
    assert refused(cfg, line) == "ports can be given only for tcp or udp, not for protocol ip"
    assert caret(cfg, line) == " " * line.index("eq") + "^"
    assert refused(cfg, "access-list A extended permit esp any any range 1 2") == (
        "ports can be given only for tcp or udp, not for protocol esp"
    )


def test_port_name_must_exist_for_the_protocol() -> None:
    cfg = RunningConfig()
    line = "access-list A extended permit tcp any any eq snmp"
    assert refused(cfg, line) == "'snmp' is not a tcp port name"
    assert caret(cfg, line) == " " * line.index("snmp") + "^"
    assert refused(cfg, "access-list A extended permit udp any any eq ssh") == (
        "'ssh' is not a udp port name"
    )


def test_reversed_range_is_refused() -> None:
    cfg = RunningConfig()
    line = "access-list A extended permit tcp any any range 90 80"
    assert refused(cfg, line) == "range 90 80: the low port is above the high port"
    assert caret(cfg, line) == " " * line.index("80") + "^"


def test_port_out_of_range_is_invalid_input() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "access-list A extended permit tcp any any eq 65536") == INVALID_INPUT
    assert refused(cfg, "access-list A extended permit tcp any any eq nosuchport") == INVALID_INPUT


# --------------------------------------------------------------------------- icmp, log, options


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("echo", "echo"),
        ("echo-reply", "echo-reply"),
        ("0", "echo-reply"),
        ("3", "unreachable"),
        ("unreachable 4", "unreachable 4"),
        ("200", "200"),
    ],
)
def test_icmp_types(given: str, shown: str) -> None:
    assert one(f"access-list A extended permit icmp any any {given}") == (
        f"access-list A extended permit icmp any any {shown}"
    )


def test_icmp_type_needs_icmp() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "access-list A extended permit udp any any echo") == (
        "an ICMP type can be given only for icmp, not for protocol udp"
    )


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("log", "log"),
        ("log 7", "log debugging"),
        ("log debugging interval 30", "log debugging interval 30"),
        ("log informational interval 300", "log"),
        ("log 6", "log"),
        ("log interval 1", "log interval 1"),
        ("log disable", "log disable"),
        ("inactive", "inactive"),
        ("log time-range WORKDAY inactive", "log time-range WORKDAY inactive"),
    ],
)
def test_log_and_options(given: str, shown: str) -> None:
    assert one(f"access-list A extended deny ip any4 any4 {given}") == (
        f"access-list A extended deny ip any4 any4 {shown}"
    )


# --------------------------------------------------------------------------- duplicates, lines


def test_duplicate_ace_is_a_warning_and_not_added() -> None:
    result = load_result(
        """\
        access-list A extended permit tcp any any eq 80
        access-list A extended permit 6 any any eq www
        """
    )
    assert result.config is not None
    assert [d.message for d in result.warnings] == ["ACE not added (duplicate)"]
    assert len(result.config.access_lists["A"].entries) == 1


def test_same_rule_with_other_log_options_is_not_a_duplicate() -> None:
    cfg = load(
        """\
        access-list A extended permit ip any any
        access-list A extended permit ip any any log
        """
    )
    assert len(cfg.access_lists["A"].entries) == 2


def test_line_inserts_at_that_position() -> None:
    assert acl_lines(
        "access-list A extended permit ip host 10.0.0.1 any",
        "access-list A extended permit ip host 10.0.0.2 any",
        "access-list A line 1 extended deny ip host 10.0.0.3 any",
        "access-list A line 3 remark before the second",
        "access-list A line 99 extended permit ip host 10.0.0.4 any",
    ) == (
        "access-list A extended deny ip host 10.0.0.3 any \n"
        "access-list A extended permit ip host 10.0.0.1 any \n"
        "access-list A remark before the second\n"
        "access-list A extended permit ip host 10.0.0.2 any \n"
        "access-list A extended permit ip host 10.0.0.4 any \n"
    )


def test_remarks() -> None:
    cfg = load(
        "access-list OUTSIDE_CRYPTOMAP_10 remark ACL to encrypt traffic from Local to Remote\n"
        "access-list OUTSIDE_CRYPTOMAP_10 extended permit ip 10.0.0.0 255.255.255.0 "
        "10.1.0.0 255.255.255.0 \n"
    )
    assert cfg.access_lists["OUTSIDE_CRYPTOMAP_10"].entries[0] == Remark(
        "ACL to encrypt traffic from Local to Remote"
    )
    assert show(cfg, "access-list") == (
        "access-list OUTSIDE_CRYPTOMAP_10 remark ACL to encrypt traffic from Local to Remote\n"
        "access-list OUTSIDE_CRYPTOMAP_10 extended permit ip 10.0.0.0 255.255.255.0 "
        "10.1.0.0 255.255.255.0 \n"
    )


def test_remark_longer_than_100_characters_is_refused() -> None:
    cfg = RunningConfig()
    assert load(f"access-list A remark {'x' * 100}").access_lists["A"].entries == [
        Remark("x" * 100)
    ]
    assert refused(cfg, f"access-list A remark {'x' * 101}") == (
        "remark is 101 characters long; the maximum is 100"
    )


def test_name_up_to_241_characters() -> None:
    name = "N" * 241
    assert name in load(f"access-list {name} extended permit ip any any").access_lists
    cfg = RunningConfig()
    line = f"access-list {name}X extended permit ip any any"
    assert refused(cfg, line) == "access-list name is 242 characters long; the maximum is 241"
    assert caret(cfg, line) == " " * len("access-list ") + "^"


# --------------------------------------------------------------------------- standard


def test_standard_acl() -> None:
    cfg = load(
        """\
        access-list SPLIT remark [[ destinations available via the VPN ]]
        access-list SPLIT standard permit 192.0.2.0 255.255.255.0
        access-list SPLIT standard permit host 198.51.100.7
        access-list SPLIT standard deny any4
        """
    )
    assert cfg.access_lists["SPLIT"].kind == "standard"
    assert show(cfg, "access-list") == (
        "access-list SPLIT remark [[ destinations available via the VPN ]]\n"
        "access-list SPLIT standard permit 192.0.2.0 255.255.255.0 \n"
        "access-list SPLIT standard permit host 198.51.100.7 \n"
        "access-list SPLIT standard deny any4 \n"
    )
    assert roundtrip(cfg) == cfg


def test_standard_and_extended_entries_do_not_mix() -> None:
    cfg = load("access-list S standard permit any4")
    assert refused(cfg, "access-list S extended permit ip any any") == (
        "access-list S is standard; a extended entry cannot be added to it"
    )
    cfg = load("access-list E extended permit ip any any")
    assert refused(cfg, "access-list E standard permit any4") == (
        "access-list E is extended; a standard entry cannot be added to it"
    )


def test_standard_mask_must_pair() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "access-list S standard permit 10.0.0.1 255.255.255.0") == (
        "IP address,mask doesn't pair"
    )


# --------------------------------------------------------------------------- removal


def test_no_access_list_ace_removes_that_entry() -> None:
    cfg = load(
        """\
        access-list A extended permit ip host 10.0.0.1 any
        access-list A extended permit tcp any any eq 443
        """
    )
    assert run(cfg, "no access-list A extended permit tcp any any eq https") == []
    assert show(cfg, "access-list") == "access-list A extended permit ip host 10.0.0.1 any \n"


def test_no_access_list_ace_ignores_log_options_when_no_exact_match() -> None:
    cfg = load(
        """\
        access-list A extended permit ip host 10.0.0.1 any log
        access-list A extended permit ip host 10.0.0.2 any
        """
    )
    assert run(cfg, "no access-list A permit ip host 10.0.0.1 any") == []
    assert show(cfg, "access-list") == "access-list A extended permit ip host 10.0.0.2 any \n"


def test_no_access_list_absent_entry_is_refused() -> None:
    cfg = load("access-list A extended permit ip any any")
    assert refused(cfg, "no access-list A extended deny ip any any") == (
        "access-list A has no such entry"
    )
    assert refused(cfg, "no access-list B extended permit ip any any") == (
        "access-list B does not exist"
    )
    assert refused(cfg, "no access-list A remark nothing") == "access-list A has no such entry"


def test_no_remark_and_standard_entry() -> None:
    cfg = load(
        """\
        access-list S remark note
        access-list S standard permit host 10.0.0.1
        access-list S standard permit host 10.0.0.2
        """
    )
    assert (
        run(cfg, "no access-list S remark note", "no access-list S standard permit host 10.0.0.1")
        == []
    )
    assert show(cfg, "access-list") == "access-list S standard permit host 10.0.0.2 \n"


CRYPTO = """\
access-list A extended permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0
access-list B extended permit ip 10.0.0.0 255.255.255.0 10.2.2.0 255.255.255.0
crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac
crypto map M 10 match address A
crypto map M 10 set peer 192.0.2.1
crypto map M 10 set ikev1 transform-set TS
crypto map M 20 match address B
crypto map M 20 set peer 192.0.2.2
crypto map M 20 set ikev1 transform-set TS
"""


def test_removing_the_last_entry_removes_the_acl_and_its_crypto_map_entry() -> None:
    cfg = load(CRYPTO)
    diags = run(
        cfg, "no access-list A extended permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0"
    )
    assert "A" not in cfg.access_lists
    assert list(cfg.crypto_maps["M"]) == [20]
    assert [(d.severity, d.message) for d in diags] == [
        (Severity.WARNING, "crypto map M 10 removed: access-list A no longer exists")
    ]


def test_no_access_list_name_removes_the_whole_acl_with_the_same_consequence() -> None:
    cfg = load(CRYPTO)
    diags = run(cfg, "no access-list B")
    assert "B" not in cfg.access_lists and list(cfg.crypto_maps["M"]) == [10]
    assert [d.message for d in diags] == ["crypto map M 20 removed: access-list B no longer exists"]


def test_clear_configure_access_list() -> None:
    cfg = load(CRYPTO)
    assert refused(cfg, "clear configure access-list NOPE") == "access-list NOPE does not exist"
    run(cfg, "clear configure access-list A")
    assert list(cfg.access_lists) == ["B"]
    diags = run(cfg, "clear configure access-list")
    assert cfg.access_lists == {} and cfg.crypto_maps == {}
    assert [d.message for d in diags] == ["crypto map M 20 removed: access-list B no longer exists"]


# --------------------------------------------------------------------------- access-group


def test_access_group_renders_after_all_acls() -> None:
    cfg = load(
        IFACES
        + """\
access-list OUT extended permit tcp any host 10.0.0.5 eq www
access-group OUT in interface outside
access-list IN extended permit ip any any
access-group IN out interface inside
"""
    )
    assert cfg.access_groups == [
        AccessGroup("OUT", "in", "outside"),
        AccessGroup("IN", "out", "inside"),
    ]
    text = show(cfg)
    assert (
        "access-list OUT extended permit tcp any host 10.0.0.5 eq www \n"
        "access-list IN extended permit ip any any \n"
        "access-group OUT in interface outside\n"
        "access-group IN out interface inside\n"
    ) in text
    assert show(cfg, "access-group") == (
        "access-group OUT in interface outside\naccess-group IN out interface inside\n"
    )
    assert "access-group" not in show(cfg, "access-list")
    assert roundtrip(cfg) == cfg


def test_access_group_replaces_the_binding_of_that_interface_and_direction() -> None:
    cfg = load(
        IFACES
        + """\
access-list A extended permit ip any any
access-list B extended permit ip any any
access-group A in interface outside
access-group B in interface outside
"""
    )
    assert cfg.access_groups == [AccessGroup("B", "in", "outside")]


def test_no_access_group() -> None:
    cfg = load(
        IFACES + "access-list A extended permit ip any any\naccess-group A in interface outside"
    )
    assert refused(cfg, "no access-group A out interface outside") == (
        "access-list A is not bound out on interface outside"
    )
    assert run(cfg, "no access-group A in interface outside") == []
    assert cfg.access_groups == []


def test_removing_an_acl_unbinds_it() -> None:
    cfg = load(
        IFACES + "access-list A extended permit ip any any\naccess-group A in interface outside"
    )
    diags = run(cfg, "no access-list A")
    assert cfg.access_groups == []
    assert [d.message for d in diags] == [
        "access-group A in interface outside removed: access-list A no longer exists"
    ]


def test_access_group_checks_warn() -> None:
    result = load_result(
        IFACES
        + """\
access-group NOPE in interface outside
access-list A extended permit ip any any
access-group A in interface dmz
access-list B extended permit ip interface dmz any
"""
    )
    assert result.config is not None
    assert [d.message for d in result.warnings] == [
        "access-group NOPE in interface outside: access-list NOPE does not exist",
        "access-group A in interface dmz: no interface has 'nameif dmz'",
        "access-list B extended permit ip interface dmz any: no interface has 'nameif dmz'",
    ]


# --------------------------------------------------------------------------- model, help, speed


def test_model_index_follows_entries() -> None:
    ace = Ace("permit", "ip", AddressSpec("any"), AddressSpec("any"))
    acl = AccessList("A", entries=[Remark("r"), ace])
    assert acl.aces == {ace}
    assert not acl.add_ace(Ace("permit", "ip", AddressSpec("any"), AddressSpec("any")))
    assert acl.add_ace(Ace("deny", "ip", AddressSpec("any"), AddressSpec("any")), line=1)
    assert [type(e).__name__ for e in acl.entries] == ["Ace", "Remark", "Ace"]
    acl.remove_at(2)
    assert acl.aces == {acl.entries[0]}


def test_help_lists_port_operators_and_addresses() -> None:
    grammar = grammars()[CONFIG]
    after_source = {c.text for c in grammar.candidates("access-list A extended permit tcp any ")}
    assert {"eq", "range", "host", "object", "object-group", "any4", "A.B.C.D"} <= after_source
    after_eq = {c.text for c in grammar.candidates("access-list A extended permit tcp any eq ")}
    assert after_eq == {"PORT"}


def test_refused_line_in_a_file_fails_the_load() -> None:
    diags = errors(
        """\
        access-list A extended permit ip any any
        access-list A extended permit ip 10.0.0.1 255.0.0.0 any
        """
    )
    assert [d.message for d in diags] == ["IP address,mask doesn't pair"]
    assert diags[0].line_no == 2


def test_rich_configuration_round_trips() -> None:
    cfg = load(
        IFACES
        + """\
object network WEB
 host 10.1.1.1
object-group network NETS
 network-object 10.0.0.0 255.0.0.0
access-list A remark web access
access-list A extended permit tcp object-group NETS object WEB range 8000 8080 log 4 interval 10
access-list A extended deny udp any4 eq domain any range 1 1023 inactive
access-list A extended permit icmp host 10.0.0.9 any unreachable 4
access-list A extended permit 99 interface outside any6
access-list S standard deny 10.0.0.0 255.0.0.0
access-group A in interface outside
"""
    )
    assert roundtrip(cfg) == cfg


def test_ace_lines_load_fast() -> None:
    lines = [
        f"access-list L{i % 7} extended permit tcp 10.{i % 250}.{i // 250 % 250}.0 "
        f"255.255.255.0 host 172.16.{i % 200}.{i % 199 + 1} eq https"
        for i in range(20000)
    ]
    start = time.perf_counter()
    session = ConfigSession(RunningConfig())
    for line in lines:
        session.execute(line)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed / len(lines) * 1e6:.1f} µs per ACE line"


def test_a_standard_acl_left_with_only_remarks_reads_back_the_same() -> None:
    # Without ACEs a list has no type; it reads back as extended, so it must be one.
    config = load("access-list S remark only words\naccess-list S standard permit any4\n")
    assert config.access_lists["S"].kind == "standard"
    assert run(config, "no access-list S standard permit any4") == []
    assert config.access_lists["S"] == AccessList("S", "extended", [Remark("only words")])
    assert roundtrip(config) == config
    assert run(config, "access-list S standard permit host 10.0.0.1") == []
    assert config.access_lists["S"].kind == "standard"


# --------------------------------------------------------------------------- IPv6 (D113)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("2001:db8:1::/64 2001:db8:2::/64", "2001:db8:1::/64 2001:db8:2::/64"),
        ("host 2001:DB8:0:0::1 any6", "host 2001:db8::1 any6"),
        ("2001:db8::5/128 any", "host 2001:db8::5 any"),  # a /128 is a host, as a /32 is
        ("any 2001:db8::/32", "any 2001:db8::/32"),
        ("any6 host ::1", "any6 host ::1"),
        ("::/0 ::/0", "::/0 ::/0"),
        ("any6 any", "any6 any"),
    ],
)
def test_ipv6_address_forms(given: str, shown: str) -> None:
    assert one(f"access-list A extended permit ip {given}") == (
        f"access-list A extended permit ip {shown}"
    )


def test_ipv6_aces_are_kept_as_address_specs() -> None:
    cfg = load(
        "access-list A extended permit tcp 2001:db8:1::/64 eq www host 2001:db8:2::9 "
        "range 1000 2000 log\n"
    )
    assert cfg.access_lists["A"].entries == [
        Ace(
            "permit",
            "tcp",
            AddressSpec("subnet", "2001:db8:1::", "64"),
            AddressSpec("host", "2001:db8:2::9"),
            PortSpec("eq", 80),
            PortSpec("range", 1000, 2000),
            log=True,
        )
    ]
    assert (
        run(
            cfg,
            "no access-list A extended permit tcp 2001:DB8:1::/64 eq 80 "
            "host 2001:db8:2:0::9 range 1000 2000 log",
        )
        == []
    )
    assert "A" not in cfg.access_lists


@pytest.mark.parametrize(
    ("line", "message", "under"),
    [
        (
            "access-list A extended permit ip host 2001:db8::g any",
            "Invalid IPv6 address 2001:db8::g: an IPv6 address is up to 8 groups of 1-4 hex "
            "digits joined by colons, e.g. 2001:db8::1",
            "2001:db8::g",
        ),
        (
            "access-list A extended permit ip any 1:2:3:4:5:6:7:8:9/64",
            "Invalid IPv6 address 1:2:3:4:5:6:7:8:9: an IPv6 address is up to 8 groups of 1-4 "
            "hex digits joined by colons, e.g. 2001:db8::1",
            "1:2:3:4:5:6:7:8:9/64",
        ),
        (
            "access-list A extended permit ip 2001:db8::/129 any",
            "Invalid IPv6 prefix length /129: it must be 0-128",
            "2001:db8::/129",
        ),
        (
            "access-list A extended permit ip 2001:db8::/064 any",
            "Invalid IPv6 prefix length /064: it must be 0-128",
            "2001:db8::/064",
        ),
        (
            "access-list A extended permit ip any 2001:db8::1/64",
            "IPv6 address,prefix doesn't pair: 2001:db8::1/64 has bits set past the prefix "
            "(the network is 2001:db8::/64)",
            "2001:db8::1/64",
        ),
    ],
)
def test_bad_ipv6_text_is_refused_with_its_own_message(line: str, message: str, under: str) -> None:
    cfg = RunningConfig()
    assert refused(cfg, line) == message
    assert caret(cfg, line) == " " * line.index(under) + "^"


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        (
            "host 10.0.0.1 host 2001:db8::1",
            "an ACE cannot mix IPv4 and IPv6: the source host 10.0.0.1 is IPv4, "
            "the destination host 2001:db8::1 is IPv6",
        ),
        (
            "2001:db8:1::/64 10.0.0.0 255.0.0.0",
            "an ACE cannot mix IPv6 and IPv4: the source 2001:db8:1::/64 is IPv6, "
            "the destination 10.0.0.0 255.0.0.0 is IPv4",
        ),
        (
            "any4 2001:db8::/32",
            "an ACE cannot mix IPv4 and IPv6: the source any4 is IPv4, "
            "the destination 2001:db8::/32 is IPv6",
        ),
        (
            "any4 any6",
            "an ACE cannot mix IPv4 and IPv6: the source any4 is IPv4, the destination any6 "
            "is IPv6",
        ),
    ],
)
def test_an_ace_mixing_families_is_refused(addresses: str, message: str) -> None:
    cfg = RunningConfig()
    line = f"access-list A extended permit ip {addresses}"
    assert refused(cfg, line) == message
    destination = addresses.split()[-1] if "255" not in addresses else "10.0.0.0"
    assert caret(cfg, line) == " " * line.rindex(destination.split()[0]) + "^"


@pytest.mark.parametrize(
    "addresses",
    ["any 2001:db8::/32", "object-group G any6", "interface outside any6", "object V4 object V6"],
)
def test_sides_of_no_stated_family_do_not_mix(addresses: str) -> None:
    cfg = load(
        IFACES
        + "object network V4\n host 10.0.0.1\nobject network V6\n host 2001:db8::1\n"
        + "object-group network G\n network-object 2001:db8::/32\n"
        + f"access-list A extended permit ip {addresses}\n"
    )
    assert roundtrip(cfg) == cfg


def test_standard_aces_stay_ipv4() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "access-list S standard permit host 2001:db8::1") == INVALID_INPUT


def test_help_lists_the_ipv6_forms() -> None:
    grammar = grammars()[CONFIG]
    sides = {c.text: c.help for c in grammar.candidates("access-list A extended permit ip ")}
    assert sides["X:X::X/LEN"] == "IPv6 prefix X:X::X/<0-128>"
    assert sides["any6"] == "Any IPv6 address"
    assert sides["host"] == "A single host (A.B.C.D or X:X::X)"
    assert "IPv6 when the other side is IPv6" in sides["any"]
    host = {c.text for c in grammar.candidates("access-list A extended permit ip host ")}
    assert host == {"A.B.C.D", "X:X::X"}


def test_ipv6_configuration_round_trips() -> None:
    cfg = load(
        IFACES
        + """\
object network SRV6
 subnet 2001:db8:1::/64
object-group network DUAL
 network-object 10.2.0.0 255.255.0.0
 network-object 2001:db8:2::/64
access-list VPN remark dual-stack tunnel
access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0
access-list VPN extended permit ip object SRV6 object-group DUAL
access-list VPN extended permit tcp any 2001:db8:3::/48 eq https
access-list VPN extended deny ip host 2001:db8:1::66 any6 log
access-list VPN extended permit icmp6 2001:db8:1::/64 2001:db8:2::/64
"""
    )
    assert roundtrip(cfg) == cfg
    assert show(cfg, "access-list").splitlines()[3] == (
        "access-list VPN extended permit tcp any 2001:db8:3::/48 eq https "
    )


def test_sides_that_share_no_family_through_objects_are_a_warning() -> None:
    result = load_result(
        IFACES
        + "object network V4\n host 10.0.0.1\nobject network V6\n host 2001:db8::1\n"
        + "object-group network DUAL\n network-object 2001:db8::/32\n"
        + " network-object 10.0.0.0 255.0.0.0\n"
        + "access-list A extended permit ip object V4 object V6\n"
        + "access-list A extended permit ip interface outside any6\n"
        + "access-list A extended permit ip object-group DUAL host 10.0.0.1\n"
        + "access-list A extended permit ip any object V6\n"
    )
    assert result.config is not None
    assert [d.message for d in result.warnings] == [
        "access-list A extended permit ip object V4 object V6: its source is IPv4 and its "
        "destination IPv6; an ACE cannot mix IPv4 and IPv6, so it matches nothing",
        "access-list A extended permit ip interface outside any6: its source is IPv4 and its "
        "destination IPv6; an ACE cannot mix IPv4 and IPv6, so it matches nothing",
    ]
