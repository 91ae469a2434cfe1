"""Hypothesis strategies for valid, canonical ``RunningConfig`` models, built directly.

"Valid" means a strict load of the rendered text accepts it (warnings allowed); "canonical"
means the model is already in the form the commands store (a /32 ACL mask is ``host A``,
IKEv2 lists in strength order, entries sorted by sequence number, defaults where a
setting is off, …), so that ``parse(render(m)) == m`` must hold exactly.

Every rule encoded here comes from a family module in ``tunnelgate.config.commands``;
the comment on each draw names the rule.
"""

from __future__ import annotations

import functools
import ipaddress
import string
from collections.abc import Callable, Sequence
from typing import TypeVar

from hypothesis import strategies as st

from tunnelgate.config import keywords as kw
from tunnelgate.config import ports
from tunnelgate.config.commands import crypto_map as crypto_map_cmds
from tunnelgate.config.commands import isakmp as isakmp_cmds
from tunnelgate.config.commands import pki as pki_cmds
from tunnelgate.config.commands import tunnel_group as tunnel_group_cmds
from tunnelgate.config.commands.objects import MASK_PREFIX
from tunnelgate.config.model import (
    AccessGroup,
    AccessList,
    Ace,
    AddressSpec,
    CertificateMatch,
    CryptoMapEntry,
    GroupMember,
    Ikev1Policy,
    Ikev2Policy,
    Interface,
    IpsecAttributes,
    IpsecProposal,
    IpsecSettings,
    Ipv6Route,
    IsakmpSettings,
    Keepalive,
    LoggingHost,
    LoggingSettings,
    NetworkObject,
    NetworkObjectGroup,
    PortSpec,
    Remark,
    Route,
    RunningConfig,
    Secret,
    TfcPackets,
    TransformSet,
    Trustpoint,
    TunnelGroup,
    TunnelGroupMap,
)
from tunnelgate.policy.address import ipv4_text

T = TypeVar("T")

PREFIX_MASK = {prefix: mask for mask, prefix in MASK_PREFIX.items()}

# --------------------------------------------------------------------------- basic values

_NAME_CHARS = string.ascii_letters + string.digits + "-_."
_NAME_PUNCTUATION = string.punctuation  # any printable token is a name
# Names that are also keywords (or keyword prefixes, numbers) somewhere in the language:
# a WORD must still be read as the name it is.
TRICKY_NAMES = (
    "any",
    "host",
    "log",
    "line",
    "remark",
    "standard",
    "extended",
    "object",
    "interface",
    "default-group",
    "enable",
    "rules",
    "mode",
    "dynamic",
    "set",
    "no",
    "10",
    "type",
    "in",
    "e",
    "ANY",
    "Host",
    "ho",
    "0",
    "8",
    "hex",
    "permit",
    "match",
    "ipsec-isakmp",
    "general-attributes",
    "ipsec-attributes",
    "!x",
    ":x",
)


@functools.cache
def names(max_size: int = 12, tricky: bool = True) -> st.SearchStrategy[str]:
    """A configuration name: any printable ASCII token, sometimes one that is also a
    keyword (or a prefix or number) where the name is read."""
    plain = st.text(st.sampled_from(_NAME_CHARS), min_size=1, max_size=max_size)
    if not tricky:
        return plain
    odd = st.text(st.sampled_from(_NAME_CHARS + _NAME_PUNCTUATION), min_size=1, max_size=max_size)
    return st.one_of(plain, plain, odd, st.sampled_from(TRICKY_NAMES))


@functools.lru_cache(maxsize=4096)
def maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """``None`` or a value (cached: building strategies afresh on every draw is slow)."""
    return st.none() | strategy


@functools.lru_cache(maxsize=4096)
def known_or_new(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of the ``known`` names (for a reference that resolves), or any other name."""
    return st.sampled_from(known) | names() if known else names()


@functools.cache
def line_text(max_size: int) -> st.SearchStrategy[str]:
    """Text for a ``LINE`` value: the rest of the line, kept verbatim but stripped."""
    chars = string.ascii_letters + string.digits + string.punctuation + " "
    return st.text(st.sampled_from(chars), min_size=1, max_size=max_size).filter(
        lambda s: s.strip() == s and s != ""
    )


@functools.cache
def ipv4() -> st.SearchStrategy[str]:
    return st.integers(0, 2**32 - 1).map(ipv4_text)


@functools.cache
def ipv6() -> st.SearchStrategy[str]:
    """IPv6 text in the RFC 5952 form the commands store (D113)."""
    return st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v)))


@functools.cache
@st.composite
def networks6(draw: st.DrawFn, max_prefix: int = 128) -> tuple[str, str]:
    """An IPv6 network and its prefix length as text (no bits past the prefix)."""
    prefix = draw(st.integers(0, max_prefix))
    host_bits = (1 << (128 - prefix)) - 1
    address = draw(st.integers(0, 2**128 - 1)) & ~host_bits
    return str(ipaddress.IPv6Address(address)), str(prefix)


def _mask_int(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


@functools.cache
@st.composite
def networks(draw: st.DrawFn, min_prefix: int = 0, max_prefix: int = 32) -> tuple[str, str]:
    """An address/mask pair that pairs (no host bits outside a contiguous mask)."""
    prefix = draw(st.integers(min_prefix, max_prefix))
    address = draw(st.integers(0, 2**32 - 1)) & _mask_int(prefix)
    return ipv4_text(address), PREFIX_MASK[prefix]


def unique_by(
    elements: st.SearchStrategy[T], key: Callable[[T], object], max_size: int, min_size: int = 0
) -> st.SearchStrategy[list[T]]:
    return st.lists(elements, min_size=min_size, max_size=max_size, unique_by=key)


@functools.cache
def ordered_subset(order: Sequence[T], min_size: int = 1) -> st.SearchStrategy[list[T]]:
    """A non-repeating subset kept in ``order`` (the models' strength order)."""
    return st.lists(st.sampled_from(list(order)), min_size=min_size, unique=True).map(
        lambda chosen: [v for v in order if v in chosen]
    )


# --------------------------------------------------------------------------- system


_LABEL = string.ascii_letters + string.digits + "-"


@functools.cache
def _label(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(_LABEL), min_size=1, max_size=max_size)


hostnames = _label(63).filter(lambda s: s[0].isalnum() and s[-1].isalnum())
domain_names = (
    st.lists(_label(10), min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 63)
)

# --------------------------------------------------------------------------- interfaces

_HARDWARE_CHARS = string.ascii_letters + string.digits + "/._:-"
hardware_names = st.tuples(
    st.sampled_from(string.ascii_letters),
    st.text(st.sampled_from(_HARDWARE_CHARS), max_size=14),
).map("".join)


@functools.cache
@st.composite
def interface_addresses(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """``ip address A M [standby S]``: no network/broadcast address for /0-/30."""
    prefix = draw(st.integers(0, 32))
    mask_int = _mask_int(prefix)
    host_bits = ~mask_int & 0xFFFFFFFF
    network = draw(st.integers(0, 2**32 - 1)) & mask_int
    # /0-/30: neither the network nor the broadcast address
    low, high = (1, host_bits - 1) if prefix <= 30 else (0, host_bits)
    host = draw(st.integers(low, high))
    address = network | host
    standby = None
    if prefix < 32 and draw(st.booleans()):
        other = draw(st.integers(0, host_bits).filter(lambda h: h != host))
        standby = ipv4_text(network | other)
    return ipv4_text(address), PREFIX_MASK[prefix], standby


@functools.cache
@st.composite
def interface_ipv6_addresses(draw: st.DrawFn) -> tuple[str, int, str | None]:
    """``ipv6 address X:X::X/LEN [standby S]`` (D114): a global unicast address (2000::/3
    here), /1-/128, not the subnet-router anycast address of a /1-/126; a standby in the
    same prefix, neither unspecified, loopback, multicast, link-local nor IPv4-mapped."""
    prefix = draw(st.integers(1, 128))
    host_bits = (1 << (128 - prefix)) - 1

    def fits(value: int) -> bool:
        address = ipaddress.IPv6Address(value)
        not_unicast = (
            address.is_link_local
            or address.is_multicast
            or address.is_unspecified
            or address.is_loopback
            or address.ipv4_mapped is not None
        )
        return not not_unicast and (prefix > 126 or value & host_bits != 0)

    global_unicast = st.integers(0x2000 << 112, (0x4000 << 112) - 1)
    address = draw(global_unicast.filter(fits))
    standby = None
    if prefix < 128 and draw(st.booleans()):
        network = address & ~host_bits
        other = draw(st.integers(0, host_bits).map(lambda h: network | h).filter(fits))
        if other != address:
            standby = str(ipaddress.IPv6Address(other))
    return str(ipaddress.IPv6Address(address)), prefix, standby


@st.composite
def interfaces(draw: st.DrawFn, nameifs: list[str]) -> dict[str, Interface]:
    hardware = draw(st.lists(hardware_names, max_size=len(nameifs) + 1, unique=True))
    out: dict[str, Interface] = {}
    free = list(nameifs)  # each nameif on at most one interface
    for hw in hardware:
        use = bool(free) and draw(st.booleans())
        nameif = free.pop(0) if use else None
        address = draw(maybe(interface_addresses()))
        out[hw] = Interface(
            hw,
            nameif=nameif,
            security_level=draw(maybe(st.integers(0, 100))),
            ip_address=address[0] if address else None,
            netmask=address[1] if address else None,
            standby_address=address[2] if address else None,
            shutdown=draw(st.booleans()),
            description=draw(maybe(line_text(40))),
        )
        address6 = draw(maybe(interface_ipv6_addresses()))
        if address6 is not None:
            iface = out[hw]
            iface.ipv6_address, iface.ipv6_prefix_length, iface.ipv6_standby_address = address6
        out[hw].ipv6_enable = draw(st.booleans())
    return out


@st.composite
def routes(draw: st.DrawFn, nameifs: list[str]) -> list[Route]:
    def one(ifname: str, net: tuple[str, str], gateway: str, distance: int) -> Route:
        return Route(ifname, net[0], net[1], gateway, distance)

    ifnames = st.sampled_from(tuple(nameifs)) if nameifs else names(tricky=False)
    route = st.builds(one, ifnames, networks(), ipv4(), st.integers(1, 255))
    # one route per path (interface, network, mask, gateway): a repeat replaces the distance
    return draw(unique_by(route, lambda r: (r.interface, r.network, r.mask, r.gateway), max_size=3))


@functools.cache
def ipv6_next_hops() -> st.SearchStrategy[str]:
    """An ``ipv6 route`` gateway: any unicast address, link-local ones included."""
    return ipv6().filter(
        lambda a: (
            not (
                ipaddress.IPv6Address(a).is_multicast
                or ipaddress.IPv6Address(a).is_unspecified
                or ipaddress.IPv6Address(a).is_loopback
            )
        )
    )


@st.composite
def ipv6_routes(draw: st.DrawFn, nameifs: list[str]) -> list[Ipv6Route]:
    def one(ifname: str, net: tuple[str, str], gateway: str, distance: int) -> Ipv6Route:
        return Ipv6Route(ifname, net[0], int(net[1]), gateway, distance)

    ifnames = st.sampled_from(tuple(nameifs)) if nameifs else names(tricky=False)
    route = st.builds(one, ifnames, networks6(), ipv6_next_hops(), st.integers(1, 254))
    # one route per path: a repeat replaces the distance
    return draw(
        unique_by(route, lambda r: (r.interface, r.network, r.prefix_length, r.gateway), max_size=3)
    )


# --------------------------------------------------------------------------- objects


@st.composite
def network_objects(draw: st.DrawFn, names_: list[str]) -> dict[str, NetworkObject]:
    out: dict[str, NetworkObject] = {}
    for name in names_:
        kind = draw(st.sampled_from((None, "host", "subnet", "range", "fqdn")))
        six = draw(st.booleans())  # IPv6 host, subnet X:X::X/LEN or range (D113)
        value: str | None = None
        value2: str | None = None
        if kind == "host":
            value = draw(ipv6() if six else ipv4())
        elif kind == "subnet":  # the object keeps a /32 (/128) as a subnet
            value, value2 = draw(networks6() if six else networks())
        elif kind == "range":
            top = 2**128 - 1 if six else 2**32 - 1
            a, b = sorted(draw(st.lists(st.integers(0, top), min_size=2, max_size=2)))
            if six:
                value, value2 = str(ipaddress.IPv6Address(a)), str(ipaddress.IPv6Address(b))
            else:
                value, value2 = ipv4_text(a), ipv4_text(b)
        elif kind == "fqdn":
            value = draw(
                st.one_of(
                    st.text(
                        st.sampled_from(string.ascii_letters + string.digits + "-."),
                        min_size=1,
                        max_size=20,
                    ),
                    st.sampled_from(("v4", "v6", "fqdn")),
                )
            )
            value2 = draw(st.sampled_from((None, "v4", "v6")))
        description = draw(maybe(line_text(30)))
        out[name] = NetworkObject(name, kind, value, value2, description)
    return out


@st.composite
def group_members(draw: st.DrawFn, objects: list[str], nestable: list[str]) -> GroupMember:
    choices = ["host", "subnet", "host6", "subnet6"]
    if objects:
        choices.append("object")
    if nestable:
        choices.append("group")
    kind = draw(st.sampled_from(choices))
    if kind == "host":
        return GroupMember("host", address=draw(ipv4()))
    if kind == "host6":
        return GroupMember("host", address=draw(ipv6()))
    if kind == "subnet":  # a /32 member is stored as a host
        address, mask = draw(networks(max_prefix=31))
        return GroupMember("subnet", address=address, mask=mask)
    if kind == "subnet6":  # a /128 member is stored as a host
        address, mask = draw(networks6(max_prefix=127))
        return GroupMember("subnet", address=address, mask=mask)
    if kind == "object":
        return GroupMember("object", name=draw(st.sampled_from(tuple(objects))))
    return GroupMember("group", name=draw(st.sampled_from(tuple(nestable))))


@st.composite
def network_object_groups(
    draw: st.DrawFn, names_: list[str], objects: list[str]
) -> dict[str, NetworkObjectGroup]:
    out: dict[str, NetworkObjectGroup] = {}
    # No cycles: a group nests only groups of lower rank, whatever their creation order
    # (``group-object`` can name a group created later; the renderer puts it first).
    ranks = draw(st.permutations(names_)) if names_ else []
    for name in names_:
        lower = ranks[: ranks.index(name)]
        members = draw(
            unique_by(
                group_members(objects, lower),
                lambda m: (m.kind, m.address, m.mask, m.name),
                max_size=4,
            )
        )
        out[name] = NetworkObjectGroup(name, members, draw(maybe(line_text(30))))
    return out


# --------------------------------------------------------------------------- access lists

_PROTOCOL_NAMES = sorted(set(ports.PROTOCOL_NAMES.values()))
protocols = st.one_of(
    st.sampled_from(_PROTOCOL_NAMES),
    st.sampled_from(("tcp", "udp", "icmp", "ip")),
    st.integers(0, 255).filter(lambda n: n not in ports.PROTOCOL_NAMES).map(str),
)


_FAMILY_KINDS = {4: ("any4", "host", "subnet"), 6: ("any6", "host6", "subnet6")}


def address_family(spec: AddressSpec) -> int | None:
    """4 or 6 when the ACE text says which, else None (the rule that refuses mixing, D113)."""
    if spec.kind in ("host", "subnet") and spec.address is not None:
        return 6 if ":" in spec.address else 4
    return {"any4": 4, "any6": 6}.get(spec.kind)


@st.composite
def address_specs(
    draw: st.DrawFn,
    objects: list[str],
    groups: list[str],
    nameifs: list[str],
    family: int | None = None,
) -> AddressSpec:
    """An ACE side; with ``family`` none of the other family (an ACE is IPv4 or IPv6)."""
    choices = ["any", "any4", "any6", "host", "subnet", "host6", "subnet6", "interface"]
    if family is not None:
        choices = [c for c in choices if c not in _FAMILY_KINDS[10 - family]]
    if objects:
        choices.append("object")
    if groups:
        choices.append("object-group")
    kind = draw(st.sampled_from(choices))
    if kind in ("any", "any4", "any6"):
        return AddressSpec(kind)
    if kind == "host":
        return AddressSpec("host", draw(ipv4()))
    if kind == "host6":
        return AddressSpec("host", draw(ipv6()))
    if kind == "subnet":  # ``A 255.255.255.255`` is stored (and shown) as ``host A``
        address, mask = draw(networks(max_prefix=31))
        return AddressSpec("subnet", address, mask)
    if kind == "subnet6":  # ``X:X::X/128`` is stored (and shown) as ``host X:X::X``
        address, mask = draw(networks6(max_prefix=127))
        return AddressSpec("subnet", address, mask)
    if kind == "object":
        return AddressSpec("object", name=draw(st.sampled_from(tuple(objects))))
    if kind == "object-group":
        return AddressSpec("object-group", name=draw(st.sampled_from(tuple(groups))))
    ifname = draw(st.sampled_from(tuple(nameifs)) if nameifs else names())
    return AddressSpec("interface", name=ifname)


@functools.cache
@st.composite
def port_specs(draw: st.DrawFn) -> PortSpec:
    op = draw(st.sampled_from(("eq", "neq", "lt", "gt", "range")))
    # numbers, including those the ASA prints by name (80 -> www, 500 -> isakmp)
    port = st.one_of(
        st.integers(0, 65535),
        st.sampled_from((0, 22, 53, 80, 443, 500, 514, 65535)),
    )
    low = draw(port)
    if op != "range":
        return PortSpec(op, low)
    high = draw(port.filter(lambda p: p >= low))
    return PortSpec("range", low, high)


_ICMP_TYPES = st.one_of(
    st.sampled_from(sorted(ports.ICMP_TYPES)),
    st.integers(0, 255).filter(lambda n: n not in ports.ICMP_NAMES).map(str),
)
_LOG_LEVELS = [
    level for level in (*ports.LOG_LEVELS, "disable", "default") if level != "informational"
]


@st.composite
def extended_aces(
    draw: st.DrawFn, objects: list[str], groups: list[str], nameifs: list[str]
) -> Ace:
    protocol = draw(protocols)
    source = draw(address_specs(objects, groups, nameifs))
    destination = draw(address_specs(objects, groups, nameifs, address_family(source)))
    source_port = destination_port = None
    icmp_type: str | None = None
    icmp_code: int | None = None
    if protocol in ports.PORT_PROTOCOLS:  # ports only for tcp and udp
        source_port = draw(maybe(port_specs()))
        destination_port = draw(maybe(port_specs()))
    if protocol in ("icmp", "icmp6"):  # ICMP types only for icmp
        icmp_type = draw(maybe(_ICMP_TYPES))
        if icmp_type is not None:
            icmp_code = draw(maybe(st.integers(0, 255)))
    log = draw(st.booleans())
    level: str | None = None
    interval: int | None = None
    if log:  # informational and 300 s are the defaults and are not kept
        level = draw(maybe(st.sampled_from(_LOG_LEVELS)))
        interval = draw(maybe(st.integers(1, 600).filter(lambda n: n != 300)))
    return Ace(
        draw(st.sampled_from(("permit", "deny"))),
        protocol,
        source,
        destination,
        source_port,
        destination_port,
        icmp_type,
        log,
        draw(st.booleans()),
        icmp_code,
        level,
        interval,
        draw(maybe(names())),
    )


@functools.cache
@st.composite
def standard_aces(draw: st.DrawFn) -> Ace:
    kind = draw(st.sampled_from(("any", "any4", "host", "subnet")))
    if kind == "host":
        source = AddressSpec("host", draw(ipv4()))
    elif kind == "subnet":
        address, mask = draw(networks(max_prefix=31))
        source = AddressSpec("subnet", address, mask)
    else:
        source = AddressSpec(kind)
    return Ace(
        draw(st.sampled_from(("permit", "deny"))),
        "ip",
        source,
    )


remarks = st.builds(Remark, line_text(100))


@st.composite
def access_lists(
    draw: st.DrawFn, names_: list[str], objects: list[str], groups: list[str], nameifs: list[str]
) -> dict[str, AccessList]:
    out: dict[str, AccessList] = {}
    for name in names_:
        kind = draw(st.sampled_from(("extended", "extended", "standard")))
        ace = standard_aces() if kind == "standard" else extended_aces(objects, groups, nameifs)
        aces = draw(st.lists(ace, min_size=1 if kind == "standard" else 0, max_size=4, unique=True))
        entries: list[Ace | Remark] = list(aces)
        # remarks anywhere (repeats allowed); an ACL has at least one line
        for _ in range(draw(st.integers(0 if entries else 1, 2))):
            entries.insert(draw(st.integers(0, len(entries))), draw(remarks))
        out[name] = AccessList(name, kind, entries)
    return out


@st.composite
def access_groups(draw: st.DrawFn, acls: list[str], nameifs: list[str]) -> list[AccessGroup]:
    acl = st.sampled_from(tuple(acls)) if acls else names()
    ifname = st.sampled_from(tuple(nameifs)) if nameifs else names()
    group = st.builds(
        AccessGroup,
        acl,
        st.sampled_from(("in", "out")),
        ifname,
    )
    # one binding per interface and direction
    return draw(unique_by(group, lambda g: (g.interface, g.direction), max_size=3))


# --------------------------------------------------------------------------- aaa

aaa = st.dictionaries(
    st.tuples(
        st.sampled_from(("authentication", "authorization")),
        st.sampled_from(("http", "ssh", "telnet", "serial", "enable")),
    ),
    names(),
    max_size=3,
)

# --------------------------------------------------------------------------- isakmp


@st.composite
def isakmp_settings(draw: st.DrawFn, nameifs: list[str]) -> IsakmpSettings:
    ifname = st.sampled_from(tuple(nameifs)) if nameifs else names()
    identity = draw(st.sampled_from(("address", "hostname", "key-id", "auto")))
    nat_traversal = draw(st.booleans())
    over_tcp = draw(st.booleans())
    fragmentation = draw(st.booleans())
    return IsakmpSettings(
        ikev1_enabled=draw(st.lists(ifname, max_size=2, unique=True)),
        ikev2_enabled=draw(st.lists(ifname, max_size=2, unique=True)),
        ikev1_am_disable=draw(st.booleans()),
        identity=identity,
        identity_key_id=draw(names()) if identity == "key-id" else None,
        ikev2_notify_invalid_selectors=draw(st.booleans()),
        ikev2_fragmentation=fragmentation,
        # ``no crypto ikev2 fragmentation`` resets the MTU and the method
        ikev2_fragmentation_mtu=draw(maybe(st.integers(68, 1500))) if fragmentation else None,
        ikev2_fragmentation_method=(
            draw(st.sampled_from(("ietf", "cisco"))) if fragmentation else "ietf"
        ),
        nat_traversal=nat_traversal,
        # ``no crypto isakmp nat-traversal`` resets the keepalive
        nat_keepalive_seconds=draw(st.integers(10, 3600)) if nat_traversal else 20,
        ipsec_over_tcp=over_tcp,
        # up to 10 distinct ports; ``no crypto ikev1 ipsec-over-tcp`` resets them
        ipsec_over_tcp_ports=(
            draw(st.lists(st.integers(1, 65535), min_size=1, max_size=10, unique=True))
            if over_tcp
            else [10000]
        ),
        reload_wait=draw(st.booleans()),
        disconnect_notify=draw(st.booleans()),
    )


lifetimes = st.one_of(
    st.integers(120, 2147483647),
    st.sampled_from((120, 86400, 2147483647)),
)

ikev1_policies = st.builds(
    Ikev1Policy,
    st.integers(1, 65535),
    st.sampled_from(kw.IKEV1_AUTHENTICATION),
    st.sampled_from(kw.IKEV1_ENCRYPTION),
    st.sampled_from(kw.IKEV1_HASH),
    st.sampled_from(kw.IKEV1_GROUPS),
    lifetimes,
)


@functools.cache
@st.composite
def ikev2_policies(draw: st.DrawFn) -> Ikev2Policy:
    encryption = draw(ordered_subset(kw.IKEV2_ENCRYPTION))
    integrity = draw(ordered_subset(kw.IKEV2_INTEGRITY))
    if integrity == ["null"] and not set(encryption) <= kw.IKEV2_AEAD:
        integrity = ["sha"]  # integrity null only beside AES-GCM alone
    return Ikev2Policy(
        draw(st.integers(1, 65535)),
        encryption,
        integrity,
        draw(ordered_subset(kw.IKEV2_PRF)),
        draw(ordered_subset(kw.IKEV2_GROUPS)),
        draw(lifetimes),
    )


def _priority(policy: Ikev1Policy | Ikev2Policy) -> int:
    return policy.priority


def _by_priority(policies: list[T], key: Callable[[T], int]) -> dict[int, T]:
    """At most 20 policies, kept sorted by priority as the commands keep them."""
    return dict(sorted((key(p), p) for p in policies))


# --------------------------------------------------------------------------- ipsec


@functools.cache
@st.composite
def transform_sets(draw: st.DrawFn) -> TransformSet:
    encryption = draw(st.sampled_from(kw.ESP_V1_ENCRYPTION))
    integrity_choices: list[str | None] = [None, *kw.ESP_V1_INTEGRITY]
    if encryption == "esp-null":  # esp-null needs a real authentication
        integrity_choices = ["esp-md5-hmac", "esp-sha-hmac"]
    return TransformSet(
        draw(names()),
        encryption,
        draw(st.sampled_from(integrity_choices)),
        draw(st.sampled_from(("tunnel", "transport"))),
    )


@functools.cache
@st.composite
def ipsec_proposals(draw: st.DrawFn) -> IpsecProposal:
    name = draw(names())
    encryption = draw(ordered_subset(kw.ESP_V2_ENCRYPTION, min_size=0))
    integrity = draw(ordered_subset(kw.ESP_V2_INTEGRITY, min_size=0))
    if encryption and set(encryption) <= kw.ESP_V2_AEAD:
        # AES-GCM/GMAC alone: integrity null or nothing
        integrity = [i for i in integrity if i == "null"]
    elif encryption and integrity == ["null"]:
        integrity = ["sha-256"]  # integrity null only with AES-GCM/GMAC alone
    return IpsecProposal(name, encryption, integrity)


@st.composite
def ipsec_settings(draw: st.DrawFn, nameifs: list[str]) -> IpsecSettings:
    ifname = st.sampled_from(tuple(nameifs)) if nameifs else names()
    sets = draw(unique_by(transform_sets(), lambda t: t.name, max_size=3))
    proposals = draw(unique_by(ipsec_proposals(), lambda p: p.name, max_size=3))
    return IpsecSettings(
        transform_sets={t.name: t for t in sets},
        proposals={p.name: p for p in proposals},
        lifetime_seconds=draw(st.integers(120, 2147483647)),
        lifetime_kilobytes=draw(st.integers(10, 2147483647) | st.just("unlimited")),
        pmtu_aging_minutes=draw(maybe(st.integers(10, 30))),
        fragmentation=draw(st.sampled_from(("before-encryption", "after-encryption"))),
        fragmentation_interfaces=draw(
            st.dictionaries(
                ifname,
                st.sampled_from(("before-encryption", "after-encryption")),
                max_size=2,
            )
        ),
        inner_routing_lookup=draw(st.booleans()),
    )


# --------------------------------------------------------------------------- crypto maps

_HOSTNAME_PEERS = (
    st.lists(_label(8), min_size=1, max_size=3)
    .map(".".join)
    .filter(
        lambda s: (
            s[0].isalnum()
            and all(label[0].isalnum() and label[-1].isalnum() for label in s.split("."))
            and not s.replace(".", "").isdigit()
        )
    )
)
peers = st.one_of(
    ipv4(),
    _HOSTNAME_PEERS.map(lambda s: s + "."),  # a fully qualified name with its root dot
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    _HOSTNAME_PEERS,
)


_TFC_ON = st.booleans()
_TFC = st.builds(
    TfcPackets,
    st.just("auto") | st.integers(1, 16),
    st.just("auto") | st.integers(64, 1024),
    st.just("auto") | st.integers(10, 60),
)


@st.composite
def crypto_map_entries(
    draw: st.DrawFn, seq: int, acls: list[str], sets: list[str], proposals: list[str]
) -> CryptoMapEntry:
    def refs(known: list[str], limit: int) -> list[str]:
        name = known_or_new(tuple(known))
        return draw(st.lists(name, max_size=limit, unique=True))

    ikev1 = refs(sets, crypto_map_cmds.MAX_TRANSFORM_SETS)
    ikev2 = refs(proposals, crypto_map_cmds.MAX_PROPOSALS)
    # set pfs group14/group24 cannot go with IKEv1 transform sets
    refused = kw.PFS_GROUPS_REFUSED_WITH_IKEV1 if ikev1 else ()
    pfs_choices = [g for g in kw.PFS_GROUPS if g not in refused]
    tfc = None
    if ikev2 and draw(_TFC_ON) is True:  # tfc-packets needs an IKEv2 proposal
        tfc = draw(_TFC)
    acl = known_or_new(tuple(acls))
    pfs_group = draw(maybe(st.sampled_from(tuple(pfs_choices))))
    return CryptoMapEntry(
        seq,
        match_address=draw(maybe(acl)),
        peers=draw(st.lists(peers, max_size=crypto_map_cmds.MAX_PEERS, unique=True)),
        ikev1_transform_sets=ikev1,
        ikev2_proposals=ikev2,
        pfs_group=pfs_group,
        pfs_bare=pfs_group == 2 and draw(st.booleans()),  # ``set pfs`` as typed (D19)
        lifetime_seconds=draw(maybe(st.integers(120, 2147483647))),
        lifetime_kilobytes=draw(maybe(st.integers(10, 2147483647) | st.just("unlimited"))),
        reverse_route=draw(st.sampled_from((None, "static", "dynamic"))),
        ikev2_mode=draw(st.sampled_from(crypto_map_cmds.IKEV2_MODES)),
        validate_icmp_errors=draw(st.booleans()),
        df_bit=draw(st.sampled_from((None, *crypto_map_cmds.DF_BIT))),
        tfc_packets=tfc,
        nat_t_disable=draw(st.booleans()),
        ikev1_phase1_mode=draw(st.sampled_from(("main", "aggressive"))),
    )


@st.composite
def crypto_map_sets(
    draw: st.DrawFn,
    map_names: list[str],
    acls: list[str],
    sets: list[str],
    proposals: list[str],
    dynamic_names: list[str] | None = None,
) -> dict[str, dict[int, CryptoMapEntry]]:
    """Map sets, entries sorted by sequence number; ``dynamic_names``: static maps may
    have ``ipsec-isakmp dynamic`` entries (which take no other setting)."""
    out: dict[str, dict[int, CryptoMapEntry]] = {}
    for name in map_names:
        seqs = sorted(draw(st.lists(st.integers(1, 65535), min_size=1, max_size=3, unique=True)))
        entries: dict[int, CryptoMapEntry] = {}
        for seq in seqs:
            if dynamic_names is not None and draw(st.integers(0, 3)) == 0:
                # ``ipsec-isakmp dynamic NAME``: not a static map's name
                target = st.sampled_from(tuple(dynamic_names)) if dynamic_names else st.nothing()
                target = target | names().filter(lambda n: n not in map_names)
                entries[seq] = CryptoMapEntry(seq, dynamic_map=draw(target))
            else:
                entries[seq] = draw(crypto_map_entries(seq, acls, sets, proposals))
        out[name] = entries
    return out


# --------------------------------------------------------------------------- pki

_URLS = st.tuples(
    st.sampled_from(("http://", "https://", "HTTP://")),
    st.text(st.sampled_from(string.ascii_letters + string.digits + "./:-"), max_size=20),
).map("".join)


_CRL_INDEXES = st.integers(1, pki_cmds.MAX_CRL_URLS)
_CRL_URLS = st.tuples(
    st.sampled_from(("http://", "https://", "HTTPS://", "file:///", "/")),
    st.text(
        st.sampled_from(string.ascii_letters + string.digits + "./:-_%"), min_size=1, max_size=20
    ),
).map("".join)


@st.composite
def trustpoints(draw: st.DrawFn, name: str) -> Trustpoint:
    enrollment = draw(st.sampled_from((None, "terminal", "self", "url")))
    methods = draw(
        st.lists(
            st.sampled_from(("crl", "ocsp")),
            unique=True,
            max_size=2,
        )
    )
    if draw(st.booleans()):
        methods.append("none")  # ``none`` only last
    return Trustpoint(
        name,
        enrollment=enrollment,
        enrollment_url=draw(_URLS) if enrollment == "url" else None,
        keypair=draw(maybe(names())),
        subject_name=draw(maybe(line_text(40))),
        fqdn=draw(maybe(names())),
        revocation_check=methods,
        crl_policy=draw(st.sampled_from(pki_cmds.CRL_POLICIES)),
        crl_urls=dict(sorted(draw(st.dictionaries(_CRL_INDEXES, _CRL_URLS, max_size=3)).items())),
    )


@functools.cache
@st.composite
def certificate_matches(draw: st.DrawFn) -> CertificateMatch:
    rule = CertificateMatch(
        draw(st.sampled_from(pki_cmds.MATCH_FIELDS)),
        draw(maybe(st.sampled_from(pki_cmds.DN_ATTRIBUTES))),
        draw(st.sampled_from(pki_cmds.MATCH_OPERATORS)),
        draw(line_text(40)),
    )
    return rule


@st.composite
def certificate_maps(
    draw: st.DrawFn, map_names: list[str]
) -> dict[str, dict[int, list[CertificateMatch]]]:
    out: dict[str, dict[int, list[CertificateMatch]]] = {}
    for name in map_names:
        seqs = sorted(draw(st.lists(st.integers(1, 65535), min_size=1, max_size=2, unique=True)))
        # rules are deduplicated
        out[name] = {
            seq: draw(st.lists(certificate_matches(), max_size=3, unique_by=pki_cmds.rule_text))
            for seq in seqs
        }
    return out


# --------------------------------------------------------------------------- tunnel groups


@functools.cache
def _hex_secrets() -> st.SearchStrategy[Secret]:
    return st.binary(min_size=1, max_size=16).map(lambda b: Secret(b.hex(), "hex"))


@functools.cache
def _plain_secrets() -> st.SearchStrategy[Secret]:
    chars = string.ascii_letters + string.digits + string.punctuation
    return st.one_of(
        st.text(st.sampled_from(chars), min_size=1, max_size=tunnel_group_cmds.MAX_KEY),
        st.sampled_from(("0", "8", "hex", "he", "certificate", "0x12")),
    ).map(Secret)


@functools.cache
def _encrypted_secrets() -> st.SearchStrategy[Secret]:
    chars = string.ascii_letters + string.digits + "+/="
    return st.text(st.sampled_from(chars), min_size=1, max_size=40).map(lambda v: Secret(v, "8"))


ikev2_secrets = st.one_of(_plain_secrets(), _hex_secrets(), _encrypted_secrets())


@st.composite
def ipsec_attributes(draw: st.DrawFn, trustpoint_names: list[str]) -> IpsecAttributes:
    trustpoint = known_or_new(tuple(trustpoint_names))
    local = draw(st.sampled_from(("none", "psk", "certificate")))  # one local method
    keepalive = draw(
        st.one_of(
            st.just(Keepalive()),
            st.just(Keepalive(enabled=False)),
            st.builds(Keepalive, st.just(True), st.integers(10, 3600), st.integers(2, 10)),
        )
    )
    return IpsecAttributes(
        ikev1_pre_shared_key=draw(maybe(_plain_secrets())),  # IKEv1 keys are plain
        ikev1_trust_point=draw(maybe(trustpoint)),
        ikev2_local_pre_shared_key=draw(ikev2_secrets) if local == "psk" else None,
        ikev2_local_certificate=draw(trustpoint) if local == "certificate" else None,
        ikev2_remote_pre_shared_key=draw(maybe(ikev2_secrets)),
        ikev2_remote_certificate=draw(st.booleans()),
        peer_id_validate=draw(st.sampled_from(tunnel_group_cmds.PEER_ID_VALIDATE)),
        keepalive=keepalive,
    )


def _canonical_ip(name: str) -> bool:
    """A name that is an IP address is kept in its canonical spelling."""
    try:
        return str(ipaddress.ip_address(name)) == name
    except ValueError:
        return True


tunnel_group_names = st.one_of(
    names().filter(_canonical_ip),
    ipv4(),
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    st.sampled_from(sorted(tunnel_group_cmds.BUILTIN_GROUPS)),
)


@st.composite
def tunnel_groups(draw: st.DrawFn, trustpoint_names: list[str]) -> dict[str, TunnelGroup]:
    group_names = draw(st.lists(tunnel_group_names, max_size=3, unique=True))
    out: dict[str, TunnelGroup] = {}
    for name in group_names:
        builtin = tunnel_group_cmds.BUILTIN_GROUPS.get(name)
        kind = builtin or draw(st.sampled_from(tunnel_group_cmds.TYPES))
        out[name] = TunnelGroup(
            name,
            kind,
            default_group_policy=draw(maybe(names())),
            ipsec=draw(ipsec_attributes(trustpoint_names)),
        )
    return out


@st.composite
def tunnel_group_maps(
    draw: st.DrawFn, groups: list[str], cert_maps: dict[str, dict[int, list[CertificateMatch]]]
) -> TunnelGroupMap:
    # configured groups and the built-in ones exist
    known = sorted({*groups, *tunnel_group_cmds.BUILTIN_GROUPS})
    enabled = draw(ordered_subset(tunnel_group_cmds.MAP_POLICIES, min_size=0))
    default_group = draw(maybe(st.sampled_from(tuple(known))))
    index = draw(maybe(st.integers(1, 65535))) if default_group is not None else None
    map_keys = [(name, seq) for name, entries in cert_maps.items() for seq in entries]
    key = (
        st.sampled_from(tuple(map_keys)) | st.tuples(names(), st.integers(1, 65535))
        if map_keys
        else (st.tuples(names(), st.integers(1, 65535)))
    )
    rules = draw(st.dictionaries(key, st.sampled_from(tuple(known)), max_size=3))
    return TunnelGroupMap(enabled, default_group, index, rules)


# --------------------------------------------------------------------------- the whole


@st.composite
def logging_settings(draw: st.DrawFn, nameifs: list[str]) -> LoggingSettings:
    """``logging …``: levels, facility, UDP/TCP hosts (one per interface and address)."""
    levels = maybe(st.integers(0, 7))
    udp = st.one_of(st.just(514), st.integers(1025, 65535))
    tcp = st.one_of(st.just(1470), st.integers(1025, 65535))
    transport = st.one_of(st.tuples(st.just("udp"), udp), st.tuples(st.just("tcp"), tcp))
    hosts = draw(
        st.lists(
            st.builds(
                lambda i, a, t: LoggingHost(i, a, *t),
                known_or_new(tuple(nameifs)),
                ipv4(),
                transport,
            ),
            max_size=3,
            unique_by=lambda h: (h.interface, h.address),
        )
    )
    ids = st.integers(100000, 999999)
    return LoggingSettings(
        enabled=draw(st.booleans()),
        timestamp=draw(st.booleans()),
        console=draw(levels),
        buffered=draw(levels),
        trap=draw(levels),
        facility=draw(st.integers(16, 23)),
        device_id_hostname=draw(st.booleans()),
        hosts=hosts,
        disabled_messages=draw(st.sets(ids, max_size=3)),
        message_levels=draw(st.dictionaries(ids, st.integers(0, 7), max_size=3)),
    )


@st.composite
def running_configs(draw: st.DrawFn) -> RunningConfig:
    """A valid, canonical configuration touching every family (each may be empty)."""
    nameifs = draw(st.lists(names(max_size=10), max_size=3, unique=True))

    # objects and groups share one namespace
    object_names = draw(st.lists(names(), max_size=3, unique=True))
    group_names = draw(
        st.lists(names().filter(lambda n: n not in object_names), max_size=3, unique=True)
    )
    objects = draw(network_objects(object_names))
    groups = draw(network_object_groups(group_names, object_names))
    acls = draw(
        access_lists(
            draw(st.lists(names(), max_size=3, unique=True)), object_names, group_names, nameifs
        )
    )

    isakmp = draw(isakmp_settings(nameifs))
    # up to the limit of 20 policies per version
    v1 = draw(st.lists(ikev1_policies, max_size=isakmp_cmds.MAX_POLICIES, unique_by=_priority))
    v2 = draw(st.lists(ikev2_policies(), max_size=isakmp_cmds.MAX_POLICIES, unique_by=_priority))
    ipsec = draw(ipsec_settings(nameifs))

    # static and dynamic map names are disjoint
    dynamic_names = draw(st.lists(names(), max_size=2, unique=True))
    static_names = draw(
        st.lists(names().filter(lambda n: n not in dynamic_names), max_size=2, unique=True)
    )
    acl_names = list(acls)
    set_names = list(ipsec.transform_sets)
    proposal_names = list(ipsec.proposals)
    dynamic_maps = draw(crypto_map_sets(dynamic_names, acl_names, set_names, proposal_names))
    crypto_maps = draw(
        crypto_map_sets(static_names, acl_names, set_names, proposal_names, dynamic_names)
    )
    bindings: dict[str, str] = {}
    if static_names:
        ifname = known_or_new(tuple(nameifs))
        bindings = draw(st.dictionaries(ifname, st.sampled_from(tuple(static_names)), max_size=2))

    trustpoint_names = draw(st.lists(names(), max_size=2, unique=True))
    cert_maps = draw(certificate_maps(draw(st.lists(names(), max_size=2, unique=True))))
    groups_ = draw(tunnel_groups(trustpoint_names))

    return RunningConfig(
        hostname=draw(hostnames),
        domain_name=draw(maybe(domain_names)),
        interfaces=draw(interfaces(nameifs)),
        routes=draw(routes(nameifs)),
        ipv6_routes=draw(ipv6_routes(nameifs)),
        network_objects=objects,
        network_object_groups=groups,
        access_lists=acls,
        access_groups=draw(access_groups(acl_names, nameifs)),
        sysopt_permit_vpn=draw(st.booleans()),
        logging=draw(logging_settings(nameifs)),
        aaa=draw(aaa),
        isakmp=isakmp,
        ikev1_policies=_by_priority(v1, lambda p: p.priority),
        ikev2_policies=_by_priority(v2, lambda p: p.priority),
        ipsec=ipsec,
        crypto_maps=crypto_maps,
        dynamic_maps=dynamic_maps,
        crypto_map_interfaces=bindings,
        trustpoints={n: draw(trustpoints(n)) for n in trustpoint_names},
        trustpool_policy=draw(st.booleans()),
        certificate_maps=cert_maps,
        tunnel_groups=groups_,
        tunnel_group_map=draw(tunnel_group_maps(list(groups_), cert_maps)),
    )
