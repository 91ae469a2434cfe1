"""Access lists (extended/standard ACEs, remarks) and ``access-group`` bindings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class AddressSpec:
    """A source or destination: any/any4/any6, host, address+mask, object, object-group,
    or interface."""

    kind: str  # any | any4 | any6 | host | subnet | object | object-group | interface
    address: str | None = None
    mask: str | None = None
    name: str | None = None  # object, object-group or interface name


@dataclass(slots=True)
class PortSpec:
    """``eq|neq|lt|gt PORT``, ``range LOW HIGH`` or ``object-group NAME``."""

    op: str  # eq | neq | lt | gt | range | object-group
    low: int = 0
    high: int | None = None
    name: str | None = None  # service object-group name when op == "object-group"


@dataclass(slots=True)
class Ace:
    """One access control entry."""

    action: str  # permit | deny
    protocol: str  # ip, tcp, udp, icmp, a name, or a number 0-255 as text
    source: AddressSpec
    destination: AddressSpec | None = None  # None for standard ACLs
    source_port: PortSpec | None = None
    destination_port: PortSpec | None = None
    icmp_type: str | None = None
    log: bool = False
    inactive: bool = False


@dataclass(slots=True)
class Remark:
    """``access-list NAME remark TEXT``."""

    text: str


@dataclass(slots=True)
class AccessList:
    """All the lines that share one ACL name, in order."""

    name: str
    kind: str = "extended"  # extended | standard
    entries: list[Ace | Remark] = field(default_factory=list)


@dataclass(slots=True)
class AccessGroup:
    """``access-group ACL in|out interface IFNAME``."""

    acl: str
    direction: str  # in | out
    interface: str
