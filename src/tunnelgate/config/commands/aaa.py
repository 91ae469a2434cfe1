"""``aaa authentication|authorization … console GROUP``: the spec's management AAA example.

Only what the spec shows ("AAA Authentication With Authorization"); it configures how
administrators log in, not tunnels.
"""

from __future__ import annotations

from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.modes import CONFIG
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()
_SERVICES = "{http|ssh|telnet|serial|enable}$service"


@COMMANDS.command(
    CONFIG,
    f"aaa {{authentication|authorization}}$kind {_SERVICES} console WORD$group",
    help="Authenticate or authorize management sessions",
)
def aaa_console(ctx: CommandContext, args: Args) -> None:
    ctx.config.aaa[(args["kind"], args["service"])] = args["group"]


@COMMANDS.command(
    CONFIG, f"no aaa {{authentication|authorization}}$kind {_SERVICES} console [WORD]"
)
def no_aaa_console(ctx: CommandContext, args: Args) -> None:
    if ctx.config.aaa.pop((args["kind"], args["service"]), None) is None:
        raise CommandError(f"aaa {args['kind']} {args['service']} console is not configured")


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    return [
        Block.of(f"aaa {kind} {service} console {group}")
        for (kind, service), group in config.aaa.items()
    ]
