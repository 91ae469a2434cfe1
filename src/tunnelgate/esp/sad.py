"""The security association database: SA pairs found by inbound SPI or by outbound policy key.

Keys are opaque values chosen by the gateway: ``policy_key`` finds the outbound SA (e.g. the
crypto map entry and ACE, or a selector key), ``selector_key`` groups SAs protecting the same
traffic, ``peer`` is the outer source expected on inbound packets (an address, or an
(address, port) pair under UDP encapsulation). Inbound SPIs are allocated locally, so the SPI
alone identifies the SA (RFC 4301 §4.1); the source is then checked, as the spec says the ASA
"uses the source address and ESP SPI to determine the decryption parameters".

Several live SAs may share a selector key (duplicate tunnels, asymmetric tunneling). The
spec's rule ("accepts inbound IPsec traffic only on the first SA that is found ... dropped
with reason ``vpn-overlap-conflict``"), as data over the SAs of one selector key in order:

| SA, in install order                           | inbound                   | outbound |
|------------------------------------------------|---------------------------|----------|
| retiring (replaced by a rekey), before the first live one | accepted until removed | not used |
| the first live one (not retiring)              | accepted                  | used     |
| a rekey sibling of the first live one          | accepted                  | not used |
| any later one, live or retiring                | ``vpn-overlap-conflict``  | not used |

``replace`` (a rekey) puts the new SA right after the old one, so the successor of the first
SA is the first live one, and the old SA keeps decrypting until the gateway removes it.

Rekey siblings (D109): when both peers rekey the same SA at once (RFC 7296 §2.8.1), each
installs two successors of it, in opposite orders, and sends on the one it installed first
until the redundant one is deleted. Both successors are the same tunnel, not a duplicate
one, so each accepts inbound traffic on either of them; outbound uses the first. A deleted
sibling may be ``retire``d instead of removed at once: it then only decrypts, like a replaced
SA, while what the peer sent on it drains (D110).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class SadDropReason(StrEnum):
    INVALID_SPI = "invalid-spi"  # no inbound SA with this SPI (%ASA-4-402114)
    PEER_MISMATCH = "spi-peer-mismatch"  # known SPI, other outer source
    VPN_OVERLAP_CONFLICT = "vpn-overlap-conflict"


@dataclass(frozen=True, slots=True)
class SadEntry(Generic[T]):
    """One child SA pair; ``inbound`` and ``outbound`` are the gateway's per-direction values."""

    inbound_spi: int
    outbound_spi: int
    peer: Hashable
    policy_key: Hashable
    selector_key: Hashable
    inbound: T
    outbound: T


@dataclass(frozen=True, slots=True)
class InboundAccepted(Generic[T]):
    entry: SadEntry[T]


@dataclass(frozen=True, slots=True)
class InboundDropped(Generic[T]):
    reason: SadDropReason
    entry: SadEntry[T] | None = None  # the SA to count the drop on, if any


InboundLookup = InboundAccepted[T] | InboundDropped[T]


class Sad(Generic[T]):
    """The SA pairs of one gateway (a mutable owner)."""

    def __init__(self) -> None:
        self._by_spi: dict[int, SadEntry[T]] = {}
        self._retiring: set[int] = set()
        self._by_selector: dict[Hashable, list[int]] = {}  # inbound SPIs, install order
        self._by_policy: dict[Hashable, list[int]] = {}  # inbound SPIs, install order
        self._rekey_of: dict[int, int] = {}  # inbound SPI -> the inbound SPI it replaced
        self._successors: dict[int, int] = {}  # replaced inbound SPI -> successors installed
        #: bumped by every install, replace and remove: caches of lookups compare it
        self.generation = 0

    def __len__(self) -> int:
        return len(self._by_spi)

    def __iter__(self) -> Iterator[SadEntry[T]]:
        return iter(list(self._by_spi.values()))

    def install(self, entry: SadEntry[T]) -> None:
        """Add a new SA pair after any others with its selector key."""
        self.generation += 1
        self._add(entry)
        self._by_selector.setdefault(entry.selector_key, []).append(entry.inbound_spi)
        self._by_policy.setdefault(entry.policy_key, []).append(entry.inbound_spi)

    def replace(self, old_inbound_spi: int, entry: SadEntry[T], *, switch: bool = True) -> None:
        """Rekey: ``entry`` takes the old SA's place; the old one only decrypts until removed.
        ``switch=False`` (the responder of a rekey, D116): the old SA keeps sending until
        ``retire`` switches, and its successor is accepted inbound meanwhile."""
        old = self._by_spi.get(old_inbound_spi)
        if old is None:
            raise KeyError(f"no SA with inbound SPI {old_inbound_spi:#010x}")
        if old.selector_key != entry.selector_key:
            raise ValueError("a rekeyed SA keeps its predecessor's selectors")
        self.generation += 1
        self._add(entry)
        for index, key in (
            (self._by_selector, entry.selector_key),
            (self._by_policy, old.policy_key),
        ):
            order = index.setdefault(key, [])
            position = order.index(old_inbound_spi) + 1 if old_inbound_spi in order else len(order)
            order.insert(position, entry.inbound_spi)
        if entry.policy_key != old.policy_key:
            self._by_policy[old.policy_key].remove(entry.inbound_spi)
            self._by_policy.setdefault(entry.policy_key, []).append(entry.inbound_spi)
        if switch:
            self._retiring.add(old_inbound_spi)
        self._rekey_of[entry.inbound_spi] = old_inbound_spi
        self._successors[old_inbound_spi] = self._successors.get(old_inbound_spi, 0) + 1

    def remove(self, inbound_spi: int) -> SadEntry[T] | None:
        """Delete an SA pair (a delete notify, expiry, ``clear``); the next in line moves up."""
        entry = self._by_spi.pop(inbound_spi, None)
        if entry is None:
            return None
        self.generation += 1
        self._retiring.discard(inbound_spi)
        replaced = self._rekey_of.pop(inbound_spi, None)
        if replaced is not None:
            left = self._successors.pop(replaced, 1) - 1
            if left > 0:
                self._successors[replaced] = left
        for index, key in (
            (self._by_selector, entry.selector_key),
            (self._by_policy, entry.policy_key),
        ):
            order = index[key]
            order.remove(inbound_spi)
            if not order:
                del index[key]
        return entry

    def get(self, inbound_spi: int) -> SadEntry[T] | None:
        return self._by_spi.get(inbound_spi)

    def is_retiring(self, inbound_spi: int) -> bool:
        return inbound_spi in self._retiring

    def has_successor(self, inbound_spi: int) -> bool:
        """Whether this installed SA has a successor from a rekey (switched to or not)."""
        return inbound_spi in self._by_spi and self._successors.get(inbound_spi, 0) > 0

    def is_rekey_sibling(self, inbound_spi: int) -> bool:
        """Whether another installed SA is a successor of the same rekey (D109)."""
        replaced = self._rekey_of.get(inbound_spi)
        return replaced is not None and self._successors.get(replaced, 0) > 1

    def retire(self, inbound_spi: int) -> None:
        """Use an SA no more for outbound; it decrypts until removed (a deleted sibling)."""
        if inbound_spi in self._by_spi and inbound_spi not in self._retiring:
            self.generation += 1
            self._retiring.add(inbound_spi)

    def lookup_inbound(self, spi: int, source: Hashable) -> InboundLookup[T]:
        """Which SA decrypts an ESP packet with ``spi`` from ``source``, or why it is dropped."""
        entry = self._by_spi.get(spi)
        if entry is None:
            return InboundDropped(SadDropReason.INVALID_SPI)
        if entry.peer != source:
            return InboundDropped(SadDropReason.PEER_MISMATCH, entry)
        for candidate in self._by_selector[entry.selector_key]:
            if candidate == spi:
                return InboundAccepted(entry)
            if candidate not in self._retiring:
                # the first live SA comes before this one: only its rekey sibling, or its own
                # successor not switched to yet (D116), is accepted
                replaced = self._rekey_of.get(spi)
                if replaced is not None and (
                    self._rekey_of.get(candidate) == replaced or replaced == candidate
                ):
                    return InboundAccepted(entry)
                break
        return InboundDropped(SadDropReason.VPN_OVERLAP_CONFLICT, entry)

    def lookup_outbound(self, policy_key: Hashable) -> SadEntry[T] | None:
        """The SA pair that protects traffic of ``policy_key``: the first not retiring."""
        for spi in self._by_policy.get(policy_key, ()):
            entry = self._by_spi[spi]
            if self._first(entry.selector_key) == spi:
                return entry
        return None

    def _first(self, selector_key: Hashable) -> int | None:
        for spi in self._by_selector.get(selector_key, ()):
            if spi not in self._retiring:
                return spi
        return None

    def _add(self, entry: SadEntry[T]) -> None:
        if entry.inbound_spi in self._by_spi:
            raise ValueError(f"inbound SPI {entry.inbound_spi:#010x} already installed")
        self._by_spi[entry.inbound_spi] = entry
