"""``object network`` and ``object-group network`` definitions."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class NetworkObject:
    """``object network NAME`` with one of host/subnet/range/fqdn."""

    name: str
    kind: str | None = None  # host | subnet | range | fqdn
    value: str | None = None  # address, network, first address, or name (IPv6: RFC 5952)
    value2: str | None = None  # mask (subnet; IPv6: prefix length) or last address (range)
    description: str | None = None


@dataclass(slots=True)
class GroupMember:
    """One ``network-object`` or ``group-object`` line."""

    kind: str  # host | subnet | object | group
    address: str | None = None  # IPv4, or IPv6 in its RFC 5952 form
    mask: str | None = None  # IPv4 mask, or the prefix length of an IPv6 subnet
    name: str | None = None


@dataclass(slots=True)
class NetworkObjectGroup:
    """``object-group network NAME``."""

    name: str
    members: list[GroupMember] = field(default_factory=list)
    description: str | None = None
