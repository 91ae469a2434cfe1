"""The SAD: lookups by SPI and policy key, rekey replacement, the vpn-overlap-conflict rule."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from tunnelgate.esp.sad import (
    InboundAccepted,
    InboundDropped,
    Sad,
    SadDropReason,
    SadEntry,
)

PEER = "192.0.2.1"
OTHER_PEER = "198.51.100.7"
SELECTORS = ("10.1.0.0/16", "10.2.0.0/16")
POLICY = ("outside_map", 10, 1)


def pair(
    spi_in: int,
    *,
    peer: Hashable = PEER,
    policy: Hashable = POLICY,
    selectors: Hashable = SELECTORS,
) -> SadEntry[str]:
    return SadEntry(
        inbound_spi=spi_in,
        outbound_spi=spi_in + 0x1000,
        peer=peer,
        policy_key=policy,
        selector_key=selectors,
        inbound=f"in-{spi_in:x}",
        outbound=f"out-{spi_in:x}",
    )


def verdict(sad: Sad[str], spi: int, source: Hashable = PEER) -> str:
    result = sad.lookup_inbound(spi, source)
    return "accept" if isinstance(result, InboundAccepted) else result.reason.value


def test_install_and_lookups() -> None:
    sad: Sad[str] = Sad()
    entry = pair(0x100)
    sad.install(entry)
    assert sad.lookup_inbound(0x100, PEER) == InboundAccepted(entry)
    assert sad.lookup_outbound(POLICY) is entry
    assert sad.lookup_outbound(("outside_map", 20, 1)) is None
    assert sad.get(0x100) is entry and len(sad) == 1 and list(sad) == [entry]


def test_unknown_spi_and_wrong_source() -> None:
    sad: Sad[str] = Sad()
    entry = pair(0x100)
    sad.install(entry)
    assert sad.lookup_inbound(0x999, PEER) == InboundDropped(SadDropReason.INVALID_SPI)
    assert sad.lookup_inbound(0x100, OTHER_PEER) == InboundDropped(
        SadDropReason.PEER_MISMATCH, entry
    )


def test_udp_encapsulated_peer_is_address_and_port() -> None:
    sad: Sad[str] = Sad()
    entry = pair(0x100, peer=("192.0.2.1", 4500))
    sad.install(entry)
    assert sad.lookup_inbound(0x100, ("192.0.2.1", 4500)) == InboundAccepted(entry)
    assert verdict(sad, 0x100, ("192.0.2.1", 1024)) == "spi-peer-mismatch"


def test_duplicate_inbound_spi_is_refused() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(0x100))
    with pytest.raises(ValueError):
        sad.install(pair(0x100, selectors="other"))


# Duplicate SAs with the same selectors, in install order, and what each inbound SPI gets.
OVERLAP_CASES = [
    # (installs as (spi, peer), removed, expected verdict by spi)
    ([(1, PEER), (2, PEER)], [], {1: "accept", 2: "vpn-overlap-conflict"}),  # duplicate tunnel
    (  # asymmetric tunneling: another peer, same selectors
        [(1, PEER), (2, OTHER_PEER)],
        [],
        {1: "accept", 2: "vpn-overlap-conflict"},
    ),
    ([(1, PEER), (2, PEER), (3, PEER)], [1], {2: "accept", 3: "vpn-overlap-conflict"}),
    ([(1, PEER), (2, PEER)], [2], {1: "accept", 2: "invalid-spi"}),
]


@pytest.mark.parametrize(("installs", "removed", "expected"), OVERLAP_CASES)
def test_vpn_overlap_conflict_first_sa_found_wins(
    installs: list[tuple[int, str]], removed: list[int], expected: dict[int, str]
) -> None:
    sad: Sad[str] = Sad()
    peers = dict(installs)
    for spi, peer in installs:
        sad.install(pair(spi, peer=peer))
    for spi in removed:
        assert sad.remove(spi) is not None
    assert {spi: verdict(sad, spi, peers[spi]) for spi in expected} == expected


def test_overlap_drop_names_the_sa_it_arrived_on() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.install(pair(2))
    assert sad.lookup_inbound(2, PEER) == InboundDropped(
        SadDropReason.VPN_OVERLAP_CONFLICT, sad.get(2)
    )


def test_different_selectors_do_not_conflict() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.install(pair(2, selectors=("10.1.0.0/16", "10.3.0.0/16"), policy=("outside_map", 10, 2)))
    assert verdict(sad, 1) == verdict(sad, 2) == "accept"
    assert sad.lookup_outbound(("outside_map", 10, 2)) is sad.get(2)


def test_rekey_new_sa_takes_over_while_old_still_decrypts() -> None:
    sad: Sad[str] = Sad()
    old = pair(1)
    sad.install(old)
    new = pair(2)
    sad.replace(1, new)
    assert sad.is_retiring(1)
    assert verdict(sad, 1) == verdict(sad, 2) == "accept"
    assert sad.lookup_outbound(POLICY) is new
    assert sad.remove(1) is old
    assert verdict(sad, 1) == "invalid-spi"
    assert verdict(sad, 2) == "accept"
    assert sad.lookup_outbound(POLICY) is new


def test_rekey_of_the_first_sa_keeps_its_place_before_a_duplicate() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.install(pair(2))  # duplicate: conflict
    sad.replace(1, pair(3))
    assert {spi: verdict(sad, spi) for spi in (1, 2, 3)} == {
        1: "accept",  # retiring, still decrypts
        2: "vpn-overlap-conflict",
        3: "accept",  # inherited "first"
    }
    assert sad.lookup_outbound(POLICY) is sad.get(3)
    sad.remove(1)
    assert verdict(sad, 2) == "vpn-overlap-conflict"


def test_rekey_of_a_duplicate_stays_a_duplicate() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.install(pair(2))
    sad.replace(2, pair(3))
    assert verdict(sad, 3) == "vpn-overlap-conflict"
    assert verdict(sad, 2) == "vpn-overlap-conflict"  # retiring, but behind the first live SA
    assert sad.lookup_outbound(POLICY) is sad.get(1)


def test_simultaneous_rekeys_accept_both_successors_inbound() -> None:
    """RFC 7296 §2.8.1 collision: each side installs both successors of SA 1, in opposite
    orders; either accepts what the other sends on the one it installed first (D109)."""
    here: Sad[str] = Sad()
    there: Sad[str] = Sad()
    for sad, order in ((here, (3, 2)), (there, (2, 3))):
        sad.install(pair(1))
        for spi in order:
            sad.replace(1, pair(spi))
    sending_here = here.lookup_outbound(POLICY)
    sending_there = there.lookup_outbound(POLICY)
    assert sending_here is not None and sending_there is not None
    assert sending_here.inbound_spi != sending_there.inbound_spi  # each its own first
    assert {spi: verdict(here, spi) for spi in (1, 2, 3)} == dict.fromkeys((1, 2, 3), "accept")
    assert {spi: verdict(there, spi) for spi in (1, 2, 3)} == dict.fromkeys((1, 2, 3), "accept")
    here.remove(2)  # the redundant SA is deleted: one tunnel again
    assert verdict(here, 3) == "accept" and verdict(here, 2) == "invalid-spi"
    # a duplicate tunnel (not a rekey of the same SA) still conflicts
    here.install(pair(9))
    assert verdict(here, 9) == "vpn-overlap-conflict"


def test_a_retired_sibling_decrypts_but_sends_nothing_until_removed() -> None:
    """The redundant successor of a collision is retired while what the peer sent on it
    drains (D110): either order of install, the other sibling sends and both decrypt."""
    for order in ((2, 3), (3, 2)):
        sad: Sad[str] = Sad()
        sad.install(pair(1))
        for spi in order:
            sad.replace(1, pair(spi))
        assert sad.is_rekey_sibling(2) and sad.is_rekey_sibling(3)
        assert not sad.is_rekey_sibling(1)
        generation = sad.generation
        sad.retire(2)
        assert sad.generation == generation + 1 and sad.is_retiring(2)
        sad.retire(2)  # once is enough
        assert sad.generation == generation + 1
        assert sad.lookup_outbound(POLICY) is sad.get(3)
        assert verdict(sad, 2) == verdict(sad, 3) == "accept"
        sad.remove(1)
        assert verdict(sad, 2) == verdict(sad, 3) == "accept"
        sad.remove(2)
        assert not sad.is_rekey_sibling(3)
        assert verdict(sad, 3) == "accept" and verdict(sad, 2) == "invalid-spi"
        sad.retire(2)  # gone: nothing to do
        assert sad.lookup_outbound(POLICY) is sad.get(3)


def test_a_rekey_of_a_duplicate_is_not_the_first_sas_sibling() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.install(pair(2))
    sad.replace(1, pair(3))
    sad.replace(2, pair(4))
    assert verdict(sad, 3) == "accept"
    assert verdict(sad, 4) == "vpn-overlap-conflict"


def test_replace_errors() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    with pytest.raises(KeyError):
        sad.replace(9, pair(2))
    with pytest.raises(ValueError):
        sad.replace(1, pair(2, selectors="elsewhere"))
    assert sad.remove(9) is None
    assert len(sad) == 1


def test_removing_everything_leaves_no_trace() -> None:
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.replace(1, pair(2))
    sad.remove(2)
    sad.remove(1)
    assert len(sad) == 0
    assert sad.lookup_outbound(POLICY) is None
    sad.install(pair(1))  # a fresh start, first again
    assert verdict(sad, 1) == "accept"


def test_a_rekey_responders_successor_waits_to_send_and_decrypts_meanwhile() -> None:
    """D116: ``replace(switch=False)``: the old SA keeps sending, the successor is accepted
    inbound; ``retire`` switches."""
    sad: Sad[str] = Sad()
    sad.install(pair(1))
    sad.replace(1, pair(2), switch=False)
    assert sad.lookup_outbound(POLICY) is sad.get(1)
    assert verdict(sad, 1) == verdict(sad, 2) == "accept"
    assert sad.has_successor(1) and not sad.has_successor(2)
    assert not sad.is_retiring(1) and not sad.is_rekey_sibling(2)
    generation = sad.generation
    sad.retire(1)
    assert sad.generation == generation + 1
    assert sad.lookup_outbound(POLICY) is sad.get(2)
    assert verdict(sad, 1) == verdict(sad, 2) == "accept"
    sad.remove(1)
    assert not sad.has_successor(1) and verdict(sad, 2) == "accept"
