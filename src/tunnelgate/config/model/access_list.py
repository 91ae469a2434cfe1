"""Access lists (extended/standard ACEs, remarks) and ``access-group`` bindings.

ACEs and their parts are immutable values (hashable), so an ACL can tell a duplicate
entry in constant time, as the ASA does ("ACE not added (duplicate)").
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """A source or destination: any/any4/any6, host, address+mask, object, object-group,
    or interface."""

    kind: str  # any | any4 | any6 | host | subnet | object | object-group | interface
    address: str | None = None  # IPv4, or IPv6 in its RFC 5952 form (D113)
    mask: str | None = None  # IPv4 mask, or the prefix length of an IPv6 subnet
    name: str | None = None  # object, object-group or interface name


@dataclass(frozen=True, slots=True)
class PortSpec:
    """``eq|neq|lt|gt PORT``, ``range LOW HIGH`` or ``object-group NAME``."""

    op: str  # eq | neq | lt | gt | range | object-group
    low: int = 0
    high: int | None = None
    name: str | None = None  # service object-group name when op == "object-group"


@dataclass(frozen=True, slots=True)
class Ace:
    """One access control entry."""

    action: str  # permit | deny
    protocol: str  # ip, tcp, udp, icmp, a name, or a number 0-255 as text
    source: AddressSpec
    destination: AddressSpec | None = None  # None for standard ACLs
    source_port: PortSpec | None = None
    destination_port: PortSpec | None = None
    icmp_type: str | None = None  # an ASA icmp type name, or a number as text
    log: bool = False
    inactive: bool = False
    icmp_code: int | None = None
    log_level: str | None = None  # a syslog level name or "disable"/"default"; None: default
    log_interval: int | None = None  # seconds; None: the default (300)
    time_range: str | None = None

    def same_rule(self, other: Ace) -> bool:
        """Equal apart from the logging options and ``inactive``."""
        return (
            self.action == other.action
            and self.protocol == other.protocol
            and self.source == other.source
            and self.destination == other.destination
            and self.source_port == other.source_port
            and self.destination_port == other.destination_port
            and self.icmp_type == other.icmp_type
            and self.icmp_code == other.icmp_code
            and self.time_range == other.time_range
        )


@dataclass(slots=True)
class Remark:
    """``access-list NAME remark TEXT``."""

    text: str


@dataclass(slots=True)
class AccessList:
    """All the lines that share one ACL name, in order.

    Change ``entries`` through ``insert`` and ``remove_at`` so that the duplicate index
    stays right (it is rebuilt from ``entries`` on construction).
    """

    name: str
    kind: str = "extended"  # extended | standard
    entries: list[Ace | Remark] = field(default_factory=list)
    aces: set[Ace] = field(default_factory=set, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.aces = {e for e in self.entries if isinstance(e, Ace)}

    def insert(self, entry: Ace | Remark, line: int | None = None) -> None:
        """Append ``entry``, or put it at 1-based position ``line`` (past the end: append)."""
        if line is None or line > len(self.entries):
            self.entries.append(entry)
        else:
            self.entries.insert(line - 1, entry)
        if isinstance(entry, Ace):
            self.aces.add(entry)

    def add_ace(self, ace: Ace, line: int | None = None) -> bool:
        """Add ``ace`` as ``insert`` does, unless it is a duplicate: then return False."""
        aces = self.aces
        count = len(aces)
        aces.add(ace)  # one hash for both the duplicate test and the index
        if len(aces) == count:
            return False
        if line is None or line > len(self.entries):
            self.entries.append(ace)
        else:
            self.entries.insert(line - 1, ace)
        return True

    def remove_at(self, index: int) -> Ace | Remark:
        """Remove and return the entry at 0-based ``index``."""
        entry = self.entries.pop(index)
        if isinstance(entry, Ace):
            self.aces.discard(entry)
        return entry


@dataclass(slots=True)
class AccessGroup:
    """``access-group ACL in|out interface IFNAME``."""

    acl: str
    direction: str  # in | out
    interface: str
