"""Access lists (``access-list``) and their interface bindings (``access-group``).

The ACE action is on the hot path of loading large configurations (100,000-line
files are mostly ACEs), so it works from precomputed tables and plain dict lookups.
"""

from __future__ import annotations

from typing import Any

from tunnelgate.config import consequences, grammar, ports
from tunnelgate.config.checks import check
from tunnelgate.config.commands.objects import HOST_MASK, ipv6_prefix, ipv6_text, pair_error
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args, ValueType
from tunnelgate.config.model import (
    AccessGroup,
    AccessList,
    Ace,
    AddressSpec,
    PortSpec,
    Remark,
    RunningConfig,
)
from tunnelgate.config.modes import CONFIG
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()
MAX_NAME = 241
MAX_REMARK = 100
DUPLICATE = "ACE not added (duplicate)"

# --------------------------------------------------------------------------- value types


def _protocol(token: str) -> str:
    """A protocol name or number, as the ASA prints it (``6`` -> ``tcp``)."""
    lowered = token.lower()
    if lowered in ports.PROTOCOLS:
        return ports.PROTOCOL_ALIASES.get(lowered, lowered)
    if token.isdigit() and int(token) <= 255:
        return ports.PROTOCOL_NAMES.get(int(token), str(int(token)))
    raise ValueError(token)


def _port(token: str) -> int | str:
    """A port number (int) or a port name (str, resolved once the protocol is known)."""
    if token.isdigit():
        value = int(token)
        if value > 65535:
            raise ValueError(token)
        return value
    lowered = token.lower()
    if lowered in ports.ALL_PORT_NAMES:
        return lowered
    raise ValueError(token)


def _icmp_type(token: str) -> str:
    lowered = token.lower()
    if lowered in ports.ICMP_TYPES:
        return lowered
    if token.isdigit() and int(token) <= 255:
        return ports.ICMP_NAMES.get(int(token), str(int(token)))
    raise ValueError(token)


grammar.VALUE_TYPES["PROTOCOL"] = ValueType(
    "PROTOCOL", _protocol, "a protocol name (ip, tcp, udp, icmp, esp, ah, gre, …) or <0-255>", 2
)
grammar.VALUE_TYPES["PORT"] = ValueType(
    "PORT", _port, "a port number <0-65535> or name (www, https, ssh, domain, …)", 2
)
grammar.VALUE_TYPES["ICMP_TYPE"] = ValueType(
    "ICMP_TYPE", _icmp_type, "an ICMP type name (echo, echo-reply, …) or <0-255>", 2
)

# --------------------------------------------------------------------------- grammar


def _address(p: str) -> str:
    return (
        f"{{any|any4|any6|host {{A.B.C.D|X:X::X}}${p}_host|A.B.C.D${p}_addr A.B.C.D${p}_mask"
        f"|X:X::X/LEN${p}_prefix"
        f"|object WORD${p}_obj|object-group WORD${p}_grp|interface WORD${p}_if}}${p}"
    )


def _ports(p: str) -> str:
    return f"{{eq|neq|lt|gt}}${p}_op PORT${p}_port|range PORT${p}_lo PORT${p}_hi"


_LOG_LEVELS = "|".join(ports.LOG_LEVELS)
_EXTENDED = (
    f"{{permit|deny}}$action PROTOCOL$proto {_address('src')} [{{{_ports('sp')}}}] "
    f"{_address('dst')} [{{{_ports('dp')}|ICMP_TYPE$icmp_type [<0-255>$icmp_code]}}] "
    f"[log$log [{{<0-7>$log_num|{_LOG_LEVELS}|disable|default}}$log_level] "
    "[interval <1-600>$log_interval]] [time-range WORD$time_range] [inactive$inactive]"
)
_STANDARD = (
    "standard {permit|deny}$action "
    "{any|any4|host A.B.C.D$src_host|A.B.C.D$src_addr A.B.C.D$src_mask}$src"
)
_HEAD = "access-list WORD$name [line <1-2147483647>$line]"
_HELP = {
    "access_list": "Configure an access control list",
    "extended": "An extended ACE",
    "standard": "A standard ACE (destination addresses only)",
    "remark": "A comment line",
    "permit": "Permit matching traffic",
    "deny": "Deny matching traffic",
    "any": "Any address (a crypto ACL: IPv6 when the other side is IPv6, else IPv4)",
    "any4": "Any IPv4 address",
    "any6": "Any IPv6 address",
    "host": "A single host (A.B.C.D or X:X::X)",
    "object": "A network object",
    "object_group": "A network object group",
    "interface": "The address of an interface (by nameif)",
    "eq": "Port equal to",
    "neq": "Port not equal to",
    "lt": "Port lower than",
    "gt": "Port greater than",
    "range": "Port range (inclusive)",
    "log": "Log matches",
    "inactive": "Keep the ACE but do not apply it",
    "line": "Insert at this line number",
}

# --------------------------------------------------------------------------- building ACEs

_ANY = {k: AddressSpec(k) for k in ("any", "any4", "any6")}
_REF_KINDS = {"object": "_obj", "object-group": "_grp", "interface": "_if"}
_SIDES = {
    p: (
        f"{p}_host",
        f"{p}_addr",
        f"{p}_mask",
        {k: p + s for k, s in _REF_KINDS.items()},
        f"{p}_prefix",
    )
    for p in ("src", "dst")
}


# Validated address specs are immutable, so equal ones are shared: large ACLs repeat the
# same networks, and a hit skips both the pairing check and the construction.
_NETWORKS: dict[object, AddressSpec] = {}
_NETWORKS_MAX = 1 << 16


def _remember(key: object, spec: AddressSpec) -> AddressSpec:
    if len(_NETWORKS) >= _NETWORKS_MAX:
        _NETWORKS.clear()
    _NETWORKS[key] = spec
    return spec


def _address_spec(config: RunningConfig, values: dict[str, Any], p: str, refs: bool) -> AddressSpec:
    """The source or destination captured under prefix ``p``; ``refs``: objects must exist."""
    kind = values.get(p)
    host_key, addr_key, mask_key, ref_keys, prefix_key = _SIDES[p]
    if kind is None:
        if prefix_key in values:  # X:X::X/LEN; a /128 is kept as a host, as a /32 is
            network, length = ipv6_prefix(values[prefix_key], prefix_key)
            if length == "128":
                return AddressSpec("host", network)
            return AddressSpec("subnet", network, length)
        address: str = values[addr_key]
        mask: str = values[mask_key]
        key = (address, mask)
        spec = _NETWORKS.get(key)
        if spec is not None:
            return spec
        problem = pair_error(address, mask)
        if problem is not None:
            message, which = problem
            raise CommandError(message, addr_key if which == "address" else mask_key)
        if mask == HOST_MASK:
            spec = AddressSpec("host", address)
        else:
            spec = AddressSpec("subnet", address, mask)
        return _remember(key, spec)
    if kind == "host":
        address = values[host_key]
        spec = _NETWORKS.get(address)
        if spec is not None:
            return spec
        if ":" in address:
            return _remember(address, AddressSpec("host", ipv6_text(address, host_key)))
        return _remember(address, AddressSpec("host", address))
    spec = _ANY.get(kind)
    if spec is not None:
        return spec
    name: str = values[ref_keys[kind]]
    if refs:
        if kind == "object" and name not in config.network_objects:
            raise CommandError(
                f"object network {name} does not exist; create it before using it",
                ref_keys[kind],
            )
        if kind == "object-group" and name not in config.network_object_groups:
            raise CommandError(
                f"object-group network {name} does not exist; create it before using it",
                ref_keys[kind],
            )
    return AddressSpec(kind, name=name)


def _port_number(proto: str, value: int | str, arg: str) -> int:
    if isinstance(value, int):
        return value
    number = ports.PORTS[proto].get(value)
    if number is None:
        raise CommandError(f"'{value}' is not a {proto} port name", arg)
    return number


_PORT_KEYS = {p: (f"{p}_op", f"{p}_port", f"{p}_lo", f"{p}_hi") for p in ("sp", "dp")}


def _port_spec(values: dict[str, Any], proto: str, p: str) -> PortSpec | None:
    op_key, port_key, lo_key, hi_key = _PORT_KEYS[p]
    op = values.get(op_key)
    low_arg = port_key if op is not None else lo_key
    if low_arg not in values:
        return None
    if proto not in ports.PORT_PROTOCOLS:
        raise CommandError(
            f"ports can be given only for tcp or udp, not for protocol {proto}",
            op_key if op is not None else lo_key,
        )
    low = _port_number(proto, values[low_arg], low_arg)
    if op is not None:
        return PortSpec(op, low)
    high = _port_number(proto, values[hi_key], hi_key)
    if low > high:
        raise CommandError(f"range {low} {high}: the low port is above the high port", hi_key)
    return PortSpec("range", low, high)


_FAMILY_OF_KIND = {"any4": 4, "any6": 6}


def _family(spec: AddressSpec) -> int | None:
    """4 or 6 when the text says which (``any4``/``any6``, an address), else None (``any``,
    objects, object-groups and interfaces)."""
    if spec.kind in ("host", "subnet") and spec.address is not None:
        return 6 if ":" in spec.address else 4
    return _FAMILY_OF_KIND.get(spec.kind)


def _side_arg(values: dict[str, Any], p: str) -> str:
    """The argument a caret under side ``p`` points at."""
    host_key, addr_key, _mask, _refs, prefix_key = _SIDES[p]
    return next((k for k in (host_key, addr_key, prefix_key) if k in values), p)


def _check_families(values: dict[str, Any], source: AddressSpec, destination: AddressSpec) -> None:
    """An ACE is IPv4 or IPv6: explicit addresses of both families in one ACE are refused."""
    src, dst = _family(source), _family(destination)
    if src is not None and dst is not None and src != dst:
        raise CommandError(
            f"an ACE cannot mix IPv{src} and IPv{dst}: the source {_address_text(source)} is "
            f"IPv{src}, the destination {_address_text(destination)} is IPv{dst}",
            _side_arg(values, "dst"),
        )


def _extended_ace(config: RunningConfig, args: Args, refs: bool) -> Ace:
    values = args.as_dict()
    proto: str = values["proto"]
    source = _address_spec(config, values, "src", refs)
    destination = _address_spec(config, values, "dst", refs)
    _check_families(values, source, destination)
    source_port = _port_spec(values, proto, "sp")
    destination_port = _port_spec(values, proto, "dp")
    icmp_type: str | None = values.get("icmp_type")
    if icmp_type is not None and proto not in ("icmp", "icmp6"):
        raise CommandError(
            f"an ICMP type can be given only for icmp, not for protocol {proto}", "icmp_type"
        )
    log = "log" in values
    level: str | None = values.get("log_level")
    if "log_num" in values:
        level = ports.LOG_LEVEL_NAMES[values["log_num"]]
    if level == "informational":
        level = None
    interval: int | None = values.get("log_interval")
    if interval == ports.LOG_DEFAULT_INTERVAL_S:
        interval = None
    return Ace(
        values["action"],
        proto,
        source,
        destination,
        source_port,
        destination_port,
        icmp_type,
        log,
        "inactive" in values,
        values.get("icmp_code"),
        level,
        interval,
        values.get("time_range"),
    )


def _standard_ace(config: RunningConfig, args: Args) -> Ace:
    source = _address_spec(config, args.as_dict(), "src", False)
    return Ace(args["action"], "ip", source)


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME:
        raise CommandError(
            f"access-list name is {len(name)} characters long; the maximum is {MAX_NAME}",
            "name",
        )


def _add(ctx: CommandContext, args: Args, ace: Ace, kind: str) -> None:
    name: str = args["name"]
    _check_name(name)
    acl = ctx.config.access_lists.get(name)
    if acl is None:
        ctx.config.access_lists[name] = acl = AccessList(name, kind)
    elif acl.kind != kind:
        if acl.aces:
            raise CommandError(
                f"access-list {name} is {acl.kind}; a {kind} entry cannot be added to it"
            )
        acl.kind = kind
    if not acl.add_ace(ace, args.get("line")):
        ctx.warn(DUPLICATE)


# --------------------------------------------------------------------------- commands


@COMMANDS.command(CONFIG, f"{_HEAD} [extended] {_EXTENDED}", help="Add an extended ACE", **_HELP)
def extended(ctx: CommandContext, args: Args) -> None:
    _add(ctx, args, _extended_ace(ctx.config, args, True), "extended")


@COMMANDS.command(CONFIG, f"{_HEAD} {_STANDARD}", help="Add a standard ACE")
def standard(ctx: CommandContext, args: Args) -> None:
    _add(ctx, args, _standard_ace(ctx.config, args), "standard")


@COMMANDS.command(CONFIG, f"{_HEAD} remark LINE$text", help="Add a remark")
def remark(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    text: str = args["text"]
    _check_name(name)
    if len(text) > MAX_REMARK:
        raise CommandError(
            f"remark is {len(text)} characters long; the maximum is {MAX_REMARK}", "text"
        )
    acl = ctx.config.access_lists.get(name)
    if acl is None:
        ctx.config.access_lists[name] = acl = AccessList(name)
    acl.insert(Remark(text), args.get("line"))


def _acl(ctx: CommandContext, args: Args) -> AccessList:
    name: str = args["name"]
    acl = ctx.config.access_lists.get(name)
    if acl is None:
        raise CommandError(f"access-list {name} does not exist", "name")
    return acl


def _drop_acl(ctx: CommandContext, name: str) -> None:
    """Delete ACL ``name`` and what depended on it (spec: its crypto map entries)."""
    del ctx.config.access_lists[name]
    groups = ctx.config.access_groups
    for group in [g for g in groups if g.acl == name]:
        groups.remove(group)
        ctx.warn(
            f"access-group {name} {group.direction} interface {group.interface} removed: "
            f"access-list {name} no longer exists"
        )
    for message in consequences.acl_removed(ctx.config, name):
        ctx.warn(message)


def _remove_entry(ctx: CommandContext, args: Args, ace: Ace | Remark) -> None:
    acl = _acl(ctx, args)
    entries = acl.entries
    if ace in entries:
        index = entries.index(ace)
    else:
        index = next(
            (
                i
                for i, e in enumerate(entries)
                if isinstance(e, Ace) and isinstance(ace, Ace) and e.same_rule(ace)
            ),
            -1,
        )
        if index < 0:
            raise CommandError(f"access-list {acl.name} has no such entry")
    acl.remove_at(index)
    if not entries:
        _drop_acl(ctx, acl.name)
    elif not acl.aces:
        # Only remarks are left: the list has no type any more (its next ACE sets one), and
        # it reads back as extended, which is what it must then be.
        acl.kind = "extended"


@COMMANDS.command(CONFIG, f"no {_HEAD} [extended] {_EXTENDED}")
def no_extended(ctx: CommandContext, args: Args) -> None:
    _remove_entry(ctx, args, _extended_ace(ctx.config, args, False))


@COMMANDS.command(CONFIG, f"no {_HEAD} {_STANDARD}")
def no_standard(ctx: CommandContext, args: Args) -> None:
    _remove_entry(ctx, args, _standard_ace(ctx.config, args))


@COMMANDS.command(CONFIG, f"no {_HEAD} remark LINE$text")
def no_remark(ctx: CommandContext, args: Args) -> None:
    _remove_entry(ctx, args, Remark(args["text"]))


@COMMANDS.command(CONFIG, "no access-list WORD$name")
def no_access_list(ctx: CommandContext, args: Args) -> None:
    _drop_acl(ctx, _acl(ctx, args).name)


@COMMANDS.command(
    CONFIG,
    "clear configure access-list [WORD$name]",
    clear="Clear configuration",
    configure="Clear configuration",
)
def clear_access_list(ctx: CommandContext, args: Args) -> None:
    names = [_acl(ctx, args).name] if "name" in args else list(ctx.config.access_lists)
    for name in names:
        _drop_acl(ctx, name)


@COMMANDS.command(
    CONFIG,
    "access-group WORD$acl {in|out}$direction interface WORD$ifname",
    help="Bind an access list to an interface",
    access_group="Bind an access list to an interface",
    **{"in": "Inbound traffic", "out": "Outbound traffic"},
)
def access_group(ctx: CommandContext, args: Args) -> None:
    _check_name(args["acl"])
    groups = ctx.config.access_groups
    binding = AccessGroup(args["acl"], args["direction"], args["ifname"])
    for i, group in enumerate(groups):
        if (group.interface, group.direction) == (binding.interface, binding.direction):
            groups[i] = binding
            return
    groups.append(binding)


@COMMANDS.command(CONFIG, "no access-group WORD$acl {in|out}$direction interface WORD$ifname")
def no_access_group(ctx: CommandContext, args: Args) -> None:
    binding = AccessGroup(args["acl"], args["direction"], args["ifname"])
    if binding not in ctx.config.access_groups:
        raise CommandError(
            f"access-list {binding.acl} is not bound {binding.direction} on interface "
            f"{binding.interface}",
            "acl",
        )
    ctx.config.access_groups.remove(binding)


# --------------------------------------------------------------------------- render


def _address_text(spec: AddressSpec) -> str:
    kind = spec.kind
    if kind == "subnet":
        if spec.address is not None and ":" in spec.address:
            return f"{spec.address}/{spec.mask}"
        return f"{spec.address} {spec.mask}"
    if kind == "host":
        return f"host {spec.address}"
    if spec.name is not None:
        return f"{kind} {spec.name}"
    return kind


def _port_text(proto: str, spec: PortSpec) -> str:
    if spec.op == "range":
        return f"range {ports.port_name(proto, spec.low)} {ports.port_name(proto, spec.high or 0)}"
    if spec.op == "object-group":
        return f"object-group {spec.name}"
    return f"{spec.op} {ports.port_name(proto, spec.low)}"


def ace_text(ace: Ace) -> str:
    """An ACE as ``show running-config`` prints it after ``access-list NAME``."""
    if ace.destination is None:
        return f"standard {ace.action} {_address_text(ace.source)}"
    parts = ["extended", ace.action, ace.protocol, _address_text(ace.source)]
    if ace.source_port is not None:
        parts.append(_port_text(ace.protocol, ace.source_port))
    parts.append(_address_text(ace.destination))
    if ace.destination_port is not None:
        parts.append(_port_text(ace.protocol, ace.destination_port))
    if ace.icmp_type is not None:
        parts.append(ace.icmp_type)
        if ace.icmp_code is not None:
            parts.append(str(ace.icmp_code))
    if ace.log:
        parts.append("log")
        if ace.log_level is not None:
            parts.append(ace.log_level)
        if ace.log_interval is not None:
            parts.append(f"interval {ace.log_interval}")
    if ace.time_range is not None:
        parts.append(f"time-range {ace.time_range}")
    if ace.inactive:
        parts.append("inactive")
    return " ".join(parts)


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Every ACL line in order, then the ``access-group`` bindings."""
    blocks: list[Block] = []
    for acl in config.access_lists.values():
        head = f"access-list {acl.name} "
        for entry in acl.entries:
            if isinstance(entry, Remark):
                blocks.append(Block((f"{head}remark {entry.text}",)))
            else:  # a real ASA 9.x ends every entry (not remarks) with a space
                blocks.append(Block((head + ace_text(entry) + " ",)))
    for group in config.access_groups:
        blocks.append(
            Block((f"access-group {group.acl} {group.direction} interface {group.interface}",))
        )
    return blocks


# --------------------------------------------------------------------------- checks


@check
def check_access_groups(config: RunningConfig) -> list[Diagnostic]:
    """``access-group`` naming a missing ACL or an interface name nobody carries."""
    out: list[Diagnostic] = []
    for group in config.access_groups:
        line = f"access-group {group.acl} {group.direction} interface {group.interface}"
        if group.acl not in config.access_lists:
            out.append(
                Diagnostic(Severity.WARNING, f"{line}: access-list {group.acl} does not exist")
            )
        if not config.nameif_exists(group.interface):
            out.append(
                Diagnostic(Severity.WARNING, f"{line}: no interface has 'nameif {group.interface}'")
            )
    return out


@check
def check_ace_interfaces(config: RunningConfig) -> list[Diagnostic]:
    """ACEs naming ``interface IFNAME`` for a name no interface carries."""
    names = {i.nameif for i in config.interfaces.values() if i.nameif is not None}
    out: list[Diagnostic] = []
    for acl in config.access_lists.values():
        for entry in acl.entries:
            if not isinstance(entry, Ace):
                continue
            for spec in (entry.source, entry.destination):
                if spec is not None and spec.kind == "interface" and spec.name not in names:
                    out.append(
                        Diagnostic(
                            Severity.WARNING,
                            f"access-list {acl.name} {ace_text(entry)}: "
                            f"no interface has 'nameif {spec.name}'",
                        )
                    )
    return out


_BOTH = frozenset({4, 6})


def _families(config: RunningConfig, spec: AddressSpec, depth: int = 0) -> frozenset[int]:
    """The address families ``spec`` can denote (D113): objects and groups as they are now,
    ``any`` and FQDN objects both, an interface IPv4."""
    family = _family(spec)
    if family is not None:
        return frozenset({family})
    if spec.kind == "interface":
        return frozenset({4})
    if spec.kind == "object":
        obj = config.network_objects.get(spec.name or "")
        if obj is None or obj.value is None or obj.kind == "fqdn":
            return _BOTH
        return frozenset({6 if ":" in obj.value else 4})
    if spec.kind == "object-group" and depth < 16:
        group = config.network_object_groups.get(spec.name or "")
        if group is None:
            return _BOTH
        out: set[int] = set()
        for member in group.members:
            kind = "object-group" if member.kind == "group" else member.kind
            sub = AddressSpec(kind, member.address, member.mask, member.name)
            out |= _families(config, sub, depth + 1)
        return frozenset(out)
    return _BOTH


@check
def check_ace_families(config: RunningConfig) -> list[Diagnostic]:
    """Extended ACEs whose sides, through objects, share no address family: an ACE is IPv4
    or IPv6 (D113), so such an ACE matches nothing."""
    out: list[Diagnostic] = []
    for acl in config.access_lists.values():
        for entry in acl.entries:
            if not isinstance(entry, Ace) or entry.destination is None:
                continue
            if _family(entry.source) is not None and _family(entry.destination) is not None:
                continue  # both stated: the command has checked them
            source = _families(config, entry.source)
            destination = _families(config, entry.destination)
            if source and destination and not source & destination:
                out.append(
                    Diagnostic(
                        Severity.WARNING,
                        f"access-list {acl.name} {ace_text(entry)}: its source is "
                        f"IPv{min(source)} and its destination IPv{min(destination)}; an ACE "
                        "cannot mix IPv4 and IPv6, so it matches nothing",
                    )
                )
    return out
