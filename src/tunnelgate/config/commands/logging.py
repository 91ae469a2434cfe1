"""``logging …``: ASA syslog destinations, levels and per-message settings.

Syntax of the ASA 9.x command reference, reduced to what tunnelgate delivers: the
console (stderr or the daemon's log file) and syslog servers over UDP (decisions L1–L6).
"""

from __future__ import annotations

from tunnelgate.config import grammar
from tunnelgate.config.checks import check
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args, ValueType
from tunnelgate.config.model import LoggingHost, LoggingSettings, RunningConfig
from tunnelgate.config.model.logging import (
    DEFAULT_FACILITY,
    LEVEL_NAMES,
    TCP_DEFAULT_PORT,
    UDP_DEFAULT_PORT,
)
from tunnelgate.config.modes import CONFIG
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()

MIN_PORT = 1025  # besides the protocol's default port (L3)
MAX_PORT = 65535
_PROTOCOL_NUMBERS = {"udp": "udp", "17": "udp", "tcp": "tcp", "6": "tcp"}
_PROTOCOL_OUT = {"udp": 17, "tcp": 6}


def _transport(token: str) -> tuple[str, int | None]:
    """``udp``, ``tcp``, ``udp/PORT``, ``tcp/PORT``, or as the ASA prints them: ``17/PORT``,
    ``6/PORT``."""
    name, slash, port = token.lower().partition("/")
    protocol = _PROTOCOL_NUMBERS.get(name)
    if protocol is None or (name.isdigit() and not slash):
        raise ValueError(token)
    if not slash:
        return protocol, None
    if not port.isdigit() or len(port) > 5:
        raise ValueError(token)
    return protocol, int(port)


grammar.VALUE_TYPES["PROTO/PORT"] = ValueType(
    "PROTO/PORT", _transport, "udp[/port] or tcp[/port] (default udp/514)", 2
)

LEVEL = "{" + "|".join(LEVEL_NAMES) + "|<0-7>}$level"
_LEVEL_HELP = {name: f"Severity level {number}: {name}" for number, name in enumerate(LEVEL_NAMES)}
MESSAGE_ID = "<100000-999999>$id"


def level_number(value: int | str) -> int:
    """A level as given on the command line (a name or 0-7) as its number."""
    return value if isinstance(value, int) else LEVEL_NAMES.index(value)


def _settings(ctx: CommandContext) -> LoggingSettings:
    return ctx.config.logging


# --------------------------------------------------------------------------- on/off


@COMMANDS.command(
    CONFIG,
    "logging enable",
    help="Enable logging to every configured destination",
    logging="Configure logging (ASA syslog messages)",
    enable="Enable logging to every configured destination",
)
def logging_enable(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).enabled = True


@COMMANDS.command(CONFIG, "no logging enable")
def no_logging_enable(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).enabled = False


@COMMANDS.command(
    CONFIG,
    "logging timestamp",
    help="Put the date and time in each syslog message",
    timestamp="Put the date and time in each syslog message",
)
def logging_timestamp(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).timestamp = True


@COMMANDS.command(CONFIG, "no logging timestamp")
def no_logging_timestamp(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).timestamp = False


# --------------------------------------------------------------------------- levels


@COMMANDS.command(
    CONFIG,
    f"logging trap {LEVEL}",
    help="Send messages up to this severity to the syslog servers",
    trap="Send messages up to this severity to the syslog servers",
    **{k.replace("-", "_"): v for k, v in _LEVEL_HELP.items()},
)
def logging_trap(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).trap = level_number(args["level"])


@COMMANDS.command(CONFIG, f"no logging trap [{LEVEL}]")
def no_logging_trap(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).trap = None


@COMMANDS.command(
    CONFIG,
    f"logging console {LEVEL}",
    help="Write messages up to this severity to the console (stderr or the log file)",
    console="Write messages up to this severity to the console (stderr or the log file)",
)
def logging_console(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).console = level_number(args["level"])


@COMMANDS.command(CONFIG, f"no logging console [{LEVEL}]")
def no_logging_console(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).console = None


@COMMANDS.command(
    CONFIG,
    f"logging buffered {LEVEL}",
    help="Keep messages up to this severity in the log buffer (kept; no buffer yet)",
    buffered="Keep messages up to this severity in the internal log buffer",
)
def logging_buffered(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).buffered = level_number(args["level"])
    ctx.info("tunnelgate keeps no internal log buffer; the setting is kept but has no effect")


@COMMANDS.command(CONFIG, f"no logging buffered [{LEVEL}]")
def no_logging_buffered(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).buffered = None


# --------------------------------------------------------------------------- hosts

_HOST = "logging host WORD$ifname A.B.C.D$address [PROTO/PORT$transport]"


def _host(args: Args) -> LoggingHost:
    protocol, port = args.get("transport", ("udp", None))
    default = UDP_DEFAULT_PORT if protocol == "udp" else TCP_DEFAULT_PORT
    if port is None:
        port = default
    elif port != default and not MIN_PORT <= port <= MAX_PORT:
        raise CommandError(
            f"port {port} is out of range: use {default} or {MIN_PORT}-{MAX_PORT}", "transport"
        )
    return LoggingHost(args["ifname"], args["address"], protocol, port)


@COMMANDS.command(
    CONFIG,
    _HOST,
    help="Send syslog messages to a server (UDP; TCP is accepted but not delivered)",
    host="Send syslog messages to a server",
)
def logging_host(ctx: CommandContext, args: Args) -> None:
    new = _host(args)
    hosts = _settings(ctx).hosts
    if new.protocol == "tcp":
        ctx.warn(
            f"logging host {new.interface} {new.address}: tunnelgate sends syslog over UDP "
            "only; no messages will be sent to this host"
        )
    for i, existing in enumerate(hosts):
        if (existing.interface, existing.address) == (new.interface, new.address):
            hosts[i] = new  # the ASA keeps one entry per server: the new transport replaces
            return
    hosts.append(new)


@COMMANDS.command(CONFIG, f"no {_HOST}")
def no_logging_host(ctx: CommandContext, args: Args) -> None:
    settings = _settings(ctx)
    existing = settings.host(args["ifname"], args["address"])
    if existing is None:
        raise CommandError(
            f"logging host {args['ifname']} {args['address']} does not exist", "address"
        )
    settings.hosts.remove(existing)


# --------------------------------------------------------------------------- identity


@COMMANDS.command(
    CONFIG,
    "logging device-id hostname",
    help="Put the device's hostname in each syslog message",
    device_id="Identify the device in each syslog message",
    hostname="Use the device's hostname",
)
def logging_device_id(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).device_id_hostname = True


@COMMANDS.command(CONFIG, "no logging device-id [hostname]")
def no_logging_device_id(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).device_id_hostname = False


@COMMANDS.command(
    CONFIG,
    "logging facility <16-23>$facility",
    help="Syslog facility of messages to the servers (default 20, local4)",
    facility="Syslog facility of messages to the servers (default 20, local4)",
)
def logging_facility(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).facility = args["facility"]


@COMMANDS.command(CONFIG, "no logging facility [<16-23>]")
def no_logging_facility(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).facility = DEFAULT_FACILITY


# --------------------------------------------------------------------------- messages


@COMMANDS.command(
    CONFIG,
    f"logging message {MESSAGE_ID}",
    help="Enable a syslog message that 'no logging message' disabled",
    message="Configure one syslog message",
)
def logging_message(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).disabled_messages.discard(args["id"])


@COMMANDS.command(CONFIG, f"no logging message {MESSAGE_ID}")
def no_logging_message(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).disabled_messages.add(args["id"])


@COMMANDS.command(
    CONFIG,
    f"logging message {MESSAGE_ID} level {LEVEL}",
    help="Change the severity of one syslog message",
    level="Change the severity of the message",
)
def logging_message_level(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).message_levels[args["id"]] = level_number(args["level"])


@COMMANDS.command(CONFIG, f"no logging message {MESSAGE_ID} level [{LEVEL}]")
def no_logging_message_level(ctx: CommandContext, args: Args) -> None:
    _settings(ctx).message_levels.pop(args["id"], None)


# --------------------------------------------------------------------------- render


def _host_line(host: LoggingHost) -> str:
    line = f"logging host {host.interface} {host.address}"
    default = UDP_DEFAULT_PORT if host.protocol == "udp" else TCP_DEFAULT_PORT
    if host.protocol != "udp" or host.port != default:
        line += f" {_PROTOCOL_OUT[host.protocol]}/{host.port}"  # the ASA prints 6/1470
    return line


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """The order of ``show running-config logging`` on an ASA 9.x."""
    s = config.logging
    lines: list[str] = []
    if s.enabled:
        lines.append("logging enable")
    if s.timestamp:
        lines.append("logging timestamp")
    for word, level in (("console", s.console), ("buffered", s.buffered), ("trap", s.trap)):
        if level is not None:
            lines.append(f"logging {word} {LEVEL_NAMES[level]}")
    if s.facility != DEFAULT_FACILITY or options.all:
        lines.append(f"logging facility {s.facility}")
    if s.device_id_hostname:
        lines.append("logging device-id hostname")
    lines.extend(_host_line(h) for h in s.hosts)
    lines.extend(f"no logging message {i}" for i in sorted(s.disabled_messages))
    lines.extend(
        f"logging message {i} level {LEVEL_NAMES[level]}"
        for i, level in sorted(s.message_levels.items())
    )
    return [Block.of(line) for line in lines]


# --------------------------------------------------------------------------- checks


@check
def check_logging_hosts(config: RunningConfig) -> list[Diagnostic]:
    """A syslog server on an interface name that no interface carries (D13: only when the
    configuration defines interfaces at all)."""
    if not config.interfaces:
        return []
    return [
        Diagnostic(
            Severity.WARNING,
            f"logging host {h.interface} {h.address}: no interface has 'nameif {h.interface}'",
        )
        for h in config.logging.hosts
        if not config.nameif_exists(h.interface)
    ]
