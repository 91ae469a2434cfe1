"""Phase 2: transform set / IPsec proposal, encapsulation mode, PFS and SA lifetimes.

Spec: "Understanding IKEv1 Transform Sets and IKEv2 Proposals", "Create Static Crypto Maps"
step 5 (c–f) and "Change IPsec SA Lifetimes". Every rule is a pure function; the mode rule
is a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tunnelgate.policy.crypto_map import IpsecProposal, TransformSet
from tunnelgate.policy.refusal import NO_PROPOSAL_CHOSEN, Refusal
from tunnelgate.policy.strength import ESP_V2_AEAD, select_cipher

TUNNEL, TRANSPORT, TRANSPORT_REQUIRE = "tunnel", "transport", "transport-require"

# --------------------------------------------------------------------------- mode

# (initiator's mode, responder's mode) -> the mode of the SA; None: NO_PROPOSAL_CHOSEN.
# ``transport`` asks for transport mode and falls back to tunnel; ``transport-require``
# accepts transport only (spec, step 5 d and its four bullets).
MODE_TABLE: dict[tuple[str, str], str | None] = {
    (TUNNEL, TUNNEL): TUNNEL,
    (TUNNEL, TRANSPORT): TUNNEL,  # bullet 2: the responder falls back to tunnel
    (TUNNEL, TRANSPORT_REQUIRE): None,  # bullet 3
    (TRANSPORT, TUNNEL): TUNNEL,  # bullet 1: the initiator falls back to tunnel
    (TRANSPORT, TRANSPORT): TRANSPORT,
    (TRANSPORT, TRANSPORT_REQUIRE): TRANSPORT,
    (TRANSPORT_REQUIRE, TUNNEL): None,  # bullet 4
    (TRANSPORT_REQUIRE, TRANSPORT): TRANSPORT,
    (TRANSPORT_REQUIRE, TRANSPORT_REQUIRE): TRANSPORT,
}


def select_mode(initiator: str, responder: str) -> str | Refusal:
    """The encapsulation mode from both sides' configured modes (``set ikev2 mode``)."""
    key = (initiator, responder)
    if key not in MODE_TABLE:
        raise ValueError(f"unknown mode pair {key}")
    mode = MODE_TABLE[key]
    if mode is None:
        return Refusal(
            NO_PROPOSAL_CHOSEN,
            f"mode mismatch: the initiator uses {initiator} mode and the responder "
            f"{responder}; {TRANSPORT_REQUIRE} does not fall back to tunnel mode",
        )
    return mode


# --------------------------------------------------------------------------- IKEv1


@dataclass(frozen=True, slots=True)
class TransformSetChoice:
    offer: TransformSet
    transform_set: TransformSet  # ours
    mode: str

    def describe(self) -> str:
        ts = self.transform_set
        return f"transform-set {ts.name}: {ts.encryption} {_integrity(ts)}, {self.mode} mode"


_NO_INTEGRITY = "esp-none"


def _integrity(ts: TransformSet) -> str:
    """``None`` and ``esp-none`` are the same: no integrity."""
    return ts.integrity or _NO_INTEGRITY


def _transform_set_differences(offer: TransformSet, own: TransformSet) -> tuple[str, ...]:
    out = []
    if offer.encryption != own.encryption:
        out.append(f"encryption (peer {offer.encryption}, ours {own.encryption})")
    if _integrity(offer) != _integrity(own):
        out.append(f"integrity (peer {_integrity(offer)}, ours {_integrity(own)})")
    mode = select_mode(offer.mode, own.mode)
    if isinstance(mode, Refusal):
        out.append(f"mode (peer {offer.mode}, ours {own.mode})")
    return tuple(out)


def select_transform_set(
    offered: Sequence[TransformSet], own: Sequence[TransformSet]
) -> TransformSetChoice | Refusal:
    """Our transform sets in the crypto map's priority order; the first one an offer
    equals (encryption and integrity) wins."""
    if not offered:
        return Refusal(NO_PROPOSAL_CHOSEN, "the peer offered no transform")
    if not own:
        return Refusal(NO_PROPOSAL_CHOSEN, "the crypto map entry has no IKEv1 transform set")
    closest: tuple[TransformSet, int, tuple[str, ...]] | None = None
    for ts in own:
        for index, offer in enumerate(offered, start=1):
            differences = _transform_set_differences(offer, ts)
            if not differences:
                mode = select_mode(offer.mode, ts.mode)
                assert isinstance(mode, str)
                return TransformSetChoice(offer, ts, mode)
            if closest is None or len(differences) < len(closest[2]):
                closest = (ts, index, differences)
    assert closest is not None
    ts, index, differences = closest
    return Refusal(
        NO_PROPOSAL_CHOSEN,
        f"no common transform set: closest is our {ts.name} and the peer's offer {index} of "
        f"{len(offered)}, which differ in {', '.join(differences)}",
    )


# --------------------------------------------------------------------------- IKEv2


@dataclass(frozen=True, slots=True)
class ProposalChoice:
    offer: IpsecProposal
    proposal: IpsecProposal  # ours
    encryption: str
    integrity: str  # "null" with an AEAD cipher (AES-GCM/GMAC): no integrity transform

    def describe(self) -> str:
        return (
            f"ipsec-proposal {self.proposal.name}: encryption {self.encryption}, "
            f"integrity {self.integrity}"
        )


def _words(values: Sequence[str]) -> str:
    return " ".join(values) or "none"


def select_ipsec_proposal(
    offered: Sequence[IpsecProposal], own: Sequence[IpsecProposal]
) -> ProposalChoice | Refusal:
    """The first offered proposal that shares a cipher suite with one of ours; inside it,
    the initiator's order."""
    if not offered:
        return Refusal(NO_PROPOSAL_CHOSEN, "the peer offered no IPsec proposal")
    if not own:
        return Refusal(NO_PROPOSAL_CHOSEN, "the crypto map entry has no IKEv2 ipsec-proposal")
    for offer in offered:
        for proposal in own:
            cipher = select_cipher(
                offer.encryption,
                offer.integrity,
                proposal.encryption,
                proposal.integrity,
                ESP_V2_AEAD,
            )
            if cipher is not None:
                return ProposalChoice(offer, proposal, *cipher)
    first = offered[0]
    ours = "; ".join(
        f"{p.name}: encryption {_words(p.encryption)}, integrity {_words(p.integrity)}" for p in own
    )
    return Refusal(
        NO_PROPOSAL_CHOSEN,
        f"no common IPsec proposal: the peer offers encryption {_words(first.encryption)}, "
        f"integrity {_words(first.integrity)}"
        + (f" (and {len(offered) - 1} more)" if len(offered) > 1 else "")
        + f"; ours are {ours}",
    )


# --------------------------------------------------------------------------- PFS, lifetimes


def check_pfs(initiator_group: int | None, responder_group: int | None) -> Refusal | None:
    """``set pfs`` asks for PFS as initiator and demands it as responder: with a group set
    on our entry the peer must offer PFS with that same group; with none, whatever the peer
    offers (PFS with its group, or no PFS) is accepted."""
    if responder_group is None or initiator_group == responder_group:
        return None
    if initiator_group is None:
        return Refusal(
            NO_PROPOSAL_CHOSEN,
            f"the crypto map entry requires PFS group {responder_group} and the peer offers no PFS",
        )
    return Refusal(
        NO_PROPOSAL_CHOSEN,
        f"PFS group mismatch: the peer offers group {initiator_group}, the crypto map entry "
        f"requires group {responder_group}",
    )


def select_lifetime(
    proposed_seconds: int,
    proposed_kilobytes: int | None,
    local_seconds: int,
    local_kilobytes: int | None,
) -> tuple[int, int | None]:
    """The smaller of each lifetime (spec: "Change IPsec SA Lifetimes"); ``None``
    kilobytes is unlimited, so the other side's value wins."""
    seconds = min(proposed_seconds, local_seconds)
    if proposed_kilobytes is None:
        return seconds, local_kilobytes
    if local_kilobytes is None:
        return seconds, proposed_kilobytes
    return seconds, min(proposed_kilobytes, local_kilobytes)


__all__ = [
    "MODE_TABLE",
    "TRANSPORT",
    "TRANSPORT_REQUIRE",
    "TUNNEL",
    "ProposalChoice",
    "TransformSetChoice",
    "check_pfs",
    "select_ipsec_proposal",
    "select_lifetime",
    "select_mode",
    "select_transform_set",
]
