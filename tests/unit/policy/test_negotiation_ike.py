"""Phase 1 selection (spec: "Configure IKEv1 and IKEv2 Policies"), as tables of strings.

An IKEv1 policy is ``"PRIORITY AUTH ENCRYPTION HASH GROUP LIFETIME"``; an IKEv2 policy is
``"PRIORITY enc A B | int C | prf D | group 21 20 | LIFETIME"``.
"""

from __future__ import annotations

import pytest

from tests.helpers import load
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.ike import Ikev1Policy, Ikev2Policy
from tunnelgate.policy.ike_proposal import (
    Ikev1Choice,
    Ikev2Choice,
    check_ke_group,
    initial_ke_group,
    select_ikev1,
    select_ikev2,
)
from tunnelgate.policy.refusal import INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, Refusal


def v1(text: str) -> Ikev1Policy:
    priority, auth, enc, hash_, group, lifetime = text.split()
    return Ikev1Policy(int(priority), auth, enc, hash_, int(group), int(lifetime))


def v2(text: str) -> Ikev2Policy:
    head, integ, prf, group, lifetime = (part.split() for part in text.split("|"))
    return Ikev2Policy(
        int(head[0]),
        tuple(head[2:]),
        tuple(integ[1:]),
        tuple(prf[1:]),
        tuple(int(g) for g in group[1:]),
        int(lifetime[0]),
    )


# --------------------------------------------------------------------------- IKEv1

# offers (initiator's order) | own | expected: "our priority / offer index / lifetime"
IKEV1_ACCEPTED = [
    # identical policies
    (["1 pre-share aes-256 sha 5 86400"], ["10 pre-share aes-256 sha 5 86400"], (10, 1, 86400)),
    # lifetime rule: ours shorter than the offer's -> accepted, the shorter one is used
    (["1 pre-share aes-256 sha 5 86400"], ["10 pre-share aes-256 sha 5 28800"], (10, 1, 28800)),
    # our policies in priority order (lowest number first), whatever their listing order
    (
        ["1 pre-share aes sha 2 86400", "2 pre-share aes-256 sha 5 86400"],
        ["20 pre-share aes sha 2 86400", "10 pre-share aes-256 sha 5 86400"],
        (10, 2, 86400),
    ),
    # the responder walks its own policies first: the initiator's order does not win
    (
        ["1 pre-share 3des sha 2 86400", "2 rsa-sig aes-256 sha 5 86400"],
        ["10 rsa-sig aes-256 sha 5 86400", "20 pre-share 3des sha 2 86400"],
        (10, 2, 86400),
    ),
    # a policy whose lifetime rule fails is passed over for the next one
    (
        ["1 pre-share aes-256 sha 5 3600"],
        ["10 pre-share aes-256 sha 5 86400", "20 pre-share aes-256 sha 5 3600"],
        (20, 1, 3600),
    ),
]


@pytest.mark.parametrize(("offers", "own", "expected"), IKEV1_ACCEPTED)
def test_ikev1_accepted(offers: list[str], own: list[str], expected: tuple[int, int, int]) -> None:
    offered = [v1(o) for o in offers]
    choice = select_ikev1(offered, [v1(p) for p in own])
    assert isinstance(choice, Ikev1Choice), choice
    priority, index, lifetime = expected
    assert (choice.policy.priority, choice.offer, choice.lifetime_seconds) == (
        priority,
        offered[index - 1],
        lifetime,
    )


# offers | own | words the reason must contain
IKEV1_REFUSED = [
    (
        ["1 pre-share aes-256 md5 5 86400"],
        ["10 pre-share aes-256 sha 5 86400"],
        "closest is our policy 10 and the peer's offer 1 of 1, which differ in hash "
        "(peer md5, ours sha)",
    ),
    # lifetime rule the other way: ours longer than the offer's -> no match
    (
        ["1 pre-share aes-256 sha 5 3600"],
        ["10 pre-share aes-256 sha 5 86400"],
        "lifetime (peer 3600 s is shorter than ours 86400 s)",
    ),
    # the closest pair is the one with the fewest differences, not the first
    (
        ["1 rsa-sig des md5 1 86400", "2 pre-share aes sha 2 86400"],
        ["10 pre-share aes sha 5 86400"],
        "our policy 10 and the peer's offer 2 of 2, which differ in group (peer 2, ours 5)",
    ),
    (
        ["1 rsa-sig 3des sha 2 86400"],
        ["10 pre-share aes sha 2 86400"],
        "encryption (peer 3des, ours aes), authentication (peer rsa-sig, ours pre-share)",
    ),
    ([], ["10 pre-share aes sha 2 86400"], "the peer offered no IKEv1 policy"),
    (["1 pre-share aes sha 2 86400"], [], "no IKEv1 policy is configured"),
]


@pytest.mark.parametrize(("offers", "own", "reason"), IKEV1_REFUSED)
def test_ikev1_refused(offers: list[str], own: list[str], reason: str) -> None:
    refusal = select_ikev1([v1(o) for o in offers], [v1(p) for p in own])
    assert isinstance(refusal, Refusal), refusal
    assert refusal.notify == NO_PROPOSAL_CHOSEN
    assert reason in refusal.reason


def test_ikev1_from_a_compiled_configuration() -> None:
    gateway = compile_config(
        load(
            """
            crypto ikev1 policy 20
             encryption aes-256
             hash sha
             group 5
             lifetime 28800
            crypto ikev1 policy 10
             authentication pre-share
             encryption 3des
             hash md5
            """
        )
    )
    offer = v1("5 pre-share aes-256 sha 5 86400")
    choice = select_ikev1([offer], gateway.ikev1_policies)
    assert isinstance(choice, Ikev1Choice)
    assert (choice.policy.priority, choice.lifetime_seconds) == (20, 28800)
    assert choice.authentication == "pre-share"
    assert "policy 20" in choice.describe()


# --------------------------------------------------------------------------- IKEv2

GCM = "10 enc aes-gcm-256 aes-gcm | int null | prf sha384 sha256 | group 21 20 | 86400"
CBC = "20 enc aes-256 aes | int sha512 sha256 | prf sha256 | group 14 | 43200"

# offers | own | expected (our priority, offer index, encryption, integrity, prf, group, lifetime)
IKEV2_ACCEPTED = [
    # within an offer, each type takes the initiator's first value we also allow
    (
        ["1 enc aes aes-256 | int sha256 sha512 | prf sha256 | group 14 19 | 3600"],
        [CBC],
        (20, 1, "aes", "sha256", "sha256", 14, 43200),
    ),
    # AES-GCM: no integrity transform, "null" either way
    (
        ["1 enc aes-gcm | int | prf sha256 | group 20 21 | 86400"],
        [GCM],
        (10, 1, "aes-gcm", "null", "sha256", 20, 86400),
    ),
    (
        ["1 enc aes-gcm-256 aes-256 | int sha256 | prf sha384 | group 21 | 86400"],
        [GCM, CBC],
        (10, 1, "aes-gcm-256", "null", "sha384", 21, 86400),
    ),
    # the first acceptable offer in the initiator's order, even if it matches our 2nd policy
    (
        [
            "1 enc aes-256 | int sha256 | prf sha256 | group 14 | 86400",
            "2 enc aes-gcm-256 | int null | prf sha384 | group 21 | 86400",
        ],
        [GCM, CBC],
        (20, 1, "aes-256", "sha256", "sha256", 14, 43200),
    ),
    # an offer no policy accepts is skipped for the next
    (
        [
            "1 enc 3des | int md5 | prf md5 | group 2 | 86400",
            "2 enc aes-gcm | int null | prf sha384 | group 21 | 86400",
        ],
        [CBC, GCM],
        (10, 2, "aes-gcm", "null", "sha384", 21, 86400),
    ),
    # our policies in priority order for one offer
    (
        ["1 enc aes-256 aes-gcm-256 | int sha256 | prf sha256 | group 14 21 | 1000"],
        [CBC, GCM],
        (10, 1, "aes-gcm-256", "null", "sha256", 21, 86400),
    ),
    # a non-AEAD cipher whose integrity is not common: the next offered cipher is tried
    (
        ["1 enc aes-256 aes-gcm | int md5 | prf sha256 | group 21 | 1000"],
        ["10 enc aes-256 aes-gcm | int sha256 null | prf sha256 | group 21 | 500"],
        (10, 1, "aes-gcm", "null", "sha256", 21, 500),
    ),
]


@pytest.mark.parametrize(("offers", "own", "expected"), IKEV2_ACCEPTED)
def test_ikev2_accepted(
    offers: list[str], own: list[str], expected: tuple[int, int, str, str, str, int, int]
) -> None:
    offered = [v2(o) for o in offers]
    choice = select_ikev2(offered, [v2(p) for p in own])
    assert isinstance(choice, Ikev2Choice), choice
    priority, index, encryption, integrity, prf, group, lifetime = expected
    assert (choice.policy.priority, choice.offer) == (priority, offered[index - 1])
    got = (choice.encryption, choice.integrity, choice.prf, choice.group, choice.lifetime_seconds)
    assert got == (encryption, integrity, prf, group, lifetime)


IKEV2_REFUSED = [
    (
        ["1 enc aes-256 | int sha256 | prf sha256 | group 5 | 86400"],
        [CBC],
        "closest is our policy 20 and the peer's proposal 1 of 1, which have no common "
        "group (peer 5, ours 14)",
    ),
    (
        ["1 enc aes-256 | int md5 | prf sha256 | group 14 | 86400"],
        [CBC],
        "integrity (peer md5, ours sha512 sha256)",
    ),
    (
        ["1 enc 3des | int sha256 | prf sha256 | group 14 | 86400"],
        [CBC],
        "encryption (peer 3des, ours aes-256 aes)",
    ),
    (
        ["1 enc aes-256 | int sha256 | prf md5 | group 14 | 86400"],
        [GCM, CBC],
        "our policy 20 and the peer's proposal 1 of 1, which have no common prf",
    ),
    ([], [CBC], "the peer offered no IKEv2 proposal"),
    (["1 enc aes | int sha | prf sha | group 14 | 1"], [], "no IKEv2 policy is configured"),
]


@pytest.mark.parametrize(("offers", "own", "reason"), IKEV2_REFUSED)
def test_ikev2_refused(offers: list[str], own: list[str], reason: str) -> None:
    refusal = select_ikev2([v2(o) for o in offers], [v2(p) for p in own])
    assert isinstance(refusal, Refusal), refusal
    assert refusal.notify == NO_PROPOSAL_CHOSEN
    assert reason in refusal.reason


def test_ikev2_lifetime_is_ours_not_negotiated() -> None:
    short = "1 enc aes-256 | int sha256 | prf sha256 | group 14 | 120"
    choice = select_ikev2([v2(short)], [v2(CBC)])
    assert isinstance(choice, Ikev2Choice)
    assert choice.lifetime_seconds == 43200


def test_ikev2_from_a_compiled_configuration() -> None:
    gateway = compile_config(
        load(
            """
            crypto ikev2 policy 1
             encryption aes aes-256 aes-gcm-256
             integrity sha256 sha512
             prf sha256 sha512
             group 14 19
             lifetime seconds 43200
            """
        )
    )
    # stored most secure first: our list order does not decide, the offer's does
    assert gateway.ikev2_policies[0].encryption == ("aes-gcm-256", "aes-256", "aes")
    choice = select_ikev2(
        [v2("1 enc aes | int sha256 | prf sha512 | group 19 14 | 1")], gateway.ikev2_policies
    )
    assert isinstance(choice, Ikev2Choice)
    assert (choice.encryption, choice.integrity, choice.prf, choice.group) == (
        "aes",
        "sha256",
        "sha512",
        19,
    )
    assert initial_ke_group(gateway.ikev2_policies) == 19


# --------------------------------------------------------------------------- KE group


def test_initial_ke_group_is_the_strongest_group_of_the_first_policy() -> None:
    assert initial_ke_group([v2(CBC), v2(GCM)]) == 21
    assert initial_ke_group([v2(CBC)]) == 14
    with pytest.raises(ValueError):
        initial_ke_group([])


# chosen group | received KE group | expected (None: accepted)
KE_TABLE = [
    (21, 21, None),
    (21, 14, 21),
    (14, 21, 14),
]


@pytest.mark.parametrize(("chosen", "received", "wanted"), KE_TABLE)
def test_invalid_ke_payload(chosen: int, received: int, wanted: int | None) -> None:
    result = check_ke_group(chosen, received)
    if wanted is None:
        assert result is None
        return
    assert isinstance(result, Refusal)
    assert (result.notify, result.group) == (INVALID_KE_PAYLOAD, wanted)
    assert f"retry with group {wanted}" in result.reason


def test_invalid_ke_payload_from_a_choice() -> None:
    choice = select_ikev2([v2("1 enc aes-gcm | int | prf sha256 | group 20 21 | 1")], [v2(GCM)])
    assert isinstance(choice, Ikev2Choice)
    assert choice.group == 20
    assert check_ke_group(choice, 20) is None
    refusal = check_ke_group(choice, 21)
    assert isinstance(refusal, Refusal) and refusal.group == 20


def test_refusal_notify_names_are_checked() -> None:
    with pytest.raises(ValueError):
        Refusal("NO_SUCH_NOTIFY", "x")
