"""Network objects (``object network``) and groups (``object-group network``).

This module also owns address handling for the configuration families: IPv4 masks (mask
tables and the address/mask pairing rule, kept as integer arithmetic on precomputed tables
because ACE lines are parsed by the 100,000) and IPv6 text (D113: addresses and prefixes are
kept in their RFC 5952 form, the one ``show running-config`` prints).
"""

from __future__ import annotations

from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import (
    AccessList,
    Ace,
    GroupMember,
    NetworkObject,
    NetworkObjectGroup,
    RunningConfig,
)
from tunnelgate.config.modes import CONFIG, NETWORK_OBJECT, NETWORK_OBJECT_GROUP
from tunnelgate.config.render_types import Block, RenderOptions
from tunnelgate.policy.address import (
    address_int,
    address_text,
    ipv4_int,
    ipv4_text,
    ipv6_int,
    network_range,
    same_family,
)

COMMANDS = CommandTable()
MAX_OBJECT_NAME = 64
MAX_DESCRIPTION = 200

# --------------------------------------------------------------------------- addresses

# Every contiguous mask, as text, with its prefix length.
MASK_PREFIX: dict[str, int] = {
    ipv4_text((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF): n for n in range(33)
}
HOST_MASK = "255.255.255.255"
_HOST_BITS = [(1 << (32 - n)) - 1 for n in range(33)]

PAIR_ERROR = "IP address,mask doesn't pair"


def mask_error(mask: str) -> str | None:
    """Why ``mask`` cannot be a network mask, or None."""
    if mask in MASK_PREFIX:
        return None
    return f"Invalid netmask {mask}: a mask must be contiguous ones, e.g. 255.255.255.0"


def pair_error(address: str, mask: str) -> tuple[str, str] | None:
    """``(message, "mask"|"address")`` when ``address mask`` is not a network, else None.

    The mask must be contiguous and the address must have no bits outside it (the ASA
    refuses ``192.168.3.3 255.255.255.192`` with "IP address,mask doesn't pair").
    """
    prefix = MASK_PREFIX.get(mask)
    if prefix is None:
        return f"Invalid netmask {mask}: a mask must be contiguous ones, e.g. 255.255.255.0", "mask"
    if prefix < 32 and ipv4_int(address) & _HOST_BITS[prefix]:
        return PAIR_ERROR, "address"
    return None


IPV6_TEXT = "an IPv6 address is up to 8 groups of 1-4 hex digits joined by colons, e.g. 2001:db8::1"
PREFIX6_PAIR_ERROR = "IPv6 address,prefix doesn't pair"


def ipv6_text(text: str, arg: str) -> str:
    """``text`` as RFC 5952 IPv6 text; ``CommandError`` (caret under ``arg``) when it is not
    IPv6 text."""
    try:
        return address_text(ipv6_int(text))
    except ValueError:
        raise CommandError(f"Invalid IPv6 address {text}: {IPV6_TEXT}", arg) from None


def ipv6_prefix(text: str, arg: str) -> tuple[str, str]:
    """``X:X::X/LEN`` as (RFC 5952 network, length); ``CommandError`` (caret under ``arg``)
    for bad text, a length outside 0-128, or an address with bits past the prefix."""
    address, _, length = text.partition("/")
    network = ipv6_text(address, arg)
    digits = length.isascii() and length.isdigit()  # "²" is a digit that ``int`` refuses
    if not digits or int(length) > 128 or length != str(int(length)):
        raise CommandError(f"Invalid IPv6 prefix length /{length}: it must be 0-128", arg)
    value = ipv6_int(network)
    low, _high = network_range(value, int(length))
    if low != value:
        raise CommandError(
            f"{PREFIX6_PAIR_ERROR}: {network}/{length} has bits set past the prefix "
            f"(the network is {address_text(low)}/{length})",
            arg,
        )
    return network, length


def check_pair(args: Args, address_arg: str, mask_arg: str) -> None:
    """Refuse the command unless the captured address and mask form a network."""
    problem = pair_error(args[address_arg], args[mask_arg])
    if problem is not None:
        message, which = problem
        raise CommandError(message, address_arg if which == "address" else mask_arg)


# --------------------------------------------------------------------------- references


def _ace_uses(ace: Ace, kind: str, name: str) -> bool:
    for spec in (ace.source, ace.destination):
        if spec is not None and spec.kind == kind and spec.name == name:
            return True
    return False


def acl_users(config: RunningConfig, kind: str, name: str) -> list[str]:
    """Names of the ACLs with an ACE naming ``object NAME`` or ``object-group NAME``."""
    users: list[str] = []
    for acl in config.access_lists.values():
        if _acl_uses(acl, kind, name):
            users.append(acl.name)
    return users


def _acl_uses(acl: AccessList, kind: str, name: str) -> bool:
    return any(isinstance(e, Ace) and _ace_uses(e, kind, name) for e in acl.entries)


def group_users(config: RunningConfig, kind: str, name: str) -> list[str]:
    """Names of the groups holding ``network-object object NAME`` / ``group-object NAME``."""
    return [
        g.name
        for g in config.network_object_groups.values()
        if any(m.kind == kind and m.name == name for m in g.members)
    ]


def _in_use(config: RunningConfig, what: str, name: str) -> str | None:
    member_kind = "object" if what == "object" else "group"
    users = [f"access-list {a}" for a in acl_users(config, what, name)]
    users += [f"object-group {g}" for g in group_users(config, member_kind, name)]
    if not users:
        return None
    return f"{what} {name} is in use by {', '.join(users)}; remove those references first"


def _check_name(config: RunningConfig, args: Args, creating: str) -> str:
    name: str = args["name"]
    if len(name) > MAX_OBJECT_NAME:
        raise CommandError(
            f"object name is {len(name)} characters long; the maximum is {MAX_OBJECT_NAME}",
            "name",
        )
    other = config.network_object_groups if creating == "object" else config.network_objects
    if name in other:
        kind = "object-group" if creating == "object" else "object"
        raise CommandError(f"name {name} is already used by {kind} {name}", "name")
    return name


# --------------------------------------------------------------------------- objects


@COMMANDS.command(
    CONFIG,
    "object network WORD$name",
    help="Configure a network object",
    object="Configure an object",
    network="Network object",
)
def object_network(ctx: CommandContext, args: Args) -> None:
    name = _check_name(ctx.config, args, "object")
    if name not in ctx.config.network_objects:
        ctx.config.network_objects[name] = NetworkObject(name)
    ctx.enter(NETWORK_OBJECT, name)


@COMMANDS.command(CONFIG, "no object network WORD$name")
def no_object_network(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    if name not in ctx.config.network_objects:
        raise CommandError(f"object network {name} does not exist", "name")
    problem = _in_use(ctx.config, "object", name)
    if problem is not None:
        raise CommandError(problem, "name")
    del ctx.config.network_objects[name]


def _object(ctx: CommandContext) -> NetworkObject:
    obj = ctx.config.network_objects.get(ctx.key)
    if obj is None:
        raise CommandError(f"object network {ctx.key} no longer exists")
    return obj


def _define(ctx: CommandContext, kind: str, value: str, value2: str | None = None) -> None:
    obj = _object(ctx)
    obj.kind, obj.value, obj.value2 = kind, value, value2


def _undefine(ctx: CommandContext, kind: str, value: str, value2: str | None = None) -> None:
    obj = _object(ctx)
    if (obj.kind, obj.value, obj.value2) != (kind, value, value2):
        raise CommandError(f"object network {obj.name} is not defined as '{kind} {value}'")
    obj.kind = obj.value = obj.value2 = None


_HOST = "host {A.B.C.D|X:X::X}$address"
_SUBNET = "subnet {A.B.C.D$address A.B.C.D$mask|X:X::X/LEN$prefix}"
_RANGE = "range {A.B.C.D|X:X::X}$first {A.B.C.D|X:X::X}$last"


def _host_address(args: Args, arg: str) -> str:
    """An IPv4 address as given, an IPv6 one checked and in its RFC 5952 form."""
    address: str = args[arg]
    return ipv6_text(address, arg) if ":" in address else address


def _subnet(args: Args) -> tuple[str, str]:
    """(network, mask) of ``A.B.C.D MASK``, or (network, prefix length) of ``X:X::X/LEN``."""
    if "prefix" in args:
        return ipv6_prefix(args["prefix"], "prefix")
    check_pair(args, "address", "mask")
    return args["address"], args["mask"]


@COMMANDS.command(NETWORK_OBJECT, _HOST, host="A single host (IPv4 or IPv6)")
def object_host(ctx: CommandContext, args: Args) -> None:
    _define(ctx, "host", _host_address(args, "address"))


@COMMANDS.command(NETWORK_OBJECT, _SUBNET, subnet="A subnet (A.B.C.D MASK or X:X::X/LEN)")
def object_subnet(ctx: CommandContext, args: Args) -> None:
    _define(ctx, "subnet", *_subnet(args))


def _range(args: Args) -> tuple[str, str]:
    first, last = _host_address(args, "first"), _host_address(args, "last")
    low, high = address_int(first), address_int(last)
    if not same_family(low, high):
        raise CommandError(
            f"range {first} {last}: the first and last addresses must be of one family "
            "(both IPv4 or both IPv6)",
            "last",
        )
    if low > high:
        raise CommandError(f"range {first} {last}: the first address is above the last", "last")
    return first, last


@COMMANDS.command(NETWORK_OBJECT, _RANGE, range="A range of addresses (IPv4 or IPv6)")
def object_range(ctx: CommandContext, args: Args) -> None:
    _define(ctx, "range", *_range(args))


@COMMANDS.command(
    NETWORK_OBJECT, "fqdn [{v4|v6}$version] WORD$fqdn", fqdn="A fully qualified domain name"
)
def object_fqdn(ctx: CommandContext, args: Args) -> None:
    fqdn: str = args["fqdn"]
    if len(fqdn) > 253 or not all(c.isalnum() or c in "-." for c in fqdn):
        raise CommandError(f"invalid domain name {fqdn}", "fqdn")
    _define(ctx, "fqdn", fqdn, args.get("version"))


@COMMANDS.command(NETWORK_OBJECT, f"no {_HOST}")
def no_object_host(ctx: CommandContext, args: Args) -> None:
    _undefine(ctx, "host", _host_address(args, "address"))


@COMMANDS.command(NETWORK_OBJECT, f"no {_SUBNET}")
def no_object_subnet(ctx: CommandContext, args: Args) -> None:
    if "prefix" in args:
        _undefine(ctx, "subnet", *ipv6_prefix(args["prefix"], "prefix"))
    else:
        _undefine(ctx, "subnet", args["address"], args["mask"])


@COMMANDS.command(NETWORK_OBJECT, f"no {_RANGE}")
def no_object_range(ctx: CommandContext, args: Args) -> None:
    _undefine(ctx, "range", _host_address(args, "first"), _host_address(args, "last"))


@COMMANDS.command(NETWORK_OBJECT, "no fqdn [{v4|v6}$version] WORD$fqdn")
def no_object_fqdn(ctx: CommandContext, args: Args) -> None:
    _undefine(ctx, "fqdn", args["fqdn"], args.get("version"))


def _description(args: Args) -> str:
    text: str = args["text"]
    if len(text) > MAX_DESCRIPTION:
        raise CommandError(
            f"description is {len(text)} characters long; the maximum is {MAX_DESCRIPTION}",
            "text",
        )
    return text


@COMMANDS.command(NETWORK_OBJECT, "description LINE$text", description="Describe the object")
def object_description(ctx: CommandContext, args: Args) -> None:
    text = _description(args)
    _object(ctx).description = text


@COMMANDS.command(NETWORK_OBJECT, "no description [LINE]")
def no_object_description(ctx: CommandContext, args: Args) -> None:
    _object(ctx).description = None


# --------------------------------------------------------------------------- groups


@COMMANDS.command(
    CONFIG,
    "object-group network WORD$name",
    help="Configure a network object group",
    object_group="Configure a group",
)
def object_group_network(ctx: CommandContext, args: Args) -> None:
    name = _check_name(ctx.config, args, "object-group")
    if name not in ctx.config.network_object_groups:
        ctx.config.network_object_groups[name] = NetworkObjectGroup(name)
    ctx.enter(NETWORK_OBJECT_GROUP, name)


@COMMANDS.command(CONFIG, "no object-group network WORD$name")
def no_object_group_network(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    if name not in ctx.config.network_object_groups:
        raise CommandError(f"object-group network {name} does not exist", "name")
    problem = _in_use(ctx.config, "object-group", name)
    if problem is not None:
        raise CommandError(problem, "name")
    del ctx.config.network_object_groups[name]


def _group(ctx: CommandContext) -> NetworkObjectGroup:
    group = ctx.config.network_object_groups.get(ctx.key)
    if group is None:
        raise CommandError(f"object-group network {ctx.key} no longer exists")
    return group


def _member(ctx: CommandContext, args: Args, *, adding: bool) -> GroupMember:
    """The member a ``network-object``/``group-object`` line names, validated."""
    if "object" in args:
        name: str = args["object"]
        if adding and name not in ctx.config.network_objects:
            raise CommandError(f"object network {name} does not exist", "object")
        return GroupMember("object", name=name)
    if "group" in args:
        name = args["group"]
        if adding:
            if name not in ctx.config.network_object_groups:
                raise CommandError(f"object-group network {name} does not exist", "group")
            if _reaches(ctx.config, name, ctx.key):
                raise CommandError(
                    f"object-group {name} contains object-group {ctx.key}: "
                    "a group cannot contain itself",
                    "group",
                )
        return GroupMember("group", name=name)
    if "host" in args:
        return GroupMember("host", address=_host_address(args, "host"))
    if "prefix" in args:  # a /128 is kept as a host, as a /32 is
        network, length = ipv6_prefix(args["prefix"], "prefix")
        if length == "128":
            return GroupMember("host", address=network)
        return GroupMember("subnet", address=network, mask=length)
    check_pair(args, "address", "mask")
    if args["mask"] == HOST_MASK:
        return GroupMember("host", address=args["address"])
    return GroupMember("subnet", address=args["address"], mask=args["mask"])


def _reaches(config: RunningConfig, start: str, target: str) -> bool:
    """Whether group ``start`` is ``target`` or nests it, directly or not."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name == target:
            return True
        if name in seen:
            continue
        seen.add(name)
        group = config.network_object_groups.get(name)
        if group is not None:
            stack.extend(m.name for m in group.members if m.kind == "group" and m.name)
    return False


def _member_text(member: GroupMember) -> str:
    if member.kind == "host":
        return f"network-object host {member.address}"
    if member.kind == "subnet":
        if member.address is not None and ":" in member.address:
            return f"network-object {member.address}/{member.mask}"
        return f"network-object {member.address} {member.mask}"
    if member.kind == "object":
        return f"network-object object {member.name}"
    return f"group-object {member.name}"


def _add_member(ctx: CommandContext, args: Args) -> None:
    group = _group(ctx)
    member = _member(ctx, args, adding=True)
    if member in group.members:
        ctx.warn(
            f"'{_member_text(member)}' not added to object-group {group.name}: "
            "it is already a member"
        )
        return
    group.members.append(member)


def _remove_member(ctx: CommandContext, args: Args) -> None:
    group = _group(ctx)
    member = _member(ctx, args, adding=False)
    if member not in group.members:
        raise CommandError(f"'{_member_text(member)}' is not a member of object-group {group.name}")
    if len(group.members) == 1:
        users = acl_users(ctx.config, "object-group", group.name)
        if users:
            raise CommandError(
                f"cannot remove the last member of object-group {group.name}: "
                f"it is in use by access-list {', '.join(users)}"
            )
    group.members.remove(member)


_NETWORK_OBJECT = (
    "{host {A.B.C.D|X:X::X}$host|A.B.C.D$address A.B.C.D$mask|X:X::X/LEN$prefix|object WORD$object}"
)

COMMANDS.command(
    NETWORK_OBJECT_GROUP,
    f"network-object {_NETWORK_OBJECT}",
    network_object="Add a host, subnet (A.B.C.D MASK or X:X::X/LEN) or object",
)(_add_member)
COMMANDS.command(
    NETWORK_OBJECT_GROUP,
    "group-object WORD$group",
    group_object="Nest another network object group",
)(_add_member)
COMMANDS.command(NETWORK_OBJECT_GROUP, f"no network-object {_NETWORK_OBJECT}")(_remove_member)
COMMANDS.command(NETWORK_OBJECT_GROUP, "no group-object WORD$group")(_remove_member)


@COMMANDS.command(NETWORK_OBJECT_GROUP, "description LINE$text", description="Describe the group")
def group_description(ctx: CommandContext, args: Args) -> None:
    text = _description(args)
    _group(ctx).description = text


@COMMANDS.command(NETWORK_OBJECT_GROUP, "no description [LINE]")
def no_group_description(ctx: CommandContext, args: Args) -> None:
    _group(ctx).description = None


# --------------------------------------------------------------------------- render


def _definition(obj: NetworkObject) -> str | None:
    if obj.kind is None:
        return None
    if obj.kind == "fqdn":
        return f"fqdn {obj.value2} {obj.value}" if obj.value2 else f"fqdn {obj.value}"
    if obj.kind == "host":
        return f"host {obj.value}"
    if obj.kind == "subnet" and obj.value is not None and ":" in obj.value:
        return f"subnet {obj.value}/{obj.value2}"
    return f"{obj.kind} {obj.value} {obj.value2}"


def _nested_first(config: RunningConfig) -> list[NetworkObjectGroup]:
    """Groups in creation order, except that a nested group comes before its first user.

    ``group-object NAME`` needs the group to exist when the line is read, and a group can
    nest one created after it (define both, then add the member).
    """
    groups = config.network_object_groups
    out: list[NetworkObjectGroup] = []
    placed: set[str] = set()

    def place(group: NetworkObjectGroup) -> None:
        placed.add(group.name)  # before the members: a cycle (refused anyway) cannot loop
        for member in group.members:
            nested = groups.get(member.name or "") if member.kind == "group" else None
            if nested is not None and nested.name not in placed:
                place(nested)
        out.append(group)

    for group in groups.values():
        if group.name not in placed:
            place(group)
    return out


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """``object network`` blocks, then ``object-group network`` blocks, in creation order
    (nested groups first)."""
    blocks: list[Block] = []
    for obj in config.network_objects.values():
        children = [line for line in (_definition(obj),) if line is not None]
        if obj.description is not None:
            children.append(f"description {obj.description}")
        blocks.append(Block.of(f"object network {obj.name}", *children))
    for group in _nested_first(config):
        children = [f"description {group.description}"] if group.description is not None else []
        children.extend(_member_text(m) for m in group.members)
        blocks.append(Block.of(f"object-group network {group.name}", *children))
    return blocks
