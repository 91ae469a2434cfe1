"""Responder: which crypto map entry accepts a peer's proposal (spec: "Define Crypto Maps").

Proposals are written from our view: ``"LOCAL REMOTE [tcp PORT]"``.
"""

from __future__ import annotations

import ipaddress
from functools import cache

import pytest

from tests.helpers import load
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.crypto_map import CryptoMapSet
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.refusal import (
    INVALID_ID_INFORMATION,
    NO_PROPOSAL_CHOSEN,
    TS_UNACCEPTABLE,
    Refusal,
)
from tunnelgate.policy.responder import EntryChoice, choose_entry
from tunnelgate.policy.selector import ALL_PORTS, TCP, Range, Selector

CONFIG = """
access-list A extended permit ip 10.0.0.0 255.255.255.0 10.1.0.0 255.255.255.0
access-list B extended deny ip 10.0.0.0 255.255.255.0 10.2.0.0 255.255.255.0
access-list B extended permit ip 10.0.0.0 255.255.0.0 10.2.0.0 255.255.0.0
access-list B extended permit tcp 10.0.0.0 255.255.0.0 10.3.0.0 255.255.255.0 eq www
access-list C extended permit ip 10.5.0.0 255.255.0.0 10.6.0.0 255.255.0.0
access-list D extended permit ip 10.0.0.0 255.255.0.0 172.16.0.0 255.240.0.0
access-list INC extended permit ip 10.9.0.0 255.255.0.0 10.8.0.0 255.255.0.0
crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-256
 protocol esp integrity sha-256
crypto dynamic-map DYN 10 match address D
crypto dynamic-map DYN 10 set ikev1 transform-set TS
crypto dynamic-map DYN 10 set ikev2 ipsec-proposal P
crypto dynamic-map ANY 10 set ikev1 transform-set TS
crypto dynamic-map ANY 10 set ikev2 ipsec-proposal P
crypto map M 5 match address INC
crypto map M 5 set ikev1 transform-set TS
crypto map M 10 match address A
crypto map M 10 set peer 203.0.113.1 203.0.113.2
crypto map M 10 set ikev1 transform-set TS
crypto map M 10 set ikev2 ipsec-proposal P
crypto map M 20 match address B
crypto map M 20 set peer 203.0.113.3
crypto map M 20 set ikev1 transform-set TS
crypto map M 20 set ikev2 ipsec-proposal P
crypto map M 30 match address C
crypto map M 30 set peer 203.0.113.4
crypto map M 30 set ikev2 ipsec-proposal P
crypto map M 65535 ipsec-isakmp dynamic DYN
crypto map M interface outside
crypto map OPEN 10 match address A
crypto map OPEN 10 set peer 203.0.113.1
crypto map OPEN 10 set ikev1 transform-set TS
crypto map OPEN 100 ipsec-isakmp dynamic ANY
crypto map STATIC 10 match address A
crypto map STATIC 10 set peer 203.0.113.1
crypto map STATIC 10 set ikev2 ipsec-proposal P
crypto map LONELY 10 match address INC
crypto map LONELY 10 set ikev1 transform-set TS
"""


@cache
def gateway() -> GatewayPolicy:
    return compile_config(load(CONFIG))


def cmap(name: str) -> CryptoMapSet:
    gw = gateway()
    return gw.crypto_maps["outside"] if name == "M" else gw.unbound_maps[name]


def net(text: str) -> Range:
    n = ipaddress.ip_network(text)
    return Range(int(n.network_address), int(n.broadcast_address))


def sel(text: str) -> Selector:
    """``"LOCAL REMOTE"`` or ``"LOCAL REMOTE tcp PORT"`` (destination port)."""
    local, remote, *rest = text.split()
    if rest:
        port = int(rest[1])
        return Selector(TCP, net(local), net(remote), ALL_PORTS, Range(port, port))
    return Selector(0, net(local), net(remote))


# map | peer | proposal | version | expected: (entry label, ACE line or None, selector)
ACCEPTED = [
    # static entry: peer listed, proposal equal to the ACE
    ("M", "203.0.113.2", "10.0.0.0/24 10.1.0.0/24", 1, ("crypto map M 10", 1, None)),
    # IKEv1: a proposal inside one permit ACE is accepted as proposed
    ("M", "203.0.113.1", "10.0.0.128/25 10.1.0.7/32", 1, ("crypto map M 10", 1, None)),
    # deny ACEs are ignored for the peer's proposal (line 1 would deny it)
    ("M", "203.0.113.3", "10.0.0.0/24 10.2.0.0/24", 1, ("crypto map M 20", 2, None)),
    # IKEv2 narrowing: the proposal is cut down to the first permit ACE that overlaps it
    (
        "M",
        "203.0.113.1",
        "10.0.0.0/16 10.1.0.0/16",
        2,
        ("crypto map M 10", 1, "10.0.0.0/24 10.1.0.0/24"),
    ),
    (
        "M",
        "203.0.113.3",
        "10.0.1.0/24 10.3.0.0/16",
        2,
        ("crypto map M 20", 3, "10.0.1.0/24 10.3.0.0/24 tcp 80"),
    ),
    # not a listed peer: static entries pass, the dynamic entry's ACL decides
    ("M", "198.51.100.9", "10.0.5.0/24 172.16.1.0/24", 2, ("crypto dynamic-map DYN 10", 1, None)),
    # static before dynamic: the catch-all dynamic entry would accept it too
    ("OPEN", "203.0.113.1", "10.0.0.0/24 10.1.0.0/24", 1, ("crypto map OPEN 10", 1, None)),
    # dynamic entry without ACL: whatever the peer proposes
    (
        "OPEN",
        "198.51.100.9",
        "192.168.0.0/16 0.0.0.0/0",
        1,
        ("crypto dynamic-map ANY 10", None, None),
    ),
    (
        "OPEN",
        "203.0.113.1",
        "10.0.0.0/16 10.1.0.0/24",
        2,
        ("crypto dynamic-map ANY 10", None, None),
    ),
]


@pytest.mark.parametrize(("name", "peer", "proposal", "version", "expected"), ACCEPTED)
def test_accepted(
    name: str,
    peer: str,
    proposal: str,
    version: int,
    expected: tuple[str, int | None, str | None],
) -> None:
    choice = choose_entry(cmap(name), peer, sel(proposal), version)
    assert isinstance(choice, EntryChoice), choice
    label, line, narrowed = expected
    assert choice.entry.label == label
    assert (choice.rule.line if choice.rule else None) == line
    assert choice.selector == sel(narrowed or proposal)
    assert choice.narrowed == (narrowed is not None)


# map | peer | proposal | version | notify | words of the reason
REFUSED = [
    # IKEv1 does not narrow: the proposal is larger than the ACE (closest: the first such entry)
    (
        "M",
        "203.0.113.1",
        "10.0.0.0/16 10.1.0.0/24",
        1,
        INVALID_ID_INFORMATION,
        "closest is crypto map M 10, where access-list A line 1 (extended permit ip 10.0.0.0 "
        "255.255.255.0 10.1.0.0 255.255.255.0) overlaps the proposal but does not contain it",
    ),
    # the peer's ACL is written the same way round as ours, not mirrored
    (
        "STATIC",
        "203.0.113.1",
        "10.1.0.0/24 10.0.0.0/24",
        2,
        TS_UNACCEPTABLE,
        "access-list A line 1 (extended permit ip 10.0.0.0 255.255.255.0 10.1.0.0 "
        "255.255.255.0) matches the proposal only with source and destination swapped",
    ),
    (
        "STATIC",
        "203.0.113.1",
        "10.7.0.0/24 10.1.0.0/24",
        2,
        TS_UNACCEPTABLE,
        "no permit ACE of access-list A matches the proposal",
    ),
    # peer not listed, no dynamic entry
    (
        "STATIC",
        "198.51.100.9",
        "10.0.0.0/24 10.1.0.0/24",
        2,
        TS_UNACCEPTABLE,
        "no entry of crypto map STATIC accepts peer 198.51.100.9 proposing ip 10.0.0.0 "
        "255.255.255.0 10.1.0.0 255.255.255.0 (local → remote): closest is crypto map "
        "STATIC 10, where peer 198.51.100.9 is not listed (set peer 203.0.113.1)",
    ),
    # incomplete entries are skipped even when their ACL fits (no peer on M 5)
    (
        "LONELY",
        "203.0.113.1",
        "10.9.0.0/24 10.8.0.0/24",
        1,
        INVALID_ID_INFORMATION,
        "closest is crypto map LONELY 10, where it is incomplete (no peer)",
    ),
    (
        "M",
        "203.0.113.1",
        "10.9.0.0/24 10.8.0.0/24",
        1,
        INVALID_ID_INFORMATION,
        "closest is crypto map M 10, where no permit ACE of access-list A",
    ),
    # everything fits but the entry cannot speak this IKE version
    (
        "M",
        "203.0.113.4",
        "10.5.0.0/16 10.6.0.0/16",
        1,
        NO_PROPOSAL_CHOSEN,
        "closest is crypto map M 30, where it has no IKEv1 transform set",
    ),
    (
        "STATIC",
        "203.0.113.1",
        "10.0.0.0/24 10.1.0.0/24",
        1,
        NO_PROPOSAL_CHOSEN,
        "it has no IKEv1 transform set",
    ),
]


@pytest.mark.parametrize(("name", "peer", "proposal", "version", "notify", "reason"), REFUSED)
def test_refused(
    name: str, peer: str, proposal: str, version: int, notify: str, reason: str
) -> None:
    refusal = choose_entry(cmap(name), peer, sel(proposal), version)
    assert isinstance(refusal, Refusal), refusal
    assert refusal.notify == notify
    assert reason in refusal.reason


def test_ikev2_accepts_what_ikev1_refuses_by_narrowing() -> None:
    proposal = sel("10.0.0.0/16 10.1.0.0/24")
    assert isinstance(choose_entry(cmap("M"), "203.0.113.1", proposal, 1), Refusal)
    choice = choose_entry(cmap("M"), "203.0.113.1", proposal, 2)
    assert isinstance(choice, EntryChoice) and choice.narrowed
    assert choice.selector == sel("10.0.0.0/24 10.1.0.0/24")


def test_empty_map_and_bad_version() -> None:
    empty = CryptoMapSet("E", None, ())
    refusal = choose_entry(empty, "203.0.113.1", sel("10.0.0.0/24 10.1.0.0/24"), 2)
    assert isinstance(refusal, Refusal) and "crypto map E has no entries" in refusal.reason
    with pytest.raises(ValueError):
        choose_entry(empty, "203.0.113.1", sel("10.0.0.0/24 10.1.0.0/24"), 3)
