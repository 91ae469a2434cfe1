"""Traffic selectors (RFC 7296 §2.9, §3.13) to and from the policy's ``Selector``: ours as
TSi/TSr, the peer's as a selector in our view, and narrowing to what the peer accepted.
"""

from __future__ import annotations

import functools
import ipaddress

from tunnelgate.ike.v2.payloads import TrafficSelector, TsiPayload, TsrPayload
from tunnelgate.policy.selector import Range, Selector


def _ts(addresses: Range, ports: Range, selector: Selector) -> TrafficSelector:
    return TrafficSelector(
        _ipv4(addresses.low), _ipv4(addresses.high), selector.protocol, ports.low, ports.high
    )


@functools.lru_cache(maxsize=1024)  # the same few selector bounds, every child SA
def _ipv4(address: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(address)


def _range(ts: TrafficSelector) -> tuple[Range, Range]:
    return (Range(int(ts.start_address), int(ts.end_address)), Range(ts.start_port, ts.end_port))


def _selector_from_ts(ours: TrafficSelector, theirs: TrafficSelector) -> Selector:
    """A selector in our view (source = our side) from our TS and the peer's TS."""
    src, sports = _range(ours)
    dst, dports = _range(theirs)
    protocol = ours.ip_protocol or theirs.ip_protocol
    return Selector(protocol, src, dst, sports, dports)


def _narrowed(requested: Selector, tsi: TsiPayload, tsr: TsrPayload) -> Selector:
    got = _selector_from_ts(tsi.selectors[0], tsr.selectors[0])
    return requested.intersect(got) or requested
