"""Traffic selectors (RFC 7296 §2.9, §3.13) to and from the policy's ``Selector``: ours as
TSi/TSr, the peer's as a selector in our view, and narrowing to what the peer accepted.

IPv4 ranges are TS_IPV4_ADDR_RANGE, IPv6 ranges (address integers ``IPV6_BASE | value``,
D113) TS_IPV6_ADDR_RANGE. A selector is of one family; from a peer's lists we take the first
TSi with the first TSr of its family, so a dual-stack proposal is read per family and a pair
that mixes families (nothing else offered) is refused as TS_UNACCEPTABLE by ``choose_entry``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from tunnelgate.ike.v2.payloads import IpAddress, TrafficSelector, TsiPayload, TsrPayload
from tunnelgate.policy.address import IPV6_BASE, IPV6_ONES
from tunnelgate.policy.selector import Range, Selector


def _ts(addresses: Range, ports: Range, selector: Selector) -> TrafficSelector:
    return TrafficSelector(
        _ip(addresses.low), _ip(addresses.high), selector.protocol, ports.low, ports.high
    )


@functools.lru_cache(maxsize=1024)  # the same few selector bounds, every child SA
def _ip(address: int) -> IpAddress:
    """An address integer as an ``ipaddress`` object of its family."""
    if address >= IPV6_BASE:
        return ipaddress.IPv6Address(address & IPV6_ONES)
    return ipaddress.IPv4Address(address)


def _int(address: IpAddress) -> int:
    """An ``ipaddress`` object as an address integer (IPv6 tagged, D113)."""
    return IPV6_BASE | int(address) if address.version == 6 else int(address)


def _range(ts: TrafficSelector) -> tuple[Range, Range]:
    return (
        Range(_int(ts.start_address), _int(ts.end_address)),
        Range(ts.start_port, ts.end_port),
    )


def _selector_from_ts(ours: TrafficSelector, theirs: TrafficSelector) -> Selector:
    """A selector in our view (source = our side) from our TS and the peer's TS (of two
    families when the peer mixed them: ``Selector.mixes_families``)."""
    src, sports = _range(ours)
    dst, dports = _range(theirs)
    protocol = ours.ip_protocol or theirs.ip_protocol
    return Selector(protocol, src, dst, sports, dports)


def _pair(
    first: Sequence[TrafficSelector], second: Sequence[TrafficSelector], version: int | None = None
) -> tuple[TrafficSelector, TrafficSelector] | None:
    """The first of ``first`` (of IP ``version``, any when None) with the first of
    ``second`` of the same family."""
    for one in first:
        family = one.start_address.version
        if version is not None and family != version:
            continue
        other = next((t for t in second if t.start_address.version == family), None)
        if other is not None:
            return one, other
    return None


def _proposed(tsi: TsiPayload, tsr: TsrPayload) -> Selector:
    """The peer's proposal (it initiates) in our view: our side is TSr, theirs TSi; its
    first TSi with the first TSr of that family, else the first two (mixed: refused)."""
    pair = _pair(tsi.selectors, tsr.selectors)
    if pair is None:
        return _selector_from_ts(tsr.selectors[0], tsi.selectors[0])
    theirs, ours = pair
    return _selector_from_ts(ours, theirs)


def _narrowed(requested: Selector, tsi: TsiPayload, tsr: TsrPayload) -> Selector:
    """What the responder accepted of ``requested`` (we initiated: TSi is ours), in the
    requested family; the request itself when the answer has nothing of that family."""
    version = 6 if requested.source.is_ipv6 else 4
    pair = _pair(tsi.selectors, tsr.selectors, version)
    if pair is None:
        return requested
    return requested.intersect(_selector_from_ts(*pair)) or requested
