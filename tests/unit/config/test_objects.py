"""``object network`` and ``object-group network``."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.commands import grammars
from tunnelgate.config.diagnostics import INVALID_INPUT
from tunnelgate.config.model import GroupMember, NetworkObject, NetworkObjectGroup, RunningConfig
from tunnelgate.config.modes import NETWORK_OBJECT, NETWORK_OBJECT_GROUP
from tunnelgate.config.session import ConfigSession

# --------------------------------------------------------------------------- objects


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (" host 10.0.0.1", NetworkObject("O", "host", "10.0.0.1")),
        (
            " subnet 10.0.0.0 255.255.255.0",
            NetworkObject("O", "subnet", "10.0.0.0", "255.255.255.0"),
        ),
        (" range 10.0.0.10 10.0.0.20", NetworkObject("O", "range", "10.0.0.10", "10.0.0.20")),
        (" range 10.0.0.10 10.0.0.10", NetworkObject("O", "range", "10.0.0.10", "10.0.0.10")),
        (" fqdn www.example.com", NetworkObject("O", "fqdn", "www.example.com")),
        (" fqdn v4 www.example.com", NetworkObject("O", "fqdn", "www.example.com", "v4")),
    ],
)
def test_object_definitions_round_trip(line: str, expected: NetworkObject) -> None:
    cfg = load(f"object network O\n{line}")
    assert cfg.network_objects == {"O": expected}
    assert show(cfg, "object") == f"object network O\n{line}\n"
    assert roundtrip(cfg) == cfg


def test_object_sub_mode_and_description() -> None:
    session = ConfigSession(RunningConfig())
    session.execute("object network WEB")
    assert session.mode is NETWORK_OBJECT and session.key == "WEB"
    session.execute("description the web server")
    session.execute("host 10.0.0.80")
    assert show(session.config, "object") == (
        "object network WEB\n host 10.0.0.80\n description the web server\n"
    )
    session.execute("no description")
    assert session.config.network_objects["WEB"].description is None


def test_a_new_definition_replaces_the_old() -> None:
    cfg = load("object network O\n host 10.0.0.1\n subnet 10.0.0.0 255.0.0.0")
    assert cfg.network_objects["O"] == NetworkObject("O", "subnet", "10.0.0.0", "255.0.0.0")


def test_no_definition() -> None:
    cfg = load("object network O\n host 10.0.0.1")
    assert refused(cfg, "object network O", "no host 10.0.0.2") == (
        "object network O is not defined as 'host 10.0.0.2'"
    )
    run(cfg, "object network O", "no host 10.0.0.1")
    assert cfg.network_objects["O"] == NetworkObject("O")
    assert show(cfg, "object") == "object network O\n"
    assert roundtrip(cfg) == cfg


def test_subnet_must_pair() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "object network O", "subnet 10.0.0.1 255.255.255.0") == (
        "IP address,mask doesn't pair"
    )
    assert refused(cfg, "object network O", "subnet 10.0.0.0 255.255.0.255") == (
        "Invalid netmask 255.255.0.255: a mask must be contiguous ones, e.g. 255.255.255.0"
    )


def test_range_must_ascend() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "object network O", "range 10.0.0.9 10.0.0.1") == (
        "range 10.0.0.9 10.0.0.1: the first address is above the last"
    )


def test_bad_values() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "object network O", "fqdn bad_name!") == "invalid domain name bad_name!"
    assert refused(cfg, "object network O", "subnet 10.0.0.0 255.255.255.256") == INVALID_INPUT
    assert refused(cfg, f"object network {'x' * 65}") == (
        "object name is 65 characters long; the maximum is 64"
    )


def test_objects_and_groups_share_one_name_space() -> None:
    cfg = load("object network X\n host 10.0.0.1")
    assert refused(cfg, "object-group network X") == "name X is already used by object X"
    cfg = load("object-group network G")
    assert refused(cfg, "object network G") == "name G is already used by object-group G"


def test_no_object_network() -> None:
    cfg = load("object network O\n host 10.0.0.1")
    assert refused(cfg, "no object network P") == "object network P does not exist"
    assert run(cfg, "no object network O") == []
    assert cfg.network_objects == {}


def test_an_object_in_use_cannot_be_removed() -> None:
    cfg = load(
        """\
        object network O
         host 10.0.0.1
        object-group network G
         network-object object O
        access-list A extended permit ip object O any
        """
    )
    assert refused(cfg, "no object network O") == (
        "object O is in use by access-list A, object-group G; remove those references first"
    )


# --------------------------------------------------------------------------- groups


GROUP = """\
object network O
 host 10.9.9.9
object-group network INNER
 network-object host 10.0.0.1
object-group network G
 description branch networks
 network-object host 10.0.0.2
 network-object 10.1.0.0 255.255.0.0
 network-object object O
 group-object INNER
"""


def test_group_members_and_render() -> None:
    cfg = load(GROUP)
    assert cfg.network_object_groups["G"] == NetworkObjectGroup(
        "G",
        [
            GroupMember("host", address="10.0.0.2"),
            GroupMember("subnet", address="10.1.0.0", mask="255.255.0.0"),
            GroupMember("object", name="O"),
            GroupMember("group", name="INNER"),
        ],
        "branch networks",
    )
    assert show(cfg, "object-group") == (
        "object-group network INNER\n"
        " network-object host 10.0.0.1\n"
        "object-group network G\n"
        " description branch networks\n"
        " network-object host 10.0.0.2\n"
        " network-object 10.1.0.0 255.255.0.0\n"
        " network-object object O\n"
        " group-object INNER\n"
    )
    assert show(cfg, "object") == "object network O\n host 10.9.9.9\n"
    assert roundtrip(cfg) == cfg


def test_group_sub_mode() -> None:
    session = ConfigSession(RunningConfig())
    session.execute("object-group network G")
    assert session.mode is NETWORK_OBJECT_GROUP and session.key == "G"


def test_host_mask_member_becomes_a_host() -> None:
    cfg = load("object-group network G\n network-object 10.0.0.1 255.255.255.255")
    assert cfg.network_object_groups["G"].members == [GroupMember("host", address="10.0.0.1")]


def test_duplicate_member_is_a_warning() -> None:
    result = load_result(
        """\
        object-group network G
         network-object host 10.0.0.1
         network-object 10.0.0.1 255.255.255.255
        """
    )
    assert result.config is not None
    assert [d.message for d in result.warnings] == [
        "'network-object host 10.0.0.1' not added to object-group G: it is already a member"
    ]
    assert len(result.config.network_object_groups["G"].members) == 1


def test_member_errors() -> None:
    cfg = load(GROUP)
    assert refused(cfg, "object-group network G", "network-object object NOPE") == (
        "object network NOPE does not exist"
    )
    assert refused(cfg, "object-group network G", "group-object NOPE") == (
        "object-group network NOPE does not exist"
    )
    assert refused(cfg, "object-group network G", "group-object G") == (
        "object-group G contains object-group G: a group cannot contain itself"
    )
    assert refused(cfg, "object-group network INNER", "group-object G") == (
        "object-group G contains object-group INNER: a group cannot contain itself"
    )
    assert refused(cfg, "object-group network G", "network-object 10.1.0.1 255.255.0.0") == (
        "IP address,mask doesn't pair"
    )


def test_no_members() -> None:
    cfg = load(GROUP)
    run(
        cfg,
        "object-group network G",
        "no network-object host 10.0.0.2",
        "no network-object 10.1.0.0 255.255.0.0",
        "no network-object object O",
        "no description",
    )
    assert show(cfg, "object-group", "network", "G") == (
        "object-group network G\n group-object INNER\n"
    )
    assert refused(cfg, "object-group network G", "no network-object host 10.0.0.2") == (
        "'network-object host 10.0.0.2' is not a member of object-group G"
    )
    run(cfg, "object-group network G", "no group-object INNER")
    assert cfg.network_object_groups["G"].members == []


def test_last_member_of_a_group_in_use_cannot_be_removed() -> None:
    cfg = load(
        """\
        object-group network G
         network-object host 10.0.0.1
        access-list A extended permit ip object-group G any
        """
    )
    assert refused(cfg, "object-group network G", "no network-object host 10.0.0.1") == (
        "cannot remove the last member of object-group G: it is in use by access-list A"
    )


def test_no_object_group() -> None:
    cfg = load(GROUP + "access-list A extended permit ip object-group G any\n")
    assert refused(cfg, "no object-group network NOPE") == (
        "object-group network NOPE does not exist"
    )
    assert refused(cfg, "no object-group network G") == (
        "object-group G is in use by access-list A; remove those references first"
    )
    assert refused(cfg, "no object-group network INNER") == (
        "object-group INNER is in use by object-group G; remove those references first"
    )
    run(cfg, "no access-list A", "no object-group network G")
    assert list(cfg.network_object_groups) == ["INNER"]


def test_a_global_command_leaves_the_sub_mode() -> None:
    cfg = load(
        """\
        object network O
         host 10.0.0.1
        access-list A extended permit ip object O any
        """
    )
    assert list(cfg.access_lists) == ["A"]


def test_a_group_nesting_a_later_group_is_shown_after_it_and_reloads() -> None:
    # Both groups defined, then the later one nested in the earlier one: the saved text
    # must define the nested group before its ``group-object`` line.
    config = RunningConfig()
    assert not [
        d
        for d in run(
            config,
            "object-group network OUTER",
            "object-group network INNER",
            "network-object host 10.0.0.1",
            "object-group network OUTER",
            "group-object INNER",
            "network-object host 10.0.0.2",
        )
        if d.is_error
    ]
    assert show(config, "object-group") == (
        "object-group network INNER\n"
        " network-object host 10.0.0.1\n"
        "object-group network OUTER\n"
        " group-object INNER\n"
        " network-object host 10.0.0.2\n"
    )
    assert roundtrip(config) == config


# --------------------------------------------------------------------------- IPv6 (D113)


@pytest.mark.parametrize(
    ("line", "expected", "shown"),
    [
        (" host 2001:DB8::0:1", NetworkObject("O", "host", "2001:db8::1"), " host 2001:db8::1"),
        (
            " subnet 2001:db8:1:0::/64",
            NetworkObject("O", "subnet", "2001:db8:1::", "64"),
            " subnet 2001:db8:1::/64",
        ),
        (  # an object keeps a /128 as a subnet, as it keeps a /32
            " subnet 2001:db8::5/128",
            NetworkObject("O", "subnet", "2001:db8::5", "128"),
            " subnet 2001:db8::5/128",
        ),
        (
            " range 2001:db8::10 2001:db8::1f",
            NetworkObject("O", "range", "2001:db8::10", "2001:db8::1f"),
            " range 2001:db8::10 2001:db8::1f",
        ),
    ],
)
def test_ipv6_object_definitions_round_trip(line: str, expected: NetworkObject, shown: str) -> None:
    cfg = load(f"object network O\n{line}")
    assert cfg.network_objects == {"O": expected}
    assert show(cfg, "object") == f"object network O\n{shown}\n"
    assert roundtrip(cfg) == cfg


def test_ipv6_object_errors() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "object network O", "subnet 2001:db8::1/64") == (
        "IPv6 address,prefix doesn't pair: 2001:db8::1/64 has bits set past the prefix "
        "(the network is 2001:db8::/64)"
    )
    assert refused(cfg, "object network O", "host 2001:db8:::1") == (
        "Invalid IPv6 address 2001:db8:::1: an IPv6 address is up to 8 groups of 1-4 hex digits "
        "joined by colons, e.g. 2001:db8::1"
    )
    assert refused(cfg, "object network O", "range 2001:db8::9 2001:db8::1") == (
        "range 2001:db8::9 2001:db8::1: the first address is above the last"
    )
    assert refused(cfg, "object network O", "range 10.0.0.1 2001:db8::1") == (
        "range 10.0.0.1 2001:db8::1: the first and last addresses must be of one family "
        "(both IPv4 or both IPv6)"
    )
    assert refused(cfg, "object network O", "subnet 2001:db8::/64 255.255.0.0") == INVALID_INPUT


def test_no_ipv6_definition_compares_the_addresses_not_the_text() -> None:
    cfg = load("object network O\n subnet 2001:db8:1::/64")
    assert run(cfg, "object network O", "no subnet 2001:DB8:1:0:0::/64") == []
    assert cfg.network_objects["O"].kind is None
    cfg = load("object network O\n host 2001:db8::1")
    assert run(cfg, "object network O", "no host 2001:db8:0::1") == []
    assert cfg.network_objects["O"].kind is None


def test_ipv6_group_members_and_render() -> None:
    cfg = load(
        """\
        object network V6
         subnet 2001:db8:9::/48
        object-group network G
         network-object 2001:DB8:1::/64
         network-object host 2001:db8::7
         network-object 2001:db8::8/128
         network-object 10.0.0.0 255.0.0.0
         network-object object V6
        """
    )
    assert cfg.network_object_groups["G"].members == [
        GroupMember("subnet", address="2001:db8:1::", mask="64"),
        GroupMember("host", address="2001:db8::7"),
        GroupMember("host", address="2001:db8::8"),  # a /128 member is a host, as a /32 is
        GroupMember("subnet", address="10.0.0.0", mask="255.0.0.0"),
        GroupMember("object", name="V6"),
    ]
    assert show(cfg, "object-group") == (
        "object-group network G\n"
        " network-object 2001:db8:1::/64\n"
        " network-object host 2001:db8::7\n"
        " network-object host 2001:db8::8\n"
        " network-object 10.0.0.0 255.0.0.0\n"
        " network-object object V6\n"
    )
    assert roundtrip(cfg) == cfg
    assert run(cfg, "object-group network G", "no network-object 2001:db8:1:0::/64") == []
    assert len(cfg.network_object_groups["G"].members) == 4


def test_ipv6_member_errors() -> None:
    cfg = RunningConfig()
    assert refused(cfg, "object-group network G", "network-object 2001:db8::/200") == (
        "Invalid IPv6 prefix length /200: it must be 0-128"
    )
    assert refused(cfg, "object-group network G", "network-object host 2001:db8::x") == (
        "Invalid IPv6 address 2001:db8::x: an IPv6 address is up to 8 groups of 1-4 hex digits "
        "joined by colons, e.g. 2001:db8::1"
    )


def test_help_mentions_the_ipv6_forms() -> None:
    obj = {c.text for c in grammars()[NETWORK_OBJECT].candidates("subnet ")}
    assert obj == {"A.B.C.D", "X:X::X/LEN"}
    host = {c.text for c in grammars()[NETWORK_OBJECT].candidates("host ")}
    assert host == {"A.B.C.D", "X:X::X"}
    members = {c.text for c in grammars()[NETWORK_OBJECT_GROUP].candidates("network-object ")}
    assert {"host", "object", "A.B.C.D", "X:X::X/LEN"} <= members
