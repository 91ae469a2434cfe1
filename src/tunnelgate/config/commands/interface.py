"""Interfaces (``interface HWNAME`` and its sub-mode)."""

from __future__ import annotations

from ipaddress import IPv6Address

from tunnelgate.config.commands.objects import MASK_PREFIX, ipv6_text, mask_error
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import Interface, RunningConfig
from tunnelgate.config.modes import CONFIG, INTERFACE
from tunnelgate.config.render_types import Block, RenderOptions
from tunnelgate.policy.address import ipv4_int, ipv6_int, network_range

COMMANDS = CommandTable()
MAX_NAMEIF = 48
MAX_DESCRIPTION = 200
_HARDWARE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._:-")
# ``nameif inside`` without a security level gets 100, any other name 0 (ASA behaviour).
_DEFAULT_LEVELS = {"inside": 100}


@COMMANDS.command(
    CONFIG,
    "interface WORD$hardware",
    help="Configure an interface",
    interface="Select an interface to configure",
)
def interface(ctx: CommandContext, args: Args) -> None:
    hardware: str = args["hardware"]
    if not hardware[0].isalpha() or not _HARDWARE_CHARS.issuperset(hardware):
        raise CommandError(
            f"invalid interface name {hardware}: use letters, digits and / . _ : -, "
            "starting with a letter",
            "hardware",
        )
    if hardware not in ctx.config.interfaces:
        ctx.config.interfaces[hardware] = Interface(hardware)
    ctx.enter(INTERFACE, hardware)


@COMMANDS.command(CONFIG, "no interface WORD$hardware")
def no_interface(ctx: CommandContext, args: Args) -> None:
    hardware: str = args["hardware"]
    if hardware not in ctx.config.interfaces:
        raise CommandError(f"interface {hardware} does not exist", "hardware")
    del ctx.config.interfaces[hardware]


def _interface(ctx: CommandContext) -> Interface:
    found = ctx.config.interfaces.get(ctx.key)
    if found is None:
        raise CommandError(f"interface {ctx.key} no longer exists")
    return found


@COMMANDS.command(INTERFACE, "nameif WORD$name", nameif="Name the interface")
def nameif(ctx: CommandContext, args: Args) -> None:
    current = _interface(ctx)
    name: str = args["name"]
    if len(name) > MAX_NAMEIF:
        raise CommandError(
            f"nameif is {len(name)} characters long; the maximum is {MAX_NAMEIF}", "name"
        )
    for other in ctx.config.interfaces.values():
        if other is not current and other.nameif == name:
            raise CommandError(
                f'name "{name}" is already used by interface {other.hardware}', "name"
            )
    current.nameif = name
    if current.security_level is None:
        level = _DEFAULT_LEVELS.get(name.lower(), 0)
        current.security_level = level
        ctx.info(f'Security level for "{name}" set to {level} by default.')


@COMMANDS.command(INTERFACE, "no nameif [WORD]")
def no_nameif(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).nameif = None


@COMMANDS.command(
    INTERFACE, "security-level <0-100>$level", security_level="Set the security level (0-100)"
)
def security_level(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).security_level = args["level"]


@COMMANDS.command(INTERFACE, "no security-level [<0-100>]")
def no_security_level(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).security_level = None


@COMMANDS.command(
    INTERFACE,
    "ip address A.B.C.D$address A.B.C.D$mask [standby A.B.C.D$standby]",
    ip="Configure IP",
    address="Set the interface address",
    standby="The failover standby address",
)
def ip_address(ctx: CommandContext, args: Args) -> None:
    current = _interface(ctx)
    address: str = args["address"]
    mask: str = args["mask"]
    standby: str | None = args.get("standby")
    problem = mask_error(mask)
    if problem is not None:
        raise CommandError(problem, "mask")
    prefix = MASK_PREFIX[mask]
    host_bits = (1 << (32 - prefix)) - 1
    value = ipv4_int(address)
    if prefix <= 30 and (value & host_bits in (0, host_bits)):
        raise CommandError(
            f"{address} is the network or broadcast address of {address}/{prefix}", "address"
        )
    if standby is not None:
        other = ipv4_int(standby)
        if other == value:
            raise CommandError("the standby address must differ from the active one", "standby")
        if prefix and (other ^ value) >> (32 - prefix):
            raise CommandError(
                f"standby address {standby} is not in the subnet of {address} {mask}", "standby"
            )
    current.ip_address, current.netmask, current.standby_address = address, mask, standby


@COMMANDS.command(INTERFACE, "no ip address [A.B.C.D A.B.C.D [standby A.B.C.D]]")
def no_ip_address(ctx: CommandContext, args: Args) -> None:
    current = _interface(ctx)
    current.ip_address = current.netmask = current.standby_address = None


# --------------------------------------------------------------------------- IPv6


def _not_global_unicast(address: str) -> str | None:
    """Why ``address`` (RFC 5952 text) cannot be an interface's global address, or None."""
    value = IPv6Address(address)
    if value.is_unspecified:
        return "it is the unspecified address"
    if value.is_loopback:
        return "it is the loopback address"
    if value.is_multicast:
        return "it is a multicast address"
    if value.is_link_local:
        return "it is a link-local address (the link-local address comes with 'ipv6 enable')"
    if value.ipv4_mapped is not None:
        return "it is an IPv4-mapped address"
    return None


def ipv6_interface_address(text: str, arg: str) -> tuple[str, int]:
    """``X:X::X/LEN`` of ``ipv6 address`` as (RFC 5952 address, length); ``CommandError``
    (caret under ``arg``) for bad text, a length outside 1-128, an address that is not a
    global unicast one, or the subnet-router anycast address of a /1-/126."""
    address, _, length = text.partition("/")
    address = ipv6_text(address, arg)
    digits = length.isascii() and length.isdigit()  # "²" is a digit that ``int`` refuses
    if not digits or length != str(int(length)) or not 1 <= int(length) <= 128:
        raise CommandError(
            f"Invalid IPv6 prefix length /{length}: an interface prefix length is 1-128", arg
        )
    prefix = int(length)
    problem = _not_global_unicast(address)
    if problem is not None:
        raise CommandError(f"{address}/{prefix} cannot be an interface address: {problem}", arg)
    value = ipv6_int(address)
    if prefix <= 126 and network_range(value, prefix)[0] == value:
        raise CommandError(
            f"{address} is the subnet-router anycast address of {address}/{prefix}", arg
        )
    return address, prefix


_IPV6_ADDRESS = "ipv6 address X:X::X/LEN$prefix [standby X:X::X$standby]"


def _ipv6_address(args: Args) -> tuple[str, int, str | None]:
    address, prefix = ipv6_interface_address(args["prefix"], "prefix")
    standby: str | None = args.get("standby")
    if standby is not None:
        standby = ipv6_text(standby, "standby")
        if standby == address:
            raise CommandError("the standby address must differ from the active one", "standby")
        problem = _not_global_unicast(standby)
        if problem is not None:
            raise CommandError(f"standby address {standby}: {problem}", "standby")
        if network_range(ipv6_int(standby), prefix) != network_range(ipv6_int(address), prefix):
            raise CommandError(
                f"standby address {standby} is not in the subnet of {address}/{prefix}",
                "standby",
            )
    return address, prefix, standby


@COMMANDS.command(
    INTERFACE,
    _IPV6_ADDRESS,
    help="Set the interface's global IPv6 address (X:X::X/1-128)",
    ipv6="Configure IPv6",
    address="Set the interface address",
    standby="The failover standby address",
)
def ipv6_address(ctx: CommandContext, args: Args) -> None:
    current = _interface(ctx)
    address, prefix, standby = _ipv6_address(args)
    # one global address per interface: a new one replaces the old (D114)
    current.ipv6_address, current.ipv6_prefix_length = address, prefix
    current.ipv6_standby_address = standby


@COMMANDS.command(INTERFACE, "no ipv6 address [X:X::X/LEN$prefix [standby X:X::X$standby]]")
def no_ipv6_address(ctx: CommandContext, args: Args) -> None:
    current = _interface(ctx)
    if "prefix" in args:
        address, prefix, _standby = _ipv6_address(args)
        if (current.ipv6_address, current.ipv6_prefix_length) != (address, prefix):
            raise CommandError(
                f"ipv6 address {address}/{prefix} is not configured on interface "
                f"{current.hardware}",
                "prefix",
            )
    current.ipv6_address = current.ipv6_prefix_length = current.ipv6_standby_address = None


@COMMANDS.command(
    INTERFACE,
    "ipv6 enable",
    help="Enable IPv6 (a link-local address) on the interface",
    enable="Enable IPv6 on the interface (its link-local address)",
)
def ipv6_enable(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).ipv6_enable = True


@COMMANDS.command(INTERFACE, "no ipv6 enable")
def no_ipv6_enable(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).ipv6_enable = False


@COMMANDS.command(INTERFACE, "shutdown", shutdown="Disable the interface")
def shutdown(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).shutdown = True


@COMMANDS.command(INTERFACE, "no shutdown")
def no_shutdown(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).shutdown = False


@COMMANDS.command(INTERFACE, "description LINE$text", description="Describe the interface")
def description(ctx: CommandContext, args: Args) -> None:
    text: str = args["text"]
    if len(text) > MAX_DESCRIPTION:
        raise CommandError(
            f"description is {len(text)} characters long; the maximum is {MAX_DESCRIPTION}",
            "text",
        )
    _interface(ctx).description = text


@COMMANDS.command(INTERFACE, "no description [LINE]")
def no_description(ctx: CommandContext, args: Args) -> None:
    _interface(ctx).description = None


# --------------------------------------------------------------------------- render

_SEPARATOR = Block(("!",))


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Each interface as the ASA prints it, between ``!`` separators."""
    if not config.interfaces:
        return []
    blocks = [_SEPARATOR]
    for item in config.interfaces.values():
        children: list[str] = []
        if item.description is not None:
            children.append(f"description {item.description}")
        if item.shutdown:
            children.append("shutdown")
        children.append(f"nameif {item.nameif}" if item.nameif is not None else "no nameif")
        children.append(
            f"security-level {item.security_level}"
            if item.security_level is not None
            else "no security-level"
        )
        if item.ip_address is None:
            children.append("no ip address")
        else:
            standby = f" standby {item.standby_address}" if item.standby_address else ""
            children.append(f"ip address {item.ip_address} {item.netmask}{standby}")
        if item.ipv6_address is not None:
            standby = f" standby {item.ipv6_standby_address}" if item.ipv6_standby_address else ""
            children.append(f"ipv6 address {item.ipv6_address}/{item.ipv6_prefix_length}{standby}")
        if item.ipv6_enable:
            children.append("ipv6 enable")
        blocks.append(Block.of(f"interface {item.hardware}", *children))
        blocks.append(_SEPARATOR)
    return blocks
