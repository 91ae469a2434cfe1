"""Quick-mode proxy identities IDci / IDcr (RFC 2409 §5.5, RFC 2407 §4.6.2) ↔ selectors.

An address range goes out as ID_IPV4_ADDR (one host), ID_IPV4_ADDR_SUBNET (a prefix) or
ID_IPV4_ADDR_RANGE, an IPv6 one (address integers ``IPV6_BASE | value``, D113) as
ID_IPV6_ADDR, ID_IPV6_ADDR_SUBNET (address and 16-octet mask) or ID_IPV6_ADDR_RANGE (RFC 2407
§4.6.2.1); the protocol is the ACE's (0: ip) and the port one port or 0 (any). IKEv1 cannot
carry a port range: such an ACE cannot be negotiated (use IKEv2). IDci and IDcr of two
families are INVALID-ID-INFORMATION.
"""

from __future__ import annotations

from tunnelgate.ike.v1.constants import IdType, NotifyMessageType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.payloads import IdPayload
from tunnelgate.policy.address import (
    IPV6_BASE,
    address_bytes,
    address_from_bytes,
    address_int,
    range_to_prefixes,
)
from tunnelgate.policy.selector import ALL_PORTS, PORT_PROTOCOLS, Range, Selector

# (host, subnet, range) ID types and address octets, by family
_IPV4 = (IdType.ID_IPV4_ADDR, IdType.ID_IPV4_ADDR_SUBNET, IdType.ID_IPV4_ADDR_RANGE, 4)
_IPV6 = (IdType.ID_IPV6_ADDR, IdType.ID_IPV6_ADDR_SUBNET, IdType.ID_IPV6_ADDR_RANGE, 16)
_FAMILY_OF_TYPE = {int(t): family for family in (_IPV4, _IPV6) for t in family[:3]}


def id_of(addresses: Range, ports: Range, protocol: int) -> IdPayload:
    """One proxy identity; ``ValueError`` for a port range (not expressible in IKEv1)."""
    port = 0
    if protocol in PORT_PROTOCOLS and ports != ALL_PORTS:
        if ports.low != ports.high:
            raise ValueError(f"IKEv1 proxy identities carry one port, not {ports.low}-{ports.high}")
        port = ports.low
    low, high = addresses.low, addresses.high
    host, subnet, span, size = _IPV6 if low >= IPV6_BASE else _IPV4
    if low == high:
        return IdPayload(host, address_bytes(low), protocol, port)
    prefixes = range_to_prefixes(low, high)
    if len(prefixes) == 1:
        net, length = prefixes[0]
        bits = size * 8
        mask = ((1 << length) - 1) << (bits - length)
        data = address_bytes(net) + mask.to_bytes(size, "big")
        return IdPayload(subnet, data, protocol, port)
    return IdPayload(span, address_bytes(low) + address_bytes(high), protocol, port)


def proxy_ids(selector: Selector) -> tuple[IdPayload, IdPayload]:
    """IDci and IDcr of the initiator: ``selector.source`` is its own side."""
    return (
        id_of(selector.source, selector.source_ports, selector.protocol),
        id_of(selector.destination, selector.destination_ports, selector.protocol),
    )


def _addresses(identity: IdPayload) -> Range:
    data, id_type = identity.data, identity.id_type
    family = _FAMILY_OF_TYPE.get(id_type)
    if family is not None:
        host, subnet, span, size = family
        if id_type == host and len(data) == size:
            address = address_from_bytes(data)
            return Range(address, address)
        if id_type == subnet and len(data) == 2 * size:
            ones = (1 << (size * 8)) - 1
            mask = int.from_bytes(data[size:], "big")
            if (~mask & ones) & ((~mask & ones) + 1):
                raise _invalid(f"subnet mask {data[size:].hex()} is not contiguous")
            low = address_from_bytes(data[:size]) & (mask | ~ones)
            return Range(low, low | (~mask & ones))
        if id_type == span and len(data) == 2 * size:
            low, high = address_from_bytes(data[:size]), address_from_bytes(data[size:])
            if low <= high:
                return Range(low, high)
    raise _invalid(f"proxy identity type {id_type} of {len(data)} octets")


def _ports(identity: IdPayload) -> Range:
    if identity.protocol not in PORT_PROTOCOLS or identity.port == 0:
        return ALL_PORTS
    return Range(identity.port, identity.port)


def responder_selector(idci: IdPayload, idcr: IdPayload) -> Selector:
    """The proposed traffic in the responder's view (source = IDcr, its own side);
    ``Phase1Error(INVALID-ID-INFORMATION)`` when the identities are not usable."""
    if idci.protocol != idcr.protocol:
        raise _invalid(f"IDci protocol {idci.protocol} and IDcr protocol {idcr.protocol} differ")
    ours, theirs = _addresses(idcr), _addresses(idci)
    if ours.is_ipv6 != theirs.is_ipv6:
        raise _invalid(
            f"IDci ({IdType(idci.id_type).name}) and IDcr ({IdType(idcr.id_type).name}) are of "
            "two address families"
        )
    return Selector(idci.protocol, ours, theirs, _ports(idcr), _ports(idci))


def host_selector(local: str, peer: str) -> Selector:
    """No proxy identities: the traffic between the two IKE addresses (RFC 2409 §5.5)."""
    ours, theirs = address_int(local), address_int(peer)
    return Selector(0, Range(ours, ours), Range(theirs, theirs))


def _invalid(reason: str) -> Phase1Error:
    return Phase1Error(NotifyMessageType.INVALID_ID_INFORMATION, reason)


__all__ = ["host_selector", "id_of", "proxy_ids", "responder_selector"]
