"""The SPD: the spec's permit/deny cascade, inbound checks and the A/B/C example.

Every outbound decision is asked of both the linear reference and the compiled
classifier, which must agree.
"""

from __future__ import annotations

import pytest

from tests.helpers import errors, load
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.crypto_map import CryptoMapSet
from tunnelgate.policy.selector import ICMP, TCP, UDP, Flow, Range, Selector
from tunnelgate.policy.spd import (
    DROP_REASONS,
    Bypass,
    Classifier,
    Decision,
    Drop,
    DropReason,
    Protect,
    check_inbound_clear,
    check_inbound_decrypted,
    evaluate_outbound,
)


def crypto_map(text: str, interface: str = "outside") -> CryptoMapSet:
    return compile_config(load(text)).crypto_maps[interface]


def outbound(cmap: CryptoMapSet, flow: Flow) -> Decision:
    """The reference's decision, checked against the compiled classifier."""
    expected = evaluate_outbound(cmap, flow)
    assert Classifier.compile(cmap).classify(flow) == expected
    return expected


def inbound_clear(cmap: CryptoMapSet, flow: Flow) -> Drop | None:
    expected = check_inbound_clear(cmap, flow)
    assert Classifier.compile(cmap).check_inbound_clear(flow) == expected
    return expected


def protected_by(decision: Decision) -> tuple[int, str, int]:
    """(crypto map seq, ACL, ACE line) of a Protect decision."""
    assert isinstance(decision, Protect), decision
    return decision.entry.seq, decision.rule.acl, decision.rule.line


def ip(source: str, destination: str) -> Flow:
    return Flow.of(0, source, destination)


def tcp(source: str, destination: str, sport: int, dport: int) -> Flow:
    return Flow.of(TCP, source, destination, sport, dport)


# --------------------------------------------------------------------------- the A/B/C example
#
# "Example of LAN-to-LAN Crypto Maps", with the real addresses of its "Real ACEs" table:
# A = 192.168.3.0/26 (host A.3 = 192.168.3.3), B = 192.168.12.0/29, C = 192.168.201.0/27.
# The outside addresses of the three appliances are ours. As in the table, A's seq 1 and 2
# each cover both remote networks.

INTERFACES = """\
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address {outside} 255.255.255.0
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address {inside}
route outside 0.0.0.0 0.0.0.0 198.51.100.254
crypto ipsec ikev1 transform-set STANDARD esp-aes esp-sha-hmac
crypto ipsec ikev1 transform-set STRONG esp-aes-256 esp-sha-hmac
"""

A_CONFIG = (
    INTERFACES.format(outside="198.51.100.1", inside="192.168.3.1 255.255.255.192")
    + """\
hostname A
access-list ACL1 extended deny ip host 192.168.3.3 192.168.12.0 255.255.255.248
access-list ACL1 extended deny ip host 192.168.3.3 192.168.201.0 255.255.255.224
access-list ACL1 extended permit ip 192.168.3.0 255.255.255.192 192.168.12.0 255.255.255.248
access-list ACL1 extended permit ip 192.168.3.0 255.255.255.192 192.168.201.0 255.255.255.224
access-list ACL2 extended permit ip host 192.168.3.3 192.168.12.0 255.255.255.248
access-list ACL2 extended permit ip host 192.168.3.3 192.168.201.0 255.255.255.224
crypto map MAP 1 match address ACL1
crypto map MAP 1 set peer 198.51.100.2 198.51.100.3
crypto map MAP 1 set ikev1 transform-set STANDARD
crypto map MAP 2 match address ACL2
crypto map MAP 2 set peer 198.51.100.2 198.51.100.3
crypto map MAP 2 set ikev1 transform-set STRONG
crypto map MAP 2 set security-association lifetime seconds 3600
crypto map MAP interface outside
"""
)

B_ACES = """\
access-list ACL1 extended permit ip 192.168.12.0 255.255.255.248 192.168.3.0 255.255.255.192
access-list ACL1 extended permit ip 192.168.12.0 255.255.255.248 192.168.201.0 255.255.255.224
"""
B_MAP = """\
crypto map MAP 1 match address ACL1
crypto map MAP 1 set peer 198.51.100.1 198.51.100.3
crypto map MAP 1 set ikev1 transform-set STANDARD STRONG
crypto map MAP interface outside
"""
B_INTERFACES = INTERFACES.format(outside="198.51.100.2", inside="192.168.12.1 255.255.255.248")
B_CONFIG = B_INTERFACES + "hostname B\n" + B_ACES + B_MAP
B_UTURN_CONFIG = (
    B_INTERFACES
    + "hostname B\n"
    + B_ACES
    + "access-list ACL1 extended permit ip 192.168.12.0 255.255.255.248 "
    + "192.168.12.0 255.255.255.248\n"
    + B_MAP
)

C_CONFIG = (
    INTERFACES.format(outside="198.51.100.3", inside="192.168.201.1 255.255.255.224")
    + """\
hostname C
access-list ACL1 extended permit ip 192.168.201.0 255.255.255.224 192.168.3.0 255.255.255.192
access-list ACL1 extended permit ip 192.168.201.0 255.255.255.224 192.168.12.0 255.255.255.248
crypto map MAP 1 match address ACL1
crypto map MAP 1 set peer 198.51.100.1 198.51.100.2
crypto map MAP 1 set ikev1 transform-set STANDARD STRONG
crypto map MAP interface outside
"""
)

A3, A_OTHER, A_LAST = "192.168.3.3", "192.168.3.20", "192.168.3.63"
B1, B_LAST = "192.168.12.1", "192.168.12.7"
C1, C_LAST = "192.168.201.1", "192.168.201.31"
INTERNET = "8.8.8.8"


def test_table_literal_host_with_mask_is_refused() -> None:
    """The table writes A.3 as ``192.168.3.3 255.255.255.192``; the ASA refuses it."""
    line = "access-list ACL1 extended deny ip 192.168.3.3 255.255.255.192 "
    line += "192.168.12.0 255.255.255.248"
    assert [e.message for e in errors(line)] == ["IP address,mask doesn't pair"]


@pytest.mark.parametrize("destination", [B1, B_LAST, C1, C_LAST])
def test_a_host_a3_takes_the_strong_map(destination: str) -> None:
    cmap = crypto_map(A_CONFIG)
    decision = outbound(cmap, ip(A3, destination))
    line = 1 if destination.startswith("192.168.12.") else 2
    assert protected_by(decision) == (2, "ACL2", line)
    assert isinstance(decision, Protect)
    assert [t.name for t in decision.entry.transform_sets] == ["STRONG"]
    assert decision.entry.lifetime_seconds == 3600


@pytest.mark.parametrize("source", ["192.168.3.0", "192.168.3.2", A_OTHER, A_LAST])
@pytest.mark.parametrize(("destination", "line"), [(B1, 3), (B_LAST, 3), (C1, 4), (C_LAST, 4)])
def test_a_other_hosts_take_map_1(source: str, destination: str, line: int) -> None:
    decision = outbound(crypto_map(A_CONFIG), tcp(source, destination, 40000, 443))
    assert protected_by(decision) == (1, "ACL1", line)
    assert isinstance(decision, Protect)
    assert [t.name for t in decision.entry.transform_sets] == ["STANDARD"]


@pytest.mark.parametrize(
    ("source", "destination"),
    [
        (A3, INTERNET),  # not to a protected network
        ("192.168.3.64", B1),  # just outside A's /26
        (A_OTHER, "192.168.12.8"),  # just outside B's /29
        (A_OTHER, "192.168.201.32"),  # just outside C's /27
        (B1, A3),  # the inbound direction is not an outbound permit
    ],
)
def test_a_bypass(source: str, destination: str) -> None:
    assert outbound(crypto_map(A_CONFIG), ip(source, destination)) == Bypass()


@pytest.mark.parametrize(
    ("config", "source", "destination", "line"),
    [
        (B_CONFIG, B1, A3, 1),  # B's single ACL covers A.3 too (no cascade needed on B)
        (B_CONFIG, B_LAST, A_LAST, 1),
        (B_CONFIG, B1, C_LAST, 2),
        (C_CONFIG, C1, A3, 1),
        (C_CONFIG, C_LAST, A_OTHER, 1),
        (C_CONFIG, C1, B_LAST, 2),
    ],
)
def test_b_and_c_outbound(config: str, source: str, destination: str, line: int) -> None:
    assert protected_by(outbound(crypto_map(config), ip(source, destination))) == (1, "ACL1", line)


@pytest.mark.parametrize("config", [B_CONFIG, C_CONFIG])
def test_b_and_c_bypass(config: str) -> None:
    cmap = crypto_map(config)
    assert outbound(cmap, ip(B1, INTERNET)) == Bypass()
    assert outbound(cmap, ip(C1, INTERNET)) == Bypass()
    assert outbound(cmap, ip(A3, B1)) == Bypass()  # wrong direction


@pytest.mark.parametrize(
    ("config", "source", "destination", "line"),
    [
        (B_CONFIG, A3, B1, 1),  # from A.3: deny ACEs do not exist on B, nothing to ignore
        (B_CONFIG, A_LAST, B_LAST, 1),
        (B_CONFIG, C1, B1, 2),
        (C_CONFIG, A3, C1, 1),
        (C_CONFIG, B_LAST, C_LAST, 2),
        (A_CONFIG, B1, A3, 3),  # A's deny ACEs are ignored: the first permit is line 3
        (A_CONFIG, C1, A3, 4),
        (A_CONFIG, B1, A_OTHER, 3),
    ],
)
def test_inbound_clear_text_that_should_have_been_protected(
    config: str, source: str, destination: str, line: int
) -> None:
    drop = inbound_clear(crypto_map(config), tcp(source, destination, 443, 40000))
    assert drop is not None
    assert (
        drop.reason == DropReason.CLEAR_TEXT_MATCHES_CRYPTO_ACL == "clear-text-matches-crypto-acl"
    )
    assert drop.rule is not None and drop.rule.line == line
    assert drop.entry is not None and drop.entry.seq == 1


@pytest.mark.parametrize("config", [A_CONFIG, B_CONFIG, C_CONFIG])
@pytest.mark.parametrize(
    ("source", "destination"), [(INTERNET, A3), (INTERNET, B1), (INTERNET, C1), (B1, INTERNET)]
)
def test_inbound_clear_text_from_elsewhere_passes(
    config: str, source: str, destination: str
) -> None:
    assert inbound_clear(crypto_map(config), ip(source, destination)) is None


def test_inbound_clear_ignores_deny_aces() -> None:
    """A deny ACE does not exempt inbound clear text from a later permit (the spec: deny rules
    are ignored inbound, insert denies *before* permits only for outbound clear text)."""
    cmap = crypto_map(A_CONFIG)
    drop = inbound_clear(cmap, ip(B1, A3))
    assert drop is not None and drop.rule is not None
    assert (
        drop.rule.text
        == "extended permit ip 192.168.3.0 255.255.255.192 192.168.12.0 255.255.255.248"
    )


def _sa_selectors(decision: Decision) -> tuple[Selector, ...]:
    """The selectors of the SA a Protect decision would negotiate: its permit ACE."""
    assert isinstance(decision, Protect)
    return decision.rule.selectors


def test_decrypted_traffic_on_b_must_match_the_sa() -> None:
    cmap = crypto_map(B_CONFIG)
    sa_to_a = _sa_selectors(outbound(cmap, ip(B1, A3)))  # B → A
    assert check_inbound_decrypted(sa_to_a, ip(A3, B1)) is None
    assert check_inbound_decrypted(sa_to_a, ip(A_LAST, B_LAST)) is None
    for inner in (ip(C1, B1), ip(A3, INTERNET), ip(B1, A3)):
        assert check_inbound_decrypted(sa_to_a, inner) == Drop(DropReason.INVALID_SELECTORS)


def test_decrypted_traffic_on_a_strong_sa_is_host_a3_only() -> None:
    cmap = crypto_map(A_CONFIG)
    strong_to_b = _sa_selectors(outbound(cmap, ip(A3, B1)))
    assert check_inbound_decrypted(strong_to_b, tcp(B1, A3, 22, 50000)) is None
    drop = check_inbound_decrypted(strong_to_b, ip(B1, A_OTHER))
    assert drop is not None and drop.reason == "invalid-selectors"
    assert check_inbound_decrypted(strong_to_b, ip(C1, A3)) is not None  # the B SA, not C's
    assert check_inbound_decrypted((), ip(B1, A3)) == Drop(DropReason.INVALID_SELECTORS)


def test_decrypted_traffic_on_c() -> None:
    cmap = crypto_map(C_CONFIG)
    sa_to_b = _sa_selectors(outbound(cmap, ip(C1, B1)))
    assert check_inbound_decrypted(sa_to_b, ip(B_LAST, C_LAST)) is None
    assert check_inbound_decrypted(sa_to_b, ip(A3, C1)) is not None


def test_u_turn_on_b_needs_permit_b_b() -> None:
    b_b = ip(B1, B_LAST)
    assert outbound(crypto_map(B_CONFIG), b_b) == Bypass()
    cmap = crypto_map(B_UTURN_CONFIG)
    assert protected_by(outbound(cmap, b_b)) == (1, "ACL1", 3)
    drop = inbound_clear(cmap, ip(B_LAST, B1))
    assert drop is not None and drop.rule is not None and drop.rule.line == 3
    sa = _sa_selectors(outbound(cmap, b_b))
    assert check_inbound_decrypted(sa, ip(B_LAST, B1)) is None  # B↔B is its own mirror
    # the other ACEs are unchanged
    assert protected_by(outbound(cmap, ip(B1, A3))) == (1, "ACL1", 1)


# --------------------------------------------------------------------------- cascade semantics

TS = "crypto ipsec ikev1 transform-set TS esp-aes esp-sha-hmac\n"
OUTSIDE = """\
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 203.0.113.1 255.255.255.0
"""


def entry_lines(seq: int, acl: str | None, peer: str | None = "203.0.113.9") -> str:
    lines = []
    if acl is not None:
        lines.append(f"crypto map M {seq} match address {acl}")
    if peer is not None:
        lines.append(f"crypto map M {seq} set peer {peer}")
    lines.append(f"crypto map M {seq} set ikev1 transform-set TS")
    return "\n".join(lines) + "\n"


def cmap_of(*parts: str) -> CryptoMapSet:
    return crypto_map(TS + OUTSIDE + "".join(parts) + "crypto map M interface outside\n")


def test_deny_resumes_at_the_next_entry() -> None:
    cmap = cmap_of(
        "access-list X extended deny ip 10.0.0.0 255.255.255.0 10.1.0.0 255.255.255.0\n",
        "access-list X extended permit ip 10.0.0.0 255.255.0.0 10.1.0.0 255.255.0.0\n",
        "access-list Y extended permit ip 10.0.0.0 255.255.255.0 10.1.0.0 255.255.255.0\n",
        entry_lines(10, "X"),
        entry_lines(20, "Y"),
    )
    assert protected_by(outbound(cmap, ip("10.0.0.5", "10.1.0.5"))) == (20, "Y", 1)
    assert protected_by(outbound(cmap, ip("10.0.1.5", "10.1.0.5"))) == (10, "X", 2)
    assert outbound(cmap, ip("10.0.0.5", "10.2.0.5")) == Bypass()


def test_a_deny_skips_only_its_own_entry() -> None:
    """After a deny, the later ACEs of the same ACL are not consulted, even a permit."""
    cmap = cmap_of(
        "access-list X extended deny ip host 10.0.0.1 any\n",
        "access-list X extended permit ip host 10.0.0.1 host 10.9.9.9\n",
        "access-list Y extended deny tcp any any\n",
        "access-list Y extended permit ip any host 10.9.9.9\n",
        entry_lines(10, "X"),
        entry_lines(20, "Y"),
    )
    assert protected_by(outbound(cmap, ip("10.0.0.1", "10.9.9.9"))) == (20, "Y", 2)
    assert outbound(cmap, tcp("10.0.0.1", "10.9.9.9", 1, 2)) == Bypass()
    assert outbound(cmap, tcp("10.0.0.2", "10.9.9.9", 1, 2)) == Bypass()  # Y denies tcp
    assert protected_by(outbound(cmap, ip("10.0.0.2", "10.9.9.9"))) == (20, "Y", 2)


def test_same_acl_in_two_entries() -> None:
    cmap = cmap_of(
        "access-list X extended deny ip host 10.0.0.1 any\n",
        "access-list X extended permit ip 10.0.0.0 255.255.255.0 any\n",
        entry_lines(10, "X"),
        entry_lines(20, "X"),
    )
    assert outbound(cmap, ip("10.0.0.1", "1.1.1.1")) == Bypass()
    assert protected_by(outbound(cmap, ip("10.0.0.2", "1.1.1.1"))) == (10, "X", 2)


def test_only_denies_bypass() -> None:
    cmap = cmap_of("access-list X extended deny ip any any\n", entry_lines(10, "X"))
    assert outbound(cmap, ip("10.0.0.1", "10.1.0.1")) == Bypass()
    assert inbound_clear(cmap, ip("10.1.0.1", "10.0.0.1")) is None


@pytest.mark.parametrize(
    ("acl", "peer", "why"),
    [("Z", None, "no peer"), (None, "203.0.113.9", "no match address"), (None, None, "both")],
)
def test_incomplete_entry_drops_what_reaches_it(
    acl: str | None, peer: str | None, why: str
) -> None:
    cmap = cmap_of(
        "access-list X extended permit ip 10.0.0.0 255.255.255.0 10.1.0.0 255.255.255.0\n",
        "access-list Z extended permit ip any any\n",
        "access-list Y extended permit ip 10.2.0.0 255.255.255.0 10.3.0.0 255.255.255.0\n",
        entry_lines(10, "X"),
        entry_lines(20, acl, peer),
        entry_lines(30, "Y"),
    )
    assert cmap.entries[1].incomplete is not None
    # what an earlier, complete entry permitted is still protected
    assert protected_by(outbound(cmap, ip("10.0.0.1", "10.1.0.1"))) == (10, "X", 1)
    # everything else reaching seq 20 is dropped, whatever seq 30 or its own ACL says
    for flow in (
        ip("10.2.0.1", "10.3.0.1"),
        ip("10.9.0.1", "10.9.0.2"),
        ip("10.1.0.1", "10.0.0.1"),
    ):
        decision = outbound(cmap, flow)
        assert isinstance(decision, Drop)
        assert decision.reason == "incomplete-crypto-map"
        assert decision.entry is cmap.entries[1] and decision.entry.seq == 20


def test_incomplete_entry_after_a_deny() -> None:
    cmap = cmap_of(
        "access-list X extended deny ip host 10.0.0.1 any\n",
        "access-list X extended permit ip 10.0.0.0 255.255.255.0 any\n",
        entry_lines(10, "X"),
        entry_lines(20, None),
    )
    assert protected_by(outbound(cmap, ip("10.0.0.2", "1.1.1.1"))) == (10, "X", 2)
    decision = outbound(cmap, ip("10.0.0.1", "1.1.1.1"))  # denied by 10, reaches 20
    assert isinstance(decision, Drop) and decision.reason == DropReason.INCOMPLETE_CRYPTO_MAP


DYNAMIC = """\
crypto dynamic-map DYN 5 match address D
crypto dynamic-map DYN 5 set ikev1 transform-set TS
crypto dynamic-map DYN 10 set ikev1 transform-set TS
crypto map M 1 ipsec-isakmp dynamic DYN
"""


def test_dynamic_entries_come_after_every_static_entry() -> None:
    cmap = cmap_of(
        "access-list D extended permit ip 10.0.0.0 255.255.0.0 any\n",
        "access-list S extended permit ip 10.0.1.0 255.255.255.0 10.1.0.0 255.255.0.0\n",
        DYNAMIC,
        entry_lines(50, "S"),
    )
    assert [(e.seq, e.kind) for e in cmap.entries] == [
        (50, "static"),
        (1, "dynamic"),
        (1, "dynamic"),
    ]
    assert protected_by(outbound(cmap, ip("10.0.1.1", "10.1.0.1"))) == (50, "S", 1)
    decision = outbound(cmap, ip("10.0.2.1", "10.1.0.1"))
    assert isinstance(decision, Protect)
    assert decision.entry.is_dynamic and decision.entry.label == "crypto dynamic-map DYN 5"
    # DYN 10 has no ACL: it matches nothing outbound
    assert outbound(cmap, ip("10.9.0.1", "10.1.0.1")) == Bypass()
    # its mirrored permits still guard the interface against clear text
    drop = inbound_clear(cmap, ip("10.1.0.1", "10.0.2.1"))
    assert drop is not None and drop.entry is not None and drop.entry.is_dynamic


def test_dynamic_entries_after_an_incomplete_static_are_unreachable() -> None:
    cmap = cmap_of(
        "access-list D extended permit ip 10.0.0.0 255.255.0.0 any\n",
        DYNAMIC,
        entry_lines(50, None),
    )
    decision = outbound(cmap, ip("10.0.2.1", "10.1.0.1"))
    assert isinstance(decision, Drop) and decision.entry is not None
    assert decision.entry.seq == 50


def test_objects_and_object_groups() -> None:
    cmap = cmap_of(
        "object network LOCAL\n subnet 10.0.0.0 255.255.0.0\n",
        "object network WEB\n range 10.9.0.10 10.9.0.20\n",
        "object-group network REMOTE\n network-object host 10.8.0.1\n",
        " network-object object WEB\n network-object 10.7.0.0 255.255.255.0\n",
        "object-group network ALL\n group-object REMOTE\n network-object host 10.6.0.6\n",
        "access-list X extended deny ip object LOCAL object WEB\n",
        "access-list X extended permit ip object LOCAL object-group ALL\n",
        entry_lines(10, "X"),
    )
    local = "10.0.3.4"
    assert protected_by(outbound(cmap, ip(local, "10.8.0.1"))) == (10, "X", 2)
    assert protected_by(outbound(cmap, ip(local, "10.7.0.255"))) == (10, "X", 2)
    assert protected_by(outbound(cmap, ip(local, "10.6.0.6"))) == (10, "X", 2)
    for denied in ("10.9.0.10", "10.9.0.15", "10.9.0.20"):
        assert outbound(cmap, ip(local, denied)) == Bypass()
    for outside in ("10.9.0.9", "10.9.0.21", "10.8.0.2", "10.6.0.7"):
        assert outbound(cmap, ip(local, outside)) == Bypass()
    assert outbound(cmap, ip("10.1.0.1", "10.8.0.1")) == Bypass()
    assert inbound_clear(cmap, ip("10.9.0.15", local)) is not None  # deny ignored inbound


@pytest.mark.parametrize(
    ("ports", "hits", "misses"),
    [
        ("eq 443", [443], [442, 444, 0]),
        ("neq 22", [0, 21, 23, 65535], [22]),
        ("lt 1024", [0, 1023], [1024, 65535]),
        ("gt 1023", [1024, 65535], [0, 1023]),
        ("range 8000 8080", [8000, 8040, 8080], [7999, 8081]),
        ("range www 88", [80, 88], [79, 89]),
    ],
)
def test_destination_ports(ports: str, hits: list[int], misses: list[int]) -> None:
    cmap = cmap_of(f"access-list X extended permit tcp any host 10.1.0.1 {ports}\n",
                   entry_lines(10, "X"))  # fmt: skip
    for port in hits:
        assert protected_by(outbound(cmap, tcp("10.0.0.1", "10.1.0.1", 5555, port)))[2] == 1
        reply = tcp("10.1.0.1", "10.0.0.1", port, 5555)
        assert inbound_clear(cmap, reply) is not None
    for port in misses:
        assert outbound(cmap, tcp("10.0.0.1", "10.1.0.1", 5555, port)) == Bypass()
        assert inbound_clear(cmap, tcp("10.1.0.1", "10.0.0.1", port, 5555)) is None
    udp = Flow.of(UDP, "10.0.0.1", "10.1.0.1", 5555, hits[0])
    assert outbound(cmap, udp) == Bypass()  # tcp only


def test_source_ports_and_udp() -> None:
    cmap = cmap_of(
        "access-list X extended deny udp any eq domain any\n",
        "access-list X extended permit udp any range 1024 65535 any eq 500\n",
        "access-list X extended permit udp any any\n",
        entry_lines(10, "X"),
    )
    assert outbound(cmap, Flow.of(UDP, "1.1.1.1", "2.2.2.2", 53, 500)) == Bypass()
    assert protected_by(outbound(cmap, Flow.of(UDP, "1.1.1.1", "2.2.2.2", 1024, 500)))[2] == 2
    assert protected_by(outbound(cmap, Flow.of(UDP, "1.1.1.1", "2.2.2.2", 1023, 500)))[2] == 3
    assert outbound(cmap, tcp("1.1.1.1", "2.2.2.2", 1024, 500)) == Bypass()


def test_icmp_types() -> None:
    cmap = cmap_of(
        "access-list X extended deny icmp any any echo-reply\n",
        "access-list X extended permit icmp any any echo\n",
        "access-list X extended permit icmp any host 10.5.5.5\n",
        entry_lines(10, "X"),
    )
    echo = Flow.of(ICMP, "10.0.0.1", "10.1.0.1", icmp_type=8)
    reply = Flow.of(ICMP, "10.0.0.1", "10.5.5.5", icmp_type=0)
    unreachable = Flow.of(ICMP, "10.0.0.1", "10.5.5.5", icmp_type=3)
    assert protected_by(outbound(cmap, echo))[2] == 2
    assert outbound(cmap, reply) == Bypass()
    assert protected_by(outbound(cmap, unreachable))[2] == 3
    assert outbound(cmap, Flow.of(ICMP, "10.0.0.1", "10.1.0.1", icmp_type=3)) == Bypass()
    assert outbound(cmap, ip("10.0.0.1", "10.5.5.5")) == Bypass()  # protocol 0 is not icmp


def test_inactive_aces_and_remarks_keep_line_numbers() -> None:
    cmap = cmap_of(
        "access-list X remark protected traffic\n",
        "access-list X extended deny ip any host 10.1.0.1 inactive\n",
        "access-list X extended permit ip any host 10.1.0.1\n",
        entry_lines(10, "X"),
    )
    assert protected_by(outbound(cmap, ip("10.0.0.1", "10.1.0.1"))) == (10, "X", 3)


def test_no_entries_bypass() -> None:
    empty = CryptoMapSet("M", "outside", ())
    assert outbound(empty, ip("1.1.1.1", "2.2.2.2")) == Bypass()
    assert inbound_clear(empty, ip("1.1.1.1", "2.2.2.2")) is None


def test_any_and_host_edges() -> None:
    cmap = cmap_of(
        "access-list X extended deny ip host 0.0.0.0 any\n",
        "access-list X extended deny ip any host 255.255.255.255\n",
        "access-list X extended permit ip any any\n",
        entry_lines(10, "X"),
    )
    assert outbound(cmap, ip("0.0.0.0", "1.1.1.1")) == Bypass()
    assert outbound(cmap, ip("1.1.1.1", "255.255.255.255")) == Bypass()
    assert protected_by(outbound(cmap, ip("255.255.255.255", "0.0.0.0")))[2] == 3


def test_drop_reasons_are_one_table() -> None:
    assert set(DROP_REASONS) == set(DropReason)
    assert [r.value for r in DropReason] == [
        "incomplete-crypto-map",
        "clear-text-matches-crypto-acl",
        "invalid-selectors",
        "no-sa-dynamic-map",
        "acquire-queue-full",
        "acquire-timeout",
        "acquire-failed",
    ]


def test_selector_ranges_that_are_not_prefixes() -> None:
    """Ranges are indexed as ranges, not only as prefixes."""
    rule_cmap = cmap_of(
        "object network R\n range 10.0.0.5 10.0.3.7\n",
        "access-list X extended permit ip object R any\n",
        entry_lines(10, "X"),
    )
    sel = rule_cmap.entries[0].acl.rules[0].selectors[0]  # type: ignore[union-attr]
    assert sel.source == Range(0x0A000005, 0x0A000307)
    for address, hit in [("10.0.0.4", False), ("10.0.0.5", True), ("10.0.3.7", True),
                         ("10.0.3.8", False), ("10.0.2.0", True)]:  # fmt: skip
        decision = outbound(rule_cmap, ip(address, "1.2.3.4"))
        assert isinstance(decision, Protect) is hit
