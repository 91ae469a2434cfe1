"""Phase 1: which IKE policy the responder accepts (spec: "Configure IKEv1 and IKEv2 Policies").

IKEv1: the initiator offers all its policies; we check them against ours in priority order
(lowest number first) and take the first pair with equal encryption, hash, authentication
and group whose lifetime rule holds. IKEv2: the initiator's proposals in its order; for
each, our policies in priority order; within a pair, the first value of each transform type
in the initiator's order that our policy also allows (RFC 7296 §2.7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from tunnelgate.policy.ike import Ikev1Policy, Ikev2Policy
from tunnelgate.policy.refusal import INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, Refusal
from tunnelgate.policy.strength import IKEV2_AEAD, select_cipher

T = TypeVar("T")

# --------------------------------------------------------------------------- IKEv1

# The attributes that must be equal (spec: "the same encryption, hash, authentication, and
# Diffie-Hellman parameter values"); the lifetime has its own rule.
IKEV1_EQUAL_ATTRIBUTES = ("encryption", "hash", "authentication", "group")


@dataclass(frozen=True, slots=True)
class Ikev1Choice:
    """The accepted offer, our policy it matched, and the lifetime the IKE SA gets."""

    offer: Ikev1Policy
    policy: Ikev1Policy
    lifetime_seconds: int

    @property
    def authentication(self) -> str:
        return self.policy.authentication

    def describe(self) -> str:
        p = self.policy
        return (
            f"policy {p.priority}: {p.authentication} {p.encryption} {p.hash} group {p.group}, "
            f"lifetime {self.lifetime_seconds} s"
        )


def ikev1_differences(offer: Ikev1Policy, own: Ikev1Policy) -> tuple[str, ...]:
    """Why ``offer`` does not match our policy ``own``, one phrase per attribute (empty: match)."""
    out = [
        f"{name} (peer {getattr(offer, name)}, ours {getattr(own, name)})"
        for name in IKEV1_EQUAL_ATTRIBUTES
        if getattr(offer, name) != getattr(own, name)
    ]
    # Spec: "the remote peer policy must also specify a lifetime less than or equal to the
    # lifetime in the policy the initiator sent".
    if own.lifetime_seconds > offer.lifetime_seconds:
        out.append(
            f"lifetime (peer {offer.lifetime_seconds} s is shorter than ours "
            f"{own.lifetime_seconds} s)"
        )
    return tuple(out)


def select_ikev1(
    offers: Sequence[Ikev1Policy], own: Sequence[Ikev1Policy]
) -> Ikev1Choice | Refusal:
    """The first of our policies (priority order) that one of the offers matches."""
    if not offers:
        return Refusal(NO_PROPOSAL_CHOSEN, "the peer offered no IKEv1 policy")
    if not own:
        return Refusal(NO_PROPOSAL_CHOSEN, "no IKEv1 policy is configured (crypto ikev1 policy)")
    closest: tuple[Ikev1Policy, int, tuple[str, ...]] | None = None
    for policy in sorted(own, key=lambda p: p.priority):
        for index, offer in enumerate(offers, start=1):
            differences = ikev1_differences(offer, policy)
            if not differences:
                lifetime = min(offer.lifetime_seconds, policy.lifetime_seconds)
                return Ikev1Choice(offer, policy, lifetime)
            if closest is None or len(differences) < len(closest[2]):
                closest = (policy, index, differences)
    assert closest is not None
    policy, index, differences = closest
    return Refusal(
        NO_PROPOSAL_CHOSEN,
        f"no common IKEv1 policy: closest is our policy {policy.priority} and the peer's "
        f"offer {index} of {len(offers)}, which differ in {', '.join(differences)}",
    )


# --------------------------------------------------------------------------- IKEv2


@dataclass(frozen=True, slots=True)
class Ikev2Choice:
    """One value of each transform type; the lifetime is ours (IKEv2 does not negotiate it)."""

    offer: Ikev2Policy
    policy: Ikev2Policy
    encryption: str
    integrity: str  # "null" with an AEAD cipher: no integrity transform
    prf: str
    group: int
    lifetime_seconds: int

    def describe(self) -> str:
        return (
            f"policy {self.policy.priority}: encryption {self.encryption}, integrity "
            f"{self.integrity}, prf {self.prf}, group {self.group}, "
            f"lifetime {self.lifetime_seconds} s"
        )


def _first_common(offered: Sequence[T], own: Sequence[T]) -> T | None:
    return next((value for value in offered if value in own), None)


def _words(values: Sequence[object]) -> str:
    return " ".join(str(v) for v in values) or "none"


def _select_ikev2_pair(offer: Ikev2Policy, own: Ikev2Policy) -> Ikev2Choice | tuple[str, ...]:
    """The choice from one offer and one of our policies, or what they lack in common."""
    cipher = select_cipher(
        offer.encryption, offer.integrity, own.encryption, own.integrity, IKEV2_AEAD
    )
    prf = _first_common(offer.prf, own.prf)
    group = _first_common(offer.group, own.group)
    if cipher is not None and prf is not None and group is not None:
        encryption, integrity = cipher
        return Ikev2Choice(offer, own, encryption, integrity, prf, group, own.lifetime_seconds)
    missing = []
    if cipher is None:
        if _first_common(offer.encryption, own.encryption) is None:
            missing.append(
                f"encryption (peer {_words(offer.encryption)}, ours {_words(own.encryption)})"
            )
        else:
            missing.append(
                f"integrity (peer {_words(offer.integrity)}, ours {_words(own.integrity)})"
            )
    if prf is None:
        missing.append(f"prf (peer {_words(offer.prf)}, ours {_words(own.prf)})")
    if group is None:
        missing.append(f"group (peer {_words(offer.group)}, ours {_words(own.group)})")
    return tuple(missing)


def select_ikev2(
    offers: Sequence[Ikev2Policy], own: Sequence[Ikev2Policy]
) -> Ikev2Choice | Refusal:
    """The first offer (initiator's order) that one of our policies (priority order) allows."""
    # memoised: a pure function of immutable values, and every IKE_SA_INIT asks it again with
    # the same few offers (bounded: peers choose the offers)
    key = (tuple(offers), tuple(own))
    try:
        found = _SELECTED.get(key)
    except TypeError:  # values built with lists (unhashable): no memo
        return _select_ikev2(offers, own)
    if found is None:
        found = _select_ikev2(key[0], key[1])
        if len(_SELECTED) >= _SELECTED_MAX:
            _SELECTED.clear()
        _SELECTED[key] = found
    return found


_SELECTED: dict[tuple[tuple[Ikev2Policy, ...], tuple[Ikev2Policy, ...]], Ikev2Choice | Refusal] = {}
_SELECTED_MAX = 1024


def _select_ikev2(
    offers: Sequence[Ikev2Policy], own: Sequence[Ikev2Policy]
) -> Ikev2Choice | Refusal:
    if not offers:
        return Refusal(NO_PROPOSAL_CHOSEN, "the peer offered no IKEv2 proposal")
    if not own:
        return Refusal(NO_PROPOSAL_CHOSEN, "no IKEv2 policy is configured (crypto ikev2 policy)")
    ours = sorted(own, key=lambda p: p.priority)
    closest: tuple[Ikev2Policy, int, tuple[str, ...]] | None = None
    for index, offer in enumerate(offers, start=1):
        for policy in ours:
            result = _select_ikev2_pair(offer, policy)
            if isinstance(result, Ikev2Choice):
                return result
            if closest is None or len(result) < len(closest[2]):
                closest = (policy, index, result)
    assert closest is not None
    policy, index, missing = closest
    return Refusal(
        NO_PROPOSAL_CHOSEN,
        f"no common IKEv2 proposal: closest is our policy {policy.priority} and the peer's "
        f"proposal {index} of {len(offers)}, which have no common {', '.join(missing)}",
    )


def initial_ke_group(own: Sequence[Ikev2Policy]) -> int:
    """The group of our first KE payload as initiator: the strongest group of our
    highest-priority policy (the one we offer first)."""
    for policy in sorted(own, key=lambda p: p.priority):
        if policy.group:
            return policy.group[0]
    raise ValueError("no IKEv2 policy with a group is configured")


def check_ke_group(chosen: Ikev2Choice | int, received_group: int) -> Refusal | None:
    """RFC 7296 §1.2: a KE payload of another group than the chosen one is answered with
    INVALID_KE_PAYLOAD carrying the group we want; the initiator retries with it."""
    group = chosen.group if isinstance(chosen, Ikev2Choice) else chosen
    if received_group == group:
        return None
    return Refusal(
        INVALID_KE_PAYLOAD,
        f"the peer's KE payload is for group {received_group}, the selected proposal has "
        f"group {group}: asking the peer to retry with group {group}",
        group=group,
    )


__all__ = [
    "IKEV1_EQUAL_ATTRIBUTES",
    "Ikev1Choice",
    "Ikev2Choice",
    "check_ke_group",
    "ikev1_differences",
    "initial_ke_group",
    "select_ikev1",
    "select_ikev2",
]
