"""Quick-mode proxy identities IDci / IDcr (RFC 2409 §5.5, RFC 2407 §4.6.2) ↔ selectors.

An address range goes out as ID_IPV4_ADDR (one host), ID_IPV4_ADDR_SUBNET (a prefix) or
ID_IPV4_ADDR_RANGE; the protocol is the ACE's (0: ip) and the port one port or 0 (any).
IKEv1 cannot carry a port range: such an ACE cannot be negotiated (use IKEv2).
"""

from __future__ import annotations

from tunnelgate.ike.v1.constants import IdType, NotifyMessageType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.payloads import IdPayload
from tunnelgate.policy.address import ipv4_int, range_to_prefixes
from tunnelgate.policy.selector import ALL_PORTS, PORT_PROTOCOLS, Range, Selector

_MASK = 0xFFFFFFFF


def id_of(addresses: Range, ports: Range, protocol: int) -> IdPayload:
    """One proxy identity; ``ValueError`` for a port range (not expressible in IKEv1)."""
    port = 0
    if protocol in PORT_PROTOCOLS and ports != ALL_PORTS:
        if ports.low != ports.high:
            raise ValueError(f"IKEv1 proxy identities carry one port, not {ports.low}-{ports.high}")
        port = ports.low
    low, high = addresses.low, addresses.high
    if low == high:
        return IdPayload(IdType.ID_IPV4_ADDR, low.to_bytes(4, "big"), protocol, port)
    prefixes = range_to_prefixes(low, high)
    if len(prefixes) == 1:
        net, length = prefixes[0]
        mask = (_MASK << (32 - length)) & _MASK
        data = net.to_bytes(4, "big") + mask.to_bytes(4, "big")
        return IdPayload(IdType.ID_IPV4_ADDR_SUBNET, data, protocol, port)
    data = low.to_bytes(4, "big") + high.to_bytes(4, "big")
    return IdPayload(IdType.ID_IPV4_ADDR_RANGE, data, protocol, port)


def proxy_ids(selector: Selector) -> tuple[IdPayload, IdPayload]:
    """IDci and IDcr of the initiator: ``selector.source`` is its own side."""
    return (
        id_of(selector.source, selector.source_ports, selector.protocol),
        id_of(selector.destination, selector.destination_ports, selector.protocol),
    )


def _addresses(identity: IdPayload) -> Range:
    data = identity.data
    if identity.id_type == IdType.ID_IPV4_ADDR and len(data) == 4:
        address = int.from_bytes(data, "big")
        return Range(address, address)
    if identity.id_type == IdType.ID_IPV4_ADDR_SUBNET and len(data) == 8:
        mask = int.from_bytes(data[4:], "big")
        if (~mask & _MASK) & ((~mask & _MASK) + 1):
            raise _invalid(f"subnet mask {data[4:].hex()} is not contiguous")
        low = int.from_bytes(data[:4], "big") & mask
        return Range(low, low | (~mask & _MASK))
    if identity.id_type == IdType.ID_IPV4_ADDR_RANGE and len(data) == 8:
        low, high = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big")
        if low <= high:
            return Range(low, high)
    raise _invalid(f"proxy identity type {identity.id_type} of {len(data)} octets")


def _ports(identity: IdPayload) -> Range:
    if identity.protocol not in PORT_PROTOCOLS or identity.port == 0:
        return ALL_PORTS
    return Range(identity.port, identity.port)


def responder_selector(idci: IdPayload, idcr: IdPayload) -> Selector:
    """The proposed traffic in the responder's view (source = IDcr, its own side);
    ``Phase1Error(INVALID-ID-INFORMATION)`` when the identities are not usable."""
    if idci.protocol != idcr.protocol:
        raise _invalid(f"IDci protocol {idci.protocol} and IDcr protocol {idcr.protocol} differ")
    return Selector(idci.protocol, _addresses(idcr), _addresses(idci), _ports(idcr), _ports(idci))


def host_selector(local: str, peer: str) -> Selector:
    """No proxy identities: the traffic between the two IKE addresses (RFC 2409 §5.5)."""
    ours, theirs = ipv4_int(local), ipv4_int(peer)
    return Selector(0, Range(ours, ours), Range(theirs, theirs))


def _invalid(reason: str) -> Phase1Error:
    return Phase1Error(NotifyMessageType.INVALID_ID_INFORMATION, reason)


__all__ = ["host_selector", "id_of", "proxy_ids", "responder_selector"]
