"""Responder: which crypto map entry accepts a peer's proposed traffic (spec: "Define Crypto Maps").

"If the peer initiates the negotiation, the ASA attempts to match the policy to a static
crypto map, and if that fails, then it attempts to match any dynamic crypto maps in the
crypto map set". An entry accepts when it names the peer (dynamic entries: any peer unless
they set one), can negotiate the IKE version (has transform sets / proposals), and its ACL
mirror-permits the proposal. Deny ACEs are ignored here, as the spec says for inbound.
IKEv1 needs the proposal inside one permit ACE; IKEv2 narrows to the first permit ACE that
overlaps it (RFC 7296 §2.9). A dynamic entry without ACL accepts what the peer proposes.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from tunnelgate.policy.acl import Acl, Rule
from tunnelgate.policy.crypto_map import CryptoMapSet, MapEntry
from tunnelgate.policy.refusal import (
    INVALID_ID_INFORMATION,
    NO_PROPOSAL_CHOSEN,
    TS_UNACCEPTABLE,
    Refusal,
)
from tunnelgate.policy.selector import Selector


@dataclass(frozen=True, slots=True)
class EntryChoice:
    """The accepting entry, its permit ACE (None: dynamic entry without ACL) and the
    negotiated traffic in our view (source = our side)."""

    entry: MapEntry
    rule: Rule | None
    selector: Selector
    narrowed: bool = False  # IKEv2: the selector is smaller than the proposal


@dataclass(frozen=True, slots=True)
class _Miss:
    """Why one entry does not accept; ``stage`` orders how close it came."""

    stage: int
    reason: str


# The checks in order; a miss at a later stage is "closer". Each returns a reason or None.
_INCOMPLETE, _PEER, _ACL, _VERSION = 0, 1, 2, 3


@functools.lru_cache(maxsize=4096)
def _same_address(a: str, b: str) -> bool:
    """Whether two peer addresses are the same (memoised: asked for every child SA)."""
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a.lower() == b.lower()


def _check_incomplete(entry: MapEntry, peer: str, version: int) -> str | None:
    if not entry.is_dynamic and entry.incomplete is not None:
        return f"it is incomplete ({entry.incomplete})"
    return None


def _check_peer(entry: MapEntry, peer: str, version: int) -> str | None:
    if entry.is_dynamic and not entry.peers:
        return None
    if any(_same_address(peer, p) for p in entry.peers):
        return None
    return f"peer {peer} is not listed (set peer {' '.join(entry.peers)})"


def _check_version(entry: MapEntry, peer: str, version: int) -> str | None:
    if version == 1 and not entry.transform_sets:
        return "it has no IKEv1 transform set"
    if version == 2 and not entry.proposals:
        return "it has no IKEv2 ipsec-proposal"
    return None


_PRE_CHECKS: tuple[tuple[int, Callable[[MapEntry, str, int], str | None]], ...] = (
    (_INCOMPLETE, _check_incomplete),
    (_PEER, _check_peer),
)


def _acl_match(acl: Acl, proposal: Selector, version: int) -> tuple[Rule, Selector] | str:
    """The permit ACE that mirror-permits ``proposal`` and the negotiated selector, or why not."""
    permits = acl.permits
    if not permits:
        return f"access-list {acl.name} has no permit ACE"
    for rule in permits:
        for selector in rule.selectors:
            if version == 1:
                if selector.covers(proposal):
                    return rule, proposal
            elif (narrowed := selector.intersect(proposal)) is not None:
                return rule, narrowed
    for rule in permits:
        if any(s.intersect(proposal) is not None for s in rule.selectors):
            return (
                f"access-list {acl.name} line {rule.line} ({rule.text}) overlaps the proposal "
                "but does not contain it (IKEv1 does not narrow)"
            )
    mirrored = proposal.mirrored()
    for rule in permits:
        if any(s.intersect(mirrored) is not None for s in rule.selectors):
            return (
                f"access-list {acl.name} line {rule.line} ({rule.text}) matches the proposal "
                "only with source and destination swapped: the peer's ACL is not a mirror of ours"
            )
    return f"no permit ACE of access-list {acl.name} matches the proposal"


def _evaluate(entry: MapEntry, peer: str, proposal: Selector, version: int) -> EntryChoice | _Miss:
    for stage, check in _PRE_CHECKS:
        reason = check(entry, peer, version)
        if reason is not None:
            return _Miss(stage, reason)
    if entry.acl is None:  # a dynamic entry without ACL: any data flow the peer proposes
        rule, selector = None, proposal
    else:
        match = _acl_match(entry.acl, proposal, version)
        if isinstance(match, str):
            return _Miss(_ACL, match)
        rule, selector = match
    reason = _check_version(entry, peer, version)
    if reason is not None:
        return _Miss(_VERSION, reason)
    return EntryChoice(entry, rule, selector, narrowed=selector != proposal)


def choose_entry(
    cmap: CryptoMapSet, peer: str, proposal: Selector, version: int
) -> EntryChoice | Refusal:
    """The first entry (statics by seq, then dynamic entries) that accepts the proposal."""
    if version not in (1, 2):
        raise ValueError(f"IKE version {version}")
    # memoised: a pure function of immutable values, asked for every child SA with the same
    # few answers. Keyed by the map's identity (the entry keeps the map alive, so the id is
    # not reused); bounded, as peers choose the proposals.
    key = (id(cmap), peer, proposal, version)
    found = _CHOICES.get(key)
    if found is not None and found[0] is cmap:
        return found[1]
    result = _choose_entry(cmap, peer, proposal, version)
    if len(_CHOICES) >= _CHOICES_MAX:
        _CHOICES.clear()
    _CHOICES[key] = (cmap, result)
    return result


_CHOICES: dict[tuple[int, str, Selector, int], tuple[CryptoMapSet, EntryChoice | Refusal]] = {}
_CHOICES_MAX = 4096


def _choose_entry(
    cmap: CryptoMapSet, peer: str, proposal: Selector, version: int
) -> EntryChoice | Refusal:
    if proposal.mixes_families:  # no ACE can hold it, and no packet can match it (D113)
        reason = (
            f"peer {peer} proposes {proposal.describe()} (local → remote): one side is IPv4 "
            "and the other IPv6"
        )
        return Refusal(TS_UNACCEPTABLE if version == 2 else INVALID_ID_INFORMATION, reason)
    closest: tuple[MapEntry, _Miss] | None = None
    for entry in cmap.entries:
        result = _evaluate(entry, peer, proposal, version)
        if isinstance(result, EntryChoice):
            return result
        if closest is None or result.stage > closest[1].stage:
            closest = (entry, result)
    wanted = f"peer {peer} proposing {proposal.describe()} (local → remote)"
    if closest is None:
        reason = f"crypto map {cmap.name} has no entries for {wanted}"
    else:
        entry, miss = closest
        reason = (
            f"no entry of crypto map {cmap.name} accepts {wanted}: closest is {entry.label}, "
            f"where {miss.reason}"
        )
    if closest is not None and closest[1].stage == _VERSION:
        return Refusal(NO_PROPOSAL_CHOSEN, reason)
    return Refusal(TS_UNACCEPTABLE if version == 2 else INVALID_ID_INFORMATION, reason)


__all__ = ["EntryChoice", "choose_entry"]
