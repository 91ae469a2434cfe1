"""``clear configure crypto …`` and ``clear configure tunnel-group``: removing whole parts.

The spec's table "Commands to Clear and Reinitialize IPsec SAs" and "Clear Crypto Map
Configurations": without arguments ``clear configure crypto`` removes the entire crypto
configuration, certificates included.
"""

from __future__ import annotations

from tunnelgate.config import consequences
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.model.ipsec import IpsecSettings
from tunnelgate.config.model.isakmp import IsakmpSettings
from tunnelgate.config.model.logging import LoggingSettings
from tunnelgate.config.model.tunnel_group import TunnelGroupMap
from tunnelgate.config.modes import CONFIG

COMMANDS = CommandTable()
_CC = "clear configure crypto"


def _clear_maps(config: RunningConfig, dynamic: bool, name: str | None, seq: int | None) -> None:
    maps = config.dynamic_maps if dynamic else config.crypto_maps
    kind = "dynamic-map" if dynamic else "map"
    if name is None:
        names = list(maps)
    elif name in maps:
        names = [name]
    else:
        raise CommandError(f"crypto {kind} {name} does not exist", "name")
    if seq is not None:
        assert name is not None
        if seq not in maps[name]:
            raise CommandError(f"crypto {kind} {name} {seq} does not exist", "seq")
        del maps[name][seq]
        if maps[name]:
            return
    for n in names:
        del maps[n]
        if not dynamic:
            for ifname in [i for i, m in config.crypto_map_interfaces.items() if m == n]:
                del config.crypto_map_interfaces[ifname]


@COMMANDS.command(
    CONFIG, f"{_CC} map [WORD$name [<1-65535>$seq]]", clear="Clear", configure="Clear configuration"
)
def clear_map(ctx: CommandContext, args: Args) -> None:
    _clear_maps(ctx.config, False, args.get("name"), args.get("seq"))


@COMMANDS.command(CONFIG, f"{_CC} dynamic-map [WORD$name [<1-65535>$seq]]")
def clear_dynamic_map(ctx: CommandContext, args: Args) -> None:
    _clear_maps(ctx.config, True, args.get("name"), args.get("seq"))


def _clear_policies(ctx: CommandContext, versions: tuple[int, ...], priority: int | None) -> None:
    tables = [ctx.config.ikev1_policies if v == 1 else ctx.config.ikev2_policies for v in versions]
    if priority is not None and not any(priority in t for t in tables):
        raise CommandError(f"policy {priority} does not exist", "priority")
    for table in tables:
        if priority is None:
            table.clear()
        else:
            table.pop(priority, None)


@COMMANDS.command(CONFIG, f"{_CC} isakmp policy [<1-65535>$priority]")
def clear_isakmp_policy(ctx: CommandContext, args: Args) -> None:
    _clear_policies(ctx, (1, 2), args.get("priority"))


@COMMANDS.command(CONFIG, f"{_CC} {{ikev1|ikev2}}$version policy [<1-65535>$priority]")
def clear_version_policy(ctx: CommandContext, args: Args) -> None:
    _clear_policies(ctx, (1,) if args["version"] == "ikev1" else (2,), args.get("priority"))


@COMMANDS.command(CONFIG, f"{_CC} isakmp")
def clear_isakmp(ctx: CommandContext, args: Args) -> None:
    _reset_isakmp(ctx.config)


def _reset_isakmp(config: RunningConfig) -> None:
    config.ikev1_policies.clear()
    config.ikev2_policies.clear()
    config.isakmp = IsakmpSettings()


@COMMANDS.command(CONFIG, f"{_CC} {{ikev1|ikev2}}$version")
def clear_version(ctx: CommandContext, args: Args) -> None:
    isakmp, fresh = ctx.config.isakmp, IsakmpSettings()
    if args["version"] == "ikev1":
        ctx.config.ikev1_policies.clear()
        isakmp.ikev1_enabled = []
        isakmp.ikev1_am_disable = fresh.ikev1_am_disable
        isakmp.ipsec_over_tcp = fresh.ipsec_over_tcp
        isakmp.ipsec_over_tcp_ports = fresh.ipsec_over_tcp_ports
    else:
        ctx.config.ikev2_policies.clear()
        isakmp.ikev2_enabled = []
        isakmp.ikev2_notify_invalid_selectors = fresh.ikev2_notify_invalid_selectors
        isakmp.ikev2_fragmentation = fresh.ikev2_fragmentation
        isakmp.ikev2_fragmentation_mtu = fresh.ikev2_fragmentation_mtu
        isakmp.ikev2_fragmentation_method = fresh.ikev2_fragmentation_method


def _remove_transform_sets(ctx: CommandContext, names: list[str]) -> None:
    for name in names:
        del ctx.config.ipsec.transform_sets[name]
        for message in consequences.transform_set_removed(ctx.config, name):
            ctx.info(message)


def _remove_proposals(ctx: CommandContext, names: list[str]) -> None:
    for name in names:
        del ctx.config.ipsec.proposals[name]
        for message in consequences.proposal_removed(ctx.config, name):
            ctx.info(message)


@COMMANDS.command(CONFIG, f"{_CC} ipsec ikev1 transform-set [WORD$name]")
def clear_transform_sets(ctx: CommandContext, args: Args) -> None:
    existing = ctx.config.ipsec.transform_sets
    name = args.get("name")
    if name is not None and name not in existing:
        raise CommandError(f"transform-set {name} does not exist", "name")
    _remove_transform_sets(ctx, [name] if name else list(existing))


@COMMANDS.command(CONFIG, f"{_CC} ipsec ikev2 ipsec-proposal [WORD$name]")
def clear_proposals(ctx: CommandContext, args: Args) -> None:
    existing = ctx.config.ipsec.proposals
    name = args.get("name")
    if name is not None and name not in existing:
        raise CommandError(f"ipsec-proposal {name} does not exist", "name")
    _remove_proposals(ctx, [name] if name else list(existing))


@COMMANDS.command(CONFIG, f"{_CC} ipsec")
def clear_ipsec(ctx: CommandContext, args: Args) -> None:
    _remove_transform_sets(ctx, list(ctx.config.ipsec.transform_sets))
    _remove_proposals(ctx, list(ctx.config.ipsec.proposals))
    ctx.config.ipsec = IpsecSettings()


@COMMANDS.command(CONFIG, f"{_CC} ca trustpoint [WORD$name]")
def clear_trustpoints(ctx: CommandContext, args: Args) -> None:
    name = args.get("name")
    if name is None:
        ctx.config.trustpoints.clear()
    elif ctx.config.trustpoints.pop(name, None) is None:
        raise CommandError(f"trustpoint {name} does not exist", "name")


@COMMANDS.command(CONFIG, f"{_CC} ca certificate map [WORD$name]")
def clear_certificate_maps(ctx: CommandContext, args: Args) -> None:
    name = args.get("name")
    if name is None:
        ctx.config.certificate_maps.clear()
    elif ctx.config.certificate_maps.pop(name, None) is None:
        raise CommandError(f"certificate map {name} does not exist", "name")


@COMMANDS.command(CONFIG, _CC)
def clear_crypto(ctx: CommandContext, args: Args) -> None:
    config = ctx.config
    _reset_isakmp(config)
    config.ipsec = IpsecSettings()
    config.crypto_maps.clear()
    config.dynamic_maps.clear()
    config.crypto_map_interfaces.clear()
    config.trustpoints.clear()
    config.trustpool_policy = False
    config.certificate_maps.clear()


@COMMANDS.command(CONFIG, "clear configure tunnel-group [WORD$name]")
def clear_tunnel_groups(ctx: CommandContext, args: Args) -> None:
    config = ctx.config
    name = args.get("name")
    if name is not None and name not in config.tunnel_groups:
        raise CommandError(f"tunnel-group {name} does not exist", "name")
    names = [name] if name else list(config.tunnel_groups)
    default = config.tunnel_group_map.default_group
    for n in names:
        del config.tunnel_groups[n]
    if default in names:
        config.tunnel_group_map.default_group = None
    rules = config.tunnel_group_map.rules
    for key in [k for k, group in rules.items() if group in names]:
        del rules[key]


@COMMANDS.command(CONFIG, "clear configure tunnel-group-map")
def clear_tunnel_group_map(ctx: CommandContext, args: Args) -> None:
    ctx.config.tunnel_group_map = TunnelGroupMap()


@COMMANDS.command(CONFIG, "clear configure logging")
def clear_logging(ctx: CommandContext, args: Args) -> None:
    ctx.config.logging = LoggingSettings()
