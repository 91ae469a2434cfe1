"""Device identity (``hostname``, ``domain-name``), static routes (``route``, ``ipv6 route``)
and ``sysopt``."""

from __future__ import annotations

from ipaddress import IPv6Address

from tunnelgate.config.checks import check
from tunnelgate.config.commands.objects import check_pair, ipv6_prefix, ipv6_text
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import Ipv6Route, Route, RunningConfig
from tunnelgate.config.modes import CONFIG
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()
DEFAULT_HOSTNAME = "ciscoasa"
MAX_HOSTNAME = 63
MAX_DOMAIN_NAME = 63
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _hostname_error(name: str) -> str | None:
    if len(name) > MAX_HOSTNAME:
        return f"hostname is {len(name)} characters long; the maximum is {MAX_HOSTNAME}"
    if not _LABEL_CHARS.issuperset(name):
        return f"invalid hostname {name}: use only letters, digits and hyphens"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return f"invalid hostname {name}: it must start and end with a letter or digit"
    return None


@COMMANDS.command(
    CONFIG, "hostname WORD$name", help="Set the device name", hostname="Set the device name"
)
def hostname(ctx: CommandContext, args: Args) -> None:
    problem = _hostname_error(args["name"])
    if problem is not None:
        raise CommandError(problem, "name")
    ctx.config.hostname = args["name"]


@COMMANDS.command(CONFIG, "no hostname [WORD]")
def no_hostname(ctx: CommandContext, args: Args) -> None:
    ctx.config.hostname = DEFAULT_HOSTNAME


@COMMANDS.command(
    CONFIG,
    "domain-name WORD$name",
    help="Set the default domain name",
    domain_name="Set the default domain name",
)
def domain_name(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    if len(name) > MAX_DOMAIN_NAME:
        raise CommandError(
            f"domain name is {len(name)} characters long; the maximum is {MAX_DOMAIN_NAME}",
            "name",
        )
    labels = name.split(".")
    if not all(label and _LABEL_CHARS.issuperset(label) for label in labels):
        raise CommandError(
            f"invalid domain name {name}: use dot-separated labels of letters, digits and hyphens",
            "name",
        )
    ctx.config.domain_name = name


@COMMANDS.command(CONFIG, "no domain-name [WORD]")
def no_domain_name(ctx: CommandContext, args: Args) -> None:
    ctx.config.domain_name = None


# --------------------------------------------------------------------------- routes

_ROUTE = "route WORD$ifname A.B.C.D$address A.B.C.D$mask A.B.C.D$gateway [<1-255>$distance]"


def _route(args: Args) -> Route:
    check_pair(args, "address", "mask")
    return Route(
        args["ifname"], args["address"], args["mask"], args["gateway"], args.get("distance", 1)
    )


def _same_path(a: Route, b: Route) -> bool:
    return (a.interface, a.network, a.mask, a.gateway) == (
        b.interface,
        b.network,
        b.mask,
        b.gateway,
    )


@COMMANDS.command(CONFIG, _ROUTE, help="Add a static route", route="Add a static route")
def route(ctx: CommandContext, args: Args) -> None:
    new = _route(args)
    routes = ctx.config.routes
    for i, existing in enumerate(routes):
        if _same_path(existing, new):
            routes[i] = new  # same path: a new distance replaces the old one
            return
    routes.append(new)


@COMMANDS.command(CONFIG, f"no {_ROUTE}")
def no_route(ctx: CommandContext, args: Args) -> None:
    old = _route(args)
    routes = ctx.config.routes
    for i, existing in enumerate(routes):
        if _same_path(existing, old):
            del routes[i]
            return
    raise CommandError(
        f"no route {old.network} {old.mask} via {old.gateway} on {old.interface}", "ifname"
    )


# --------------------------------------------------------------------------- IPv6 routes

_IPV6_ROUTE = "ipv6 route WORD$ifname X:X::X/LEN$prefix X:X::X$gateway [<1-254>$distance]"


def _ipv6_route(args: Args) -> Ipv6Route:
    network, length = ipv6_prefix(args["prefix"], "prefix")
    gateway = ipv6_text(args["gateway"], "gateway")
    value = IPv6Address(gateway)
    if value.is_unspecified or value.is_multicast or value.is_loopback:
        kind = (
            "the unspecified address"
            if value.is_unspecified
            else "a multicast address"
            if value.is_multicast
            else "the loopback address"
        )
        raise CommandError(f"invalid next hop {gateway}: it is {kind}", "gateway")
    return Ipv6Route(args["ifname"], network, int(length), gateway, args.get("distance", 1))


def _same_path6(a: Ipv6Route, b: Ipv6Route) -> bool:
    return (a.interface, a.network, a.prefix_length, a.gateway) == (
        b.interface,
        b.network,
        b.prefix_length,
        b.gateway,
    )


@COMMANDS.command(
    CONFIG,
    _IPV6_ROUTE,
    help="Add a static IPv6 route",
    ipv6="Configure IPv6",
    route="Add a static route",
)
def ipv6_route(ctx: CommandContext, args: Args) -> None:
    new = _ipv6_route(args)
    routes = ctx.config.ipv6_routes
    for i, existing in enumerate(routes):
        if _same_path6(existing, new):
            routes[i] = new  # same path: a new distance replaces the old one
            return
    routes.append(new)


@COMMANDS.command(CONFIG, f"no {_IPV6_ROUTE}")
def no_ipv6_route(ctx: CommandContext, args: Args) -> None:
    old = _ipv6_route(args)
    routes = ctx.config.ipv6_routes
    for i, existing in enumerate(routes):
        if _same_path6(existing, old):
            del routes[i]
            return
    raise CommandError(
        f"no ipv6 route {old.network}/{old.prefix_length} via {old.gateway} on {old.interface}",
        "ifname",
    )


def ipv6_route_line(r: Ipv6Route) -> str:
    """As the ASA shows it: the distance only when it is not the default 1."""
    distance = f" {r.distance}" if r.distance != 1 else ""
    return f"ipv6 route {r.interface} {r.network}/{r.prefix_length} {r.gateway}{distance}"


# --------------------------------------------------------------------------- sysopt


@COMMANDS.command(
    CONFIG,
    "sysopt connection permit-vpn",
    help="Let decrypted VPN traffic bypass interface ACLs",
    sysopt="System options",
    connection="Connection options",
    permit_vpn="Let decrypted VPN traffic bypass interface ACLs",
)
def sysopt_permit_vpn(ctx: CommandContext, args: Args) -> None:
    ctx.config.sysopt_permit_vpn = True


@COMMANDS.command(CONFIG, "no sysopt connection permit-vpn")
def no_sysopt_permit_vpn(ctx: CommandContext, args: Args) -> None:
    ctx.config.sysopt_permit_vpn = False


# --------------------------------------------------------------------------- render


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """``hostname`` and ``domain-name``."""
    blocks = [Block.of(f"hostname {config.hostname}")]
    if config.domain_name is not None:
        blocks.append(Block.of(f"domain-name {config.domain_name}"))
    return blocks


def render_tail(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Blocks after the access lists: routes, IPv6 routes, ``sysopt``."""
    blocks = [
        Block.of(f"route {r.interface} {r.network} {r.mask} {r.gateway} {r.distance}")
        for r in config.routes
    ]
    blocks.extend(Block.of(ipv6_route_line(r)) for r in config.ipv6_routes)
    if not config.sysopt_permit_vpn:
        blocks.append(Block.of("no sysopt connection permit-vpn"))
    elif options.all:
        blocks.append(Block.of("sysopt connection permit-vpn"))
    return blocks


# --------------------------------------------------------------------------- checks


@check
def check_route_interfaces(config: RunningConfig) -> list[Diagnostic]:
    """A route out of an interface name that no interface carries."""
    return [
        Diagnostic(
            Severity.WARNING,
            f"route {r.interface} {r.network} {r.mask} {r.gateway}: "
            f"no interface has 'nameif {r.interface}'",
        )
        for r in config.routes
        if not config.nameif_exists(r.interface)
    ]


@check
def check_ipv6_route_interfaces(config: RunningConfig) -> list[Diagnostic]:
    """An IPv6 route out of an interface name that no interface carries."""
    return [
        Diagnostic(
            Severity.WARNING,
            f"{ipv6_route_line(r)}: no interface has 'nameif {r.interface}'",
        )
        for r in config.ipv6_routes
        if not config.nameif_exists(r.interface)
    ]
