"""Phase 2 selection: transform sets, IPsec proposals, mode, PFS, lifetimes (tables)."""

from __future__ import annotations

import pytest

from tests.helpers import load
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.crypto_map import IpsecProposal, TransformSet
from tunnelgate.policy.ipsec_proposal import (
    MODE_TABLE,
    ProposalChoice,
    TransformSetChoice,
    check_pfs,
    select_ipsec_proposal,
    select_lifetime,
    select_mode,
    select_transform_set,
)
from tunnelgate.policy.refusal import NO_PROPOSAL_CHOSEN, Refusal


def ts(text: str) -> TransformSet:
    """``"NAME ENCRYPTION [INTEGRITY|-] [MODE]"``; ``-`` is no integrity (None)."""
    name, encryption, *rest = text.split()
    integrity = rest[0] if rest and rest[0] != "-" else None
    mode = rest[1] if len(rest) > 1 else "tunnel"
    return TransformSet(name, encryption, integrity, mode)


def prop(text: str) -> IpsecProposal:
    """``"NAME enc A B | int C D"``."""
    head, integ = (part.split() for part in text.split("|"))
    return IpsecProposal(head[0], tuple(head[2:]), tuple(integ[1:]))


# --------------------------------------------------------------------------- mode

# initiator | responder | result ("NO_PROPOSAL_CHOSEN" for a refusal)
MODES = [
    # the spec's four bullets
    ("transport", "tunnel", "tunnel"),  # 1: the initiator falls back to tunnel
    ("tunnel", "transport", "tunnel"),  # 2: the responder falls back to tunnel
    ("tunnel", "transport-require", NO_PROPOSAL_CHOSEN),  # 3
    ("transport-require", "tunnel", NO_PROPOSAL_CHOSEN),  # 4
    # the transport cases the bullets imply
    ("tunnel", "tunnel", "tunnel"),
    ("transport", "transport", "transport"),
    ("transport", "transport-require", "transport"),
    ("transport-require", "transport", "transport"),
    ("transport-require", "transport-require", "transport"),
]


@pytest.mark.parametrize(("initiator", "responder", "expected"), MODES)
def test_mode(initiator: str, responder: str, expected: str) -> None:
    result = select_mode(initiator, responder)
    if isinstance(result, Refusal):
        assert result.notify == expected
        assert "transport-require does not fall back to tunnel mode" in result.reason
    else:
        assert result == expected


def test_mode_table_is_complete_and_rejects_unknown_modes() -> None:
    assert {(i, r) for i, r, _ in MODES} == set(MODE_TABLE)
    with pytest.raises(ValueError):
        select_mode("tunnel", "beet")


# --------------------------------------------------------------------------- transform sets

# offered (initiator's order) | own (crypto map order) | expected "OURS/OFFER-NAME/MODE"
TRANSFORM_SETS_ACCEPTED = [
    (["A esp-aes-256 esp-sha-hmac"], ["T1 esp-aes-256 esp-sha-hmac"], "T1/A/tunnel"),
    # the crypto map's priority order decides, not the offer order
    (
        ["A esp-3des esp-sha-hmac", "B esp-aes-256 esp-sha-hmac"],
        ["T1 esp-aes-256 esp-sha-hmac", "T2 esp-3des esp-sha-hmac"],
        "T1/B/tunnel",
    ),
    # None and esp-none are the same
    (["A esp-aes esp-none"], ["T1 esp-aes -"], "T1/A/tunnel"),
    (["A esp-aes -"], ["T1 esp-aes esp-none"], "T1/A/tunnel"),
    # IKEv1 modes follow the same rules (bullets 1 and 2, and transport on both sides)
    (["A esp-aes esp-sha-hmac transport"], ["T1 esp-aes esp-sha-hmac"], "T1/A/tunnel"),
    (["A esp-aes esp-sha-hmac"], ["T1 esp-aes esp-sha-hmac transport"], "T1/A/tunnel"),
    (
        ["A esp-aes esp-sha-hmac transport"],
        ["T1 esp-aes esp-sha-hmac transport"],
        "T1/A/transport",
    ),
]


@pytest.mark.parametrize(("offered", "own", "expected"), TRANSFORM_SETS_ACCEPTED)
def test_transform_set_accepted(offered: list[str], own: list[str], expected: str) -> None:
    choice = select_transform_set([ts(t) for t in offered], [ts(t) for t in own])
    assert isinstance(choice, TransformSetChoice), choice
    assert f"{choice.transform_set.name}/{choice.offer.name}/{choice.mode}" == expected


TRANSFORM_SETS_REFUSED = [
    (
        ["A esp-aes-256 esp-md5-hmac"],
        ["T1 esp-aes-256 esp-sha-hmac"],
        "closest is our T1 and the peer's offer 1 of 1, which differ in integrity "
        "(peer esp-md5-hmac, ours esp-sha-hmac)",
    ),
    (
        ["A esp-des esp-md5-hmac", "B esp-aes esp-sha-hmac"],
        ["T1 esp-aes-256 esp-sha-hmac"],
        "our T1 and the peer's offer 2 of 2, which differ in encryption "
        "(peer esp-aes, ours esp-aes-256)",
    ),
    (["A esp-aes -"], ["T1 esp-aes esp-sha-hmac"], "integrity (peer esp-none, ours esp-sha-hmac)"),
    ([], ["T1 esp-aes esp-sha-hmac"], "the peer offered no transform"),
    (["A esp-aes esp-sha-hmac"], [], "has no IKEv1 transform set"),
]


@pytest.mark.parametrize(("offered", "own", "reason"), TRANSFORM_SETS_REFUSED)
def test_transform_set_refused(offered: list[str], own: list[str], reason: str) -> None:
    refusal = select_transform_set([ts(t) for t in offered], [ts(t) for t in own])
    assert isinstance(refusal, Refusal), refusal
    assert refusal.notify == NO_PROPOSAL_CHOSEN
    assert reason in refusal.reason


# --------------------------------------------------------------------------- IKEv2 proposals

GCM = "AES-GCM enc aes-gcm-256 aes-gcm | int null"
CBC = "AES256 enc aes-256 aes | int sha-256 sha-1"

# offered | own | expected "OURS encryption integrity"
PROPOSALS_ACCEPTED = [
    # the initiator's order inside the proposal
    (["p enc aes aes-256 | int sha-1 sha-256"], [CBC], "AES256 aes sha-1"),
    # GCM: no integrity transform -> "null", whether the peer lists none or null
    (["p enc aes-gcm | int"], [GCM], "AES-GCM aes-gcm null"),
    (["p enc aes-gcm-256 | int null"], [GCM], "AES-GCM aes-gcm-256 null"),
    # first offered proposal that intersects one of ours, then our list order
    (["p enc 3des | int md5", "q enc aes-256 | int sha-256"], [GCM, CBC], "AES256 aes-256 sha-256"),
    # for one offer, our proposals in the crypto map's order; inside, the initiator's order
    (["p enc aes-gcm aes | int sha-1"], [CBC, GCM], "AES256 aes sha-1"),
    (["p enc aes-gcm aes | int sha-1"], [GCM, CBC], "AES-GCM aes-gcm null"),
    # integrity-less CBC on both sides (accepted with a warning by config)
    (["p enc aes-256 | int"], ["NOINT enc aes-256 | int"], "NOINT aes-256 null"),
]


@pytest.mark.parametrize(("offered", "own", "expected"), PROPOSALS_ACCEPTED)
def test_ipsec_proposal_accepted(offered: list[str], own: list[str], expected: str) -> None:
    choice = select_ipsec_proposal([prop(p) for p in offered], [prop(p) for p in own])
    assert isinstance(choice, ProposalChoice), choice
    assert f"{choice.proposal.name} {choice.encryption} {choice.integrity}" == expected
    assert choice.proposal.name in choice.describe()


PROPOSALS_REFUSED = [
    (
        ["p enc aes-256 | int md5"],
        [CBC],
        "the peer offers encryption aes-256, integrity md5; "
        "ours are AES256: encryption aes-256 aes, integrity sha-256 sha-1",
    ),
    (["p enc 3des | int sha-1", "q enc des | int md5"], [GCM], "(and 1 more)"),
    # a CBC offer without integrity does not match our CBC with integrity
    (["p enc aes-256 | int"], [CBC], "integrity none"),
    ([], [CBC], "the peer offered no IPsec proposal"),
    (["p enc aes | int sha-1"], [], "has no IKEv2 ipsec-proposal"),
]


@pytest.mark.parametrize(("offered", "own", "reason"), PROPOSALS_REFUSED)
def test_ipsec_proposal_refused(offered: list[str], own: list[str], reason: str) -> None:
    refusal = select_ipsec_proposal([prop(p) for p in offered], [prop(p) for p in own])
    assert isinstance(refusal, Refusal), refusal
    assert refusal.notify == NO_PROPOSAL_CHOSEN
    assert reason in refusal.reason


def test_compiled_crypto_map_proposals_and_transform_sets() -> None:
    gateway = compile_config(
        load(
            """
            crypto ipsec ikev1 transform-set ESP-AES-256-SHA esp-sha-hmac esp-aes-256
            crypto ipsec ikev1 transform-set L2TP esp-aes esp-sha-hmac mode transport
            crypto ipsec ikev2 ipsec-proposal AES-GCM
             protocol esp encryption aes-gcm-256 aes-gcm
             protocol esp integrity null
            crypto dynamic-map REMOTE 10 set ikev2 ipsec-proposal AES-GCM
            crypto dynamic-map REMOTE 20 set ikev1 transform-set L2TP ESP-AES-256-SHA
            crypto map OUTSIDE_MAP 65535 ipsec-isakmp dynamic REMOTE
            """
        )
    )
    v2_entry, v1_entry = gateway.unbound_maps["OUTSIDE_MAP"].entries
    choice = select_ipsec_proposal([prop("p enc aes-gcm | int")], v2_entry.proposals)
    assert isinstance(choice, ProposalChoice)
    assert (choice.encryption, choice.integrity) == ("aes-gcm", "null")
    offer = TransformSet("x", "esp-aes", "esp-sha-hmac", "transport")
    chosen = select_transform_set([offer], v1_entry.transform_sets)
    assert isinstance(chosen, TransformSetChoice)
    assert (chosen.transform_set.name, chosen.mode) == ("L2TP", "transport")
    assert "transport mode" in chosen.describe()


# --------------------------------------------------------------------------- PFS

# initiator's group | responder's (our entry's) group | refusal words (None: accepted)
PFS = [
    (None, None, None),  # no PFS on either side
    (14, None, None),  # we set none: the initiator's group is accepted
    (None, 14, "requires PFS group 14 and the peer offers no PFS"),  # we demand it
    (19, 19, None),
    (5, 14, "PFS group mismatch: the peer offers group 5, the crypto map entry requires group 14"),
]


@pytest.mark.parametrize(("initiator", "responder", "reason"), PFS)
def test_pfs(initiator: int | None, responder: int | None, reason: str | None) -> None:
    result = check_pfs(initiator, responder)
    if reason is None:
        assert result is None
    else:
        assert isinstance(result, Refusal)
        assert result.notify == NO_PROPOSAL_CHOSEN
        assert reason in result.reason


# --------------------------------------------------------------------------- lifetimes

# proposed s, proposed KB, local s, local KB -> expected (None KB: unlimited)
LIFETIMES = [
    ((28800, 4608000, 3600, 4608000), (3600, 4608000)),
    ((3600, 4608000, 28800, 4608000), (3600, 4608000)),
    ((28800, 100000, 28800, 4608000), (28800, 100000)),
    ((28800, None, 28800, 4608000), (28800, 4608000)),  # the peer: unlimited
    ((28800, 4608000, 28800, None), (28800, 4608000)),  # we: unlimited
    ((28800, None, 1000, None), (1000, None)),  # both unlimited
]


@pytest.mark.parametrize(("args", "expected"), LIFETIMES)
def test_lifetime_is_the_smaller_of_each(
    args: tuple[int, int | None, int, int | None], expected: tuple[int, int | None]
) -> None:
    assert select_lifetime(*args) == expected
