"""Tunnel-group lookup: by address, by IKE identity, by certificate (tunnel-group-map), default."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from tests.helpers import load
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.ike import CertificateRule
from tunnelgate.policy.refusal import AUTHENTICATION_FAILED, Refusal
from tunnelgate.policy.tunnel_group_lookup import (
    BY_CERTIFICATE_MAP,
    BY_DEFAULT_GROUP,
    BY_DEFAULT_L2L,
    BY_IKE_ID,
    BY_OU,
    BY_PEER_ADDRESS,
    CertificateInfo,
    TunnelGroupMatch,
    entry_matches,
    find_tunnel_group,
    rule_holds,
)

GROUPS = """
tunnel-group 203.0.113.1 type ipsec-l2l
tunnel-group 203.0.113.1 ipsec-attributes
 ikev1 pre-shared-key key-by-address
 ikev2 remote-authentication pre-shared-key remote-by-address
 ikev2 local-authentication pre-shared-key local-key
tunnel-group branch.example.com type ipsec-l2l
tunnel-group branch.example.com ipsec-attributes
 ikev1 pre-shared-key key-by-name
 ikev2 remote-authentication pre-shared-key remote-by-name
 ikev2 local-authentication pre-shared-key local-key
tunnel-group 198.51.100.7 type ipsec-l2l
tunnel-group 198.51.100.7 ipsec-attributes
 ikev2 remote-authentication certificate
tunnel-group Sales type ipsec-l2l
tunnel-group Sales ipsec-attributes
 ikev2 remote-authentication certificate
tunnel-group CERTS type ipsec-l2l
tunnel-group CERTS ipsec-attributes
 ikev2 remote-authentication certificate
tunnel-group DefaultL2LGroup ipsec-attributes
 ikev1 pre-shared-key default-key
crypto ca certificate map PEERS 10
 subject-name attr cn co branch
 issuer-name attr cn eq Example Root CA
crypto ca certificate map PEERS 20
 subject-name attr o ne Example
"""

# Which gateway: the tunnel-group-map lines added to GROUPS
MAPS = {
    "rules": "tunnel-group-map enable rules\n"
    "tunnel-group-map PEERS 10 CERTS\n"
    "tunnel-group-map PEERS 20 CERTS\n",
    "rules+default": "tunnel-group-map enable rules\n"
    "tunnel-group-map PEERS 10 CERTS\n"
    "tunnel-group-map default-group Sales\n",
    "no-rules": "no tunnel-group-map enable ou\ntunnel-group-map PEERS 10 CERTS\n",
}


@cache
def gateway(maps: str = "rules") -> GatewayPolicy:
    return compile_config(load(GROUPS + MAPS[maps]))


ROOT = "cn=Example Root CA,o=Example"

# peer | version | aggressive | ike_id | expected (group, how)
PSK = [
    # IKEv1 main mode: the peer's address only (the identity is not read)
    ("203.0.113.1", 1, False, None, ("203.0.113.1", BY_PEER_ADDRESS)),
    ("203.0.113.1", 1, False, "branch.example.com", ("203.0.113.1", BY_PEER_ADDRESS)),
    ("192.0.2.50", 1, False, None, ("DefaultL2LGroup", BY_DEFAULT_L2L)),
    # IKEv1 aggressive mode: the identity names the group, then the address
    ("192.0.2.50", 1, True, "branch.example.com", ("branch.example.com", BY_IKE_ID)),
    ("203.0.113.1", 1, True, "unknown.example.com", ("203.0.113.1", BY_PEER_ADDRESS)),
    ("192.0.2.50", 1, True, "unknown.example.com", ("DefaultL2LGroup", BY_DEFAULT_L2L)),
    # IKEv2: an address identity (peer behind NAT) and an FQDN identity
    ("192.0.2.50", 2, False, "203.0.113.1", ("203.0.113.1", BY_IKE_ID)),
    ("203.0.113.1", 2, False, "branch.example.com", ("branch.example.com", BY_IKE_ID)),
    ("203.0.113.1", 2, False, "nobody", ("203.0.113.1", BY_PEER_ADDRESS)),
]


@pytest.mark.parametrize(("peer", "version", "aggressive", "ike_id", "expected"), PSK)
def test_pre_shared_key(
    peer: str, version: int, aggressive: bool, ike_id: str | None, expected: tuple[str, str]
) -> None:
    match = find_tunnel_group(
        gateway(),
        peer_address=peer,
        version=version,
        auth="psk",
        aggressive=aggressive,
        ike_id=ike_id,
    )
    assert isinstance(match, TunnelGroupMatch), match
    assert (match.group.name, match.how) == expected


# peer | version | ike_id | words (the group found cannot authenticate that way)
PSK_REFUSED = [
    ("198.51.100.7", 1, None, "tunnel-group 198.51.100.7 (found by peer-address: peer "
     "address 198.51.100.7) has no ikev1 pre-shared-key"),
    ("192.0.2.50", 2, "nobody", "tunnel-group DefaultL2LGroup (found by default-l2l: no other "
     "group matched) has no ikev2 remote-authentication pre-shared-key"),
]  # fmt: skip


@pytest.mark.parametrize(("peer", "version", "ike_id", "reason"), PSK_REFUSED)
def test_pre_shared_key_refused(peer: str, version: int, ike_id: str | None, reason: str) -> None:
    refusal = find_tunnel_group(
        gateway(), peer_address=peer, version=version, auth="psk", ike_id=ike_id
    )
    assert isinstance(refusal, Refusal), refusal
    assert refusal.notify == AUTHENTICATION_FAILED
    assert reason in refusal.reason


# gateway | peer | ike_id | subject | issuer | expected (group, how, detail words)
CERTIFICATES = [
    # rules: every line of PEERS 10 holds (AND)
    (
        "rules",
        "192.0.2.1",
        None,
        "cn=Branch1.example.com,ou=Sales,o=Example",
        ROOT,
        ("CERTS", BY_CERTIFICATE_MAP, "tunnel-group-map PEERS 10 CERTS"),
    ),
    # PEERS 10 fails on the issuer, PEERS 20 holds: entries are OR-ed
    (
        "rules",
        "192.0.2.1",
        None,
        "cn=branch1,o=Other",
        "cn=Other CA",
        ("CERTS", BY_CERTIFICATE_MAP, "tunnel-group-map PEERS 20 CERTS"),
    ),
    # no rule holds: the OU names a group
    ("rules", "192.0.2.1", None, "cn=x,ou=Sales,o=Example", "cn=Other", ("Sales", BY_OU, "Sales")),
    # an OU that is no group; then the IKE identity
    (
        "rules",
        "192.0.2.1",
        "198.51.100.7",
        "cn=x,ou=Nowhere,o=Example",
        ROOT,
        ("198.51.100.7", BY_IKE_ID, "198.51.100.7"),
    ),
    # a DN identity names no group; then the peer's address
    (
        "rules",
        "198.51.100.7",
        "cn=x,o=Example",
        "cn=x,o=Example",
        ROOT,
        ("198.51.100.7", BY_PEER_ADDRESS, "198.51.100.7"),
    ),
    # nothing: the tunnel-group-map default-group, else DefaultL2LGroup
    ("rules+default", "192.0.2.1", None, "cn=x,o=Example", ROOT, ("Sales", BY_DEFAULT_GROUP, "")),
    ("rules", "192.0.2.1", None, "cn=x,o=Example", ROOT, ("DefaultL2LGroup", BY_DEFAULT_L2L, "")),
    # rules not enabled (and ou disabled): the matching rule is not consulted
    (
        "no-rules",
        "198.51.100.7",
        None,
        "cn=branch1,ou=Sales,o=Example",
        ROOT,
        ("198.51.100.7", BY_PEER_ADDRESS, ""),
    ),
]


@pytest.mark.parametrize(("maps", "peer", "ike_id", "subject", "issuer", "expected"), CERTIFICATES)
def test_certificate_ikev1(
    maps: str,
    peer: str,
    ike_id: str | None,
    subject: str,
    issuer: str,
    expected: tuple[str, str, str],
) -> None:
    match = find_tunnel_group(
        gateway(maps),
        peer_address=peer,
        version=1,
        auth="cert",
        ike_id=ike_id,
        certificate=CertificateInfo.of(subject, issuer),
    )
    assert isinstance(match, TunnelGroupMatch), match
    group, how, detail = expected
    assert (match.group.name, match.how) == (group, how)
    assert detail in match.detail


def test_certificate_ikev2_needs_remote_authentication_certificate() -> None:
    cert = CertificateInfo.of("cn=branch1,ou=Sales,o=Example", ROOT)
    match = find_tunnel_group(
        gateway(), peer_address="192.0.2.1", version=2, auth="cert", certificate=cert
    )
    assert isinstance(match, TunnelGroupMatch) and match.group.name == "CERTS"
    # the DefaultL2LGroup does not accept certificates for IKEv2 here
    nobody = CertificateInfo.of("cn=x,o=Example", ROOT)
    refusal = find_tunnel_group(
        gateway(), peer_address="192.0.2.1", version=2, auth="cert", certificate=nobody
    )
    assert isinstance(refusal, Refusal) and refusal.notify == AUTHENTICATION_FAILED
    assert "does not accept ikev2 remote-authentication certificate" in refusal.reason


def test_without_a_tunnel_group_map_the_asa_defaults_apply() -> None:
    gw = compile_config(load(GROUPS))
    bare = replace(gw, tunnel_group_map=None)
    cert = CertificateInfo.of("cn=x,ou=Sales", ROOT)
    match = find_tunnel_group(
        bare, peer_address="192.0.2.1", version=1, auth="cert", certificate=cert
    )
    assert isinstance(match, TunnelGroupMatch) and (match.group.name, match.how) == ("Sales", BY_OU)


def test_arguments_are_checked() -> None:
    for kwargs in (
        {"version": 3, "auth": "psk"},
        {"version": 1, "auth": "eap"},
        {"version": 2, "auth": "psk", "aggressive": True},
    ):
        with pytest.raises(ValueError):
            find_tunnel_group(gateway(), peer_address="192.0.2.1", **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- certificate rules

SUBJECT = "cn=Branch1.example.com,ou=Sales,ou=Europe,o=Example,st=Bavaria"

# rule (field attr op value) | holds
RULES = [
    ("subject-name cn eq branch1.example.com", True),  # case-insensitive
    ("subject-name cn eq branch1", False),
    ("subject-name cn co BRANCH", True),
    ("subject-name cn nc branch", False),
    ("subject-name cn ne other", True),
    ("subject-name ou eq europe", True),  # any value of a repeated attribute
    ("subject-name ou ne europe", False),  # ... and ne means none equals
    ("subject-name l eq paris", False),  # an absent attribute equals nothing
    ("subject-name l ne paris", True),
    ("subject-name - co ou=sales,ou=europe", True),  # the whole DN
    ("subject-name - eq cn=branch1.example.com,ou=sales,ou=europe,o=example,st=bavaria", True),
    ("subject-name sp eq bavaria", True),  # the rule syntax's sp is the certificate's st
    ("subject-name st eq bavaria", True),
    ("issuer-name cn eq example root ca", True),
    ("issuer-name o nc example", False),
]


@pytest.mark.parametrize(("text", "holds"), RULES)
def test_certificate_rule(text: str, holds: bool) -> None:
    field, attribute, operator, value = text.split(maxsplit=3)
    rule = CertificateRule(field, None if attribute == "-" else attribute, operator, value)
    assert rule_holds(rule, CertificateInfo.of(SUBJECT, ROOT)) is holds


def test_entry_is_an_and_of_its_rules_and_an_empty_entry_matches_nothing() -> None:
    cert = CertificateInfo.of(SUBJECT, ROOT)
    good = CertificateRule("subject-name", "ou", "eq", "Sales")
    bad = CertificateRule("subject-name", "o", "eq", "Other")
    assert entry_matches((good,), cert)
    assert not entry_matches((good, bad), cert)
    assert not entry_matches((), cert)
